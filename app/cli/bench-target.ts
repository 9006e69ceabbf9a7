/**
 * What `kv bench` loads: the store (through its client library) or etcd (through ./etcd-kv.ts),
 * behind one small interface, so that the load loop is written once. Each target also names the
 * server processes whose CPU time the bench counts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KvClient, KvClientError } from '../client/client';
import { EtcdKvClient, EtcdFailure } from '../rpc/etcd-kv';
import { FLOOR_GET, FLOOR_PUT, FloorClient } from '../rpc/transport-floor';

export interface BenchTarget {
  /** How figures name it: `kv batch`, `kv unary`, `etcd`. */
  readonly name: string;
  /** Reads a key; the context is what a write based on this read carries (the store's; etcd has none). */
  get(key: string): Promise<{ readonly context?: string }>;
  /** Writes a key; without a context, with the latest one this target saw for the key (if any). */
  put(key: string, value: Uint8Array, context?: string): Promise<void>;
  /** The server processes, for their CPU time in /proc. */
  serverPids(): number[];
  close(): void;
}

/** A failed operation of a target, by its gRPC status name (UNAVAILABLE, DEADLINE_EXCEEDED ...). */
export class BenchOpError extends Error {
  constructor(
    readonly codeName: string,
    message: string,
  ) {
    super(`${codeName}: ${message}`);
    this.name = 'BenchOpError';
  }
}

/** The name a failed operation is counted under. */
export function errorKind(e: unknown): string {
  return e instanceof KvClientError || e instanceof BenchOpError ? e.codeName : 'CLIENT';
}

/**
 * The store. Writes carry the latest context this target saw for the key, as a real client
 * would: blind writes would pile up siblings (by design) and measure ever larger objects. Targets
 * on the same cluster share one map of contexts.
 */
export class StoreTarget implements BenchTarget {
  private next = 0;

  constructor(
    readonly name: string,
    private readonly clients: readonly KvClient[],
    private readonly pids: readonly number[],
    private readonly contexts: Map<string, string>,
  ) {}

  private client(): KvClient {
    const c = this.clients[this.next];
    this.next = (this.next + 1) % this.clients.length;
    return c!;
  }

  async get(key: string): Promise<{ context: string }> {
    const { context } = await this.client().get(key);
    this.contexts.set(key, context);
    return { context };
  }

  async put(key: string, value: Uint8Array, context?: string): Promise<void> {
    const r = await this.client().put(key, value, { context: context ?? this.contexts.get(key) });
    this.contexts.set(key, r.context);
  }

  serverPids(): number[] {
    return [...this.pids];
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

/** etcd: linearizable reads (its default), plain puts; a read-modify-write is a read, then a put. */
export class EtcdTarget implements BenchTarget {
  readonly name = 'etcd';

  constructor(
    private readonly client: EtcdKvClient,
    private readonly pids: readonly number[],
  ) {}

  async get(key: string): Promise<{ context?: string }> {
    const r = await this.client.get(Buffer.from(key));
    if (!r.ok) throw failed(r.error);
    return {};
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    const r = await this.client.put(Buffer.from(key), value);
    if (!r.ok) throw failed(r.error);
  }

  serverPids(): number[] {
    return [...this.pids];
  }

  close(): void {
    this.client.close();
  }
}

/**
 * The transport floor (app/rpc/transport-floor.ts): each operation goes to a random floor node,
 * which passes it to two others and answers after the first, over the same batched streams as
 * the store's Batch API, with no storage, versioning or routing. A put carries the value, a get
 * brings one back; keys play no part. What it costs is the least an operation of the store's
 * design costs on grpc-js on this machine.
 */
export class FloorTarget implements BenchTarget {
  readonly name = FLOOR_TARGET;
  private static readonly EMPTY = new Uint8Array(0);

  constructor(
    private readonly client: FloorClient,
    private readonly nodes: number,
    private readonly pids: readonly number[],
  ) {}

  get(): Promise<{ context?: string }> {
    return this.send(FLOOR_GET, FloorTarget.EMPTY).then(() => ({}));
  }

  put(_key: string, value: Uint8Array): Promise<void> {
    return this.send(FLOOR_PUT, value);
  }

  private async send(kind: typeof FLOOR_GET | typeof FLOOR_PUT, payload: Uint8Array): Promise<void> {
    const r = await this.client.send(Math.floor(Math.random() * this.nodes), kind, payload);
    if (!r.ok) throw new BenchOpError('UNAVAILABLE', `the floor: ${r.error.kind}${'reason' in r.error ? `: ${String(r.error.reason)}` : ''}`);
  }

  serverPids(): number[] {
    return [...this.pids];
  }

  /** The floor nodes and their client belong to whoever started them (startFloorNodes). */
  close(): void {}
}

/** The floor's name in figures. */
export const FLOOR_TARGET = 'floor';

function failed(f: EtcdFailure): BenchOpError {
  return new BenchOpError(f.codeName, f.message);
}

/** PIDs of the processes whose command line `matches` (from /proc/<pid>/cmdline). */
function findPids(matches: (args: string[]) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (matches(args)) pids.push(Number(entry));
  }
  return pids;
}

/** PIDs of `kv node` processes listening on the given ports. */
export function findNodePids(ports: readonly number[]): number[] {
  return findPids((args) => {
    const i = args.indexOf('node');
    const p = args.indexOf('--port');
    return i > 0 && p > i && ports.includes(Number(args[p + 1]));
  });
}

/** PIDs of floor nodes (`kv floor --serve i ... --base-port P`) started with base port `basePort`. */
export function findFloorPids(basePort: number): number[] {
  return findPids((args) => {
    const i = args.indexOf('floor');
    const p = args.indexOf('--base-port');
    return i > 0 && args[i + 1] === '--serve' && p > i && Number(args[p + 1]) === basePort;
  });
}

/** PIDs of etcd processes whose --listen-client-urls name one of the ports (etcd configured by flags, not ETCD_* variables). */
export function findEtcdPids(ports: readonly number[]): number[] {
  return findPids((args) => {
    if (path.basename(args[0] ?? '') !== 'etcd') return false;
    const i = args.findIndex((a) => a === '--listen-client-urls' || a.startsWith('--listen-client-urls='));
    if (i < 0) return false;
    const urls = args[i]!.includes('=') ? args[i]!.slice(args[i]!.indexOf('=') + 1) : (args[i + 1] ?? '');
    return urls.split(',').some((u) => ports.includes(Number(u.slice(u.lastIndexOf(':') + 1).replace(/\/.*$/, ''))));
  });
}

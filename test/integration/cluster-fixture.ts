/**
 * Starts real node processes the way `kv cluster` does (LocalCluster), from the built entry
 * point dist/bin/kv.js (`npm test` builds first), with data in a fresh temp directory; and the
 * helpers every integration suite shares: clients, a node's own view (Status) and its own data
 * (storedAt), freezing and killing nodes and bringing them back.
 *
 * Ports: jest runs test files in parallel, so each file owns its ports (node i of a cluster
 * listens on basePort+i-1); take a free range for a new file.
 *   17101 durability        17201 siblings         17301 read-repair      17401 errors
 *   17451, 17461 errors (the sibling and object-size limits)              17471 disk-full
 *   17501 grpc-services (metrics 17511)            17551 tombstones       17601 routing
 *   17651 wiped-replica     17701 sloppy-quorum    17711 benchmarks (kv floor's nodes)
 *   17751 anti-entropy      17801 client-failover  17851 partition        17880-17899 unit/rpc-kv-channel
 *   17901, 17911 shutdown   17931 rollback         17961 benchmarks
 *   18101-18122 cli (a cluster, a kv cluster in the foreground, spare ports)
 *   18201-18204 membership  18211-18219 scaling (metrics 18221-18229)
 *   18301-18304 monitor (metrics 18311-18314, Prometheus 18321, Alertmanager 18322)
 *   18901-18903 bench-compare (its store; etcd on 18911-18916; 18921-18936 named, never taken)
 *   19460-19462 tls (client auth), 19470-19472 tls (rotation)
 *   19441-19445 contexts (the store, a gateway)
 *   19400-19403 unit/rpc-decode-guard, unit/rpc-reflection     19410-19411 fuzz-inputs
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KvError } from '../../app/errors';
import { KvClient, KvClientOptions, StatusReply } from '../../app/client/client';
import { LocalCluster, LocalClusterOptions } from '../../app/local/local-cluster';
import { routingForMembers } from '../../app/ring/placement';
import { partitionOf } from '../../app/ring/ring';
import { GrpcPeerTransport } from '../../app/rpc/peer-transport';
import { decodeObject } from '../../app/versioning/codec';
import { waitFor } from '../support/wait-for';

export const KV_SCRIPT = path.resolve(__dirname, '../../dist/bin/kv.js');

/** How long storedAt keeps asking a node that does not answer (one restarting, say). */
const STORED_AT_WAIT_MS = 5000;
/** Failures of a fetch that mean the node did not answer (yet), not what it holds. */
const NOT_ANSWERED = new Set(['PeerUnreachable', 'DeadlineExceeded', 'ShuttingDown']);

/** How a node's process ended. */
export type Exit = Awaited<ReturnType<LocalCluster['kill']>>;

/** What a node holds for a key: its live values, sorted ([] for a tombstone), or undefined for nothing. */
export type Stored = string[] | undefined;

export interface Fixture {
  readonly cluster: LocalCluster;
  readonly dataDir: string;
  /** A client, closed at teardown. */
  client(options?: Partial<KvClientOptions>): KvClient;
  /** The endpoints of some nodes, in the order given. */
  endpointsOf(ids: readonly string[]): string[];
  /** The endpoints of every node but the ones given (the survivors of a kill). */
  endpointsExcept(...ids: string[]): string[];
  /** The N primaries of a key, in preference order (node ids kv-1 ...). */
  primariesOf(key: string): string[];
  /** Whether a node's process is running (a frozen one is). */
  isRunning(id: string): boolean;
  /** One node's Status: its view of the members, asked once, over a connection of its own. */
  statusOf(id: string): Promise<StatusReply>;
  /** Whether `observer`'s failure detector suspects `target` (frozen, or cut off). */
  suspects(observer: string, target: string): Promise<boolean>;
  /**
   * What a node holds in its own data for one key, read over the peer service (no coordinator,
   * no quorum), or the node's error for it (a CorruptRecord for a record that fails its checksum).
   * Asks a node that does not answer again for up to 5 s.
   */
  fetchAt(id: string, key: string): Promise<{ ok: true; value: Stored } | { ok: false; error: KvError }>;
  /** What a node holds in its own data for some keys (see fetchAt); throws the node's error for any. */
  storedAt(id: string, keys: readonly string[]): Promise<Map<string, Stored>>;
  /** Freezes nodes with SIGSTOP: their sockets stay open and nothing answers. Teardown thaws them. */
  freeze(...ids: string[]): void;
  /** Lets frozen nodes run again (SIGCONT). */
  thaw(...ids: string[]): void;
  /** Thaws every node this fixture froze. */
  thawAll(): void;
  /**
   * Stops some nodes (SIGKILL unless told), runs `fn` with how each exited, and restarts them
   * whatever `fn` did, each waiting until it serves.
   */
  withDown<T>(ids: readonly string[], fn: (exits: Exit[]) => Promise<T>, signal?: NodeJS.Signals): Promise<T>;
  /** Waits until every running node reports every other running node reachable. */
  waitConnected(timeoutMs?: number): Promise<void>;
  /** Thaws frozen nodes, stops every node and removes the data directory (unless the caller gave it). */
  teardown(): Promise<void>;
}

export async function startCluster(options: Partial<LocalClusterOptions> & { basePort: number }): Promise<Fixture> {
  if (!fs.existsSync(KV_SCRIPT)) throw new Error(`${KV_SCRIPT} is missing: run npm run build first (npm test does)`);
  // A data directory the caller gives (a small disk's mount point) is the caller's to remove.
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kv-it-'));
  const cluster = new LocalCluster({
    nodes: 5,
    metricsBasePort: 0,
    n: 3,
    r: 2,
    w: 2,
    partitions: 64,
    kvScript: KV_SCRIPT,
    logs: 'file',
    ...options,
    dataDir,
  });
  const clients: KvClient[] = [];
  const frozen = new Set<string>();
  const partitions = cluster.options.partitions ?? 64;

  const isRunning = (id: string): boolean => {
    const child = cluster.node(id).process;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  };
  const signal = (id: string, sig: NodeJS.Signals): void => {
    if (isRunning(id)) cluster.node(id).process!.kill(sig);
  };
  const statusOf = async (id: string): Promise<StatusReply> => {
    const c = new KvClient({ endpoints: [cluster.node(id).endpoint], timeoutMs: 2000, attemptsMax: 1 });
    try {
      return await c.status();
    } finally {
      c.close();
    }
  };
  type Fetched = Awaited<ReturnType<Fixture['fetchAt']>>;
  /** Runs `fn` with a peer-service client of its own (the node answers it like a peer). */
  const withProbe = async <T>(fn: (probe: GrpcPeerTransport) => Promise<T>): Promise<T> => {
    const probe = new GrpcPeerTransport({ self: 'probe', peers: new Map(cluster.nodes.map((n) => [n.id, n.endpoint])), windowMax: 1024, batchItemsMax: 256, messageBytesMax: 4 * 1024 * 1024 });
    try {
      return await fn(probe);
    } finally {
      probe.close();
    }
  };
  const fetchWith = async (probe: GrpcPeerTransport, id: string, key: string): Promise<Fetched> => {
    let answer: Fetched | undefined;
    await waitFor(
      async () => {
        const r = await probe.fetch(id, partitionOf(Buffer.from(key), partitions), Buffer.from(key), 2000);
        if (!r.ok && NOT_ANSWERED.has(r.error.condition)) return r.error.message;
        answer = r.ok ? { ok: true, value: r.value === undefined ? undefined : liveValues(r.value) } : r;
        return true;
      },
      { timeoutMs: STORED_AT_WAIT_MS, what: `${id} answering a fetch of ${JSON.stringify(key)}` },
    );
    return answer!;
  };

  const fixture: Fixture = {
    cluster,
    dataDir,
    client: (o = {}) => {
      // Round robin over the endpoints the test names (the nodes forward): a test picks which
      // nodes coordinate by the endpoints it gives. routing.test.ts tries the partition-aware default.
      const c = new KvClient({ endpoints: cluster.endpoints, timeoutMs: 5000, routing: 'any', ...o });
      clients.push(c);
      return c;
    },
    endpointsOf: (ids) => ids.map((id) => cluster.node(id).endpoint),
    endpointsExcept: (...ids) => cluster.nodes.filter((n) => !ids.includes(n.id)).map((n) => n.endpoint),
    primariesOf: (key) => [...routingForMembers(cluster.nodes.map((n) => n.id), partitions, cluster.options.n).replicas(partitionOf(Buffer.from(key), partitions)).primaries],
    isRunning,
    statusOf,
    suspects: async (observer, target) => (await statusOf(observer)).members.find((m) => m.id === target)?.suspected === true,
    fetchAt: (id, key) => withProbe((probe) => fetchWith(probe, id, key)),
    storedAt: (id, keys) =>
      withProbe(async (probe) => {
        const out = new Map<string, Stored>();
        for (const key of keys) {
          const r = await fetchWith(probe, id, key);
          if (!r.ok) throw r.error;
          out.set(key, r.value);
        }
        return out;
      }),
    freeze: (...ids) => {
      for (const id of ids) {
        signal(id, 'SIGSTOP');
        frozen.add(id);
      }
    },
    thaw: (...ids) => {
      for (const id of ids) {
        signal(id, 'SIGCONT');
        frozen.delete(id);
      }
    },
    thawAll: () => fixture.thaw(...frozen),
    withDown: async (ids, fn, sig = 'SIGKILL') => {
      const exits: Exit[] = [];
      for (const id of ids) exits.push(await cluster.kill(id, sig));
      try {
        return await fn(exits);
      } finally {
        for (const id of ids) await cluster.restart(id);
      }
    },
    waitConnected: async (timeoutMs = 10_000) => {
      const running = cluster.nodes.filter((n) => isRunning(n.id)).map((n) => n.id);
      await waitFor(
        async () => {
          const unreached: string[] = [];
          for (const id of running) {
            const s = await statusOf(id).catch(() => undefined);
            const missing = running.filter((other) => !s?.members.find((m) => m.id === other)?.reachable);
            if (missing.length > 0) unreached.push(`${id} does not reach ${missing.join(', ')}`);
          }
          return unreached.length === 0 || unreached.join('; ');
        },
        { timeoutMs, intervalMs: 50, what: `every running node (${running.join(', ')}) reaching every other` },
      );
    },
    teardown: async () => {
      for (const c of clients) c.close();
      fixture.thawAll(); // a frozen node would never handle the SIGTERM of the stop
      await cluster.stop();
      if (!ownDataDir) return;
      // KV_KEEP_TEST_DATA=1 keeps the data and node logs of a failing run for inspection.
      if (!process.env.KV_KEEP_TEST_DATA) fs.rmSync(dataDir, { recursive: true, force: true });
      else process.stderr.write(`kept test data in ${dataDir}\n`);
    },
  };
  try {
    await cluster.start();
  } catch (e) {
    await fixture.teardown();
    throw e;
  }
  return fixture;
}

function liveValues(stored: Uint8Array): string[] {
  return decodeObject(stored)
    .siblings.flatMap((s) => (s.value === null ? [] : [Buffer.from(s.value).toString()]))
    .sort();
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A node's Status asked once at an address, or undefined when it does not answer (down, starting). */
export async function statusAt(endpoint: string): Promise<StatusReply | undefined> {
  const c = new KvClient({ endpoints: [endpoint], timeoutMs: 1000, attemptsMax: 1 });
  try {
    return await c.status();
  } catch {
    return undefined;
  } finally {
    c.close();
  }
}

/** Runs the kv CLI as a user would. */
export function kv(args: string[], input?: string, timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [KV_SCRIPT, ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

/**
 * The TypeScript client library. It knows several nodes and fails over between them; it speaks
 * either unary calls or the high-throughput Batch stream; and `update` does the read, resolve,
 * write-back-with-context cycle that Dynamo-style stores ask of their clients.
 */
import { ClientOp, OpResult, TIMEOUT_MS_MAX } from '../api/ops';
import { partitionOf } from '../ring/ring';
import { explainConnectionFailure } from '../rpc/delivery';
import { KvChannel, RpcFailure } from '../rpc/kv-channel';
import type { ClientSecurity } from '../rpc/tls';
import type { AdminRequest } from '../rpc/generated/kv/v1/AdminRequest';
import type { AdminResponse__Output } from '../rpc/generated/kv/v1/AdminResponse';
import type { InspectResponse__Output } from '../rpc/generated/kv/v1/InspectResponse';
import type { StatusResponse__Output } from '../rpc/generated/kv/v1/StatusResponse';

/** What Status answers: this node's view of the members, partitions and reachability. */
export type StatusReply = StatusResponse__Output;

/** What Admin answers: the staged changes, the moves, the state version. */
export type AdminReply = AdminResponse__Output;

/** What Inspect answers: each replica's stored object or hints for one key. */
export type InspectReply = InspectResponse__Output;

export type Bytes = Uint8Array | string;

export interface KvClientOptions {
  /** host:port of one or more nodes; any node accepts any request. */
  readonly endpoints: readonly string[];
  /**
   * Time budget of one attempt, 1 to TIMEOUT_MS_MAX (2^31-1) ms: it travels as a gRPC deadline,
   * and the nodes' gRPC library misreads one further away as already past.
   * @default 5000
   */
  readonly timeoutMs?: number;
  /** Send operations on the Batch stream instead of unary calls. @default false */
  readonly batch?: boolean;
  /**
   * Attempts of one operation across the endpoints: failover on UNAVAILABLE / RESOURCE_EXHAUSTED
   * or a failed connection, never for a write that may have been applied.
   * @default endpoints.length, at least 3, at most 5
   */
  readonly attemptsMax?: number;
  /** Operations in flight on one Batch stream at most. @default 4096 */
  readonly batchInFlightMax?: number;
  /**
   * TLS (the CA to trust, and a client certificate and key) and a bearer token, for nodes that
   * require them (README, TLS and client authorization).
   * @default - plaintext, no credentials
   */
  readonly security?: ClientSecurity;
  /**
   * `primary`: learn each partition's primaries from a node's Status (the endpoints are seeds)
   * and send each operation straight to a primary of its key: a partition-aware client, one hop
   * less per operation than a node that forwards. The placement is read again every
   * `topologyMaxAgeMs`, and at once after a node fails an attempt.
   * `any`: send each operation to the next endpoint, round robin (a node that is not a primary of
   * the key forwards it to one); for a client that must talk to the endpoints it was given only.
   * @default 'primary'
   */
  readonly routing?: 'any' | 'primary';
  /**
   * With routing 'primary': how old the placement may get before the next operation reads it
   * again (in the background; operations meanwhile use the one they have).
   * @default TOPOLOGY_MAX_AGE_MS
   */
  readonly topologyMaxAgeMs?: number;
  /**
   * How long a node that just failed an attempt (no connection, no answer within the budget, or
   * UNAVAILABLE) is tried after every other candidate, so that operations stop queueing on a node
   * that is down, frozen or cut off. 0 turns it off.
   * @default SUSPECT_MS
   */
  readonly suspectMs?: number;
  /**
   * Called after every attempt with the endpoint and how it ended ('OK' or the status name), for
   * instrumentation (client metrics, logs).
   * @default - nothing is called
   */
  readonly onAttempt?: (endpoint: string, outcome: string) => void;
}

/** How old a primary-routing client's placement gets before it reads it again (KvClientOptions.topologyMaxAgeMs). */
export const TOPOLOGY_MAX_AGE_MS = 10_000;
/** A placement is not read again sooner than this after the last read, whatever fails. */
const TOPOLOGY_REFRESH_MIN_MS = 1000;

/** How long a node that failed an attempt is tried last (KvClientOptions.suspectMs). */
export const SUSPECT_MS = 5000;
/** Codes after which a node is tried last for a while: DEADLINE_EXCEEDED, UNAVAILABLE. */
const SUSPECT_CODES = new Set([4, 14]);

interface Topology {
  readonly partitions: number;
  readonly primariesOf: (partition: number) => readonly string[];
  readonly channels: ReadonlyMap<string, KvChannel>;
}

export interface GetOptions {
  /** Read quorum, 1..N; the cluster's R when absent. */
  readonly r?: number;
  /** Of the R replies, how many must come from primaries (not fallbacks). @default 0 */
  readonly pr?: number;
}

export interface WriteOptions {
  /** The context of the get this write is based on. */
  readonly context?: string;
  /** Write quorum, 1..N; the cluster's W when absent. Fallbacks holding hints count. */
  readonly w?: number;
  /** Of the W acknowledgements, how many must come from primaries. @default 0 */
  readonly pw?: number;
}

export interface GetReply {
  readonly found: boolean;
  /** Every concurrent value (siblings). */
  readonly values: Buffer[];
  /** Opaque: pass it to the put or delete based on this read. */
  readonly context: string;
  readonly deleted: boolean;
}

export interface PutReply {
  readonly context: string;
  readonly siblings: number;
}

export interface UpdateOptions {
  /** Collapses siblings into one value; required when the key may have siblings. */
  readonly resolve?: (siblings: Buffer[]) => Uint8Array;
  /** Attempts when a read or write fails with a retryable status. @default 3 */
  readonly retries?: number;
  readonly r?: number;
  readonly w?: number;
}

/** A failed operation: the gRPC status, its name and the server's message. */
export class KvClientError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
    /**
     * A failed put or delete that may still have reached some replicas: it may become visible, or
     * not. The client did not resend it; read the key to see which.
     */
    readonly writeMayHaveApplied = false,
    /** No node could be reached at all: every endpoint tried failed to connect. */
    readonly unreachable = false,
  ) {
    super(`${codeName}: ${message}`);
    this.name = 'KvClientError';
  }
}

/** Statuses after which another node may succeed (besides a failed connection). */
const FAILOVER_CODES = new Set([14 /* UNAVAILABLE */, 8 /* RESOURCE_EXHAUSTED */]);
const RETRY_BACKOFF_MS = 50;

function bytes(b: Bytes): Uint8Array {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

export function encodeContextString(context: Uint8Array): string {
  return Buffer.from(context.buffer, context.byteOffset, context.length).toString('base64url');
}

export function decodeContextString(context: string | undefined): Uint8Array {
  if (context === undefined || context === '') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9_-]+$/.test(context)) throw new KvClientError(3, 'INVALID_ARGUMENT', `context: ${JSON.stringify(context.slice(0, 40))} is not a context string returned by get`);
  return Buffer.from(context, 'base64url');
}

function mayHaveApplied(op: ClientOp, f: RpcFailure): KvClientError {
  if (op.kind === 'get') throw new Error(`KvChannel reported a get as a write that may have applied: ${f.message}`);
  const message =
    `${f.message}. The ${op.kind} may or may not have been applied, and was not resent to another node ` +
    `(that could store it twice, as siblings): read the key to see whether it was, and if not, write again with the context of that read`;
  return new KvClientError(f.code, f.codeName, message, true);
}

/**
 * The failed attempts of one operation, made into one error: the last node's answer, or when no
 * node could be reached at all, what happened at each address tried.
 */
class Failures {
  private readonly attempts: Array<{ address: string; failure: RpcFailure }> = [];

  add(address: string, failure: RpcFailure): void {
    this.attempts.push({ address, failure });
  }

  error(): KvClientError {
    const last = this.attempts.at(-1)!.failure;
    if (!this.attempts.every((a) => a.failure.connectionFailed)) return new KvClientError(last.code, last.codeName, last.message);
    // Addresses that failed the same way are named together.
    const byReason = new Map<string, string[]>();
    for (const a of this.attempts) {
      const why = explainConnectionFailure(a.failure.message);
      byReason.set(why, [...(byReason.get(why) ?? []), a.address]);
    }
    const each = [...byReason].map(([why, addresses]) => `${addresses.join(', ')}: ${why}`);
    const nodes = this.attempts.length === 1 ? 'the node' : `any of the ${this.attempts.length} nodes tried`;
    return new KvClientError(last.code, last.codeName, `could not reach ${nodes}: ${each.join('; ')}`, false, true);
  }
}

export class KvClient {
  private readonly channels: KvChannel[];
  private readonly timeoutMs: number;
  private readonly attemptsMax: number;
  private next = 0;

  constructor(private readonly options: KvClientOptions) {
    if (options.endpoints.length === 0) throw new Error('KvClient: endpoints is empty; give at least one host:port');
    this.channels = options.endpoints.map((a) => new KvChannel(a, { batchInFlightMax: options.batchInFlightMax, security: options.security }));
    for (const c of this.channels) this.byAddress.set(c.address, c);
    this.timeoutMs = options.timeoutMs ?? 5000;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs < 1 || this.timeoutMs > TIMEOUT_MS_MAX) {
      throw new Error(`KvClient: timeoutMs ${this.timeoutMs} is out of range: give 1 to ${TIMEOUT_MS_MAX} ms (TIMEOUT_MS_MAX)`);
    }
    this.attemptsMax = options.attemptsMax ?? Math.max(3, Math.min(options.endpoints.length, 5));
  }

  private topology: Promise<Topology> | undefined;
  /** When the placement in use was asked for (ms since the epoch); a read in flight, if any. */
  private topologyAt = 0;
  private topologyRefresh: Promise<void> | undefined;
  /** Every channel this client opened, the endpoints' and the members' it learned, by address. */
  private readonly byAddress = new Map<string, KvChannel>();

  /** The placement to route by: read from a node's Status on first use, again when it is old. */
  private loadTopology(): Promise<Topology> {
    if (this.topology === undefined) {
      this.topologyAt = Date.now();
      this.topology = this.readTopology().catch((e: unknown) => {
        this.topology = undefined;
        throw e;
      });
    } else if (Date.now() - this.topologyAt > (this.options.topologyMaxAgeMs ?? TOPOLOGY_MAX_AGE_MS)) {
      this.refreshTopology();
    }
    return this.topology;
  }

  /** Reads the placement again in the background, unless a read is in flight or was just made. */
  private refreshTopology(): void {
    if (this.topology === undefined || this.topologyRefresh !== undefined || Date.now() - this.topologyAt < TOPOLOGY_REFRESH_MIN_MS) return;
    this.topologyAt = Date.now();
    this.topologyRefresh = this.readTopology().then(
      (t) => {
        this.topology = Promise.resolve(t);
        this.topologyRefresh = undefined;
      },
      () => {
        // The old placement stays; the next operation past the age tries again.
        this.topologyRefresh = undefined;
      },
    );
  }

  /** Membership and placement from a node's Status: the same ring every node builds from the member list. */
  private async readTopology(): Promise<Topology> {
    const s = await this.status();
    if (s.placement.length !== s.partitions) throw new KvClientError(13, 'INTERNAL', `status from a node lists ${s.placement.length} partitions' primaries, not ${s.partitions}: a node too old for routing 'primary'`);
    const channels = new Map<string, KvChannel>();
    for (const m of s.members) {
      let channel = this.byAddress.get(m.address);
      if (channel === undefined) {
        channel = new KvChannel(m.address, { batchInFlightMax: this.options.batchInFlightMax, security: this.options.security });
        this.byAddress.set(m.address, channel);
      }
      channels.set(m.id, channel);
    }
    // A member a row names but the member list lacks (a state mid-change) is left out of the row.
    const rows = s.placement.map((row) => row.members.filter((m) => channels.has(m)));
    return { partitions: s.partitions, primariesOf: (partition: number) => rows[partition]!, channels };
  }

  /** Until when each channel is tried last (ms since the epoch). */
  private readonly suspectUntil = new Map<KvChannel, number>();

  /** The candidates with the nodes that failed recently moved to the end, each group in its order. */
  private healthyFirst(channels: KvChannel[]): KvChannel[] {
    // Nothing suspected (the usual case): the list as it is, no copy per operation.
    if (this.suspectUntil.size === 0) return channels;
    const now = Date.now();
    const suspected = (c: KvChannel) => {
      const until = this.suspectUntil.get(c);
      if (until === undefined) return false;
      if (until > now) return true;
      this.suspectUntil.delete(c);
      return false;
    };
    return [...channels.filter((c) => !suspected(c)), ...channels.filter(suspected)];
  }

  private async candidates(op: ClientOp): Promise<KvChannel[]> {
    return this.healthyFirst(await this.orderedCandidates(op));
  }

  private async orderedCandidates(op: ClientOp): Promise<KvChannel[]> {
    if ((this.options.routing ?? 'primary') === 'primary') {
      const t = await this.loadTopology();
      const primaries = t.primariesOf(partitionOf(op.key, t.partitions));
      // No primary known (a placement read mid-change): the endpoints, whose nodes forward.
      if (primaries.length === 0) return this.roundRobin();
      // Spread reads over the primaries; writes start at the first (fewer coordinators per key).
      const rotate = op.kind === 'get' ? this.next++ % primaries.length : 0;
      const ordered = [...primaries.slice(rotate), ...primaries.slice(0, rotate)];
      return ordered.map((node) => t.channels.get(node)!);
    }
    return this.roundRobin();
  }

  private roundRobin(): KvChannel[] {
    const start = this.next;
    this.next = (this.next + 1) % this.channels.length;
    return this.channels.map((_, i) => this.channels[(start + i) % this.channels.length]!);
  }

  /**
   * Runs one operation, failing over to the next candidate node on a retryable status or a failed
   * connection. A write that may have been applied is never resent: it fails with
   * writeMayHaveApplied.
   */
  async execute(op: ClientOp): Promise<OpResult> {
    const candidates = await this.candidates(op);
    const tried = new Failures();
    for (let attempt = 0; attempt < Math.max(1, Math.min(this.attemptsMax, candidates.length)); attempt++) {
      const channel = candidates[attempt]!;
      const r = this.options.batch ? await channel.submit(op, this.timeoutMs) : await channel.call(op, this.timeoutMs);
      this.options.onAttempt?.(channel.address, r.ok ? 'OK' : r.error.codeName);
      if (r.ok) {
        if (this.suspectUntil.size > 0) this.suspectUntil.delete(channel);
        return r.value;
      }
      const suspectMs = this.options.suspectMs ?? SUSPECT_MS;
      if (r.error.connectionFailed || SUSPECT_CODES.has(r.error.code)) {
        if (suspectMs > 0) this.suspectUntil.set(channel, Date.now() + suspectMs);
        // A node down or cut off may mean the placement moved on (a membership change).
        this.refreshTopology();
      }
      // A write that may have reached replicas is not resent elsewhere: the new coordinator would
      // give it a new dot, and readers would see the same value twice, as siblings.
      if (r.error.writeMayHaveApplied) throw mayHaveApplied(op, r.error);
      tried.add(channel.address, r.error);
      if (!FAILOVER_CODES.has(r.error.code) && !r.error.connectionFailed) break;
    }
    throw tried.error();
  }

  async get(key: Bytes, options: GetOptions = {}): Promise<GetReply> {
    const r = await this.execute({ kind: 'get', key: bytes(key), r: options.r ?? 0, pr: options.pr ?? 0 });
    if (r.kind !== 'get') throw new Error(`get answered with ${r.kind}`);
    return { found: r.found, values: r.values.map((v) => Buffer.from(v)), context: encodeContextString(r.context), deleted: r.deleted };
  }

  async put(key: Bytes, value: Bytes, options: WriteOptions = {}): Promise<PutReply> {
    const r = await this.execute({ kind: 'put', key: bytes(key), value: bytes(value), context: decodeContextString(options.context), w: options.w ?? 0, pw: options.pw ?? 0 });
    if (r.kind === 'get') throw new Error('put answered with get');
    return { context: encodeContextString(r.context), siblings: r.siblings };
  }

  /**
   * Deletes what the read whose context is given returned. `siblings`: live values left after the
   * delete (values the context did not cover, written concurrently); 0 when the key now reads as
   * deleted.
   */
  async delete(key: Bytes, options: WriteOptions = {}): Promise<PutReply> {
    const r = await this.execute({ kind: 'delete', key: bytes(key), context: decodeContextString(options.context), w: options.w ?? 0, pw: options.pw ?? 0 });
    if (r.kind === 'get') throw new Error('delete answered with get');
    return { context: encodeContextString(r.context), siblings: r.siblings };
  }

  /**
   * Read, resolve siblings, apply `fn`, write back with the context. Retries retryable failures
   * (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED) up to `retries` times, except a write that
   * may have been applied: retrying that would apply `fn` twice, so it fails with
   * writeMayHaveApplied. Concurrent updates never overwrite each other: a write based on a stale
   * read becomes a sibling, which the next update resolves.
   */
  async update(key: Bytes, fn: (current: Buffer | undefined) => Uint8Array, options: UpdateOptions = {}): Promise<PutReply> {
    const attempts = options.retries ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        const got = await this.get(key, { r: options.r });
        let current: Buffer | undefined;
        if (got.values.length === 1) current = got.values[0];
        else if (got.values.length > 1) {
          if (!options.resolve) throw new KvClientError(9, 'FAILED_PRECONDITION', `update: key has ${got.values.length} siblings and no resolve function was given`);
          current = Buffer.from(options.resolve(got.values));
        }
        return await this.put(key, fn(current), { context: got.context, w: options.w });
      } catch (e) {
        const retryable = e instanceof KvClientError && !e.writeMayHaveApplied && (FAILOVER_CODES.has(e.code) || e.code === 4);
        if (!retryable || attempt >= attempts) throw e;
        await new Promise((r) => setTimeout(r, RETRY_BACKOFF_MS * attempt));
      }
    }
  }

  async status(): Promise<StatusReply> {
    return this.firstAnswer((channel) => channel.status(this.timeoutMs));
  }

  /** What every replica holds for a key, read from each as it is (no quorum, no merge, no repair). */
  async inspect(key: Bytes): Promise<InspectReply> {
    return this.firstAnswer((channel) => channel.inspect(bytes(key), this.timeoutMs));
  }

  /**
   * A membership change, sent to the claimant: a node that is not the claimant refuses, naming it,
   * and the request goes there (once).
   */
  async admin(request: AdminRequest): Promise<AdminReply> {
    const first = await this.firstAnswer((channel) => channel.admin(request, this.timeoutMs)).catch((e: unknown) => e);
    if (!(first instanceof KvClientError)) return first as AdminReply;
    const claimant = /the claimant: \S+ \(([^)]+)\) is/.exec(first.message)?.[1];
    if (first.codeName !== 'FAILED_PRECONDITION' || claimant === undefined) throw first;
    const channel = new KvChannel(claimant, { security: this.options.security });
    try {
      const r = await channel.admin(request, this.timeoutMs);
      if (r.ok) return r.value;
      throw new KvClientError(r.error.code, r.error.codeName, r.error.message);
    } finally {
      channel.close();
    }
  }

  /** Asks the endpoints in turn until one answers. */
  private async firstAnswer<T>(ask: (channel: KvChannel) => Promise<{ ok: true; value: T } | { ok: false; error: RpcFailure }>): Promise<T> {
    const tried = new Failures();
    for (const channel of this.channels) {
      const r = await ask(channel);
      if (r.ok) return r.value;
      tried.add(channel.address, r.error);
    }
    throw tried.error();
  }

  close(): void {
    for (const c of new Set([...this.channels, ...this.byAddress.values()])) c.close();
  }
}

/**
 * The simulated clients and what they were told. Each client loops over operations on a few keys,
 * through a random node each time (any node accepts an operation):
 *
 * - set-add, on the set keys: read the key, take the union of its siblings' sets, add a new
 *   element (unique to the client and step), write it back with the read's context. The element
 *   is acknowledged only when the put answered ok. A put that failed before anything was sent
 *   is resent as it is; one that may have applied is never resent blindly: the client reads
 *   again first (as KvClient.update does), so a retried element is added to what is there now.
 * - put and delete, on the delete keys: put a new value, or read and delete with the read's
 *   context. An acknowledged delete is recorded with that context: the writes it covers must
 *   never come back.
 *
 * Every outcome goes into the history, which the checker compares with the final state.
 */
import { Result } from '../../app/errors';
import { Clock, sleep } from '../../app/replication/clock';
import { ClientOp, GetResult, OpResult } from '../../app/api/ops';
import { TEST_CONTEXT_SEAL } from '../support/context-seal';
import { VersionVector } from '../../app/versioning/dvv';
import { Rng } from './rng';

/** Tries of one client operation (each a read and a write) before the client gives up on it. */
const ATTEMPTS_MAX = 6;
const BACKOFF_BASE_MS = 20;
const BACKOFF_MAX_MS = 400;
/** Pause between a client's operations. */
const THINK_MAX_MS = 30;
/** Share of operations on the delete keys. */
const DELETE_KEY_SHARE = 0.2;

export interface AckedDelete {
  readonly key: string;
  /** The context of the read the delete was based on: every write it covers is deleted. */
  readonly context: VersionVector;
  readonly atMs: number;
}

export interface History {
  /** Set key -> elements whose put was acknowledged. */
  readonly acked: Map<string, Set<string>>;
  /** Key -> every element or value some client tried to write (may or may not have applied). */
  readonly attempted: Map<string, Set<string>>;
  readonly deletes: AckedDelete[];
  readonly counts: { ops: number; acked: number; gaveUp: number; calls: number; failedCalls: number; mayHaveApplied: number };
}

export function newHistory(): History {
  return { acked: new Map(), attempted: new Map(), deletes: [], counts: { ops: 0, acked: 0, gaveUp: 0, calls: 0, failedCalls: 0, mayHaveApplied: 0 } };
}

function add(map: Map<string, Set<string>>, key: string, element: string): void {
  let s = map.get(key);
  if (s === undefined) map.set(key, (s = new Set()));
  s.add(element);
}

/** A set as stored: a JSON array, sorted, so equal sets are equal bytes. */
export function encodeSet(elements: Iterable<string>): Buffer {
  return Buffer.from(JSON.stringify([...new Set(elements)].sort()));
}

/** The elements of the siblings' sets together. */
export function elementsOf(values: readonly Uint8Array[]): Set<string> {
  const out = new Set<string>();
  for (const v of values) for (const e of JSON.parse(Buffer.from(v).toString('utf8')) as string[]) out.add(e);
  return out;
}

export interface ClientLink {
  /** Sends an operation to a node and resolves with its answer (or the client's timeout). */
  call(node: string, op: ClientOp): Promise<Result<OpResult>>;
  readonly nodes: readonly string[];
}

export interface WorkloadKeys {
  readonly setKeys: readonly string[];
  readonly deleteKeys: readonly string[];
}

export interface WorkloadOptions {
  /** Some operations use R=1 or W=1 (a write then rests on one disk until it spreads). */
  readonly weakQuorums: boolean;
}

export class SimClient {
  private step = 0;

  constructor(
    readonly id: number,
    private readonly link: ClientLink,
    private readonly keys: WorkloadKeys,
    private readonly options: WorkloadOptions,
    private readonly rng: Rng,
    private readonly clock: Clock,
    private readonly history: History,
    private readonly trace?: (line: string) => void,
  ) {}

  /** Runs operations until `stopped()`; the operation in progress finishes (its retries are bounded). */
  async run(stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      await sleep(this.clock, this.rng.int(0, THINK_MAX_MS));
      if (stopped()) return;
      this.step++;
      this.history.counts.ops++;
      if (this.rng.chance(DELETE_KEY_SHARE)) {
        const key = this.rng.pick(this.keys.deleteKeys);
        if (this.rng.chance(0.5)) await this.setAdd(key, `x${this.id}.${this.step}`, false);
        else await this.remove(key);
      } else {
        await this.setAdd(this.rng.pick(this.keys.setKeys), `c${this.id}.${this.step}`, true);
      }
    }
  }

  private async call(op: ClientOp): Promise<Result<OpResult>> {
    const node = this.rng.pick(this.link.nodes);
    const r = await this.link.call(node, op);
    this.history.counts.calls++;
    if (!r.ok) {
      this.history.counts.failedCalls++;
      if (r.error.writeMayHaveApplied) this.history.counts.mayHaveApplied++;
    }
    this.trace?.(`${this.clock.now()} client ${this.id} ${op.kind} ${op.key} via ${node}: ${r.ok ? 'ok' : `${r.error.condition}${r.error.writeMayHaveApplied ? ' (may have applied)' : ''}`}`);
    return r;
  }

  private async read(key: string): Promise<GetResult | undefined> {
    const r = await this.call({ kind: 'get', key: Buffer.from(key), r: this.rng.pick(this.options.weakQuorums ? [0, 1, 1, 3] : [0, 0, 1, 3]), pr: 0 });
    if (!r.ok) return undefined;
    if (r.value.kind !== 'get') throw new Error(`sim: a get answered with ${r.value.kind}`);
    return r.value;
  }

  /** 0 is the cluster's W (2). */
  private writeQuorum(): number {
    return this.rng.pick(this.options.weakQuorums ? [0, 0, 1, 3] : [0, 0, 0, 3]);
  }

  private backoff(attempt: number): Promise<void> {
    const ms = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
    return sleep(this.clock, ms / 2 + this.rng.int(0, ms / 2));
  }

  /**
   * Adds `element` to the set at `key` (on a delete key, `accumulate` false: the value written is
   * just the new element, replacing what the read saw, as a plain put would).
   */
  private async setAdd(key: string, element: string, accumulate: boolean): Promise<void> {
    add(this.history.attempted, key, element);
    let pending: ClientOp | undefined;
    for (let attempt = 1; attempt <= ATTEMPTS_MAX; attempt++) {
      if (attempt > 1) await this.backoff(attempt);
      if (pending === undefined) {
        const got = await this.read(key);
        if (got === undefined) continue;
        const value = encodeSet(accumulate ? [...elementsOf(got.values), element] : [element]);
        pending = { kind: 'put', key: Buffer.from(key), value, context: got.context, w: this.writeQuorum(), pw: 0 };
      }
      const r = await this.call(pending);
      if (r.ok) {
        if (accumulate) add(this.history.acked, key, element);
        this.history.counts.acked++;
        return;
      }
      // It may be stored: write again only on top of a fresh read.
      if (r.error.writeMayHaveApplied) pending = undefined;
    }
    this.history.counts.gaveUp++;
  }

  private async remove(key: string): Promise<void> {
    let pending: ClientOp | undefined;
    let context: VersionVector | undefined;
    for (let attempt = 1; attempt <= ATTEMPTS_MAX; attempt++) {
      if (attempt > 1) await this.backoff(attempt);
      if (pending === undefined) {
        const got = await this.read(key);
        if (got === undefined) continue;
        if (got.context.length === 0) return; // never written: nothing to delete
        const opened = TEST_CONTEXT_SEAL.open(Buffer.from(key), got.context);
        if (!opened.ok) throw opened.error;
        context = opened.value;
        pending = { kind: 'delete', key: Buffer.from(key), context: got.context, w: this.writeQuorum(), pw: 0 };
      }
      const r = await this.call(pending);
      if (r.ok) {
        this.history.deletes.push({ key, context: context!, atMs: this.clock.now() });
        this.history.counts.acked++;
        return;
      }
      if (r.error.writeMayHaveApplied) pending = undefined;
    }
    this.history.counts.gaveUp++;
  }
}

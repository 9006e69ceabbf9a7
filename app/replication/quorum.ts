/**
 * The pure "core" of the quorum state machines (riak_kv's get_core / put_core cut): it only counts
 * replies. The coordinator owns timers and messages and asks the core what to do. The core answers
 * success as soon as `needed` replicas said ok, and failure as soon as success is impossible
 * (oks + still outstanding < needed), instead of waiting for the deadline.
 */
import { mergeAll, sameHistory, VersionedObject } from '../versioning/dvv';

export type Outcome = 'pending' | 'success' | 'failure';

/** Counts acknowledgements (writes) or replies (reads) from a fixed set of asked replicas. */
export class QuorumCounter {
  private oks = 0;
  private errors = 0;

  constructor(
    readonly needed: number,
    readonly asked: number,
  ) {
    if (!Number.isInteger(needed) || needed < 1 || needed > asked) {
      throw new Error(`quorum: needed ${needed} must be within 1..asked (${asked})`);
    }
  }

  add(ok: boolean): void {
    if (this.oks + this.errors >= this.asked) throw new Error(`quorum: more replies than the ${this.asked} asked`);
    if (ok) this.oks++;
    else this.errors++;
  }

  get okCount(): number {
    return this.oks;
  }

  get outstanding(): number {
    return this.asked - this.oks - this.errors;
  }

  get outcome(): Outcome {
    if (this.oks >= this.needed) return 'success';
    if (this.oks + this.outstanding < this.needed) return 'failure';
    return 'pending';
  }
}

/**
 * A replica's answer to a read: its object (or nothing), or a failure. `repair` marks a failure
 * whose replica is known to lack the object (a record that failed its integrity check, or a
 * replica still syncing after it lost its data): it counts as a failure for the quorum, but is
 * repaired like a stale replica.
 */
export type ReadReply = { readonly ok: true; readonly object: VersionedObject | undefined } | { readonly ok: false; readonly repair?: boolean };

export interface RepairOrder {
  readonly node: string;
  readonly object: VersionedObject;
}

/**
 * Accumulates read replies: answers with the merge of what the replicas returned, and once every
 * reply is in (or the repair wait ran out) returns the read repair to carry out: the merged object
 * for every primary that answered with an older history, nothing, or a corrupt record. Replicas
 * that failed or never answered are not repaired: their state is unknown (anti-entropy covers
 * them). Fallbacks (asked in place of a down primary, answering from their hints) count toward R
 * but never toward `pr`, and are never repaired: they do not own the key.
 */
export class ReadCore {
  private readonly counter: QuorumCounter;
  private readonly replies = new Map<string, VersionedObject | undefined>();
  private readonly answered = new Set<string>();
  private readonly toRepair: string[] = [];
  private readonly fallbacks: ReadonlySet<string>;
  private primaryOks = 0;
  private primariesOutstanding: number;
  /** The merge of the ok replies so far, until the next reply. */
  private merged: { object: VersionedObject | undefined } | undefined;

  constructor(
    needed: number,
    readonly replicas: readonly string[],
    /** Of the `needed` replies, how many must come from primaries. */
    readonly primariesNeeded = 0,
    fallbacks: readonly string[] = [],
  ) {
    this.counter = new QuorumCounter(needed, replicas.length);
    this.fallbacks = new Set(fallbacks);
    this.primariesOutstanding = replicas.length - fallbacks.length;
  }

  add(node: string, reply: ReadReply): void {
    if (!this.replicas.includes(node)) throw new Error(`read: reply from ${node}, which was not asked`);
    if (this.answered.has(node)) throw new Error(`read: a second reply from ${node}`);
    this.answered.add(node);
    this.counter.add(reply.ok);
    const primary = !this.fallbacks.has(node);
    if (primary) this.primariesOutstanding--;
    if (reply.ok) {
      if (primary) this.primaryOks++;
      this.replies.set(node, reply.object);
      this.merged = undefined;
    } else if (reply.repair && primary) this.toRepair.push(node);
  }

  get outcome(): Outcome {
    const total = this.counter.outcome;
    if (total === 'failure' || this.primaryOks + this.primariesOutstanding < this.primariesNeeded) return 'failure';
    return total === 'success' && this.primaryOks >= this.primariesNeeded ? 'success' : 'pending';
  }

  get okCount(): number {
    return this.counter.okCount;
  }

  get primaryOkCount(): number {
    return this.primaryOks;
  }

  /** Replies not in yet. */
  get outstanding(): number {
    return this.counter.outstanding;
  }

  /** Replies in that do not count (a failure, or a fallback without a hint). */
  get failedCount(): number {
    return this.replicas.length - this.counter.outstanding - this.counter.okCount;
  }

  get complete(): boolean {
    return this.counter.outstanding === 0;
  }

  /** The merge of every ok reply so far (undefined when no replica holds the key). */
  response(): VersionedObject | undefined {
    this.merged ??= { object: mergeAll(this.replies.values()) };
    return this.merged.object;
  }

  finalAction(): RepairOrder[] {
    const merged = this.response();
    if (merged === undefined) return [];
    const orders: RepairOrder[] = [];
    for (const [node, object] of this.replies) if (!this.fallbacks.has(node) && !sameHistory(object, merged)) orders.push({ node, object: merged });
    for (const node of this.toRepair) orders.push({ node, object: merged });
    return orders;
  }
}

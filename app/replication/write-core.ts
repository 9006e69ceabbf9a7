/**
 * The pure core of the put state machine: it decides where a write goes and counts the
 * acknowledgements (riak_kv's put_core cut). The put state machine owns the local write, the
 * messages and the timer, and asks the core what to do.
 *
 * Where a write goes (sloppy quorum, Dynamo section 4.6): to every primary of the key that the
 * failure detector counts as up, and for each primary that is down, to the next up fallback in
 * the preference list, carrying a hint that names the primary it stands in for. A primary that
 * fails during the write is replaced the same way, with the next unused fallback. A fallback's
 * acknowledgement (the hint is durable) counts toward W; `pw` of the W must come from primaries.
 *
 * The outcome is success as soon as W acknowledgements (pw of them from primaries) are in, and
 * failure as soon as that is impossible with what is still outstanding, never by waiting.
 */
import { Outcome } from './quorum';

/** One replica the write is sent to; `hintFor` is set when it is a fallback. */
export interface WriteTarget {
  readonly node: string;
  readonly hintFor?: string;
}

export interface WriteTally {
  readonly acks: number;
  readonly primaryAcks: number;
  readonly fallbackAcks: number;
  readonly failures: readonly string[];
}

export class WriteCore {
  private readonly outstanding = new Map<string, WriteTarget>();
  /** Up fallbacks not yet used, in preference order; looked up when first needed. */
  private unused: string[] | undefined;
  private acks = 0;
  private primaryAcks = 0;
  private readonly failures: string[] = [];
  /** Primaries whose write failed and for which no fallback was left. */
  private uncovered = 0;
  /** The targets to send to now (the coordinator's own primary write is acknowledged already). */
  readonly initial: readonly WriteTarget[];

  constructor(
    readonly w: number,
    readonly pw: number,
    readonly primaries: readonly string[],
    fallbacks: readonly string[],
    /** The coordinator, a primary whose write is already durable. */
    readonly self: string,
    isUp: (node: string) => boolean,
  ) {
    if (!Number.isInteger(w) || w < 1 || w > primaries.length) throw new Error(`write: W ${w} must be within 1..${primaries.length}`);
    if (!Number.isInteger(pw) || pw < 0 || pw > w) throw new Error(`write: PW ${pw} must be within 0..W (${w})`);
    if (!primaries.includes(self)) throw new Error(`write: the coordinator ${self} is not a primary (${primaries.join(', ')})`);
    this.fallbacks = () => (this.unused ??= fallbacks.filter(isUp));
    this.acks = 1;
    this.primaryAcks = 1;
    const initial: WriteTarget[] = [];
    for (const node of primaries) {
      if (node === self) continue;
      const target = isUp(node) ? { node } : this.standIn(node);
      if (target) initial.push(target);
    }
    for (const t of initial) this.outstanding.set(t.node, t);
    this.initial = initial;
  }

  /**
   * Records a target's answer. A failed primary is replaced by the next unused fallback, which
   * the caller sends to at once; the replacement is returned.
   */
  add(node: string, ok: boolean, why = 'failed'): WriteTarget | undefined {
    const target = this.outstanding.get(node);
    if (target === undefined) throw new Error(`write: answer from ${node}, which has nothing outstanding`);
    this.outstanding.delete(node);
    if (ok) {
      this.acks++;
      if (target.hintFor === undefined) this.primaryAcks++;
      return undefined;
    }
    this.failures.push(`${target.hintFor === undefined ? node : `${node} for ${target.hintFor}`}: ${why}`);
    const replacement = this.standIn(target.hintFor ?? node);
    if (replacement) this.outstanding.set(replacement.node, replacement);
    return replacement;
  }

  get outcome(): Outcome {
    if (this.acks >= this.w && this.primaryAcks >= this.pw) return 'success';
    let primariesOutstanding = 0;
    for (const t of this.outstanding.values()) if (t.hintFor === undefined) primariesOutstanding++;
    if (this.acks + this.outstanding.size < this.w || this.primaryAcks + primariesOutstanding < this.pw) return 'failure';
    return 'pending';
  }

  get tally(): WriteTally {
    return { acks: this.acks, primaryAcks: this.primaryAcks, fallbackAcks: this.acks - this.primaryAcks, failures: [...this.failures] };
  }

  /** Primaries that neither acknowledged nor have a fallback standing in (for messages). */
  get primariesUncovered(): number {
    return this.uncovered;
  }

  get pending(): number {
    return this.outstanding.size;
  }

  private readonly fallbacks: () => string[];

  private standIn(primary: string): WriteTarget | undefined {
    // A node already holding part of this write cannot take a second role in it.
    const unused = this.fallbacks();
    while (unused.length > 0) {
      const node = unused.shift()!;
      if (!this.outstanding.has(node)) return { node, hintFor: primary };
    }
    this.uncovered++;
    this.failures.push(`${primary}: down, and no fallback left to stand in`);
    return undefined;
  }
}

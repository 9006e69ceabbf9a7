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
 *
 * During a membership change that moves the partition, the write also goes to the members the
 * target placement adds (receivers), and needs W acknowledgements among the target's primaries
 * too (a joint quorum, as in a configuration change of a consensus group): after the partition
 * flips to its target, a read quorum there meets every write acknowledged during the move.
 */
import { Outcome } from './quorum';

/** One replica the write is sent to; `hintFor` is set when it is a fallback. */
export interface WriteTarget {
  readonly node: string;
  readonly hintFor?: string;
  /** A member the partition is moving to (not yet a primary): its acknowledgement counts toward the target's quorum only. */
  readonly receiver?: boolean;
}

export interface WriteTally {
  readonly acks: number;
  readonly primaryAcks: number;
  readonly fallbackAcks: number;
  /** During a move: acknowledgements among the target placement's primaries, and how many it needs. */
  readonly targetAcks?: number;
  readonly targetNeeded?: number;
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
  /**
   * The targets to send to now. The coordinator's own write is not among them: it is
   * outstanding from the start, and acknowledged (`add(self, true)`) when its commit is durable,
   * which runs at the same time as the others' (a failed own write has no stand-in).
   */
  readonly initial: readonly WriteTarget[];

  constructor(
    readonly w: number,
    readonly pw: number,
    readonly primaries: readonly string[],
    fallbacks: readonly string[],
    /** The coordinator, a primary: its own write is outstanding until it is durable. */
    readonly self: string,
    isUp: (node: string) => boolean,
    /** The partition's primaries in the target placement of a membership change in progress. */
    readonly target?: readonly string[],
  ) {
    if (!Number.isInteger(w) || w < 1 || w > primaries.length) throw new Error(`write: W ${w} must be within 1..${primaries.length}`);
    if (!Number.isInteger(pw) || pw < 0 || pw > w) throw new Error(`write: PW ${pw} must be within 0..W (${w})`);
    if (!primaries.includes(self)) throw new Error(`write: the coordinator ${self} is not a primary (${primaries.join(', ')})`);
    // A receiver of the partition takes the write into its data, never as a hint for another.
    this.fallbacks = () => (this.unused ??= fallbacks.filter((f) => isUp(f) && !target?.includes(f)));
    this.outstanding.set(self, { node: self });
    const initial: WriteTarget[] = [];
    for (const node of primaries) {
      if (node === self) continue;
      const target = isUp(node) ? { node } : this.standIn(node);
      if (target) initial.push(target);
    }
    if (target) {
      this.targetNeeded = Math.min(w, target.length);
      for (const node of target) if (!primaries.includes(node) && isUp(node)) initial.push({ node, receiver: true });
    }
    for (const t of initial) this.outstanding.set(t.node, t);
    this.initial = initial;
  }

  private targetAcks = 0;
  private readonly targetNeeded: number = 0;

  /** Whether an acknowledgement from this target counts toward the target placement's quorum. */
  private countsForTarget(t: WriteTarget): boolean {
    return this.target !== undefined && this.target.includes(t.hintFor ?? t.node);
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
      if (this.countsForTarget(target)) this.targetAcks++;
      if (target.receiver) return undefined;
      this.acks++;
      if (target.hintFor === undefined) this.primaryAcks++;
      return undefined;
    }
    this.failures.push(`${target.hintFor === undefined ? node : `${node} for ${target.hintFor}`}${target.receiver ? ' (receiving the partition)' : ''}: ${why}`);
    // A receiver has no stand-in: the partition is not its yet. Nor has the coordinator's own
    // write (its node stops when a commit fails after the write was decided).
    if (target.receiver || node === this.self) return undefined;
    const replacement = this.standIn(target.hintFor ?? node);
    if (replacement) this.outstanding.set(replacement.node, replacement);
    return replacement;
  }

  get outcome(): Outcome {
    if (this.acks >= this.w && this.primaryAcks >= this.pw && this.targetAcks >= this.targetNeeded) return 'success';
    let primariesOutstanding = 0;
    let currentOutstanding = 0;
    let targetOutstanding = 0;
    for (const t of this.outstanding.values()) {
      if (!t.receiver) currentOutstanding++;
      if (!t.receiver && t.hintFor === undefined) primariesOutstanding++;
      if (this.countsForTarget(t)) targetOutstanding++;
    }
    if (this.acks + currentOutstanding < this.w || this.primaryAcks + primariesOutstanding < this.pw) return 'failure';
    // A failed primary of both placements is replaced at once by a fallback holding a hint for
    // it, which is outstanding here and counts for the target too.
    if (this.targetAcks + targetOutstanding < this.targetNeeded) return 'failure';
    return 'pending';
  }

  get tally(): WriteTally {
    const target = this.target ? { targetAcks: this.targetAcks, targetNeeded: this.targetNeeded } : {};
    return { acks: this.acks, primaryAcks: this.primaryAcks, fallbackAcks: this.acks - this.primaryAcks, ...target, failures: [...this.failures] };
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

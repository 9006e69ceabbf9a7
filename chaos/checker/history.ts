/**
 * The history of a run: every logical operation the workloads did, with its start and end (ms
 * since the epoch, sub-millisecond), workload, kind, outcome, error code and attempts, and how
 * its writes that may have applied were settled by reading the key back. A logical operation is
 * what a client asked for; its retries, read-backs and redone writes are inside it (`attempts`).
 *
 * Bounded: the records sit in typed arrays (23 bytes an operation) that grow up to `opsMax`;
 * past it, operations are counted as dropped and not kept (the figures then say so). The checker
 * sizes `opsMax` from the workloads' rates and the duration, so a run within its bounds drops
 * nothing.
 */
import { Outcome } from './store';

export const WORKLOAD_NAMES = ['set-add', 'register', 'load'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

/** update: a set-add's read, union and write back; the others are one client call each. */
export const OP_KINDS = ['get', 'put', 'delete', 'update'] as const;
export type OpKind = (typeof OP_KINDS)[number];

export const OUTCOMES: readonly Outcome[] = ['ok', 'failed', 'indeterminate'];

/**
 * How a logical write ended after a write attempt that may have applied (recorder.ts):
 * - none: no attempt may have applied (acknowledged, or failed for sure);
 * - applied: a read-back found the write in the key: done, without writing again;
 * - redone: a read-back did not find it, and the operation wrote again (its outcome says how that went);
 * - unresolved: its last write may have applied and no read-back settled it (the read-back failed,
 *   or the rounds ran out).
 */
export const RESOLUTIONS = ['none', 'applied', 'redone', 'unresolved'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export interface Op {
  readonly startMs: number;
  readonly endMs: number;
  readonly workload: WorkloadName;
  readonly kind: OpKind;
  readonly outcome: Outcome;
  /** The last attempt's error code ('' when it succeeded). */
  readonly code: string;
  /** Calls to the store: every attempt of the write (or get), of each read-back and each redone write. */
  readonly attempts: number;
  /** Write attempts that may have applied (each one ended a phase and needed a read-back). */
  readonly indeterminateWrites: number;
  readonly resolution: Resolution;
}

/**
 * How an operation's write attempts that may have applied were settled, one by one: each but the
 * last was followed by a read-back that did not find it (redone); the last one is the
 * operation's resolution when that is applied or unresolved, else it was redone too.
 */
export function settledWrites(op: Op): { readonly applied: number; readonly redone: number; readonly unresolved: number } {
  const applied = op.resolution === 'applied' ? 1 : 0;
  const unresolved = op.resolution === 'unresolved' ? 1 : 0;
  return { applied, redone: op.indeterminateWrites - applied - unresolved, unresolved };
}

/** Distinct error codes a history keeps apart; more are counted under OTHER_CODE. */
const CODES_MAX = 64;
const OTHER_CODE = 'OTHER';
const INITIAL_CAPACITY = 1024;
/** Bytes of `small` an operation. */
const SMALL = 6;

export class History {
  private start = new Float64Array(INITIAL_CAPACITY);
  private end = new Float64Array(INITIAL_CAPACITY);
  /** workload, kind, outcome, attempts and indeterminate writes (each capped at 255), resolution, one byte each. */
  private small = new Uint8Array(INITIAL_CAPACITY * SMALL);
  private codeIndex = new Uint8Array(INITIAL_CAPACITY);
  private readonly codes: string[] = [''];
  private count = 0;
  /** Operations past opsMax, not kept. */
  dropped = 0;

  constructor(readonly opsMax: number) {
    if (!Number.isSafeInteger(opsMax) || opsMax < 1) throw new Error(`History: opsMax ${opsMax} must be a positive integer`);
  }

  get size(): number {
    return this.count;
  }

  record(op: Op): void {
    if (this.count >= this.opsMax) {
      this.dropped++;
      return;
    }
    if (this.count === this.start.length) this.grow();
    const i = this.count++;
    this.start[i] = op.startMs;
    this.end[i] = op.endMs;
    const at = i * SMALL;
    this.small[at] = WORKLOAD_NAMES.indexOf(op.workload);
    this.small[at + 1] = OP_KINDS.indexOf(op.kind);
    this.small[at + 2] = OUTCOMES.indexOf(op.outcome);
    this.small[at + 3] = Math.min(255, op.attempts);
    this.small[at + 4] = Math.min(255, op.indeterminateWrites);
    this.small[at + 5] = RESOLUTIONS.indexOf(op.resolution);
    this.codeIndex[i] = this.indexOf(op.code);
  }

  at(i: number): Op {
    if (i < 0 || i >= this.count) throw new Error(`History.at(${i}): outside 0..${this.count - 1}`);
    const at = i * SMALL;
    return {
      startMs: this.start[i]!,
      endMs: this.end[i]!,
      workload: WORKLOAD_NAMES[this.small[at]!]!,
      kind: OP_KINDS[this.small[at + 1]!]!,
      outcome: OUTCOMES[this.small[at + 2]!]!,
      attempts: this.small[at + 3]!,
      indeterminateWrites: this.small[at + 4]!,
      resolution: RESOLUTIONS[this.small[at + 5]!]!,
      code: this.codes[this.codeIndex[i]!]!,
    };
  }

  /** Every operation kept, in the order they ended. */
  ops(): Op[] {
    return Array.from({ length: this.count }, (_, i) => this.at(i));
  }

  /** Operations that ended at or after `sinceMs`, by outcome: read from the newest back. */
  endedSince(sinceMs: number): Record<Outcome, number> {
    const counts: Record<Outcome, number> = { ok: 0, failed: 0, indeterminate: 0 };
    // Records are kept in the order they ended (one monotonic clock), so the scan stops at the first older one.
    for (let i = this.count - 1; i >= 0 && this.end[i]! >= sinceMs; i--) counts[OUTCOMES[this.small[i * SMALL + 2]!]!]++;
    return counts;
  }

  private indexOf(code: string): number {
    const i = this.codes.indexOf(code);
    if (i >= 0) return i;
    if (this.codes.length < CODES_MAX) return this.codes.push(code) - 1;
    const other = this.codes.indexOf(OTHER_CODE);
    return other >= 0 ? other : this.codes.push(OTHER_CODE) - 1;
  }

  private grow(): void {
    const capacity = Math.min(this.opsMax, this.start.length * 2);
    const widen = <A extends Float64Array | Uint8Array>(a: A, make: (n: number) => A, per = 1): A => {
      const b = make(capacity * per);
      b.set(a);
      return b;
    };
    this.start = widen(this.start, (n) => new Float64Array(n));
    this.end = widen(this.end, (n) => new Float64Array(n));
    this.small = widen(this.small, (n) => new Uint8Array(n), SMALL);
    this.codeIndex = widen(this.codeIndex, (n) => new Uint8Array(n));
  }
}

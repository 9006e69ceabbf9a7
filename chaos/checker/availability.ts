/**
 * Availability and latency figures of a history, pure.
 *
 * - Availability: the share of logical operations that succeeded (ok / all). A logical
 *   operation is what a client asked for, its retries inside it: one that succeeded after
 *   retries counts as one success, and so does a write that may have applied which a read-back
 *   then found, or which was written again and acknowledged (recorder.ts). A failed one and one
 *   still indeterminate (its write may have applied, and no read-back settled it) count against.
 * - Read-back: the write attempts that may have applied, and how each was settled (found applied,
 *   not found and written again, or unresolved); and the availability without read-back, what a
 *   client that gives up on the first write that may have applied would see (ok operations with
 *   no such write / all).
 * - An operation belongs to the second, or the fault window, in which it started (was due):
 *   what a client asking then got, however long the answer took.
 * - Latency: end minus start of a logical operation, retries and waits included; percentiles by
 *   nearest rank.
 * - Per fault window: the operations that started during it, and those that started after it
 *   (until the next window starts, or the run ends).
 * - Time to recover: seconds from a fault's end to the start of the first whole second, counted
 *   from the fault's end, in which at least one operation started and at least
 *   RECOVERED_AVAILABILITY_MIN of the operations that started succeeded. 0: the first second after
 *   the fault was already good; null: no such second before the next window or the run's end.
 * - Timeline: one entry a second since the run's start, by when operations ended (what a
 *   dashboard of completions shows): operations, failures, indeterminate ones, those that needed
 *   a read-back, and the p99.
 */
import { Op, settledWrites } from './history';

export const RECOVERED_AVAILABILITY_MIN = 0.99;

export interface FaultWindow {
  readonly label: string;
  /** ms since the epoch. */
  readonly startMs: number;
  readonly endMs: number;
}

/** How the write attempts that may have applied were settled (their sum is `indeterminateWrites`). */
export interface ReadBackFigures {
  /** Write attempts that may have applied. */
  readonly indeterminateWrites: number;
  /** A read-back found the write: its operation succeeded without writing again. */
  readonly applied: number;
  /** A read-back did not find the write: its operation wrote again. */
  readonly redone: number;
  /** No read-back settled it (the read-back failed, or the rounds ran out): its operation ended indeterminate. */
  readonly unresolved: number;
  /** Operations that had at least one such write. */
  readonly ops: number;
}

export interface Tally {
  readonly ops: number;
  readonly ok: number;
  readonly failed: number;
  /** Operations whose write may have applied and no read-back settled. */
  readonly indeterminate: number;
  /** ok / ops, or null without operations. */
  readonly availability: number | null;
  readonly readBack: ReadBackFigures;
  /** Operations that succeeded without any write that may have applied / ops, or null without operations. */
  readonly availabilityWithoutReadBack: number | null;
  /** Calls to the store, retries, read-backs and redone writes included. */
  readonly attempts: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

export interface WindowFigures extends FaultWindow {
  readonly during: Tally;
  readonly after: Tally;
  readonly recoverS: number | null;
}

export interface TimelineSecond {
  /** Seconds since the run's start: this entry covers [t, t+1). */
  readonly t: number;
  readonly ops: number;
  readonly errors: number;
  readonly indeterminate: number;
  /** Operations that needed a read-back (whatever their outcome). */
  readonly readBack: number;
  readonly p99Ms: number | null;
}

/** Nearest-rank percentile of ascending values, or null for none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (ms: number | null) => (ms === null ? null : Math.round(ms * 1000) / 1000);

export function tally(ops: readonly Op[]): Tally {
  let ok = 0;
  let failed = 0;
  let indeterminate = 0;
  let okWithoutReadBack = 0;
  let attempts = 0;
  const readBack = { indeterminateWrites: 0, applied: 0, redone: 0, unresolved: 0, ops: 0 };
  for (const op of ops) {
    if (op.outcome === 'ok') ok++;
    else if (op.outcome === 'failed') failed++;
    else indeterminate++;
    attempts += op.attempts;
    if (op.indeterminateWrites === 0) {
      if (op.outcome === 'ok') okWithoutReadBack++;
      continue;
    }
    const settled = settledWrites(op);
    readBack.ops++;
    readBack.indeterminateWrites += op.indeterminateWrites;
    readBack.applied += settled.applied;
    readBack.redone += settled.redone;
    readBack.unresolved += settled.unresolved;
  }
  const latencies = ops.map((op) => op.endMs - op.startMs).sort((a, b) => a - b);
  return {
    ops: ops.length,
    ok,
    failed,
    indeterminate,
    availability: ops.length === 0 ? null : ok / ops.length,
    readBack,
    availabilityWithoutReadBack: ops.length === 0 ? null : okWithoutReadBack / ops.length,
    attempts,
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies.at(-1) ?? null),
  };
}

const startedIn = (ops: readonly Op[], fromMs: number, toMs: number) => ops.filter((op) => op.startMs >= fromMs && op.startMs < toMs);

/** Seconds from `fromMs` to the first good second before `untilMs` (see the header), or null. */
export function recoverS(ops: readonly Op[], fromMs: number, untilMs: number): number | null {
  const seconds = Math.ceil((untilMs - fromMs) / 1000);
  const buckets = Array.from({ length: Math.max(0, seconds) }, () => [] as Op[]);
  for (const op of startedIn(ops, fromMs, untilMs)) buckets[Math.floor((op.startMs - fromMs) / 1000)]!.push(op);
  const k = buckets.findIndex((b) => {
    const availability = tally(b).availability;
    return availability !== null && availability >= RECOVERED_AVAILABILITY_MIN;
  });
  return k < 0 ? null : k;
}

/** Figures of each fault window, in the order of their starts. */
export function windowFigures(ops: readonly Op[], windows: readonly FaultWindow[], runEndMs: number): WindowFigures[] {
  const sorted = [...windows].sort((a, b) => a.startMs - b.startMs);
  return sorted.map((w, i) => {
    const afterUntil = Math.max(w.endMs, Math.min(runEndMs, sorted[i + 1]?.startMs ?? runEndMs));
    return {
      label: w.label,
      startMs: w.startMs,
      endMs: w.endMs,
      during: tally(startedIn(ops, w.startMs, w.endMs)),
      after: tally(startedIn(ops, w.endMs, afterUntil)),
      recoverS: recoverS(ops, w.endMs, afterUntil),
    };
  });
}

/** One entry a second from `runStartMs` to `runEndMs`, by when operations ended. */
export function timeline(ops: readonly Op[], runStartMs: number, runEndMs: number): TimelineSecond[] {
  const seconds = Math.max(1, Math.ceil((runEndMs - runStartMs) / 1000));
  const buckets = Array.from({ length: seconds }, () => [] as Op[]);
  for (const op of ops) {
    const t = Math.floor((op.endMs - runStartMs) / 1000);
    buckets[Math.min(seconds - 1, Math.max(0, t))]!.push(op);
  }
  return buckets.map((b, t) => {
    const figures = tally(b);
    return { t, ops: figures.ops, errors: figures.failed, indeterminate: figures.indeterminate, readBack: figures.readBack.ops, p99Ms: figures.p99Ms };
  });
}

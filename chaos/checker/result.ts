/**
 * What a check reports: the JSON result (figures, verdict, per-second timeline, for the HTML
 * report) and the human summary printed from it.
 */
import { Tally, TimelineSecond, WindowFigures } from './availability';
import { WorkloadName } from './history';
import { RetryPolicy } from './recorder';
import { Finding } from './verdict';
import { WorkloadOptions } from './workload';

/** Examples of each violation the result lists at most (the counts are complete). */
export const EXAMPLES_MAX = 10;

export interface CheckResult {
  /** The verdict: true when every rule held. */
  readonly holds: boolean;
  /** Why it does not hold, one line each; empty when it holds. */
  readonly reasons: readonly string[];
  readonly run: {
    readonly startedAt: string;
    readonly endedAt: string;
    /** ms since the epoch: the origin of the timeline's and the windows' seconds. */
    readonly startMs: number;
    readonly durationS: number;
    readonly keyPrefix: string;
    /** Each workload that ran, with its keys, concurrency and rate (cycles a second). */
    readonly workloads: Readonly<Partial<Record<WorkloadName, WorkloadOptions>>>;
    readonly retry: RetryPolicy;
    /** Read-backs of one logical write at most (INDETERMINATE_RESOLVE_ROUNDS_MAX). */
    readonly readBackRoundsMax: number;
  };
  readonly hypothesis: { readonly availabilityMin: number; readonly convergeWithinS: number; readonly siblingsMax: number };
  readonly correctness: {
    readonly keysChecked: number;
    /** lostElements + lostRegisterWrites. */
    readonly lostWrites: number;
    readonly lostElements: number;
    readonly lostRegisterWrites: number;
    readonly resurrectedDeletes: number;
    readonly siblingsMaxSeen: number;
    readonly keysOverSiblingsMax: number;
    readonly keysUnreadable: number;
    /** Keys read at the store's own quorum because a read at R=N failed. */
    readonly finalReadsBelowN: number;
    readonly examples: {
      readonly lost: readonly Finding[];
      readonly resurrected: readonly Finding[];
      readonly siblingsOver: ReadonlyArray<{ readonly key: string; readonly siblings: number }>;
      readonly unreadable: ReadonlyArray<{ readonly key: string; readonly error: string }>;
    };
  };
  readonly convergence: {
    readonly converged: boolean;
    readonly afterS: number;
    readonly withinS: number;
    readonly keysDiverged: number;
    readonly diverged: ReadonlyArray<{ readonly key: string; readonly why: string }>;
  };
  readonly availability: {
    readonly overall: Tally;
    readonly byWorkload: Readonly<Record<string, Tally>>;
    /** Operations that did not succeed, by their last error code. */
    readonly errors: Readonly<Record<string, number>>;
    /** Each fault window, with its start and end also in seconds since the run's start. */
    readonly windows: ReadonlyArray<WindowFigures & { readonly startS: number; readonly endS: number }>;
  };
  readonly timeline: readonly TimelineSecond[];
  readonly history: { readonly ops: number; readonly dropped: number; readonly opsMax: number };
}

/** A share as a percentage with up to three decimals, never rounded up (99.9996 % is not 100 %). */
export const pct = (share: number | null) => (share === null ? 'n/a' : `${(Math.floor(share * 100_000) / 1000).toString()} %`);
const ms = (v: number | null) => (v === null ? 'n/a' : `${v < 10 ? v.toFixed(2) : Math.round(v)} ms`);

function tallyLine(t: Tally): string {
  return `${t.ops} ops, ${pct(t.availability)} ok (${t.failed} failed, ${t.indeterminate} indeterminate, ${t.readBack.ops} read back), p99 ${ms(t.p99Ms)}`;
}

/** How the writes that may have applied were settled, and what availability would be without. */
function readBackLine(t: Tally): string {
  const b = t.readBack;
  return `read-back: ${b.indeterminateWrites} writes may have applied: ${b.applied} found applied, ${b.redone} not found and written again, ${b.unresolved} unresolved; ` +
    `without read-back availability would be ${pct(t.availabilityWithoutReadBack)} (${t.attempts} attempts in all)`;
}

/** The human summary: a few lines, the verdict first. */
export function summarize(r: CheckResult): string {
  const c = r.correctness;
  const a = r.availability;
  const lines = [
    `kv chaos check: the verdict ${r.holds ? 'holds' : 'DOES NOT HOLD'}`,
    ...r.reasons.map((why) => `  - ${why}`),
    `ran ${r.run.durationS.toFixed(1)} s: ${Object.entries(r.run.workloads).map(([name, w]) => `${name} ${w.ratePerS} cycles/s over ${w.keys} keys (${w.concurrency} in flight at most)`).join(', ')}`,
    `availability ${pct(a.overall.availability)} of ${a.overall.ops} operations (at least ${pct(r.hypothesis.availabilityMin)} required): ${a.overall.failed} failed, ${a.overall.indeterminate} indeterminate` +
      (Object.keys(a.errors).length ? ` (${Object.entries(a.errors).map(([code, n]) => `${code} ${n}`).join(', ')})` : ''),
    readBackLine(a.overall),
    `latency p50 ${ms(a.overall.p50Ms)}, p99 ${ms(a.overall.p99Ms)}, max ${ms(a.overall.maxMs)}`,
    ...Object.entries(a.byWorkload).map(([name, t]) => `  ${name}: ${tallyLine(t)}`),
    ...a.windows.flatMap((w) => [
      `fault ${w.label} (${w.startS.toFixed(1)} s to ${w.endS.toFixed(1)} s): ${w.recoverS === null ? 'not recovered before the end' : `recovered ${w.recoverS} s after it ended`}`,
      `  during: ${tallyLine(w.during)}`,
      `  after:  ${tallyLine(w.after)}`,
    ]),
    `lost writes ${c.lostWrites} (set elements ${c.lostElements}, register values ${c.lostRegisterWrites}), resurrected deletes ${c.resurrectedDeletes}, ` +
      `siblings at most ${c.siblingsMaxSeen} (bound ${r.hypothesis.siblingsMax}), ${c.keysChecked} keys checked` +
      (c.keysUnreadable ? `, ${c.keysUnreadable} unreadable` : '') +
      (c.finalReadsBelowN ? `, ${c.finalReadsBelowN} read below R=N` : ''),
    ...c.examples.lost.map((f) => `  lost: ${f.key} ${f.value}`),
    ...c.examples.resurrected.map((f) => `  resurrected: ${f.key} ${f.value}`),
    r.convergence.converged
      ? `replicas converged ${r.convergence.afterS} s after the workloads stopped (within ${r.convergence.withinS} s)`
      : `replicas had not converged within ${r.convergence.withinS} s (${r.convergence.keysDiverged} keys), e.g. ${r.convergence.diverged.slice(0, 3).map((d) => `${d.key}: ${d.why}`).join('; ')}`,
  ];
  if (r.history.dropped > 0) lines.push(`the history was full: ${r.history.dropped} operations beyond ${r.history.opsMax} are not in the figures`);
  return `${lines.join('\n')}\n`;
}

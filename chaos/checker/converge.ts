/**
 * Convergence, after the faults healed and the workloads stopped: a key has converged when every
 * replica answered Inspect, every primary holds the same history (the same dots and clock) and
 * no fallback still holds hints for it. The checker polls until every checked key has converged
 * or the time runs out, and reports how long that took. A key that converged is not asked again:
 * nothing writes it any more.
 */
import { mapBounded } from '../../app/parallel';
import { CheckedStore, ReplicaState } from './store';

export const CONVERGE_POLL_MS = 500;
/** Inspect calls in flight at most while polling. */
export const INSPECT_IN_FLIGHT_MAX = 16;
/** Diverged keys the result describes at most. */
const DIVERGED_SHOWN_MAX = 10;

export interface Convergence {
  readonly converged: boolean;
  /** Seconds from the start of the wait until the last key converged (or until it gave up). */
  readonly afterS: number;
  readonly withinS: number;
  /** Keys that had not converged when the time ran out. */
  readonly keysDiverged: number;
  /** A few of them, with why. */
  readonly diverged: ReadonlyArray<{ readonly key: string; readonly why: string }>;
  /** Per key, its number of primaries (N), as Inspect last reported them. */
  readonly primaries: ReadonlyMap<string, number>;
}

/** Why the replicas of a key disagree, or undefined when they agree. */
export function disagreement(replicas: readonly ReplicaState[]): string | undefined {
  const silent = replicas.filter((r) => !r.answered).map((r) => r.node);
  if (silent.length > 0) return `no answer from ${silent.join(', ')}`;
  const primaries = replicas.filter((r) => r.primary);
  if (primaries.length === 0) return 'no primary listed';
  if (primaries.some((p) => p.version !== primaries[0]!.version)) return `primaries differ: ${primaries.map((p) => `${p.node} ${p.holds ? `[${p.values.join(' ')}] ${p.version}` : 'nothing'}`).join(' / ')}`;
  const hinting = replicas.filter((r) => !r.primary && r.holds).map((r) => r.node);
  if (hinting.length > 0) return `hints not yet handed off on ${hinting.join(', ')}`;
  return undefined;
}

export async function awaitConvergence(store: CheckedStore, keys: readonly string[], withinS: number, now: () => number, pollMs = CONVERGE_POLL_MS): Promise<Convergence> {
  const startMs = now();
  const primaries = new Map<string, number>();
  let left = [...keys];
  let why = new Map<string, string>();
  while (true) {
    const answers = await mapBounded(left, INSPECT_IN_FLIGHT_MAX, async (key) => {
      const r = await store.replicas(key);
      if (!r.ok) return `inspect failed: ${r.error.code}: ${r.error.message}`;
      primaries.set(key, r.value.filter((x) => x.primary).length);
      return disagreement(r.value);
    });
    why = new Map(left.flatMap((key, i) => (answers[i] === undefined ? [] : [[key, answers[i]!] as const])));
    left = [...why.keys()];
    const elapsedMs = now() - startMs;
    if (left.length === 0 || elapsedMs + pollMs > withinS * 1000) {
      return {
        converged: left.length === 0,
        afterS: Math.round(elapsedMs) / 1000,
        withinS,
        keysDiverged: left.length,
        diverged: left.slice(0, DIVERGED_SHOWN_MAX).map((key) => ({ key, why: why.get(key)! })),
        primaries,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

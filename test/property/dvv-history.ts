/**
 * Generated histories of a replicated key: writes coordinated at replica actors (with a blind
 * context or the context of a read from some replica) and merges between replicas. Objects taken
 * from one history are mutually consistent (a dot names one write), which the merge laws assume;
 * objects from different histories are not, so tests never mix them.
 */
import * as fc from 'fast-check';
import { applyWrite, EMPTY_VV, merge, VersionedObject, VersionVector } from '../../app/versioning/dvv';

export const ACTORS = ['a@1', 'b@1', 'c@1', 'd@2'] as const;

export type Command =
  | { readonly t: 'write'; readonly at: number; readonly readFrom: number | null; readonly value: Uint8Array | null }
  | { readonly t: 'sync'; readonly from: number; readonly to: number };

const replicaArb = fc.nat({ max: ACTORS.length - 1 });

export const valueArb: fc.Arbitrary<Uint8Array | null> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constant(null) },
);

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ t: fc.constant('write' as const), at: replicaArb, readFrom: fc.option(replicaArb, { nil: null }), value: valueArb }),
  fc.record({ t: fc.constant('sync' as const), from: replicaArb, to: replicaArb }),
);

export const historyArb = fc.array(commandArb, { minLength: 1, maxLength: 25 });

export interface Replay {
  /** Final object of each replica (undefined: it never saw the key). */
  readonly replicas: (VersionedObject | undefined)[];
  /** Every object any replica held along the way, in order. */
  readonly seen: VersionedObject[];
}

/** Runs one command against the replicas (mutating the array); returns the object it produced. */
export function step(replicas: (VersionedObject | undefined)[], c: Command, nowMs: number): VersionedObject | undefined {
  if (c.t === 'write') {
    const context: VersionVector = c.readFrom === null ? EMPTY_VV : (replicas[c.readFrom]?.vv ?? EMPTY_VV);
    replicas[c.at] = applyWrite(replicas[c.at], context, ACTORS[c.at]!, c.value, nowMs);
  } else {
    replicas[c.to] = merge(replicas[c.to], replicas[c.from]);
  }
  return c.t === 'write' ? replicas[c.at] : replicas[c.to];
}

export function replay(history: readonly Command[]): Replay {
  const replicas: (VersionedObject | undefined)[] = ACTORS.map(() => undefined);
  const seen: VersionedObject[] = [];
  history.forEach((c, i) => {
    const produced = step(replicas, c, 1_000 + i);
    if (produced !== undefined) seen.push(produced);
  });
  return { replicas, seen };
}

/** A history and three objects picked from it (with repeats allowed). */
export const historyWithThreeArb = historyArb
  .filter((h) => h.some((c) => c.t === 'write'))
  .chain((h) => {
    const { seen } = replay(h);
    const pick = fc.nat({ max: seen.length - 1 }).map((i) => seen[i]!);
    return fc.tuple(pick, pick, pick);
  });

export function dotsOf(obj: VersionedObject | undefined): string[] {
  return (obj?.siblings ?? []).map((s) => `${s.dot.actor}:${s.dot.counter}`);
}

export const vvArb: fc.Arbitrary<VersionVector> = fc
  .dictionary(fc.constantFrom(...ACTORS), fc.integer({ min: 1, max: 4 }), { maxKeys: ACTORS.length })
  .map((d) => new Map(Object.entries(d).sort(([x], [y]) => (x < y ? -1 : 1))));

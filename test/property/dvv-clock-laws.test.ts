import * as fc from 'fast-check';
import { concurrent, descends, merge, mergeAll, mergeVv, sameHistory, VersionedObject, VersionVector } from '../../app/versioning/dvv';
import { decodeObject, encodeObject } from '../../app/versioning/codec';
import { historyWithThreeArb, vvArb } from './dvv-history';

const RUNS = 300;

/** Equal as stored: same history by dots and the same canonical bytes (values and timestamps included). */
function expectSameObject(x: VersionedObject | undefined, y: VersionedObject | undefined): void {
  expect(x).toBeDefined();
  expect(y).toBeDefined();
  expect(sameHistory(x, y)).toBe(true);
  expect(encodeObject(x!).equals(encodeObject(y!))).toBe(true);
}

function sameVv(x: VersionVector, y: VersionVector): boolean {
  return x.size === y.size && [...x].every(([actor, counter]) => y.get(actor) === counter);
}

describe('merge of replica objects', () => {
  test('is commutative', () => {
    fc.assert(
      fc.property(historyWithThreeArb, ([a, b]) => {
        expectSameObject(merge(a, b), merge(b, a));
      }),
      { numRuns: RUNS },
    );
  });

  test('is associative', () => {
    fc.assert(
      fc.property(historyWithThreeArb, ([a, b, c]) => {
        expectSameObject(merge(merge(a, b), c), merge(a, merge(b, c)));
      }),
      { numRuns: RUNS },
    );
  });

  test('is idempotent', () => {
    fc.assert(
      fc.property(historyWithThreeArb, ([a, b]) => {
        expectSameObject(merge(a, a), a);
        // merge(a, a) short-cuts on identity; an equal copy takes the full path.
        const copy = decodeObject(encodeObject(a));
        expectSameObject(merge(a, copy), a);
        expect(sameHistory(a, copy)).toBe(true);
        const ab = merge(a, b);
        expectSameObject(merge(ab, b), ab);
      }),
      { numRuns: RUNS },
    );
  });

  test('mergeAll gives the same object whatever the order of its inputs', () => {
    fc.assert(
      fc.property(historyWithThreeArb, ([a, b, c]) => {
        expectSameObject(mergeAll([a, b, c]), mergeAll([c, a, b]));
        expectSameObject(mergeAll([undefined, a, undefined]), a);
      }),
      { numRuns: RUNS },
    );
  });

  test('the merged vector descends both inputs and is their pointwise maximum', () => {
    fc.assert(
      fc.property(historyWithThreeArb, ([a, b]) => {
        const m = merge(a, b)!;
        expect(descends(m.vv, a.vv)).toBe(true);
        expect(descends(m.vv, b.vv)).toBe(true);
        expect(sameVv(m.vv, mergeVv(a.vv, b.vv))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  test('keeps a sibling only if the other side holds the same dot or has not seen it', () => {
    fc.assert(
      fc.property(historyWithThreeArb, ([a, b]) => {
        const m = merge(a, b)!;
        const key = (s: { dot: { actor: string; counter: number } }): string => `${s.dot.actor}:${s.dot.counter}`;
        const expected = new Set<string>();
        for (const [x, y] of [[a, b], [b, a]] as const) {
          const yDots = new Set(y.siblings.map(key));
          for (const s of x.siblings) if (yDots.has(key(s)) || (y.vv.get(s.dot.actor) ?? 0) < s.dot.counter) expected.add(key(s));
        }
        expect(m.siblings.map(key).sort()).toEqual([...expected].sort());
      }),
      { numRuns: RUNS },
    );
  });
});

describe('descends over version vectors', () => {
  test('is reflexive', () => {
    fc.assert(fc.property(vvArb, (a) => expect(descends(a, a)).toBe(true)));
  });

  test('is antisymmetric: mutual descent means equal vectors', () => {
    fc.assert(
      fc.property(vvArb, vvArb, (a, b) => {
        expect(descends(a, b) && descends(b, a)).toBe(sameVv(a, b));
      }),
      { numRuns: 500 },
    );
  });

  test('is transitive', () => {
    // Build chains c <= b <= a from random parts so the premise holds, plus random triples.
    fc.assert(
      fc.property(vvArb, vvArb, vvArb, (x, y, z) => {
        const [a, b, c] = [mergeVv(x, y, z), mergeVv(y, z), z];
        expect(descends(a, b) && descends(b, c)).toBe(true);
        expect(descends(a, c)).toBe(true);
        if (descends(x, y) && descends(y, z)) expect(descends(x, z)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test('a vector is concurrent with another exactly when neither descends the other', () => {
    fc.assert(
      fc.property(vvArb, vvArb, (a, b) => {
        expect(concurrent(a, b)).toBe(!descends(a, b) && !descends(b, a));
        expect(concurrent(a, b)).toBe(concurrent(b, a));
      }),
      { numRuns: 500 },
    );
  });

  test('rejects descent when one actor is behind', () => {
    const a: VersionVector = new Map([['a@1', 2], ['b@1', 1]]);
    const b: VersionVector = new Map([['a@1', 1], ['b@1', 2]]);
    expect(descends(a, b)).toBe(false);
    expect(concurrent(a, b)).toBe(true);
    expect(descends(mergeVv(a, b), a)).toBe(true);
  });
});

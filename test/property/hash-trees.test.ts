import * as fc from 'fast-check';
import { HASH_BYTES, HashTrees, segmentsFor } from '../../app/replication/hash-trees';

/** A sequence of writes and deletes over a few keys of one partition. */
const opsArb = fc.array(fc.record({ key: fc.integer({ min: 0, max: 30 }), value: fc.option(fc.uint8Array({ minLength: 1, maxLength: 8 }), { nil: undefined }) }), { maxLength: 60 });

const keyOf = (k: number) => Buffer.from(`key-${String(k).padStart(3, '0')}`);

/** Applies ops to a map (the "store") and to a tree through change(); returns both. */
function apply(ops: ReadonlyArray<{ key: number; value: Uint8Array | undefined }>, trees: HashTrees, state = new Map<number, Uint8Array>()) {
  for (const { key, value } of ops) {
    trees.change(0, keyOf(key), state.get(key), value);
    if (value === undefined) state.delete(key);
    else state.set(key, value);
  }
  return state;
}

/** The tree of a state, built the way a rebuild does: every entry in key order. */
function rebuilt(state: Map<number, Uint8Array>, partitions = 16): Uint8Array {
  const t = new HashTrees(partitions);
  t.startRebuild(0);
  t.rebuildBatch(0, [...state].sort(([a], [b]) => a - b).map(([k, v]) => ({ key: keyOf(k), value: v })));
  t.finishRebuild(0);
  return t.segmentsOf(0)!;
}

describe('HashTrees', () => {
  test('a tree kept up to date by changes equals the tree rebuilt from the final state, whatever the order of writes', () => {
    fc.assert(
      fc.property(opsArb, (ops) => {
        const t = new HashTrees(16);
        t.startRebuild(0);
        t.finishRebuild(0);
        const state = apply(ops, t);
        expect(Buffer.compare(t.segmentsOf(0)!, rebuilt(state))).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  test('a rebuild that runs while writes happen ends equal to the final state (changes behind the cursor are applied, those ahead are read)', () => {
    fc.assert(
      fc.property(opsArb, opsArb, fc.integer({ min: 1, max: 10 }), (before, during, batchSize) => {
        const t = new HashTrees(16);
        const state = apply(before, t);
        t.startRebuild(0);
        // Fold the state in batches, applying one write of `during` between batches.
        let cursor = -1;
        let i = 0;
        for (;;) {
          const batch = [...state].filter(([k]) => k > cursor).sort(([a], [b]) => a - b).slice(0, batchSize);
          t.rebuildBatch(0, batch.map(([k, v]) => ({ key: keyOf(k), value: v })));
          if (batch.length < batchSize) break;
          cursor = batch[batch.length - 1]![0];
          if (i < during.length) apply([during[i++]!], t, state);
        }
        t.finishRebuild(0);
        apply(during.slice(i), t, state);
        expect(Buffer.compare(t.segmentsOf(0)!, rebuilt(state))).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  test('a tree is not trusted before its first rebuild, nor after distrust', () => {
    const t = new HashTrees(64);
    expect(t.segmentsOf(3)).toBeUndefined();
    t.startRebuild(3);
    t.rebuildBatch(3, []);
    expect(t.finishRebuild(3)).toBe(true);
    expect(t.segmentsOf(3)).toHaveLength(segmentsFor(64) * HASH_BYTES);
    t.distrust(3);
    expect(t.segmentsOf(3)).toBeUndefined();
    // A rebuild abandoned by a distrust does not finish.
    t.startRebuild(3);
    t.distrust(3);
    expect(t.rebuildBatch(3, [])).toBe(false);
    expect(t.finishRebuild(3)).toBe(false);
  });

  test('diff names exactly the segments that differ', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 63 })), (changed) => {
        const a = new Uint8Array(64 * HASH_BYTES);
        const b = new Uint8Array(a);
        for (const s of changed) b[s * HASH_BYTES + (s % HASH_BYTES)] ^= 1;
        expect(HashTrees.diff(a, b)).toEqual([...changed].sort((x, y) => x - y));
      }),
    );
  });

  test('segments per partition keep every node within about 2^20 segments', () => {
    for (const q of [1, 64, 1024, 65536]) expect(segmentsFor(q)).toBeGreaterThanOrEqual(16);
    expect(segmentsFor(64)).toBe(1024);
    expect(segmentsFor(65536) * 65536).toBeLessThanOrEqual(2 ** 20);
  });
});

import * as fc from 'fast-check';
import { FoldBatch, HASH_BYTES, HashTrees, segmentsFor } from '../../app/replication/hash-trees';

/** A sequence of writes and deletes over a few keys of one partition. */
const opsArb = fc.array(fc.record({ key: fc.integer({ min: 0, max: 30 }), value: fc.option(fc.uint8Array({ minLength: 1, maxLength: 8 }), { nil: undefined }) }), { maxLength: 60 });
type Op = { key: number; value: Uint8Array | undefined };

const keyOf = (k: number) => Buffer.from(`key-${String(k).padStart(3, '0')}`);

/** Applies writes to a state (the "store") and touches the tree as the replica does. */
function apply(ops: readonly Op[], trees: HashTrees, state: Map<number, Uint8Array>): void {
  for (const { key, value } of ops) {
    trees.touch(0, keyOf(key));
    if (value === undefined) state.delete(key);
    else state.set(key, value);
  }
}

/** Folds the state in key order, `size` entries a batch, running `between` after each batch. */
function folder(state: Map<number, Uint8Array>, size: number, between: () => void = () => {}): FoldBatch {
  return async (startAfter) => {
    const after = startAfter === undefined ? -1 : Number(Buffer.from(startAfter).toString().slice(4));
    const batch = [...state].filter(([k]) => k > after).sort(([a], [b]) => a - b).slice(0, size).map(([k, v]) => ({ key: keyOf(k), value: v }));
    between();
    return batch;
  };
}

/** The tree of a state computed from nothing: every segment refreshed. */
async function fromScratch(state: Map<number, Uint8Array>): Promise<Uint8Array> {
  const t = new HashTrees(16);
  await t.refresh(0, folder(state, 1000), 1000);
  return t.segmentsOf(0);
}

describe('HashTrees', () => {
  test('after any writes, a refresh makes the tree equal to the tree of the final state, computed from nothing', async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, opsArb, async (first, then) => {
        const t = new HashTrees(16);
        const state = new Map<number, Uint8Array>();
        apply(first, t, state);
        await t.refresh(0, folder(state, 7), 7);
        expect(t.isTrusted(0)).toBe(true);
        apply(then, t, state);
        await t.refresh(0, folder(state, 3), 3);
        expect(Buffer.compare(t.segmentsOf(0), await fromScratch(state))).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  test('a write during a refresh leaves its segment dirty, and the next refresh makes the tree right', async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, opsArb, fc.integer({ min: 1, max: 10 }), async (before, during, batchSize) => {
        const t = new HashTrees(16);
        const state = new Map<number, Uint8Array>();
        apply(before, t, state);
        let i = 0;
        await t.refresh(
          0,
          folder(state, batchSize, () => {
            if (i < during.length) apply([during[i++]!], t, state);
          }),
          batchSize,
        );
        if (i > 0) expect(t.isTrusted(0)).toBe(false);
        apply(during.slice(i), t, state);
        await t.refresh(0, folder(state, batchSize), batchSize);
        expect(t.isTrusted(0)).toBe(true);
        expect(Buffer.compare(t.segmentsOf(0), await fromScratch(state))).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  test('a tree is dirty until its first refresh, after a write, and after distrust; a refresh that fails leaves it dirty', async () => {
    const t = new HashTrees(64);
    expect(t.isTrusted(3)).toBe(false);
    await t.refresh(3, async () => [], 10);
    expect(t.isTrusted(3)).toBe(true);
    expect(t.segmentsOf(3)).toHaveLength(segmentsFor(64) * HASH_BYTES);
    t.touch(3, Buffer.from('k'));
    expect(t.isTrusted(3)).toBe(false);
    await t.refresh(3, async () => [], 10);
    t.distrust(3);
    expect(t.isTrusted(3)).toBe(false);
    await expect(t.refresh(3, async () => Promise.reject(new Error('corrupt record')), 10)).rejects.toThrow('corrupt record');
    expect(t.isTrusted(3)).toBe(false);
  });

  test('two refreshes of one partition at once: the second waits for the first and never sees half-made hashes', async () => {
    const state = new Map<number, Uint8Array>([[1, Buffer.from('a')], [2, Buffer.from('b')]]);
    const t = new HashTrees(16);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const slow: FoldBatch = async (after) => {
      await gate;
      return folder(state, 1000)(after);
    };
    const first = t.refresh(0, slow, 1000);
    const second = t.refresh(0, folder(state, 1000), 1000).then(() => Buffer.from(t.segmentsOf(0)));
    release();
    await first;
    expect(Buffer.compare(await second, await fromScratch(state))).toBe(0);
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

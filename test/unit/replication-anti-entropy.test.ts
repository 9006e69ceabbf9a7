/**
 * Anti-entropy on real coordinators, replicas and hash trees over in-memory stores: replicas that
 * missed writes converge with no read, in both directions, tombstones included.
 */
import { MemoryCluster } from '../support/memory-cluster';

async function allEqual(c: MemoryCluster, key: string): Promise<string[][]> {
  const { primaries } = c.placement(key);
  return Promise.all(primaries.map(async (p) => (await c.valuesAt(p, key)) ?? []));
}

describe('anti-entropy', () => {
  test('a primary that missed writes while down (no hints: sloppy quorum off) receives them with no read', async () => {
    const c = await MemoryCluster.start(5, { hintLimits: { hintsPerTargetMax: 0 } });
    const victim = 'n2';
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`).filter((k) => c.placement(k).primaries.includes(victim));
    c.down.add(victim);
    for (const k of keys) {
      const coordinator = c.placement(k).primaries.find((p) => p !== victim)!;
      expect((await c.put(coordinator, k, `v-${k}`, { w: 2 })).ok).toBe(true);
    }
    for (const k of keys) expect(await c.valuesAt(victim, k)).toBeUndefined();
    c.down.delete(victim);
    await c.antiEntropyUntilInSync();
    for (const k of keys) expect(await c.valuesAt(victim, k)).toEqual([`v-${k}`]);
  });

  test('repairs in both directions: concurrent writes on two sides of a partition both survive, as siblings', async () => {
    const c = await MemoryCluster.start(5, { hintLimits: { hintsPerTargetMax: 0 } });
    const key = 'split';
    const [a, b, third] = c.placement(key).primaries as [string, string, string];
    // Each side writes at W=1 while it cannot see the other.
    c.down.add(b);
    c.down.add(third);
    expect((await c.put(a, key, 'from-a', { w: 1 })).ok).toBe(true);
    c.down.delete(b);
    c.down.add(a);
    expect((await c.put(b, key, 'from-b', { w: 1 })).ok).toBe(true);
    c.down.delete(a);
    c.down.delete(third);
    await c.antiEntropyUntilInSync();
    for (const values of await allEqual(c, key)) expect(values).toEqual(['from-a', 'from-b']);
  });

  test('a delete reaches a primary that missed it, and the key stays deleted', async () => {
    const c = await MemoryCluster.start(5, { hintLimits: { hintsPerTargetMax: 0 } });
    const key = 'gone';
    const [a, , third] = c.placement(key).primaries as [string, string, string];
    const put = await c.put(a, key, 'v', { w: 3 });
    expect(put.ok).toBe(true);
    c.down.add(third);
    const got = await c.get(a, key);
    const context = got.ok && got.value.kind === 'get' ? got.value.context : Buffer.alloc(0);
    expect((await c.execute(a, { kind: 'delete', key: Buffer.from(key), context, w: 2 })).ok).toBe(true);
    expect(await c.valuesAt(third, key)).toEqual(['v']);
    c.down.delete(third);
    await c.antiEntropyUntilInSync();
    expect(await c.valuesAt(third, key)).toEqual([]);
    const after = await c.get(third, key, { r: 3 });
    expect(after.ok && after.value.kind === 'get' && after.value.found).toBe(false);
  });

  test('replicas in sync exchange trees only: every exchange is in_sync and nothing is repaired', async () => {
    const c = await MemoryCluster.start(5);
    for (let i = 0; i < 50; i++) {
      const k = `s${i}`;
      expect((await c.put(c.placement(k).primaries[0]!, k, 'v', { w: 3 })).ok).toBe(true);
    }
    expect(await c.antiEntropyUntilInSync()).toBe(1);
  });

  test('a distrusted tree is recomputed before it is compared, and the exchange still converges', async () => {
    const c = await MemoryCluster.start(5, { hintLimits: { hintsPerTargetMax: 0 } });
    const key = 'rebuild-me';
    const [a, b] = c.placement(key).primaries as [string, string, string];
    c.down.add(b);
    expect((await c.put(a, key, 'v', { w: 1 })).ok).toBe(true);
    c.down.delete(b);
    const partition = c.placement(key).partition;
    c.node(b).trees.distrust(partition);
    expect(c.node(b).trees.isTrusted(partition)).toBe(false);
    await c.antiEntropyUntilInSync();
    expect(c.node(b).trees.isTrusted(partition)).toBe(true);
    expect(await c.valuesAt(b, key)).toEqual(['v']);
  });
});

describe('merges at the object-size limit', () => {
  test('replicas whose merge exceeds objectBytesMax still converge; a client write must then resolve the siblings', async () => {
    const c = await MemoryCluster.start(5, { hintLimits: { hintsPerTargetMax: 0 }, objectLimits: { objectBytesMax: 3000 } });
    const key = 'big';
    const [a, b, third] = c.placement(key).primaries as [string, string, string];
    c.down.add(b);
    c.down.add(third);
    expect((await c.put(a, key, 'x'.repeat(2800), { w: 1 })).ok).toBe(true);
    c.down.delete(b);
    c.down.add(a);
    expect((await c.put(b, key, 'y'.repeat(2800), { w: 1 })).ok).toBe(true);
    c.down.delete(a);
    c.down.delete(third);
    await c.antiEntropyUntilInSync();
    for (const values of await allEqual(c, key)) expect(values.map((v) => v[0])).toEqual(['x', 'y']);
    const blind = await c.put(a, key, 'z', { w: 2 });
    expect(!blind.ok && blind.error.condition).toBe('ObjectTooLarge');
    const got = await c.get(a, key, { r: 2 });
    const context = got.ok && got.value.kind === 'get' ? got.value.context : Buffer.alloc(0);
    expect((await c.put(a, key, 'resolved', { w: 2, context })).ok).toBe(true);
  });
});

/**
 * Tombstone reaping on the in-memory cluster: a tombstone goes only when every primary holds
 * exactly it, no node holds a hint for the key, and the grace period has passed; a replica that
 * was down during the delete never brings the key back.
 */
import { MemoryCluster } from '../support/memory-cluster';

let now = 1_000_000;
const clock = { nowMs: () => now };

async function cluster(options: Parameters<typeof MemoryCluster.start>[1] = {}) {
  now = 1_000_000;
  return MemoryCluster.start(5, { nowMs: clock.nowMs, reaper: { tombstoneGraceMs: 60_000 }, ...options });
}

/** Puts a key at W=3, then deletes it with the context of a read. */
async function putThenDelete(c: MemoryCluster, key: string, w = 3) {
  const coordinator = c.placement(key).primaries.find((p) => !c.down.has(p))!;
  expect((await c.put(coordinator, key, 'v', { w: 3 })).ok).toBe(true);
  return deleteKey(c, key, w);
}

async function deleteKey(c: MemoryCluster, key: string, w: number) {
  const coordinator = c.placement(key).primaries.find((p) => !c.down.has(p))!;
  const got = await c.get(coordinator, key, { r: 1 });
  const context = got.ok && got.value.kind === 'get' ? got.value.context : Buffer.alloc(0);
  const r = await c.execute(coordinator, { kind: 'delete', key: Buffer.from(key), context, w });
  expect(r.ok).toBe(true);
}

/** What each primary stores for the key: undefined (nothing) or the live values (empty: a tombstone). */
const stored = (c: MemoryCluster, key: string) => Promise.all(c.placement(key).primaries.map((p) => c.valuesAt(p, key)));

describe('tombstone reaping', () => {
  test('reaps a tombstone every primary holds once the grace period has passed, and the key reads as not found', async () => {
    const c = await cluster();
    await putThenDelete(c, 'k');
    expect(await c.reapAll()).toBe(0);
    expect(await stored(c, 'k')).toEqual([[], [], []]);
    now += 60_001;
    expect(await c.reapAll()).toBe(1);
    expect(await stored(c, 'k')).toEqual([undefined, undefined, undefined]);
    const got = await c.get(c.placement('k').primaries[0]!, 'k', { r: 3 });
    expect(got.ok && got.value.kind === 'get' && [got.value.found, got.value.deleted]).toEqual([false, false]);
  });

  test('keeps a tombstone while a primary is down, and a replica that missed the delete never brings the key back', async () => {
    const c = await cluster({ hintLimits: { hintsPerTargetMax: 0 } });
    const key = 'resurrect-me';
    const [, , third] = c.placement(key).primaries as [string, string, string];
    const first = c.placement(key).primaries[0]!;
    expect((await c.put(first, key, 'v', { w: 3 })).ok).toBe(true);
    c.down.add(third);
    await deleteKey(c, key, 2);
    now += 120_000;
    // The third primary still holds the value: nothing may be reaped.
    expect(await c.reapAll()).toBe(0);
    c.down.delete(third);
    expect(await c.valuesAt(third, key)).toEqual(['v']);
    // Anti-entropy gives it the tombstone; only then is the tombstone reaped, everywhere.
    await c.antiEntropyUntilInSync();
    expect(await stored(c, key)).toEqual([[], [], []]);
    expect(await c.reapAll()).toBe(1);
    await c.antiEntropyUntilInSync();
    expect(await stored(c, key)).toEqual([undefined, undefined, undefined]);
  });

  test('keeps a tombstone while a node holds a hint for the key', async () => {
    const c = await cluster();
    const key = 'hinted';
    const [first, , third] = c.placement(key).primaries as [string, string, string];
    expect((await c.put(first, key, 'v', { w: 3 })).ok).toBe(true);
    c.down.add(third);
    await deleteKey(c, key, 3);
    c.down.delete(third);
    // Anti-entropy gives the third primary the tombstone, while a fallback still holds it as a
    // hint: every primary agrees, and the reap still waits for the hint.
    await c.antiEntropyUntilInSync();
    expect(await stored(c, key)).toEqual([[], [], []]);
    expect([...c.nodes.values()].some((n) => n.hints.backlog(third).count > 0)).toBe(true);
    now += 120_000;
    expect(await c.reapAll()).toBe(0);
    for (const n of c.nodes.values()) await n.handoff.runRound();
    expect(await c.reapAll()).toBe(1);
  });

  test('keeps a tombstone that is not yet past its grace period, and a key that still has a live value', async () => {
    const c = await cluster();
    await putThenDelete(c, 'young');
    const first = c.placement('live').primaries[0]!;
    expect((await c.put(first, 'live', 'v', { w: 3 })).ok).toBe(true);
    now += 30_000;
    expect(await c.reapAll()).toBe(0);
    now += 31_000;
    expect(await c.reapAll()).toBe(1);
    expect(await stored(c, 'live')).toEqual([['v'], ['v'], ['v']]);
  });

  test('a write that races the reap survives: a primary removes the key only if it still stores the tombstone', async () => {
    const c = await cluster();
    await putThenDelete(c, 'raced');
    now += 120_000;
    const [first, second] = c.placement('raced').primaries as [string, string, string];
    // The second primary gets a new value after the reaper's checks would have read the tombstone.
    const tombstone = await c.node(first).replica.fetchEncoded(c.placement('raced').partition, Buffer.from('raced'));
    expect((await c.put(second, 'raced', 'back', { w: 1 })).ok).toBe(true);
    expect(await c.node(second).replica.reapIfUnchanged(c.placement('raced').partition, Buffer.from('raced'), tombstone!)).toBe(false);
    expect(await c.valuesAt(second, 'raced')).toEqual(['back']);
  });
});

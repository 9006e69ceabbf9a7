/**
 * A partition with fewer primaries than N: what a remove leaves until its transfers refill the
 * removed member's replicas (cluster-state.ts, commit). Found by the simulator: a get at R=3 or
 * a put at W=3 there failed an assertion in the quorum cores, answered INTERNAL and logged an
 * error, and the put had already been written on the coordinator.
 */
import { Routing } from '../../app/ring/ring';
import { MemoryCluster } from '../support/memory-cluster';

/** A cluster of 5 whose routing lists only two primaries for every partition, as after a remove. */
async function shrunk() {
  const c = await MemoryCluster.start(5);
  const full = c.routing;
  const routing: Routing = { partitions: full.partitions, replicas: (p) => ({ ...full.replicas(p), primaries: full.replicas(p).primaries.slice(0, 2) }) };
  (c as { routing: Routing }).routing = routing;
  const { primaries } = c.placement('k1');
  return { c, coordinator: primaries[0]! };
}

test('rejects a put at W=3 on a partition with two primaries as InsufficientReplicas, writing nothing', async () => {
  const { c, coordinator } = await shrunk();
  const r = await c.put(coordinator, 'k1', 'v', { w: 3 });
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.error.condition).toBe('InsufficientReplicas');
  expect(r.error.message).toMatch(/W=3, but partition \d+ has 2 primaries .* until a membership change refills the replicas of a removed member/);
  expect(r.error.writeMayHaveApplied).toBe(false);
  expect(await c.valuesAt(coordinator, 'k1')).toBeUndefined();
});

test('rejects a get at R=3 on a partition with two primaries as InsufficientReplicas', async () => {
  const { c, coordinator } = await shrunk();
  const r = await c.get(coordinator, 'k1', { r: 3 });
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.error.message).toMatch(/R=3, but partition \d+ has 2 primaries/);
});

test('a put and a get at the default quorum (2) still work there', async () => {
  const { c, coordinator } = await shrunk();
  expect((await c.put(coordinator, 'k1', 'v', {})).ok).toBe(true);
  expect((await c.get(coordinator, 'k1', {})).ok).toBe(true);
});

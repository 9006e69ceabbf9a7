/**
 * The checker run end to end against in-memory stores: the real coordinators of a 3-node
 * MemoryCluster pass (also with a node down for a while), and the same cluster behind a wrapper
 * that drops every tenth acknowledged write, or one that resurrects deletes, fails. Each run
 * lasts about a second of real time.
 */
import { Checker, CheckerOptions } from '../../chaos/checker/checker';
import { summarize } from '../../chaos/checker/result';
import { CheckedStore } from '../../chaos/checker/store';
import { droppingEveryTenthWrite, FAST_CHECKER_OPTIONS, memoryClusterStore, resurrectingDeletes } from '../support/checked-stores';
import { MemoryCluster } from '../support/memory-cluster';

const OPTIONS = FAST_CHECKER_OPTIONS;
const RUN_S = 1;

let cluster: MemoryCluster;
beforeEach(async () => {
  cluster = await MemoryCluster.start(3);
});

async function check(store: CheckedStore, options: Partial<CheckerOptions> = {}) {
  const checker = new Checker(store, { ...OPTIONS, ...options });
  await checker.run(RUN_S);
  return { checker, result: await checker.verdict() };
}

test('the real coordinators pass: nothing lost, nothing back, converged, every operation ok', async () => {
  const { result } = await check(memoryClusterStore(cluster));
  expect(result.reasons).toEqual([]);
  expect(result.holds).toBe(true);
  expect(result.correctness).toMatchObject({ lostWrites: 0, resurrectedDeletes: 0, keysUnreadable: 0, keysOverSiblingsMax: 0 });
  // Every workload ran, and the register's deletes were checked against something.
  expect(Object.keys(result.availability.byWorkload).sort()).toEqual(['load', 'register', 'set-add']);
  expect(result.availability.overall.ops).toBeGreaterThan(300);
  expect(result.availability.overall.availability).toBe(1);
  expect(result.convergence.converged).toBe(true);
  expect(result.timeline.length).toBeGreaterThanOrEqual(1);
  expect(summarize(result)).toMatch(/^kv chaos check: the verdict holds\n/);
});

test('the real coordinators pass with a node down for a while, and the window\'s figures show it', async () => {
  const checker = new Checker(memoryClusterStore(cluster), OPTIONS);
  // Longer than the others: the fault and a good second after it fit even on a slow machine.
  const running = checker.run(2);
  await new Promise((r) => setTimeout(r, 300));
  cluster.down.add('n2');
  checker.faultStarted('n2 down');
  await new Promise((r) => setTimeout(r, 300));
  cluster.down.delete('n2');
  checker.faultEnded('n2 down');
  await running;
  // What the node's background anti-entropy does once the node is back.
  await cluster.antiEntropyUntilInSync();
  const result = await checker.verdict();
  expect(result.reasons).toEqual([]);
  const [w] = result.availability.windows;
  expect(w).toMatchObject({ label: 'n2 down', recoverS: 0 });
  expect(w!.during.ops).toBeGreaterThan(50);
  expect(w!.endS - w!.startS).toBeGreaterThanOrEqual(0.29);
  expect(w!.endS - w!.startS).toBeLessThan(1);
});

test('a workload may have its own rate and keys', async () => {
  const { result } = await check(memoryClusterStore(cluster), { perWorkload: { load: { ratePerS: 20, keys: 2 } } });
  expect(result.run.workloads.load).toEqual({ keys: 2, concurrency: 4, ratePerS: 20 });
  expect(result.run.workloads['set-add']).toEqual({ keys: 4, concurrency: 4, ratePerS: 150 });
  expect(result.availability.byWorkload.load!.ops).toBeLessThanOrEqual(25);
  expect(result.availability.byWorkload['set-add']!.ops).toBeGreaterThan(100);
});

test('fails when the store drops every tenth acknowledged write', async () => {
  const store = droppingEveryTenthWrite(memoryClusterStore(cluster));
  const { result } = await check(store);
  expect(store.dropped).toBeGreaterThan(10);
  expect(result.holds).toBe(false);
  expect(result.correctness.lostWrites).toBeGreaterThan(0);
  expect(result.correctness.lostElements).toBeGreaterThan(0);
  expect(result.reasons.join('\n')).toMatch(/acknowledged writes lost/);
  expect(summarize(result)).toMatch(/DOES NOT HOLD[\s\S]*lost: test\//);
});

test('fails when the store resurrects deletes', async () => {
  const store = resurrectingDeletes(memoryClusterStore(cluster));
  const { result, checker } = await check(store, { workloads: ['register'] });
  expect(store.resurrected).toBeGreaterThan(0);
  expect(result.holds).toBe(false);
  expect(result.correctness.resurrectedDeletes).toBeGreaterThan(0);
  expect(result.correctness.lostWrites).toBe(0);
  expect(result.reasons.join('\n')).toMatch(/deleted values came back/);
  // The steady state is broken from then on: /healthz answers 503 with the reason.
  expect(checker.health()).toMatchObject({ healthy: false, reason: expect.stringMatching(/resurrected deletes/) });
});

test('health: healthy while operations succeed, unhealthy with the figures when they fail', async () => {
  const checker = new Checker(memoryClusterStore(cluster), OPTIONS);
  checker.start();
  await new Promise((r) => setTimeout(r, 300));
  expect(checker.health()).toMatchObject({ healthy: true, availability: 1 });
  // Two of three nodes down: no quorum, every operation fails.
  cluster.down.add('n2');
  cluster.down.add('n3');
  await new Promise((r) => setTimeout(r, 400));
  const h = checker.health(checker.recorder.now() + 0);
  // The window still holds the good operations of the first 300 ms, so it is below 95 % but not 0.
  expect(h.healthy).toBe(false);
  expect(h.reason).toMatch(/below 95 %/);
  cluster.down.clear();
  await checker.stop();
});

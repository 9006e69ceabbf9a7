/**
 * Deletes that stay deleted, on real node processes: a delete while one primary is down, the
 * primary's return, the reap, and the key never comes back.
 */
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  f = await startCluster({
    basePort: 17551,
    extraArgs: ['--tombstone-grace-ms', '1000', '--tombstone-reap-interval-ms', '20', '--anti-entropy-interval-ms', '50', '--handoff-interval-ms', '100'],
  });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

/** What a node stores for a key: undefined (nothing), or its live values ([] for a tombstone). */
const storedAt = async (node: string, key: string) => (await f.storedAt(node, [key])).get(key);

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a delete while one primary is down, its return, the reap: the key stays deleted', async () => {
  const key = 'deleted-for-good';
  const primaries = f.primariesOf(key);
  const down = primaries[2]!;
  const client = f.client();
  await client.put(key, 'old', { w: 3 });
  await f.cluster.kill(down, 'SIGKILL');
  const survivors = f.client({ endpoints: f.cluster.nodes.filter((n) => n.id !== down).map((n) => n.endpoint) });
  const got = await survivors.get(key);
  await survivors.delete(key, { context: got.context, w: 2 });
  // Well past the grace period, with a primary down: nothing may be reaped.
  await new Promise((r) => setTimeout(r, 1500));
  expect(await storedAt(primaries[0]!, key)).toEqual([]);
  await f.cluster.restart(down);
  // The returning primary gets the tombstone (handoff or anti-entropy), then the reaper removes it everywhere.
  await waitFor('tombstone reaped on every primary', async () => (await Promise.all(primaries.map((p) => storedAt(p, key)))).every((s) => s === undefined));
  // And it stays gone: nothing brings the old value back over more rounds of anti-entropy.
  await new Promise((r) => setTimeout(r, 2000));
  for (const p of primaries) expect(await storedAt(p, key)).toBeUndefined();
  const after = await client.get(key, { r: 3 });
  expect(after.found).toBe(false);
}, 90_000);

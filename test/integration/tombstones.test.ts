/**
 * Deletes that stay deleted, on real node processes: a delete while one primary is down, the
 * primary's return, the reap, and the key never comes back.
 */
import { sleep, waitFor } from '../support/wait-for';
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

test('a delete while one primary is down, its return, the reap: the key stays deleted', async () => {
  const key = 'deleted-for-good';
  const primaries = f.primariesOf(key);
  const down = primaries[2]!;
  const client = f.client();
  await client.put(key, 'old', { w: 3 });
  await f.withDown([down], async () => {
    const survivors = f.client({ endpoints: f.endpointsExcept(down) });
    const got = await survivors.get(key);
    await survivors.delete(key, { context: got.context, w: 2 });
    // A sleep on purpose: time well past the grace period (1 s) passes with a primary down, and
    // nothing may be reaped.
    await sleep(1500);
    expect(await storedAt(primaries[0]!, key)).toEqual([]);
  });
  // The returning primary gets the tombstone (handoff or anti-entropy), then the reaper removes it everywhere.
  await waitFor(
    async () => {
      const held = await Promise.all(primaries.map(async (p) => [p, await storedAt(p, key)] as const));
      const left = held.filter(([, stored]) => stored !== undefined).map(([p, stored]) => `${p} holds ${JSON.stringify(stored)}`);
      return left.length === 0 || left.join('; ');
    },
    { timeoutMs: 30_000, what: 'the tombstone reaped on every primary' },
  );
  // A sleep on purpose: more rounds of anti-entropy (every 50 ms) and handoff pass, and nothing
  // brings the old value back.
  await sleep(2000);
  for (const p of primaries) expect(await storedAt(p, key)).toBeUndefined();
  const after = await client.get(key, { r: 3 });
  expect(after.found).toBe(false);
}, 90_000);

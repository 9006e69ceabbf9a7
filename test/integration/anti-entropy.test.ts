/**
 * Anti-entropy on real node processes: a node that missed writes while it was down (hinted
 * handoff turned off, so only anti-entropy can bring them) holds every one of them after its
 * restart, with no read.
 */
import { waitFor } from '../support/wait-for';
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  f = await startCluster({ basePort: 17751, extraArgs: ['--hints-per-target-max', '0', '--anti-entropy-interval-ms', '20'] });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

test('a node that missed writes while down holds them all after its restart, with no read', async () => {
  const victim = 'kv-4';
  const keys = Array.from({ length: 600 }, (_, i) => `ae-${i}`).filter((k) => f.primariesOf(k).includes(victim)).slice(0, 200);
  await f.withDown([victim], async () => {
    const client = f.client({ endpoints: f.endpointsExcept(victim) });
    await Promise.all(keys.map((k) => client.put(k, `v-${k}`, { w: 2 })));
  });
  await waitFor(
    async () => {
      const held = await f.storedAt(victim, keys);
      const missing = keys.filter((k) => held.get(k)?.[0] !== `v-${k}`);
      return missing.length === 0 || `${missing.length} of ${keys.length} keys still missing`;
    },
    { timeoutMs: 30_000, intervalMs: 250, what: `anti-entropy bringing ${victim} every write it missed` },
  );
}, 90_000);

/**
 * Anti-entropy on real node processes: a node that missed writes while it was down (hinted
 * handoff turned off, so only anti-entropy can bring them) holds every one of them after its
 * restart, with no read.
 */
import { KvClient } from '../../app/client/client';
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
  await f.cluster.kill(victim, 'SIGKILL');
  const client: KvClient = f.client({ endpoints: f.cluster.nodes.filter((n) => n.id !== victim).map((n) => n.endpoint) });
  try {
    await Promise.all(keys.map((k) => client.put(k, `v-${k}`, { w: 2 })));
  } finally {
    await f.cluster.restart(victim);
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const held = await f.storedAt(victim, keys);
    const missing = keys.filter((k) => held.get(k)?.[0] !== `v-${k}`);
    if (missing.length === 0) break;
    if (Date.now() > deadline) throw new Error(`${missing.length} of ${keys.length} keys still missing on ${victim} after 30 s of anti-entropy`);
    await new Promise((r) => setTimeout(r, 250));
  }
}, 90_000);

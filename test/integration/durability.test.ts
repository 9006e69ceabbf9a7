/**
 * Nothing acknowledged is lost: writes acknowledged at W=2 are read back at R=2 after any single
 * node is SIGKILLed, and after it restarts; and writes acknowledged while a node is being killed
 * are all there afterwards.
 */
import { waitFor } from '../support/wait-for';
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  f = await startCluster({ basePort: 17101 });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

const KEYS = 40;

test('a write acknowledged at W=2 reads back at R=2 after any single node is SIGKILLed and after it restarts', async () => {
  const client = f.client();
  const written = new Map<string, string>();
  for (let i = 0; i < KEYS; i++) {
    const key = `durable-${i}`;
    await client.put(key, `value-${i}`, { w: 2 });
    written.set(key, `value-${i}`);
  }
  for (const node of f.cluster.nodes) {
    await f.withDown([node.id], async ([killed]) => {
      expect(killed!.signal).toBe('SIGKILL');
      // Ask only the surviving nodes, so the test does not depend on client failover.
      const survivors = f.client({ endpoints: f.endpointsExcept(node.id) });
      for (const [key, value] of written) {
        const got = await survivors.get(key, { r: 2 });
        expect(got.values.map(String)).toEqual([value]);
      }
    });
    for (const [key, value] of written) {
      const got = await client.get(key, { r: 2 });
      expect(got.values.map(String)).toEqual([value]);
    }
  }
}, 180_000);

test('writes acknowledged while a node is SIGKILLed mid-stream are all readable after it restarts', async () => {
  const client = f.client({ batch: true });
  const victim = f.cluster.nodes[2]!;
  const acknowledged: string[] = [];
  let i = 0;
  const writer = async () => {
    for (;;) {
      const key = `midstream-${i++}`;
      if (i > 600) return;
      try {
        await client.put(key, key, { w: 2 });
        acknowledged.push(key);
      } catch {
        // not acknowledged: no promise was made about this key
      }
    }
  };
  const writers = Promise.all(Array.from({ length: 8 }, writer));
  // Mid-stream: once writes are being acknowledged, and long before the writers are done.
  await waitFor(() => acknowledged.length >= 50, { timeoutMs: 10_000, intervalMs: 10, what: 'the first 50 writes acknowledged' });
  await f.cluster.kill(victim.id, 'SIGKILL');
  await writers;
  expect(acknowledged.length).toBeGreaterThan(100);
  await f.cluster.restart(victim.id);
  const reader = f.client();
  const missing: string[] = [];
  for (const key of acknowledged) {
    const got = await reader.get(key, { r: 2 });
    if (!got.values.map(String).includes(key)) missing.push(key);
  }
  expect(missing).toEqual([]);
}, 180_000);

test('SIGTERM stops a node cleanly (exit code 0) and it serves its data after restart', async () => {
  const client = f.client();
  await client.put('graceful', 'before-sigterm');
  const node = f.cluster.nodes[0]!;
  const exit = await f.cluster.kill(node.id, 'SIGTERM');
  expect(exit).toEqual({ code: 0, signal: null });
  await f.cluster.restart(node.id);
  const only = f.client({ endpoints: [node.endpoint] });
  expect((await only.get('graceful')).values.map(String)).toEqual(['before-sigterm']);
}, 60_000);

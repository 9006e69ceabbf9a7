/** A replica that missed writes while it was down holds the merged value after a read repairs it. */
import * as path from 'node:path';
import { flipEveryCopy } from '../support/disk';
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  // Read repair alone: hinted handoff and anti-entropy would repair the stale replicas first.
  f = await startCluster({ basePort: 17301, extraArgs: ['--hints-per-target-max', '0', '--anti-entropy-interval-ms', '0'] });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

test('a node that missed writes while it was down holds the merged value after reads repair it', async () => {
  const key = 'repair-me';
  const [first, second, third] = f.primariesOf(key) as [string, string, string];
  const client = f.client();
  await client.put(key, 'v1', { w: 3 });

  await f.cluster.kill(third, 'SIGKILL');
  const v1 = await client.get(key);
  await client.put(key, 'v2', { context: v1.context, w: 2 });
  await f.cluster.restart(third);

  // The stale replica still has v1: prove it before the repair by reading it alone.
  await f.cluster.kill(first, 'SIGKILL');
  await f.cluster.kill(second, 'SIGKILL');
  const alone = f.client({ endpoints: [f.cluster.node(third).endpoint] });
  expect((await alone.get(key, { r: 1 })).values.map(String)).toEqual(['v1']);
  await f.cluster.restart(first);
  await f.cluster.restart(second);

  // A read at R=3 sees all three replicas, answers with the merge, and repairs the stale one.
  await f.waitConnected();
  const merged = await client.get(key, { r: 3 });
  expect(merged.values.map(String)).toEqual(['v2']);
  await new Promise((r) => setTimeout(r, 500));

  await f.cluster.kill(first, 'SIGKILL');
  await f.cluster.kill(second, 'SIGKILL');
  expect((await alone.get(key, { r: 1 })).values.map(String)).toEqual(['v2']);
  await f.cluster.restart(first);
  await f.cluster.restart(second);
}, 120_000);

/** Flips one byte of every stored copy of `marker` in a stopped node's LMDB file. */
function rot(dataDir: string, marker: string): number {
  return flipEveryCopy(path.join(dataDir, 'data.mdb'), Buffer.from(marker));
}

test('a record that rotted on one replica fails its checksum, and a read repairs it from the others', async () => {
  const key = 'rotting';
  const value = 'value-that-will-rot-on-disk';
  const [first, second, third] = f.primariesOf(key) as [string, string, string];
  const client = f.client();
  await f.waitConnected();
  await client.put(key, value, { w: 3 });

  await f.cluster.kill(third, 'SIGTERM');
  expect(rot(f.cluster.node(third).dataDir, value)).toBeGreaterThan(0);
  await f.cluster.restart(third);

  // Read alone, the rotten replica reports DATA_LOSS rather than returning bad bytes.
  await f.cluster.kill(first, 'SIGKILL');
  await f.cluster.kill(second, 'SIGKILL');
  const alone = f.client({ endpoints: [f.cluster.node(third).endpoint] });
  await expect(alone.get(key, { r: 1 })).rejects.toThrow(/DATA_LOSS|UNAVAILABLE/);
  await f.cluster.restart(first);
  await f.cluster.restart(second);

  // A read at R=2 answers from the healthy replicas and repairs the rotten one.
  await f.waitConnected();
  expect((await client.get(key, { r: 2 })).values.map(String)).toEqual([value]);
  await new Promise((r) => setTimeout(r, 1500));
  await f.cluster.kill(first, 'SIGKILL');
  await f.cluster.kill(second, 'SIGKILL');
  expect((await alone.get(key, { r: 1 })).values.map(String)).toEqual([value]);
  await f.cluster.restart(first);
  await f.cluster.restart(second);
}, 120_000);

/** A replica that missed writes while it was down holds the merged value after a read repairs it. */
import * as path from 'node:path';
import { KvClientError } from '../../app/client/client';
import { flipEveryCopy } from '../support/disk';
import { waitFor } from '../support/wait-for';
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  // Read repair alone: hinted handoff and anti-entropy would repair the stale replicas first.
  f = await startCluster({ basePort: 17301, extraArgs: ['--hints-per-target-max', '0', '--anti-entropy-interval-ms', '0'] });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

/** Waits until `node` itself holds exactly `values` for `key` (no read through a coordinator, which could repair it). */
async function waitHolds(node: string, key: string, values: string[], what: string): Promise<void> {
  await waitFor(
    async () => {
      const held = await f.fetchAt(node, key);
      const shown = held.ok ? JSON.stringify(held.value) : `${held.error.condition}: ${held.error.message}`;
      return shown === JSON.stringify(values) || `${node} holds ${shown}`;
    },
    { timeoutMs: 5000, what },
  );
}

test('a node that missed writes while it was down holds the merged value after reads repair it', async () => {
  const key = 'repair-me';
  const [, , third] = f.primariesOf(key) as [string, string, string];
  const client = f.client();
  await client.put(key, 'v1', { w: 3 });

  await f.withDown([third], async () => {
    const v1 = await client.get(key);
    await client.put(key, 'v2', { context: v1.context, w: 2 });
  });

  // The stale replica still has v1: what it holds itself, before any read.
  expect((await f.storedAt(third, [key])).get(key)).toEqual(['v1']);

  // A read at R=3 sees all three replicas, answers with the merge, and repairs the stale one.
  await f.waitConnected();
  const merged = await client.get(key, { r: 3 });
  expect(merged.values.map(String)).toEqual(['v2']);
  // Only read repair can bring it v2: handoff and anti-entropy are off here.
  await waitHolds(third, key, ['v2'], `read repair writing v2 to ${third}`);
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

  await f.withDown([third], async () => expect(rot(f.cluster.node(third).dataDir, value)).toBeGreaterThan(0), 'SIGTERM');

  // The rotten replica answers CorruptRecord (DATA_LOSS on the wire) rather than bad bytes.
  const rotten = await f.fetchAt(third, key);
  expect(rotten.ok ? rotten.value : rotten.error.condition).toBe('CorruptRecord');

  // A get that only the rotten replica can answer: the replica's DATA_LOSS is one failed reply,
  // and with no replica left to make up R the coordinator answers UNAVAILABLE
  // (InsufficientReplicas, app/replication/get-fsm.ts), naming the corrupt record.
  await f.withDown([first, second], async () => {
    const alone = f.client({ endpoints: f.endpointsOf([third]) });
    const failed = await alone.get(key, { r: 1 }).then(
      () => undefined,
      (e: KvClientError) => e,
    );
    expect(failed?.codeName).toBe('UNAVAILABLE');
    expect(failed?.message).toMatch(new RegExp(`${third}: fetch failed on the local replica .*: corrupt record in partition \\d+, key [0-9a-f]+: checksum mismatch`));
  });

  // A read at R=2 answers from the healthy replicas and repairs the rotten one.
  await f.waitConnected();
  expect((await client.get(key, { r: 2 })).values.map(String)).toEqual([value]);
  await waitHolds(third, key, [value], `read repair rewriting the rotten record on ${third}`);
}, 120_000);

/**
 * A replica that lost its data never answers "not found" as if it knew, on real node processes.
 * The case from issue 8: a write at W=2 reaches A and C (B is frozen); B comes back, C's data
 * directory is wiped and C restarted, A is frozen; a read at R=2 then reaches B (which never had
 * the write) and C (which lost it). Before, both said "not found" and the acknowledged value read
 * as NOT FOUND. Now C's not-found does not count until anti-entropy has synced it.
 */
import * as fs from 'node:fs';
import { KvClientError } from '../../app/client/client';
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  // No hints: a fallback's hint would answer for the frozen A and hide the case.
  f = await startCluster({ basePort: 17651, extraArgs: ['--hints-per-target-max', '0', '--anti-entropy-interval-ms', '100', '--peer-suspect-ms', '1000', '--peer-heartbeat-ms', '200'] });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

const pause = (id: string) => f.cluster.node(id).process!.kill('SIGSTOP');
const resume = (id: string) => f.cluster.node(id).process!.kill('SIGCONT');

test('a wiped replica is not counted as knowing a key is absent: the acknowledged value never reads as not found', async () => {
  const key = 'acknowledged-then-wiped';
  const [a, b, c] = f.primariesOf(key) as [string, string, string];
  await f.waitConnected();
  pause(b);
  try {
    // Once B is suspected the write is not sent to it at all (a request sent to a frozen process
    // waits in its socket and is applied when it resumes).
    await new Promise((r) => setTimeout(r, 1500));
    await f.client({ endpoints: [f.cluster.node(a).endpoint], attemptsMax: 1 }).put(key, 'precious', { w: 2 });
  } finally {
    resume(b);
  }
  await f.cluster.kill(c, 'SIGKILL');
  fs.rmSync(f.cluster.node(c).dataDir, { recursive: true, force: true });
  pause(a);
  try {
    await f.cluster.restart(c);
    const status = await f.client({ endpoints: [f.cluster.node(c).endpoint], attemptsMax: 1 }).status();
    expect(status.syncState).toBe('syncing');
    expect(status.partitionsSyncing).toBeGreaterThan(0);
    // Wait until A is suspected, so the read does not wait on it.
    await new Promise((r) => setTimeout(r, 1500));
    const reader = f.client({ endpoints: [f.cluster.node(b).endpoint], attemptsMax: 1, timeoutMs: 3000 });
    const read = await reader.get(key, { r: 2 }).then(
      (reply) => reply,
      (e: KvClientError) => e,
    );
    if (read instanceof KvClientError) {
      expect(read.codeName).toBe('UNAVAILABLE');
      expect(read.message).toMatch(/syncing after losing its data/);
    } else {
      expect(read.values.map(String)).toEqual(['precious']);
    }
  } finally {
    resume(a);
  }
  // Once A is back, anti-entropy refills C and its answers count again.
  const cClient = f.client({ endpoints: [f.cluster.node(c).endpoint], attemptsMax: 1 });
  const deadline = Date.now() + 60_000;
  while ((await cClient.status()).syncState !== 'synced') {
    if (Date.now() > deadline) throw new Error(`${c} did not finish syncing within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await f.cluster.kill(a, 'SIGKILL');
  await f.cluster.kill(b, 'SIGKILL');
  try {
    expect((await cClient.get(key, { r: 1 })).values.map(String)).toEqual(['precious']);
  } finally {
    await f.cluster.restart(a);
    await f.cluster.restart(b);
  }
}, 120_000);

test('a new cluster counts not-founds at once: a missing key reads as not found', async () => {
  const reply = await f.client().get('never-written', { r: 3 });
  expect(reply.found).toBe(false);
});

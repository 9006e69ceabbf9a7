/**
 * A replica that lost its data never answers "not found" as if it knew, on real node processes.
 * The case from issue 8: a write at W=2 reaches A and C (B is frozen); B comes back, C's data
 * directory is wiped and C restarted, A is frozen; a read at R=2 then reaches B (which never had
 * the write) and C (which lost it). Before, both said "not found" and the acknowledged value read
 * as NOT FOUND. Now C's not-found does not count until anti-entropy has synced it.
 */
import * as fs from 'node:fs';
import { KvClientError } from '../../app/client/client';
import { waitFor } from '../support/wait-for';
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  // No hints: a fallback's hint would answer for the frozen A and hide the case.
  f = await startCluster({ basePort: 17651, extraArgs: ['--hints-per-target-max', '0', '--anti-entropy-interval-ms', '100', '--peer-suspect-ms', '1000', '--peer-heartbeat-ms', '200'] });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

/** Suspicion takes peerSuspectMs (1 s here) and a heartbeat; the rest is room for a busy machine. */
const SUSPECT_WAIT_MS = 5000;

test('a wiped replica is not counted as knowing a key is absent: the acknowledged value never reads as not found', async () => {
  const key = 'acknowledged-then-wiped';
  const [a, b, c] = f.primariesOf(key) as [string, string, string];
  await f.waitConnected();
  f.freeze(b);
  try {
    // Once A (the coordinator) suspects B the write is not sent to B at all (a request sent to a
    // frozen process waits in its socket and is applied when it resumes).
    await waitFor(() => f.suspects(a, b), { timeoutMs: SUSPECT_WAIT_MS, what: `${a} suspecting the frozen ${b}` });
    await f.client({ endpoints: f.endpointsOf([a]), attemptsMax: 1 }).put(key, 'precious', { w: 2 });
  } finally {
    f.thaw(b);
  }
  await f.cluster.kill(c, 'SIGKILL');
  fs.rmSync(f.cluster.node(c).dataDir, { recursive: true, force: true });
  f.freeze(a);
  try {
    await f.cluster.restart(c);
    const status = await f.statusOf(c);
    expect(status.syncState).toBe('syncing');
    expect(status.partitionsSyncing).toBeGreaterThan(0);
    // Once B (the read's coordinator) suspects A, the read does not wait on it.
    await waitFor(() => f.suspects(b, a), { timeoutMs: SUSPECT_WAIT_MS, what: `${b} suspecting the frozen ${a}` });
    // B's channel to the killed C may still be backing off from refused connections: the read
    // must reach C to hear that it is syncing, so wait until B reaches it again.
    await waitFor(async () => (await f.statusOf(b)).members.find((m) => m.id === c)?.reachable === true || `${b} does not reach ${c} yet`, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: `${b} reaching the restarted ${c}`,
    });
    const reader = f.client({ endpoints: f.endpointsOf([b]), attemptsMax: 1, timeoutMs: 3000 });
    // B never had the write; C lost it and cannot finish syncing the key's partition while A, the
    // one replica that has it, is frozen, so C's not-found does not count; the suspected A fails
    // at once. One of R=2: the coordinator answers UNAVAILABLE (InsufficientReplicas), naming C's
    // state. Before the fix this read said "not found".
    const failed = await reader.get(key, { r: 2 }).then(
      () => undefined,
      (e: KvClientError) => e,
    );
    expect(failed?.codeName).toBe('UNAVAILABLE');
    expect(failed?.message).toMatch(new RegExp(`${c}: ${c} holds nothing for the key but is syncing after losing its data`));
  } finally {
    f.thaw(a);
  }
  // Once A is back, anti-entropy refills C and its answers count again.
  await waitFor(
    async () => {
      const state = (await f.statusOf(c)).syncState;
      return state === 'synced' || `${c} is ${state}`;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: `${c} finishing its sync` },
  );
  await f.withDown([a, b], async () => {
    const alone = f.client({ endpoints: f.endpointsOf([c]), attemptsMax: 1 });
    expect((await alone.get(key, { r: 1 })).values.map(String)).toEqual(['precious']);
  });
}, 120_000);

test('a new cluster counts not-founds at once: a missing key reads as not found', async () => {
  const reply = await f.client().get('never-written', { r: 3 });
  expect(reply.found).toBe(false);
});

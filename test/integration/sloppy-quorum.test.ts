/**
 * Sloppy quorum, hinted handoff and the failure detector on real node processes: a primary
 * SIGKILLed (writes go to fallbacks as hints, which drain after it restarts, with no read), and
 * a primary frozen with SIGSTOP (suspected within peerSuspectMs, then skipped).
 */
import { KvClientError } from '../../app/client/client';
import { waitFor } from '../support/wait-for';
import { Fixture, kv, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  f = await startCluster({ basePort: 17701, extraArgs: ['--peer-suspect-ms', '1000', '--peer-heartbeat-ms', '200', '--handoff-interval-ms', '200'] });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

/** Suspicion takes peerSuspectMs (1 s here) and the next heartbeat (200 ms) to show in status. */
const SUSPECTED_WITHIN_MS = 1500;

/** Hints every running node holds for `target`, from each node's Status. */
async function hintsFor(target: string): Promise<number> {
  let total = 0;
  for (const n of f.cluster.nodes) {
    if (n.id === target || !f.isRunning(n.id)) continue;
    const s = await f.statusOf(n.id);
    total += Number(s.members.find((m) => m.id === target)?.hintsPending ?? 0);
  }
  return total;
}

test('with one primary SIGKILLed, puts at W=3 succeed through fallbacks, PW=3 fails naming the counts, and after a restart the hints drain with no read', async () => {
  const victim = 'kv-3';
  const keys = Array.from({ length: 400 }, (_, i) => `sloppy-${i}`).filter((k) => f.primariesOf(k).includes(victim)).slice(0, 30);
  expect(keys.length).toBe(30);
  const survivors = f.endpointsExcept(victim);
  const client = f.client({ endpoints: survivors });
  await f.withDown([victim], async () => {
    for (const k of keys) await client.put(k, `v-${k}`, { w: 3 });
    const strict = await client.put(keys[0]!, 'strict', { w: 3, pw: 3 }).then(
      () => undefined,
      (e: KvClientError) => e,
    );
    expect(strict?.codeName).toBe('UNAVAILABLE');
    expect(strict?.message).toMatch(/of 3 required \(W=3, 3 primaries required \(pw\), N=3\)/);
    expect(await hintsFor(victim)).toBeGreaterThanOrEqual(keys.length);
    // The operator's view: the dead primary does not answer, a fallback holds the write as a hint.
    const cli = await kv(['get', keys[1]!, '--replicas', '--endpoint', survivors[0]!]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`primary  ${victim} +did not answer`));
    expect(cli.stdout).toMatch(/fallback kv-\d +hint, 1 sibling/);
    expect(cli.stdout).toContain(`"v-${keys[1]}"`);
  });
  // No reads: handoff alone brings every write to the restarted primary.
  await waitFor(
    async () => {
      const left = await hintsFor(victim);
      return left === 0 || `${left} hints left`;
    },
    { timeoutMs: 20_000, intervalMs: 200, what: `the hints for ${victim} draining to it` },
  );
  const held = await f.storedAt(victim, keys);
  for (const k of keys) expect(held.get(k)).toContain(`v-${k}`);
  // And --replicas shows the restarted primary holding every write, and no hint left anywhere.
  for (const k of keys) {
    const view = await client.inspect(k);
    const primary = view.replicas.find((r) => r.node === victim)!;
    expect(primary.role).toBe('primary');
    expect(primary.siblings.map((s) => Buffer.from(s.value).toString())).toContain(`v-${k}`);
    for (const r of view.replicas.filter((x) => x.role === 'fallback')) expect(r.found).toBe(false);
  }
}, 90_000);

test('a frozen primary (SIGSTOP) is suspected within peerSuspectMs, shown in status, and skipped: forwarded operations keep succeeding', async () => {
  const frozen = 'kv-1';
  const keys = Array.from({ length: 400 }, (_, i) => `frozen-${i}`).filter((k) => f.primariesOf(k)[0] === frozen).slice(0, 40);
  const via = f.cluster.nodes.find((n) => n.id !== frozen && keys.every((k) => !f.primariesOf(k).includes(n.id)));
  const entry = via ?? f.cluster.nodes.find((n) => n.id !== frozen)!;
  const client = f.client({ endpoints: [entry.endpoint], attemptsMax: 1, timeoutMs: 3000 });
  await f.waitConnected();
  f.freeze(frozen);
  try {
    await waitFor(() => f.suspects(entry.id, frozen), { timeoutMs: SUSPECTED_WITHIN_MS, what: `${entry.id} suspecting the frozen ${frozen} (within peerSuspectMs and a heartbeat)` });
    let ok = 0;
    const failures: string[] = [];
    for (const k of keys) {
      try {
        await client.put(k, 'v', { w: 2 });
        const got = await client.get(k);
        expect(got.values.map(String)).toContain('v');
        ok++;
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    expect(failures).toEqual([]);
    expect(ok).toBe(keys.length);
  } finally {
    f.thaw(frozen);
  }
  // Once it answers again it is no longer suspected.
  await waitFor(async () => !(await f.suspects(entry.id, frozen)), { timeoutMs: 10_000, what: `${entry.id} clearing its suspicion of ${frozen} after SIGCONT` });
}, 90_000);

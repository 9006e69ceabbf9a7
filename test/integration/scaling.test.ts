/**
 * Scaling on real node processes: a 3-node cluster grows to 5 (nodes started with join=auto join
 * by themselves) and shrinks back to 3 (kv admin leave --commit --wait: each leaving node hands
 * off, then exits) while kv bench and a set-add and a register/delete workload run. Afterwards
 * every acknowledged write is present, no acknowledged delete came back, every key is on its N
 * owners, and no node holds data of a partition it gave away (the nodes that left hold nothing at
 * all). Then a joining node is killed in the middle of its transfers and started again: it resumes
 * where it stopped, and nothing is lost.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { StatusReply } from '../../app/client/client';
import { partitionOf } from '../../app/ring/ring';
import { LmdbStore } from '../../app/storage/lmdb-store';
import { waitFor } from '../support/wait-for';
import { RegisterDeleteWorkload, SetAddWorkload } from '../support/workloads';
import { Fixture, KV_SCRIPT, kv, startCluster, statusAt } from './cluster-fixture';

const BASE_PORT = 18211; // 18211-18215: kv-1..kv-3 and the joiners kv-4, kv-5
const METRICS_BASE_PORT = 18221; // 18221-18225
const KILL_BASE_PORT = 18216; // 18216-18219: a second cluster's kv-1..kv-3 and kv-4, killed mid-transfer
const KILL_METRICS_BASE_PORT = 18226; // 18226-18229
const PARTITIONS = 64;
const TUNING = ['--gossip-interval-ms', '200', '--transfer-interval-ms', '100'];

/** The cluster of the running describe block. */
let f: Fixture;
const joiners = new Map<string, { process: ChildProcess; log: () => string; dataDir: string; endpoint: string; metricsPort: number }>();

async function stopAll(): Promise<void> {
  for (const j of joiners.values()) j.process.kill('SIGKILL');
  joiners.clear();
  await f?.teardown();
}

/** One gauge or counter of a node's /metrics (summed over its labels). */
function metric(port: number, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics', timeout: 2000 }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0)));
      })
      .on('error', reject);
  });
}

/** Starts a node that joins by itself through the founding members (join=auto, not in --peers). */
function startJoiner(id: string, port: number, metricsPort: number, extra: string[] = []) {
  const dataDir = path.join(f.dataDir, id);
  fs.mkdirSync(dataDir, { recursive: true });
  const founding = f.cluster.nodes.map((n) => `${n.id}=${n.endpoint}`).join(',');
  const child = spawn(process.execPath, [KV_SCRIPT, 'node', '--node-id', id, '--port', String(port), '--join', 'auto', '--peers', founding, '--data-dir', dataDir, '--context-keys-file', f.cluster.contextKeysFile, '--metrics-port', String(metricsPort), '--log-level', 'warn', ...TUNING, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const j = { process: child, log: () => log, dataDir, endpoint: `127.0.0.1:${port}`, metricsPort };
  joiners.set(id, j);
  return j;
}

/** Waits until every endpoint reports the same state, no change in progress, and these members. */
async function waitMembers(endpointList: readonly string[], members: readonly string[], timeoutMs: number): Promise<StatusReply> {
  let last: StatusReply | undefined;
  await waitFor(
    async () => {
      const all = await Promise.all(endpointList.map(statusAt));
      if (all.some((s) => s === undefined)) return 'a node does not answer';
      last = all[0]!;
      const versions = new Set(all.map((s) => Number(s!.stateVersion)));
      const ids = last.members.map((m) => `${m.id}:${m.status}`).join(' ');
      if (versions.size > 1 || Number(last.transfersLeft) > 0) return `versions ${[...versions].join(', ')}, ${last.transfersLeft} transfers left, members ${ids}`;
      return ids === members.map((m) => `${m}:valid`).join(' ') || `members ${ids}`;
    },
    { timeoutMs, what: `members ${members.join(', ')} with no change in progress` },
  );
  return last!;
}

/** Objects a stopped node's data directory holds, over every partition. */
async function objectsIn(dataDir: string): Promise<number> {
  const store = await LmdbStore.open({ path: dataDir });
  try {
    let n = 0;
    for (let p = 0; p < PARTITIONS; p++) n += (await store.fold(p, { limit: 10_000 })).length;
    return n;
  } finally {
    await store.close();
  }
}

/** Waits until no node holds data of a partition it does not keep (kv_handoff_partitions_held). */
async function waitNothingHeld(metricsPorts: readonly number[]): Promise<void> {
  await waitFor(
    async () => {
      const held = await Promise.all(metricsPorts.map((p) => metric(p, 'kv_handoff_partitions_held')));
      return held.every((h) => h === 0) || `partitions held by port: ${metricsPorts.map((p, i) => `${p}=${held[i]}`).join(' ')}`;
    },
    { timeoutMs: 60_000, what: 'old owners to hand off and drop the partitions they gave away' },
  );
}

describe('a cluster that grows and shrinks under load', () => {
  beforeAll(async () => {
    f = await startCluster({ basePort: BASE_PORT, metricsBasePort: METRICS_BASE_PORT, nodes: 3, extraArgs: TUNING });
  }, 60_000);
  afterAll(stopAll, 60_000);

  test('3 nodes grow to 5 and shrink to 3 while kv bench, set-adds and deletes run: nothing acknowledged is lost, no delete comes back, old owners keep nothing', async () => {
    const founding = f.cluster.endpoints;
    const client = f.client({ endpoints: founding, timeoutMs: 10_000 });
    const sets = new SetAddWorkload(client, Array.from({ length: 12 }, (_, i) => `set-${i}`));
    const registers = new RegisterDeleteWorkload(client, 'reg-');
    sets.start();
    registers.start();
    // kv bench: an open loop of puts and gets through every founding node (nodes forward).
    const bench = kv(['bench', '--endpoint', founding.join(','), '--routing', 'any', '--rate', '200', '--concurrency', '32', '--duration-s', '45', '--warmup-s', '0', '--keys', '2000', '--value-bytes', '256', '--json'], undefined, 120_000);

    const t0 = Date.now();
    const kv4 = startJoiner('kv-4', BASE_PORT + 3, METRICS_BASE_PORT + 3);
    const kv5 = startJoiner('kv-5', BASE_PORT + 4, METRICS_BASE_PORT + 4);
    const five = [...founding, kv4.endpoint, kv5.endpoint];
    const grown = await waitMembers(five, ['kv-1', 'kv-2', 'kv-3', 'kv-4', 'kv-5'], 120_000);
    // Zone-less members: balance is within floor/ceil of 64 x 3 / 5 replicas each.
    for (const m of grown.members) expect([38, 39]).toContain(m.partitionsReplicated);
    const allMetrics = [0, 1, 2, 3, 4].map((i) => METRICS_BASE_PORT + i);
    await waitNothingHeld(allMetrics);
    const grownMs = Date.now() - t0;
    const leaveMs: string[] = [];

    // Shrink: kv-5, then kv-4, each with the one-step leave; each exits once it holds nothing.
    for (const [id, j] of [['kv-5', kv5], ['kv-4', kv4]] as const) {
      const t = Date.now();
      const left = await kv(['admin', 'leave', id, '--commit', '--wait', '--wait-timeout-s', '120', '--endpoint', founding.join(',')], undefined, 150_000);
      expect(left.stderr).toBe('');
      expect(left.code).toBe(0);
      expect(left.stdout).toMatch(new RegExp(`committed: leave ${id}`));
      expect(left.stdout).toMatch(new RegExp(`${id} handed off everything it held and exited`));
      await waitFor(async () => j.process.exitCode !== null, { timeoutMs: 10_000, what: `${id} to exit` });
      expect(j.process.exitCode).toBe(0);
      leaveMs.push(`${id} ${Date.now() - t} ms`);
      expect(j.log()).toMatch(/"log\.level":"(info|warn)"/);
      expect(j.log()).not.toMatch(/"log\.level":"error"/);
    }
    const shrunk = await waitMembers(founding, ['kv-1', 'kv-2', 'kv-3'], 60_000);
    for (const m of shrunk.members) expect(m.partitionsReplicated).toBe(PARTITIONS);

    const benchResult = await bench;
    await Promise.all([sets.stop(), registers.stop()]);
    // The load ran through the whole change, and most of it succeeded.
    expect(benchResult).toMatchObject({ code: 0 });
    expect(sets.counts.ok).toBeGreaterThan(50);
    expect(registers.counts.ok).toBeGreaterThan(50);
    expect(sets.counts.failed).toBeLessThan(sets.counts.ok / 10);
    const figures = JSON.parse(benchResult.stdout.trim().split('\n').at(-1)!) as { ops: number; errors: number; errorKinds: Record<string, number>; opsPerSecond: number; latencyMs: { p99: number } };
    // kv bench's own load through the change: almost every operation succeeds.
    expect(figures.ops).toBeGreaterThan(1000);
    expect(figures.errors).toBeLessThanOrEqual(figures.ops / 100);
    const benchLine = `${figures.ops} ops, ${figures.opsPerSecond} ops/s, ${figures.errors} errors ${JSON.stringify(figures.errorKinds)}, p99 ${figures.latencyMs.p99} ms`;
    process.stderr.write(`scaling.test.ts: grew 3 -> 5 (both joined, old owners emptied) in ${grownMs} ms; left: ${leaveMs.join(', ')}; set-adds ${sets.counts.ok} ok / ${sets.counts.failed} failed, register ops ${registers.counts.ok} ok / ${registers.counts.failed} failed${sets.counts.errors.length ? ` (first error: ${sets.counts.errors[0]})` : ''}; bench: ${benchLine.trim()}\n`);

    // Every acknowledged element and write is there at R=3 (every owner's copy counts); no delete came back.
    const reader = f.client({ endpoints: founding, timeoutMs: 10_000 });
    expect(Object.fromEntries(await sets.missing(reader, 3))).toEqual({});
    const { resurrected, lost } = await registers.violations(reader, 3);
    expect(resurrected).toEqual([]);
    expect(lost).toEqual([]);
    // Every key is on each of its N owners (each one's own copy).
    const keys = [...sets.acked.keys(), ...registers.written.keys()];
    const stored = await Promise.all(['kv-1', 'kv-2', 'kv-3'].map((id) => f.storedAt(id, keys)));
    for (const key of keys) for (const s of stored) expect(s.get(key)).toBeDefined();
    // The nodes that left hold nothing at all.
    expect(await objectsIn(kv4.dataDir)).toBe(0);
    expect(await objectsIn(kv5.dataDir)).toBe(0);
    await waitNothingHeld(allMetrics.slice(0, 3));
  }, 300_000);

});

describe('a transfer interrupted by a kill', () => {
  beforeAll(async () => {
    f = await startCluster({ basePort: KILL_BASE_PORT, metricsBasePort: KILL_METRICS_BASE_PORT, nodes: 3, extraArgs: TUNING });
  }, 60_000);
  afterAll(stopAll, 60_000);

  test('a joining node killed in the middle of its transfers resumes where it stopped when started again; nothing is lost', async () => {
    const founding = f.cluster.endpoints;
    const client = f.client({ endpoints: founding, timeoutMs: 10_000 });
    const acked = new Map<string, string>();
    const values = Array.from({ length: 3000 }, (_, i) => [`pre-${i}`, `v${i}-${'x'.repeat(64)}`] as const);
    for (let i = 0; i < values.length; i += 100) {
      await Promise.all(values.slice(i, i + 100).map(async ([k, v]) => (await client.put(k, v), acked.set(k, v))));
    }
    // Slow copies (100 objects a second, 50 a page), so the kill lands in the middle.
    const slow = ['--transfer-keys-per-second-max', '100', '--transfer-batch-max', '50'];
    const first = startJoiner('kv-4', KILL_BASE_PORT + 3, KILL_METRICS_BASE_PORT + 3, slow);
    await waitFor(async () => (await metric(first.metricsPort, 'kv_transfer_keys_total').catch(() => 0)) >= 400, { timeoutMs: 60_000, what: 'kv-4 to copy 400 objects' });
    first.process.kill('SIGKILL');
    await waitFor(async () => first.process.exitCode !== null || first.process.signalCode !== null, { timeoutMs: 5_000, what: 'kv-4 to die' });
    // It died with transfers left (it had copied at least 400 objects, about a fifth of them).
    const before = await statusAt(founding[0]!);
    expect(Number(before!.transfersLeft)).toBeGreaterThan(0);

    const second = startJoiner('kv-4', KILL_BASE_PORT + 3, KILL_METRICS_BASE_PORT + 3, ['--transfer-keys-per-second-max', '2000']);
    const done = await waitMembers([...founding, second.endpoint], ['kv-1', 'kv-2', 'kv-3', 'kv-4'], 180_000);
    const copiedAfterRestart = await metric(second.metricsPort, 'kv_transfer_keys_total');
    // The keys of the partitions kv-4 took: it copied them all, but not again from the beginning.
    const rows = done.placement.map((r) => r.members);
    const moved = values.filter(([k]) => rows[partitionOf(Buffer.from(k), PARTITIONS)]!.includes('kv-4')).length;
    expect(copiedAfterRestart).toBeGreaterThan(0);
    expect(copiedAfterRestart).toBeLessThanOrEqual(moved - 400 + 50);
    for (const [key, value] of acked) expect((await client.get(key, { r: 2 })).values.map(String)).toContain(value);
    const probe = f.client({ endpoints: [second.endpoint], timeoutMs: 10_000 });
    for (const [key, value] of values.filter(([k]) => rows[partitionOf(Buffer.from(k), PARTITIONS)]!.includes('kv-4')).slice(0, 200)) {
      expect((await probe.get(key, { r: 3 })).values.map(String)).toContain(value);
    }
    await waitNothingHeld([0, 1, 2, 3].map((i) => KILL_METRICS_BASE_PORT + i));
  }, 300_000);

  test('a member that died for good is removed: its partitions are filled from the other replicas, and hints held for it reach the new owners', async () => {
    const founding = f.cluster.endpoints;
    const dead = joiners.get('kv-4')!;
    dead.process.kill('SIGKILL');
    await waitFor(async () => dead.process.exitCode !== null || dead.process.signalCode !== null, { timeoutMs: 5_000, what: 'kv-4 to die' });
    // Writes while it is down: the ones meant for it become hints on fallbacks.
    const client = f.client({ endpoints: founding, timeoutMs: 10_000 });
    const acked = new Map<string, string>();
    for (let i = 0; i < 300; i++) {
      await client.put(`while-down-${i}`, `w${i}`);
      acked.set(`while-down-${i}`, `w${i}`);
    }
    const hinted = await Promise.all([0, 1, 2].map((i) => metric(KILL_METRICS_BASE_PORT + i, 'kv_hints_pending')));
    expect(hinted.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const removed = await kv(['admin', 'remove', 'kv-4', '--commit', '--wait', '--wait-timeout-s', '120', '--endpoint', founding.join(',')], undefined, 150_000);
    expect(removed).toMatchObject({ code: 0, stderr: '' });
    expect(removed.stdout).toMatch(/committed: remove kv-4/);
    await waitMembers(founding, ['kv-1', 'kv-2', 'kv-3'], 60_000);
    // Every write is on every one of the three owners: R=3 reads need each one's copy.
    for (let i = 0; i < 3000; i += 7) expect((await client.get(`pre-${i}`, { r: 3 })).found).toBe(true);
    for (const [key, value] of acked) expect((await client.get(key, { r: 3 })).values.map(String)).toContain(value);
    // The hints held for kv-4 were delivered to the owners instead, and none is left.
    await waitFor(async () => (await Promise.all([0, 1, 2].map((i) => metric(KILL_METRICS_BASE_PORT + i, 'kv_hints_pending')))).every((n) => n === 0), { timeoutMs: 30_000, what: 'the hints held for kv-4 to be delivered to the owners' });
  }, 240_000);
});

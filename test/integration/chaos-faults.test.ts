/**
 * Each local chaos fault (chaos/local/faults.ts) done to a real node of a 5-node cluster, checked
 * for its effect while injected and for its absence once healed. What the store makes of the
 * faults (availability, lost writes) is the checker's business (chaos/checker, `kv chaos`); here
 * the question is only whether each fault is real.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { localFault, FaultScene, ActiveFault } from '../../chaos/local/faults';
import { Fault } from '../../chaos/experiments';
import { describeAsRoot } from '../support/root';
import { sleep, waitFor } from '../support/wait-for';
import { Fixture, startCluster, statusAt } from './cluster-fixture';

// Ports 18601..18605, reserved for this file; node kv-i runs with group GID_BASE+i-1 (no Debian group lives there).
const BASE_PORT = 18601;
const GID_BASE = 62601;
const TARGET = 'kv-2';

describeAsRoot('iptables and strace on node processes, a group of its own for each node')('local chaos faults on real node processes', () => {
  let f: Fixture;
  const lines: string[] = [];

  beforeAll(async () => {
    f = await startCluster({
      basePort: BASE_PORT,
      loopbackPerNode: true,
      gidBase: GID_BASE,
      zones: ['a', 'b', 'c'],
      extraArgs: ['--peer-suspect-ms', '1000', '--peer-heartbeat-ms', '200'],
    });
    await f.waitConnected();
  }, 60_000);

  afterAll(async () => {
    await f?.teardown();
  }, 60_000);

  const scene = (): FaultScene => ({ cluster: f.cluster, targets: [f.cluster.node(TARGET)], runId: `t${BASE_PORT}`, log: (l) => lines.push(l) });

  async function inject(fault: Fault, durationS = 5): Promise<ActiveFault> {
    const local = localFault(fault, durationS);
    expect(local.unavailable()).toBeUndefined();
    return local.inject(scene());
  }

  /** A key whose N primaries include the target (a W=3 write must reach it). */
  const keyOnTarget = (prefix: string) => Array.from({ length: 200 }, (_, i) => `${prefix}-${i}`).find((k) => f.primariesOf(k).includes(TARGET))!;
  const target = () => f.cluster.node(TARGET);

  test('pause freezes the process: it answers nothing until healed', async () => {
    const active = await inject({ kind: 'pause' });
    try {
      expect(await statusAt(target().endpoint)).toBeUndefined();
      expect(f.isRunning(TARGET)).toBe(true);
    } finally {
      await active.heal();
    }
    expect((await statusAt(target().endpoint))?.nodeId).toBe(TARGET);
  }, 30_000);

  test('kill ends the process with SIGKILL; healing starts it again on its data', async () => {
    const before = target().process!.pid;
    const active = await inject({ kind: 'kill' });
    expect(target().process!.signalCode).toBe('SIGKILL');
    await active.heal();
    const s = await statusAt(target().endpoint);
    expect(s?.nodeId).toBe(TARGET);
    expect(s?.pid).not.toBe(before);
    await f.waitConnected();
  }, 60_000);

  test('a two-way partition: the others see the target unreachable, and it sees them so; healing reconnects', async () => {
    const active = await inject({ kind: 'partition', direction: 'both' });
    try {
      await waitFor(async () => (await f.suspects('kv-1', TARGET)) && (await f.suspects(TARGET, 'kv-1')), { timeoutMs: 10_000, what: 'both sides to suspect the other' });
    } finally {
      await active.heal();
    }
    await f.waitConnected(20_000);
  }, 60_000);

  test('a one-way partition: the target cannot reach the others, they still reach it', async () => {
    const active = await inject({ kind: 'partition', direction: 'outbound' });
    try {
      await waitFor(async () => f.suspects(TARGET, 'kv-1'), { timeoutMs: 10_000, what: `${TARGET} to suspect kv-1` });
      expect(await f.suspects('kv-1', TARGET)).toBe(false);
    } finally {
      await active.heal();
    }
    await f.waitConnected(20_000);
  }, 60_000);

  test('packet loss drops a share of the packets between the target and the others, and nothing once healed', async () => {
    const active = await inject({ kind: 'network', delayMs: 0, jitterMs: 0, lossPercent: 30, duplicatePercent: 0 });
    const chain = /KVC_\w+_L/.exec(execFileSync('iptables', ['-S', 'OUTPUT'], { encoding: 'utf8' }))?.[0];
    try {
      expect(chain).toBeDefined();
      const client = f.client();
      for (let i = 0; i < 30; i++) await client.put(keyOnTarget('loss'), `v${i}`).catch(() => undefined);
      const dropped = execFileSync('iptables', ['-L', chain!, '-n', '-v', '-x'], { encoding: 'utf8' }).split('\n').slice(2).map((l) => Number(l.trim().split(/\s+/)[0])).filter(Number.isFinite).reduce((a, b) => a + b, 0);
      expect(dropped).toBeGreaterThan(0);
    } finally {
      await active.heal();
    }
    expect(execFileSync('iptables', ['-S', 'OUTPUT'], { encoding: 'utf8' })).not.toContain(chain!);
  }, 60_000);

  test('disk latency delays the target\'s commits: a W=3 write waits for it', async () => {
    await f.waitConnected(20_000);
    const client = f.client();
    const key = keyOnTarget('slow');
    const active = await inject({ kind: 'disk-latency', delayMs: 300 });
    let tookMs: number;
    try {
      const t = Date.now();
      await client.put(key, 'slow', { w: 3 });
      tookMs = Date.now() - t;
    } finally {
      await active.heal();
    }
    // Each durable commit syncs at least once: the write cannot be acknowledged sooner.
    expect(tookMs).toBeGreaterThanOrEqual(300);
    expect((await client.get(key, { r: 3 })).values.map(String)).toEqual(['slow']);
  }, 60_000);

  test('disk errors fail the target\'s writes with EIO: a write every primary must store fails, W=2 goes around it, the target stops itself', async () => {
    await f.waitConnected(20_000);
    const client = f.client({ timeoutMs: 3000 });
    const key = keyOnTarget('eio');
    const active = await inject({ kind: 'disk-errors', errorPercent: 100 });
    try {
      // pw=3: every primary must store it (a fallback holding a hint would stand in for the target otherwise).
      await expect(client.put(key, 'x', { w: 3, pw: 3 })).rejects.toThrow();
      // Fail-stop: the node stopped at its first failed commit (EX_IOERR), before lmdb-js could
      // touch the store again.
      await waitFor(async () => !f.isRunning(TARGET), { timeoutMs: 10_000, what: `${TARGET} to stop itself` });
      expect(target().process!.exitCode).toBe(74);
      // The others take the write without it (sent to them: a request to the target as it died
      // would be in doubt).
      await f.client({ endpoints: f.endpointsExcept(TARGET), timeoutMs: 3000 }).put(key, 'around', { w: 2 });
    } finally {
      await active.heal();
    }
    expect(fs.readFileSync(path.join(target().dataDir, 'node.log'), 'utf8')).toMatch(/"message":"the disk failed a commit: this node stops now \(fail-stop\)/);
    // Started again, it serves from its last committed state.
    await f.cluster.restart(TARGET);
    await f.waitConnected(20_000);
    await waitFor(async () => (await client.get(key, { r: 2 })).values.map(String).includes('around'), { timeoutMs: 10_000, what: 'the write that went around to read back' });
  }, 60_000);

  test('clock skew restarts the target with its wall clock behind: its log lines say so', async () => {
    const log = path.join(target().dataDir, 'node.log');
    const active = await inject({ kind: 'clock-skew', offsetS: -300 });
    let skewed: Record<string, unknown>[];
    try {
      const all = fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      skewed = all.filter((l) => l.message === 'node serving').slice(-1);
    } finally {
      await active.heal();
    }
    const at = Date.parse(String(skewed[0]!['@timestamp']));
    expect(Date.now() - at).toBeGreaterThan(250_000);
    expect(target().env).toEqual({});
  }, 60_000);

  test('CPU stress pins the target and busy workers to one CPU; healing frees both', async () => {
    const pid = target().process!.pid!;
    const allowed = () => /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
    const before = allowed();
    const active = await inject({ kind: 'cpu-stress', workers: 1, loadPercent: 100 });
    let during: string;
    let hogs: number;
    try {
      during = allowed()!;
      await sleep(200);
      hogs = Number(execFileSync('sh', ['-c', 'pgrep -fc "[A]tomics.wait" || true'], { encoding: 'utf8' }).trim());
    } finally {
      await active.heal();
    }
    expect(during).toMatch(/^\d+$/);
    expect(hogs).toBeGreaterThanOrEqual(1);
    await sleep(200);
    expect(allowed()).toBe(before);
    expect(Number(execFileSync('sh', ['-c', 'pgrep -fc "[A]tomics.wait" || true'], { encoding: 'utf8' }).trim())).toBe(0);
  }, 30_000);

  test('wipe stops the target and deletes its data; healing starts it empty', async () => {
    const active = await inject({ kind: 'wipe' });
    expect(fs.readdirSync(target().dataDir).filter((e) => e !== 'node.log')).toEqual([]);
    await active.heal();
    expect((await statusAt(target().endpoint))?.nodeId).toBe(TARGET);
    await f.waitConnected(20_000);
  }, 60_000);

  test('a rolling restart restarts every node in turn, each serving before the next stops', async () => {
    const pids = f.cluster.nodes.map((n) => n.process!.pid);
    const local = localFault({ kind: 'rolling-restart' }, 0);
    const active = await local.inject({ ...scene(), targets: f.cluster.nodes });
    await active.heal();
    const after = await Promise.all(f.cluster.nodes.map((n) => statusAt(n.endpoint)));
    expect(after.map((s) => s?.nodeId)).toEqual(f.cluster.nodes.map((n) => n.id));
    after.forEach((s, i) => expect(s!.pid).not.toBe(pids[i]));
  }, 120_000);
});

/**
 * `kv chaos check` as a process against a real 3-node local cluster, with one node killed
 * (SIGKILL) in the middle of the run and started again: the checker tells nothing lost and no
 * delete undone, reports the availability and the fault window it was told of over HTTP, and
 * serves /healthz and /metrics while it runs.
 *
 * Ports: 18501-18503 the cluster, 18511 the checker's metrics.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CheckResult } from '../../chaos/checker/result';
import { waitFor } from '../support/wait-for';
import { Fixture, KV_SCRIPT, startCluster } from './cluster-fixture';

const BASE_PORT = 18501;
const METRICS_PORT = 18511;
const DURATION_S = 12;
/** The fault: kv-2 is killed this long after the checker serves, and stays down this long. */
const KILL_AFTER_MS = 3000;
const DOWN_MS = 3000;

let f: Fixture;
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-chaos-check-'));
  // Frequent anti-entropy over few partitions: the node that was down catches up within seconds.
  f = await startCluster({ basePort: BASE_PORT, nodes: 3, partitions: 16, extraArgs: ['--anti-entropy-interval-ms', '100'] });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
  fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

const url = (p: string) => `http://127.0.0.1:${METRICS_PORT}${p}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function run(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [KV_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

test('kv chaos check through a SIGKILL of one node: nothing lost, no delete back, availability reported', async () => {
  const resultFile = path.join(tmp, 'result.json');
  const { child, done } = run([
    'chaos', 'check',
    '--endpoints', f.cluster.endpoints.join(','),
    '--duration-s', String(DURATION_S),
    '--rate', '40',
    '--keys', '8',
    '--metrics-port', String(METRICS_PORT),
    '--result-file', resultFile,
  ]);
  try {
    await waitFor(async () => (await fetch(url('/healthz')).catch(() => undefined))?.status === 200, { timeoutMs: 10_000, what: 'the checker serving /healthz with 200' });
    // Time passes on purpose: the workloads run against the whole cluster before the fault.
    await sleep(KILL_AFTER_MS);
    expect((await fetch(url('/faults/start?label=kill-kv-2'), { method: 'POST' })).status).toBe(200);
    await f.cluster.kill('kv-2', 'SIGKILL');
    // ... and while kv-2 is down.
    await sleep(DOWN_MS);
    await f.cluster.restart('kv-2');
    expect((await fetch(url('/faults/end?label=kill-kv-2'), { method: 'POST' })).status).toBe(200);
    const metrics = await (await fetch(url('/metrics'))).text();
    expect(metrics).toMatch(/kv_checker_operations_total\{workload="set-add",kind="update",outcome="ok"\} \d+/);
    expect(metrics).toMatch(/kv_checker_steady_state 1/);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const { code, stdout, stderr } = await done;
  const result = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as CheckResult;
  process.stdout.write(`${stdout}\n`);
  expect({ code, stderr: code === 0 ? '' : stderr, reasons: result.reasons }).toEqual({ code: 0, stderr: '', reasons: [] });
  expect(stdout).toMatch(/^kv chaos check: the verdict holds/);
  expect(result.correctness).toMatchObject({ lostWrites: 0, resurrectedDeletes: 0, keysUnreadable: 0 });
  expect(result.correctness.keysChecked).toBeGreaterThanOrEqual(16);
  expect(result.convergence.converged).toBe(true);
  expect(result.availability.overall.ops).toBeGreaterThan(500);
  expect(result.availability.overall.availability).toEqual(expect.any(Number));
  // Every write left in doubt (the SIGKILL can leave some) was settled one way or another.
  const b = result.availability.overall.readBack;
  expect(b.applied + b.redone + b.unresolved).toBe(b.indeterminateWrites);
  expect(stdout).toMatch(/^read-back: \d+ writes may have applied: /m);
  const [w] = result.availability.windows;
  expect(w).toMatchObject({ label: 'kill-kv-2' });
  expect(w!.during.ops).toBeGreaterThan(0);
  expect(w!.during.availability).toEqual(expect.any(Number));
  expect(result.timeline.length).toBeGreaterThanOrEqual(DURATION_S);
}, 150_000);

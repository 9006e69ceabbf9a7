/**
 * The benchmark programs run and report what they measured: `kv bench` against a real cluster
 * (closed and open loop) and `kv floor` with its own floor node processes. Their figures are
 * checked for shape and plausibility only: speed is never a pass/fail criterion.
 */
import { ChildProcess, execFile, execFileSync } from 'node:child_process';
import * as net from 'node:net';
import { openConnections } from '../support/sockets';
import { waitFor } from '../support/wait-for';
import { Fixture, kv, KV_SCRIPT, startCluster } from './cluster-fixture';

let f: Fixture;
const BASE_PORT = 17961;
/** kv floor's own floor nodes: 5 of them, on 17711..17715. */
const FLOOR_BASE_PORT = 17711;
const FLOOR_NODES = 5;

beforeAll(async () => {
  f = await startCluster({ basePort: BASE_PORT, nodes: 3 });
  await f.waitConnected();
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

const endpoints = () => f.cluster.endpoints.join(',');

function expectOnSchedule(ops: number, rate: number, durationS: number): void {
  expect(ops).toBeGreaterThanOrEqual(Math.floor(0.9 * rate * durationS));
  expect(ops).toBeLessThanOrEqual(Math.ceil(rate * durationS) + 1);
}

function floorProcesses(basePort: number): string[] {
  try {
    return execFileSync('pgrep', ['-f', `floor --serve .* --base-port ${basePort}`]).toString().trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

test('kv bench in a closed loop reports operations, latency and the CPU of every node process', async () => {
  const r = await kv(['bench', '--endpoint', endpoints(), '--duration-s', '1', '--warmup-s', '0', '--keys', '50', '--concurrency', '8', '--json']);
  expect(r.stderr).not.toMatch(/error/i);
  expect(r.code).toBe(0);
  const figures = JSON.parse(r.stdout);
  expect(figures.ops).toBeGreaterThan(0);
  expect(figures.errors).toBe(0);
  expect(figures.nodePids).toHaveLength(3);
  expect(figures.latencyMs.p50).toBeGreaterThan(0);
  expect(figures.latencyMs.p99).toBeGreaterThanOrEqual(figures.latencyMs.p50);
  expect(figures.latencyMsByKind.get.p50).toBeGreaterThan(0);
  expect(figures.latencyMsByKind.put.p50).toBeGreaterThan(0);
  expect(figures.nodeCpuSeconds).toBeGreaterThan(0);
}, 30_000);

test('kv bench in an open loop issues operations at the requested rate', async () => {
  const r = await kv(['bench', '--endpoint', endpoints(), '--rate', '200', '--duration-s', '2', '--warmup-s', '0', '--keys', '50', '--no-preload', '--json']);
  expect(r.code).toBe(0);
  const figures = JSON.parse(r.stdout);
  expect(figures.errors).toBe(0);
  // The schedule, not the machine, sets the count: 200 ops/s over the measured time, less the
  // last operations' latency (the measured time includes waiting for them).
  expectOnSchedule(figures.ops, 200, figures.durationS);
}, 30_000);

test('rejects a bad kv bench flag, naming it and the allowed values', async () => {
  const r = await kv(['bench', '--endpoint', endpoints(), '--workload', 'scan']);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('--workload: "scan" is not one of put, get, mixed, a, b, c, f');
});

test('kv floor measures its own floor nodes at the requested rate and stops them', async () => {
  const r = await kv(['floor', '--rate', '300', '--duration-s', '2', '--warmup-s', '0', '--base-port', String(FLOOR_BASE_PORT), '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const figures = JSON.parse(r.stdout);
  expect(figures.nodes).toBe(FLOOR_NODES);
  expectOnSchedule(figures.ops, 300, figures.durationS);
  expect(figures.latencyMs.p50).toBeGreaterThan(0);
  expect(figures.nodeCpuSeconds).toBeGreaterThan(0);
  // The floor nodes are gone once the command returns (SIGTERM takes them a moment).
  await waitFor(
    () => {
      const left = floorProcesses(FLOOR_BASE_PORT);
      return left.length === 0 || `pids ${left.join(', ')} still running`;
    },
    { timeoutMs: 5000, what: 'the floor nodes exiting after kv floor returned' },
  );
}, 30_000);

test('rejects kv floor with fewer nodes than a coordinator and two replicas', async () => {
  const r = await kv(['floor', '--nodes', '2', '--base-port', String(FLOOR_BASE_PORT)]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('--nodes: "2" must be an integer within 3..64');
});

test('fails kv floor with one clear line when a floor node cannot take its port', async () => {
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(FLOOR_BASE_PORT + 2, '127.0.0.1', resolve));
  try {
    const r = await kv(['floor', '--duration-s', '1', '--base-port', String(FLOOR_BASE_PORT)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`kv floor --serve 2: cannot listen on 127.0.0.1:${FLOOR_BASE_PORT + 2}`);
    expect(r.stderr).toContain(`kv floor: floor node 2 (port ${FLOOR_BASE_PORT + 2}) exited (code 2)`);
    expect(r.stdout).toBe('');
  } finally {
    squatter.close();
  }
  expect(floorProcesses(FLOOR_BASE_PORT)).toEqual([]);
}, 30_000);

test('ends a kv floor run with one clear line when a floor node dies during it', async () => {
  let child: ChildProcess | undefined;
  const run = new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
    child = execFile(process.execPath, [KV_SCRIPT, 'floor', '--rate', '300', '--duration-s', '60', '--warmup-s', '0', '--base-port', String(FLOOR_BASE_PORT)], (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdin!.end();
  });
  // The run is under way once kv floor is connected to every floor node: it opens its streams
  // and starts sending right after.
  const floorEndpoints = Array.from({ length: FLOOR_NODES }, (_, i) => `127.0.0.1:${FLOOR_BASE_PORT + i}`);
  await waitFor(
    () => {
      const unconnected = floorEndpoints.filter((e) => openConnections(e, child!.pid!) === 0);
      return unconnected.length === 0 || `not connected to ${unconnected.join(', ')}`;
    },
    { timeoutMs: 10_000, what: 'kv floor connecting to its floor nodes' },
  );
  execFileSync('pkill', ['-KILL', '-f', `floor --serve 2 .* --base-port ${FLOOR_BASE_PORT}`]);
  const r = await run; // a run that hung would time the test out long before its 60 s
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  // Either of two lines is right, and which one comes is not up to kv floor: the one SIGKILL both
  // ends floor node 2 (kv floor is told by its child's exit: "floor node 2 (port ...) exited
  // (SIGKILL)") and closes its connection (kv floor's stream to it fails: "the stream to floor
  // node 2 failed: ..."). kv floor reports whichever of the two events its event loop takes first.
  expect(r.stderr).toMatch(/^kv floor: (floor node 2 \(port \d+\) exited \(SIGKILL\)|the stream to floor node 2 failed: )/);
  expect(r.stdout).toBe('');
  expect(floorProcesses(FLOOR_BASE_PORT)).toEqual([]);
}, 30_000);

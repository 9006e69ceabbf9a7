/**
 * `kv bench compare` starts a store cluster and a 3-member etcd of its own, runs both under the
 * same load, prints the medians and ratios, writes an HTML report, and stops everything it
 * started. Figures are checked for shape only (both stores did work, without errors): speed is
 * never a pass/fail criterion.
 *
 * Ports: the store on 18901..18903, etcd on 18911..18916, the transport floor on 18941..18943; the missing-etcd test names
 * 18921.. and 18931.. but must not take them.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findEtcdPids, findFloorPids, findNodePids } from '../../app/cli/bench-target';
import type { CompareReport } from '../../app/cli/compare-figures';
import { KV_SCRIPT } from './cluster-fixture';

const BASE_PORT = 18901;
const ETCD_BASE_PORT = 18911;
const STORE_PORTS = [18901, 18902, 18903];
const ETCD_CLIENT_PORTS = [18911, 18913, 18915];
const FLOOR_BASE_PORT = 18941;
const WORKLOADS = ['a', 'f'];
const TARGETS = ['kv batch', 'kv unary', 'floor', 'etcd'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kvWith(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [KV_SCRIPT, ...args], { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

function installed(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** Whether a tool the test needs is here; without it the check is skipped, except in CI, where it fails. */
function needs(name: string, debianPackage: string): boolean {
  if (installed(name)) return true;
  if (process.env.CI === 'true') throw new Error(`CI=true and no ${name}: .ci/run installs Debian's ${debianPackage}`);
  process.stderr.write(`bench-compare.test.ts: no ${name}; the check is skipped (apt-get install ${debianPackage})\n`);
  return false;
}

describe('kv bench compare, briefly', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-bench-compare-test-'));
  const reportFile = path.join(dir, 'report.html');
  let run: Run;
  let report: CompareReport;

  beforeAll(async () => {
    if (!needs('etcd', 'etcd-server')) return;
    run = await kvWith(
      [
        'bench', 'compare',
        '--workloads', WORKLOADS.join(','),
        '--rounds', '1',
        '--rates', '300',
        '--duration-s', '1',
        '--warmup-s', '0.5',
        '--keys', '200',
        '--concurrency', '16',
        '--base-port', String(BASE_PORT),
        '--etcd-base-port', String(ETCD_BASE_PORT),
        '--floor',
        '--floor-base-port', String(FLOOR_BASE_PORT),
        '--data', path.join(dir, 'data'),
        '--json',
        '--report', reportFile,
      ],
      process.env,
      240_000,
    );
    // The progress lines, in the test's log whether it passes or not.
    process.stderr.write(run.stderr);
    if (run.code !== 0) throw new Error(`kv bench compare exited ${run.code}: ${run.stderr.slice(-2000)}`);
    report = JSON.parse(run.stdout) as CompareReport;
  }, 300_000);

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('runs both stores under every workload and load, each with operations and no errors, and gives the store\'s ratios to etcd', () => {
    if (report === undefined) return; // no etcd here (needs() said so)
    expect(report.runs).toHaveLength(WORKLOADS.length * 2 * TARGETS.length);
    expect(report.rows.map((r) => `${r.workload} ${r.rate} ${r.target}`).sort()).toEqual(WORKLOADS.flatMap((w) => [0, 300].flatMap((rate) => TARGETS.map((t) => `${w} ${rate} ${t}`))).sort());
    for (const row of report.rows) {
      expect(row.opsPerSecond).toBeGreaterThan(0);
      expect(row.errors).toBe(0);
      expect(row.p99Ms).toBeGreaterThanOrEqual(row.p50Ms);
      if (row.target === 'etcd') {
        expect(row.vsEtcd).toBeUndefined();
      } else {
        expect(row.vsEtcd?.opsPerSecond).toBeGreaterThan(0);
        expect(row.vsEtcd?.p99Ms).toBeGreaterThan(0);
      }
    }
    // The CPU of three server processes counted for each store, and work done by them.
    for (const r of report.runs) expect(r.nodePids).toHaveLength(3);
    const pidsOf = (targets: string[]) => new Set(report.runs.filter((r) => targets.includes(r.target)).flatMap((r) => r.nodePids));
    const storePids = pidsOf(['kv batch', 'kv unary']);
    const floorPids = pidsOf(['floor']);
    const etcdPids = pidsOf(['etcd']);
    expect([storePids.size, floorPids.size, etcdPids.size]).toEqual([3, 3, 3]);
    expect(new Set([...storePids, ...floorPids, ...etcdPids]).size).toBe(9);
    expect(report.rows.filter((r) => r.rate === 0).every((r) => r.serverCpuMsPerOp > 0)).toBe(true);
    // f's read-modify-writes were timed as such.
    expect(report.runs.filter((r) => r.workload === 'f').every((r) => r.latencyMsByKind.rmw !== undefined && r.latencyMsByKind.put === undefined)).toBe(true);
  });

  test('stops every store node and etcd member it started', () => {
    if (report === undefined) return;
    expect(findNodePids(STORE_PORTS)).toEqual([]);
    expect(findEtcdPids(ETCD_CLIENT_PORTS)).toEqual([]);
    expect(findFloorPids(FLOOR_BASE_PORT)).toEqual([]);
  });

  test('the HTML report renders in headless Chromium with a latency curve per workload and the table of both stores', () => {
    if (report === undefined || !needs('chromium', 'chromium')) return;
    const dom = spawnSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `file://${reportFile}`], { encoding: 'utf8', timeout: 60_000 });
    expect(dom.status).toBe(0);
    const html = dom.stdout;
    expect(html).toContain('kv bench compare');
    expect((html.match(/<svg /g) ?? []).length).toBe(WORKLOADS.length);
    for (const w of WORKLOADS) expect(html).toContain(`id="curve-${w}"`);
    // Lines drawn in the curves, and the series of both stores in their legends.
    expect(html).toMatch(/<path d="M[\d.]+ [\d.]+L/);
    for (const series of ['kv batch p50', 'kv unary p99', 'etcd p50', 'etcd p99']) expect(html).toContain(series);
    expect(html).toContain('ops/s kv/etcd');
    const batch = report.rows.find((r) => r.target === 'kv batch' && r.rate === 0)!;
    expect(html).toContain(`<td class="n">${batch.vsEtcd!.opsPerSecond!.toFixed(2)}</td>`);
    expect((html.match(/<tr class="etcd">/g) ?? []).length).toBe(WORKLOADS.length * 2);
  });
});

test('fails with one line saying to install etcd-server when etcd is not on PATH, before starting the store', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-no-etcd-'));
  try {
    const r = await kvWith(['bench', 'compare', '--quick', '--base-port', '18921', '--etcd-base-port', '18931'], { ...process.env, PATH: empty }, 30_000);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual(["kv bench compare: etcd is not installed: apt-get install etcd-server (Debian's etcd 3.4), then run again"]);
    expect(findNodePids([18921, 18922, 18923])).toEqual([]);
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

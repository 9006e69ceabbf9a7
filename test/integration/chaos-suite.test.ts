/**
 * The short chaos suite, as a user runs it: `kv chaos short` on real node processes, each fault
 * shortened to a few seconds. Every experiment that runs must hold its hypothesis (nothing
 * acknowledged lost, no delete back, availability at its bound, replicas converged), and the
 * HTML report must render in headless Chromium with the figures of report.json.
 *
 * As root (CI) every experiment of the suite runs; otherwise the partition is skipped, with the
 * reason in the report. Without Chromium the rendering check is skipped with a line saying so; in
 * CI (CI=true) it fails.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SUITES } from '../../chaos/experiments';
import type { ChaosReport } from '../../chaos/report';
import { KV_SCRIPT } from './cluster-fixture';

// Ports 18701..18705, reserved for this file (kv chaos runs one 5-node cluster at a time).
const BASE_PORT = 18701;

function chromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) if (spawnSync('sh', ['-c', `command -v ${name}`]).status === 0) return name;
  return undefined;
}

describe('kv chaos short', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-chaos-suite-'));
  let run: { code: number; stdout: string; stderr: string };
  let report: ChaosReport;

  beforeAll(async () => {
    run = await new Promise((resolve) => {
      execFile(
        process.execPath,
        [KV_SCRIPT, 'chaos', 'short', '--duration-s', '4', '--warmup-s', '2', '--recovery-s', '4', '--base-port', String(BASE_PORT), '--out', out, '--data', path.join(out, 'data')],
        { timeout: 400_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    const json = path.join(out, 'report.json');
    if (!fs.existsSync(json)) throw new Error(`kv chaos short exited ${run.code} without a report: ${run.stderr.slice(-2000)}`);
    report = JSON.parse(fs.readFileSync(json, 'utf8')) as ChaosReport;
    // The figures of each experiment, in the test's log whether it passes or not.
    process.stderr.write(run.stdout);
  }, 420_000);

  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  test('every experiment of the suite holds its hypothesis, or is skipped with the reason', () => {
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 0, stdout: expect.any(String) });
    expect(report.outcomes.map((o) => o.experiment.name)).toEqual(SUITES.short);
    const isRoot = process.getuid?.() === 0;
    for (const o of report.outcomes) {
      if (o.skipped !== undefined) {
        // Only the partition may be skipped, and only without root.
        expect(isRoot).toBe(false);
        expect(o.skipped).toMatch(/needs root/);
        continue;
      }
      expect({ name: o.experiment.name, error: o.error, passed: o.passed, reasons: o.result?.reasons }).toEqual({ name: o.experiment.name, error: undefined, passed: true, reasons: [] });
      const r = o.result!;
      expect(r.correctness.lostWrites).toBe(0);
      expect(r.correctness.resurrectedDeletes).toBe(0);
      expect(r.correctness.keysChecked).toBeGreaterThan(0);
      expect(r.availability.overall.ops).toBeGreaterThan(100);
      expect(r.availability.overall.availability!).toBeGreaterThanOrEqual(o.experiment.hypothesis.availabilityMin);
      expect(r.availability.windows.map((w) => w.label)).toEqual([o.experiment.name]);
      expect(r.convergence.converged).toBe(true);
    }
    expect(run.stdout).toMatch(/^node-kill +holds: availability [\d.]+ % \(writes in doubt \d+: \d+ found applied, \d+ redone, \d+ unresolved; without read-back [\d.]+ %\), lost 0, resurrected 0/m);
  });

  test('the HTML report renders in headless Chromium and shows the figures of report.json', () => {
    const browser = chromium();
    if (browser === undefined) {
      if (process.env.CI === 'true') throw new Error('CI=true and no chromium to render the chaos report: .ci/run installs Debian\'s chromium');
      process.stderr.write('chaos-suite.test.ts: no chromium; the rendering check is skipped (apt-get install chromium)\n');
      return;
    }
    const page = path.join(out, 'report.html');
    const dom = spawnSync(browser, ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `file://${page}`], { encoding: 'utf8', timeout: 60_000 });
    expect(dom.status).toBe(0);
    const html = dom.stdout;
    expect(html).toContain('kv chaos report');
    for (const o of report.outcomes) {
      expect(html).toContain(`id="${o.experiment.name}"`);
      if (o.result === undefined) continue;
      const share = o.result.availability.overall.availability!;
      expect(html).toContain(`${(Math.floor(share * 100_000) / 1000).toString()} %`);
      expect(html).toContain(`${o.result.availability.overall.readBack.indeterminateWrites}: ${o.result.availability.overall.readBack.applied} found applied`);
    }
    // One drawn timeline per experiment that ran: an SVG with lines in it.
    const ran = report.outcomes.filter((o) => o.result !== undefined).length;
    expect((html.match(/<svg /g) ?? []).length).toBe(ran);
    expect(html).toMatch(/<path d="M[\d.]+ [\d.]+L/);
  });
});

/**
 * `kv chaos <experiment|suite>`: runs experiments on local node processes (./run.ts), prints each
 * verdict, and writes the report (chaos/report.ts) as HTML and JSON.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CliError } from '../../app/cli/cli-error';
import type { CheckResult } from '../checker';
import { EXPERIMENTS, experimentsOf, SUITES } from '../experiments';
import { ChaosReport } from '../report';
import { GID_BASE_DEFAULT, RECOVERY_S, runLocalChaos, WARMUP_S } from './run';

export const CHAOS_RUN_USAGE = `kv chaos <experiment|suite> [options]
  Starts a fresh local cluster (5 nodes, zones a, b, c; N=3, R=2, W=2) for each experiment, drives it
  with the checker's workloads, injects the fault after a warm-up, heals it after its duration, and
  judges the hypothesis. Faults that need root or a tool this machine lacks are skipped, with the reason.

  experiments: ${EXPERIMENTS.map((e) => e.name).join(', ')}
  suites:      ${Object.entries(SUITES).map(([name, list]) => `${name} (${list.length})`).join(', ')}

  --base-port P        client port of node 1; nodes take P..P+4          (default 7201)
  --out DIR            where report.html and report.json go             (default ./chaos-report)
  --data DIR           the clusters' data                               (default a temporary directory)
  --keep-data          keep each experiment's data and node logs
  --warmup-s S         seconds of workload before the fault             (default ${WARMUP_S})
  --recovery-s S       seconds of workload after the heal               (default ${RECOVERY_S})
  --rate R             cycles a second of each checker workload          (default the checker's)
  --duration-s S       every fault lasts S seconds instead of its own    (the short suite in npm test)

Exit status: 0 when every experiment that ran held its hypothesis, 1 otherwise, 2 on bad input.`;

const KV_SCRIPT = path.resolve(__dirname, '../../bin/kv.js');

function seconds(values: Record<string, unknown>, name: string, fallback: number, max: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0 || v > max) throw new CliError(`kv chaos: --${name}: ${JSON.stringify(raw)} must be a number of seconds within 0..${max}`);
  return v;
}

const percent = (share: number | null) => `${((share ?? 0) * 100).toFixed(3)} %`;

/** An experiment's line of figures: availability (and how the writes in doubt were read back), loss, convergence. */
function experimentFigures(r: CheckResult): string {
  const a = r.availability.overall;
  const b = a.readBack;
  return `availability ${percent(a.availability)} (writes in doubt ${b.indeterminateWrites}: ${b.applied} found applied, ${b.redone} redone, ${b.unresolved} unresolved; without read-back ${percent(a.availabilityWithoutReadBack)}), ` +
    `lost ${r.correctness.lostWrites}, resurrected ${r.correctness.resurrectedDeletes}, converged ${r.convergence.converged ? `after ${r.convergence.afterS} s` : 'NOT'}`;
}

export async function chaosRunCommand(name: string, argv: readonly string[]): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        'base-port': { type: 'string', default: '7201' },
        out: { type: 'string', default: 'chaos-report' },
        data: { type: 'string' },
        'keep-data': { type: 'boolean', default: false },
        'warmup-s': { type: 'string' },
        'recovery-s': { type: 'string' },
        rate: { type: 'string' },
        'duration-s': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (e) {
    throw new CliError(`kv chaos ${name}: ${(e as Error).message.replace(/\. To specify.*$/s, '')}; see kv chaos --help`);
  }
  if (values.help) {
    process.stdout.write(`${CHAOS_RUN_USAGE}\n`);
    return;
  }
  let experiments;
  try {
    experiments = experimentsOf(name);
  } catch (e) {
    throw new CliError(`kv chaos: ${(e as Error).message}`);
  }
  const basePort = Number(values['base-port']);
  if (!Number.isInteger(basePort) || basePort < 1 || basePort > 65530) throw new CliError(`kv chaos: --base-port: ${JSON.stringify(values['base-port'])} must be an integer within 1..65530`);
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && !(rate > 0 && rate <= 10_000)) throw new CliError(`kv chaos: --rate: ${JSON.stringify(values.rate)} must be a number within (0, 10000]`);
  if (values['duration-s'] !== undefined) {
    const durationS = seconds(values, 'duration-s', 0, 3600);
    if (durationS < 1) throw new CliError(`kv chaos: --duration-s: ${JSON.stringify(values['duration-s'])} must be at least 1 second`);
    experiments = experiments.map((e) => ({ ...e, durationS }));
  }
  const out = path.resolve(String(values.out));
  const dataDir = values.data === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'kv-chaos-')) : path.resolve(String(values.data));
  const startedAt = new Date().toISOString();
  const outcomes = await runLocalChaos(experiments, {
    kvScript: KV_SCRIPT,
    basePort,
    dataDir,
    keepData: values['keep-data'] === true,
    warmupS: seconds(values, 'warmup-s', WARMUP_S, 3600),
    recoveryS: seconds(values, 'recovery-s', RECOVERY_S, 3600),
    checker: rate === undefined ? {} : { ratePerS: rate },
    gidBase: GID_BASE_DEFAULT,
    log: (line) => process.stderr.write(`kv chaos: ${line}\n`),
  });
  if (values['keep-data'] !== true && values.data === undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  const report: ChaosReport = { startedAt, machine: `${os.hostname()}, ${os.availableParallelism()} CPUs, Node ${process.version}`, outcomes };
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  let drawn = true;
  try {
    // The report's charts need the development dependency echarts (a checkout has it).
    const { reportHtml } = await import('../report');
    fs.writeFileSync(path.join(out, 'report.html'), reportHtml(report));
  } catch (e) {
    drawn = false;
    process.stderr.write(`kv chaos: the HTML report was not drawn (${(e as Error).message}); report.json has every figure\n`);
  }
  for (const o of outcomes) {
    const r = o.result;
    const figures = r ? experimentFigures(r) : '';
    const status = o.skipped !== undefined ? `skipped (${o.skipped})` : o.error !== undefined ? `ERROR (${o.error})` : o.passed ? 'holds' : `DOES NOT HOLD (${r?.reasons.join('; ')})`;
    process.stdout.write(`${o.experiment.name.padEnd(24)} ${status}${figures ? `: ${figures}` : ''}\n`);
  }
  process.stdout.write(`report: ${path.join(out, drawn ? 'report.html' : 'report.json')}\n`);
  const ran = outcomes.filter((o) => o.skipped === undefined);
  process.exitCode = ran.every((o) => o.passed) ? 0 : 1;
}

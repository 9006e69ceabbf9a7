/**
 * `kv chaos check`: runs the checker's workloads against a running cluster for a while, then the
 * verdict; prints the summary, writes the JSON result, and exits 0 when the verdict holds, 1 when
 * it does not (or the check could not run), 2 on bad input. The local fault runner and the
 * Kubernetes Job run the same code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { KvClient } from '../../app/client/client';
import { CliError } from '../../app/cli/cli-error';
import { parseEndpointList, resolveEndpoints } from '../../app/cli/endpoints';
import { clientSecurity } from '../../app/cli/security';
import { integerFlag, numberFlag } from '../../app/cli/measure';
import { CheckerMetrics } from '../../observability/checker-metrics';
import { experimentNamed } from '../experiments';
import { Checker, CHECKER_DEFAULTS, CheckerOptions, runKeyPrefix } from './checker';
import { WORKLOAD_NAMES, WorkloadName } from './history';
import { serveChecker } from './http';
import { kvClientStore } from './kv-client-store';
import { summarize } from './result';

const D = CHECKER_DEFAULTS;
/** How often a line of progress goes to stderr while the workloads run. */
const PROGRESS_INTERVAL_MS = 5000;
const DURATION_S_MAX = 7 * 24 * 3600;
const TIMEOUT_MS_DEFAULT = 2000;
/** Logical operations a cycle does at most (a register cycle: a write and a delete). */
const OPS_PER_CYCLE_MAX = 2;

export const CHAOS_CHECK_USAGE = `kv chaos check --duration-s N [options]
  Drives a running cluster with checked workloads for N seconds, then waits for the replicas
  to converge, reads every key it wrote at R=N and judges: every acknowledged write present,
  no delete undone, siblings within bounds, replicas converged, availability high enough.
  Prints a summary; exits 0 when the verdict holds, 1 when it does not, 2 on bad input.
  The rules and figures: docs/chaos.md, "The checker".
  --endpoints H:P[,H:P...]      nodes (default: $KV_ENDPOINTS, else the running local cluster's)
  --duration-s N                how long the workloads run, 1..${DURATION_S_MAX}      (required)
  --workloads W[,W...]          of ${WORKLOAD_NAMES.join(', ')}                    (default all)
  --rate R                      cycles a second, per workload                  (default ${D.ratePerS})
  --keys K                      keys per workload                              (default ${D.keys})
  --concurrency C               cycles in flight at most, per workload         (default ${D.concurrency})
  --timeout-ms MS               time budget of one attempt                     (default ${TIMEOUT_MS_DEFAULT})
  --attempts A                  attempts of one operation, retries included    (default ${D.retry.attemptsMax})
  --availability-min A          verdict: share of operations that succeed, 0..1 (default ${D.availabilityMin})
  --converge-within-s S         verdict: time the replicas have to agree       (default ${D.convergeWithinS})
  --siblings-max M              verdict: values a key may hold at the end      (default ${D.siblingsMax})
  --experiment NAME             take --availability-min and --converge-within-s from that
                                experiment's hypothesis (chaos/experiments.ts); flags given win
  --metrics-port P              serve GET /metrics, GET /healthz, POST /faults/start|end?label=L
  --metrics-host H              address to serve them on (0.0.0.0 in a pod)    (default 127.0.0.1)
  --healthz-availability-min A  /healthz answers 503 below this share of successful operations
                                over the last ${D.healthWindowS} s                              (default ${D.healthyAvailabilityMin})
  --result-file F               write the JSON result (figures, verdict, per-second timeline) there;
                                - prints it on stdout after the summary, as one line starting with {`;

interface Parsed {
  readonly endpoints: string[];
  readonly durationS: number;
  readonly timeoutMs: number;
  readonly options: CheckerOptions;
  readonly metrics: { readonly host: string; readonly port: number } | undefined;
  readonly resultFile: string | undefined;
}

/** Parses and validates every flag; a CliError (exit 2) names the flag, the value and the fix. */
export function parseChaosCheckArgs(argv: readonly string[]): Parsed | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    const r = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        endpoints: { type: 'string' },
        endpoint: { type: 'string' },
        'duration-s': { type: 'string' },
        workloads: { type: 'string', default: WORKLOAD_NAMES.join(',') },
        rate: { type: 'string', default: String(D.ratePerS) },
        keys: { type: 'string', default: String(D.keys) },
        concurrency: { type: 'string', default: String(D.concurrency) },
        'timeout-ms': { type: 'string', default: String(TIMEOUT_MS_DEFAULT) },
        attempts: { type: 'string', default: String(D.retry.attemptsMax) },
        'availability-min': { type: 'string' },
        'converge-within-s': { type: 'string' },
        'siblings-max': { type: 'string', default: String(D.siblingsMax) },
        experiment: { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string', default: '127.0.0.1' },
        'healthz-availability-min': { type: 'string', default: String(D.healthyAvailabilityMin) },
        'result-file': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    values = r.values;
  } catch (e) {
    throw new CliError(`kv chaos check: ${(e as Error).message.replace(/\. To specify.*$/s, '')}; see kv chaos check --help`);
  }
  if (values.help) {
    process.stdout.write(`${CHAOS_CHECK_USAGE}\n`);
    return undefined;
  }
  if (values.endpoints !== undefined && values.endpoint !== undefined) throw new CliError('kv chaos check: give --endpoints or --endpoint, not both');
  const endpointFlag = (values.endpoints ?? values.endpoint) as string | undefined;
  const endpoints = endpointFlag === undefined ? resolveEndpoints(undefined).endpoints : parseEndpointList(endpointFlag, '--endpoints');
  if (values['duration-s'] === undefined) throw new CliError('kv chaos check: --duration-s is required: how many seconds the workloads run, e.g. --duration-s 60');
  const durationS = integerFlag(values, 'duration-s', 1, DURATION_S_MAX);
  const workloads = String(values.workloads).split(',').map((w) => w.trim()).filter(Boolean);
  const unknown = workloads.filter((w) => !(WORKLOAD_NAMES as readonly string[]).includes(w));
  if (workloads.length === 0 || unknown.length > 0) throw new CliError(`--workloads: ${JSON.stringify(values.workloads)} must be a comma-separated list of ${WORKLOAD_NAMES.join(', ')}`);
  let hypothesis: { availabilityMin: number; convergeWithinS: number } = { availabilityMin: D.availabilityMin, convergeWithinS: D.convergeWithinS };
  if (values.experiment !== undefined) {
    try {
      hypothesis = { ...experimentNamed(String(values.experiment)).hypothesis };
    } catch (e) {
      throw new CliError(`--experiment: ${(e as Error).message}`);
    }
  }
  const ratePerS = numberFlag(values, 'rate', 0.1, 10_000);
  const opsMax = Math.ceil(durationS * ratePerS) * OPS_PER_CYCLE_MAX * workloads.length;
  if (opsMax > D.historyOpsMax) throw new CliError(`--duration-s ${durationS} at --rate ${ratePerS} for ${workloads.length} workloads makes up to ${opsMax} operations, more than the ${D.historyOpsMax} the history keeps; lower --rate or --duration-s`);
  const options: CheckerOptions = {
    ...D,
    workloads: [...new Set(workloads)] as WorkloadName[],
    ratePerS,
    keys: integerFlag(values, 'keys', 1, 10_000),
    concurrency: integerFlag(values, 'concurrency', 1, 1024),
    retry: { ...D.retry, attemptsMax: integerFlag(values, 'attempts', 1, 20) },
    availabilityMin: values['availability-min'] === undefined ? hypothesis.availabilityMin : numberFlag(values, 'availability-min', 0, 1),
    convergeWithinS: values['converge-within-s'] === undefined ? hypothesis.convergeWithinS : integerFlag(values, 'converge-within-s', 1, 3600),
    siblingsMax: integerFlag(values, 'siblings-max', 1, 1000),
    healthyAvailabilityMin: numberFlag(values, 'healthz-availability-min', 0, 1),
    historyOpsMax: Math.max(1, opsMax),
    keyPrefix: runKeyPrefix(D.keyPrefix),
  };
  const resultFile = values['result-file'] as string | undefined;
  // Found out now, not after the run.
  if (resultFile !== undefined && resultFile !== '-') {
    try {
      fs.accessSync(path.dirname(path.resolve(resultFile)), fs.constants.W_OK);
    } catch (e) {
      throw new CliError(`--result-file: cannot write ${JSON.stringify(resultFile)}: ${(e as Error).message}`);
    }
  }
  return {
    endpoints,
    durationS,
    timeoutMs: integerFlag(values, 'timeout-ms', 1, 600_000),
    options,
    metrics: values['metrics-port'] === undefined ? undefined : { host: String(values['metrics-host']), port: integerFlag(values, 'metrics-port', 1, 65535) },
    resultFile,
  };
}

export async function chaosCheckCommand(argv: readonly string[]): Promise<void> {
  const parsed = parseChaosCheckArgs(argv);
  if (!parsed) return;
  // A TLS store: the certificate (or token) from the CLI's KV_CLIENT_TLS_* / KV_CLIENT_TOKEN_FILE variables.
  const client = new KvClient({ endpoints: parsed.endpoints, timeoutMs: parsed.timeoutMs, security: clientSecurity({}) });
  const metrics = new CheckerMetrics();
  const checker = new Checker(kvClientStore(client), parsed.options, metrics);
  let server: Server | undefined;
  const stopEarly = new AbortController();
  const onSignal = () => {
    if (stopEarly.signal.aborted) process.exit(130);
    process.stderr.write('kv chaos check: stopping the workloads early for the verdict (again to exit now)\n');
    stopEarly.abort();
  };
  try {
    if (parsed.metrics) {
      try {
        server = await serveChecker(checker, metrics, parsed.metrics.host, parsed.metrics.port);
      } catch (e) {
        throw new CliError(`kv chaos check: ${(e as Error).message}`, 1);
      }
    }
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const o = parsed.options;
    process.stderr.write(`kv chaos check: ${o.workloads.join(', ')} against ${parsed.endpoints.join(',')} for ${parsed.durationS} s, keys under ${o.keyPrefix}\n`);
    const progress = setInterval(() => process.stderr.write(`kv chaos check: ${checker.history.size} operations; ${checker.health().reason}\n`), PROGRESS_INTERVAL_MS);
    try {
      await checker.run(parsed.durationS, stopEarly.signal);
    } finally {
      clearInterval(progress);
    }
    process.stderr.write(`kv chaos check: workloads stopped; waiting up to ${o.convergeWithinS} s for the replicas to converge\n`);
    const result = await checker.verdict();
    process.stdout.write(summarize(result));
    // On Kubernetes the Job's log is what outlives its pod: the result goes there, one line.
    if (parsed.resultFile === '-') process.stdout.write(`${JSON.stringify(result)}\n`);
    else if (parsed.resultFile !== undefined) {
      try {
        fs.writeFileSync(parsed.resultFile, `${JSON.stringify(result, null, 2)}\n`);
      } catch (e) {
        throw new CliError(`kv chaos check: cannot write the result to ${parsed.resultFile}: ${(e as Error).message}`, 1);
      }
    }
    process.exitCode = result.holds ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    server?.close();
    server?.closeAllConnections();
    client.close();
  }
}

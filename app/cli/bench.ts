/**
 * `kv bench`: a load generator that prints figures (never a pass/fail test), against a running
 * store cluster or a running etcd (`--target etcd`). The load loop is ./bench-load.ts;
 * `kv bench compare` (./bench-compare.ts) runs both side by side on clusters of its own.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { BenchMetrics } from '../../observability/bench-metrics';
import { KvClient } from '../client/client';
import { EtcdKvClient } from '../rpc/etcd-kv';
import { preload, runLoad } from './bench-load';
import { BenchTarget, EtcdTarget, findEtcdPids, findNodePids, StoreTarget } from './bench-target';
import { CliError } from './cli-error';
import { parseEndpointList, resolveEndpoints } from './endpoints';
import { CLIENT_SECURITY_HELP, CLIENT_SECURITY_OPTIONS, clientSecurity } from './security';
import { integerFlag, numberFlag } from './measure';
import { WORKLOAD_NAMES, writes } from './workload';

/** Where `--target etcd` looks without --endpoint: etcd's own default client URL. */
export const ETCD_ENDPOINT_DEFAULT = '127.0.0.1:2379';
/** Time budget of one operation (no retries: a failure is counted). */
export const BENCH_TIMEOUT_MS = 10_000;

export const BENCH_USAGE = `kv bench: load a running cluster and print throughput, latency and CPU figures
kv bench compare [options]: the store and etcd side by side, each on a cluster of its own
                            (see kv bench compare --help)

Options:
  --target T              kv (this store) | etcd (its gRPC KV API: linearizable Range,
                          plain Put; load spread round robin over the members) (default kv)
  --endpoint E1,E2,...    nodes to spread load over (default for kv: $KV_ENDPOINTS, else the
                          running local cluster's, else 127.0.0.1:7001..7005; for etcd:
                          ${ETCD_ENDPOINT_DEFAULT})
  --workload W            a (YCSB A: 50% read, 50% update) | b (95/5) | c (read only) |
                          f (50% read, 50% read-modify-write: a get, then a put with the
                          get's context) | put | get | mixed (= a)           (default mixed)
  --api A                 kv: batch (the Batch stream) | unary; etcd: unary   (default batch; etcd unary)
  --routing R             kv: primary (client sends each op to a primary of its key) |
                          any (round robin over endpoints; nodes forward)      (default primary)
  --concurrency C         operations in flight; a closed loop needs many to fill the
                          batches that throughput depends on                  (default 1024)
  --rate OPS              open loop at this many ops/s; 0 = as fast as possible (default 0)
  --duration-s S          measured seconds                                    (default 10)
  --warmup-s S            unmeasured seconds before                           (default 2)
  --keys K                distinct keys                                       (default 10000)
  --distribution D        uniform | zipfian (theta 0.99)                      (default uniform)
  --value-bytes B         value size                                          (default 1024)
  --no-preload            skip writing every key first (a run that writes then reads every
                          key's context first, so the store's puts never add siblings)
  --json                  print the figures as one JSON object
  --metrics-port P        serve the run's operations and latency on :P/metrics while it runs
                          (kv_bench_operations_total, kv_bench_latency_seconds), for Prometheus
                          to sum over the pods of a load test on Kubernetes   (default: none)
  --linger-s S            with --metrics-port, keep serving S seconds after the run, so the
                          last scrape sees the end                            (default 0)
${CLIENT_SECURITY_HELP}

Node CPU counts the target's server processes (kv node, or etcd started with
--listen-client-urls on an --endpoint port), found in /proc.`;

/** One of the allowed values of a string flag, or a CliError naming the flag, the value and the choices. */
export function oneOf<T extends string>(values: Record<string, unknown>, name: string, allowed: readonly T[]): T {
  const v = String(values[name]);
  if (!allowed.includes(v as T)) throw new CliError(`--${name}: ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  return v as T;
}

/** Flags shared by kv bench and kv bench compare: what the load is. */
export function loadShape(values: Record<string, unknown>): { keys: number; distribution: 'uniform' | 'zipfian'; valueBytes: number; concurrency: number; durationS: number; warmupS: number } {
  return {
    keys: integerFlag(values, 'keys', 1, 100_000_000),
    distribution: oneOf(values, 'distribution', ['uniform', 'zipfian'] as const),
    valueBytes: integerFlag(values, 'value-bytes', 0, 16 * 1024 * 1024),
    concurrency: integerFlag(values, 'concurrency', 1, 100_000),
    durationS: numberFlag(values, 'duration-s', 1, 3600),
    warmupS: numberFlag(values, 'warmup-s', 0, 600),
  };
}

export async function benchCommand(argv: readonly string[]): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: 'string', default: 'kv' },
        endpoint: { type: 'string' },
        workload: { type: 'string', default: 'mixed' },
        api: { type: 'string' },
        routing: { type: 'string' },
        concurrency: { type: 'string', default: '1024' },
        rate: { type: 'string', default: '0' },
        'duration-s': { type: 'string', default: '10' },
        'warmup-s': { type: 'string', default: '2' },
        keys: { type: 'string', default: '10000' },
        distribution: { type: 'string', default: 'uniform' },
        'value-bytes': { type: 'string', default: '1024' },
        'no-preload': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        'metrics-port': { type: 'string' },
        'linger-s': { type: 'string', default: '0' },
        ...CLIENT_SECURITY_OPTIONS,
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (e) {
    throw new CliError(`kv bench: ${(e as Error).message}; see kv bench --help`);
  }
  if (values.help) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return;
  }
  const target = oneOf(values, 'target', ['kv', 'etcd'] as const);
  const workload = oneOf(values, 'workload', WORKLOAD_NAMES);
  if (target === 'etcd') {
    if (values.api !== undefined && values.api !== 'unary') throw new CliError(`--api: ${JSON.stringify(values.api)}: etcd's KV API has unary calls only (--api unary, or leave it out)`);
    if (values.routing !== undefined) throw new CliError('--routing: etcd has no routing choice (the bench spreads calls round robin over --endpoint); leave it out');
  }
  const api = target === 'etcd' ? 'unary' : oneOf({ api: values.api ?? 'batch' }, 'api', ['batch', 'unary'] as const);
  const routing = oneOf({ routing: values.routing ?? 'primary' }, 'routing', ['primary', 'any'] as const);
  const shape = loadShape(values);
  const rate = numberFlag(values, 'rate', 0, 10_000_000);
  const value = Buffer.alloc(shape.valueBytes, 'v');
  const metricsPort = values['metrics-port'] === undefined ? undefined : integerFlag(values, 'metrics-port', 1, 65535);
  const lingerS = integerFlag(values, 'linger-s', 0, 3600);
  if (lingerS > 0 && metricsPort === undefined) throw new CliError('--linger-s: only with --metrics-port (it keeps the metrics served after the run)');
  const metrics = metricsPort === undefined ? undefined : new BenchMetrics({ workload, pod: os.hostname() });

  let bench: BenchTarget;
  if (target === 'etcd') {
    const endpoints = parseEndpointList(String(values.endpoint ?? ETCD_ENDPOINT_DEFAULT).replace(/https?:\/\//g, ''), '--endpoint');
    bench = new EtcdTarget(new EtcdKvClient(endpoints, BENCH_TIMEOUT_MS), findEtcdPids(endpoints.map((e) => Number(e.split(':').pop()))));
  } else {
    const { endpoints, security: local } = resolveEndpoints(values.endpoint as string | undefined);
    const options = { batch: api === 'batch', timeoutMs: BENCH_TIMEOUT_MS, attemptsMax: 1, batchInFlightMax: 100_000, security: clientSecurity(values, process.env, local) };
    const clients = routing === 'primary' ? [new KvClient({ endpoints, routing, ...options })] : endpoints.map((e) => new KvClient({ endpoints: [e], routing, ...options }));
    let members: string[];
    try {
      members = (await clients[0]!.status()).members.map((m) => m.address);
    } catch (e) {
      for (const c of clients) c.close();
      throw e;
    }
    const ports = [...new Set([...endpoints, ...members])].map((e) => Number(e.split(':').pop()));
    bench = new StoreTarget(`kv ${api}`, clients, findNodePids(ports), new Map());
  }
  let metricsServer: Awaited<ReturnType<BenchMetrics['serve']>> | undefined;
  try {
    if (metrics && metricsPort !== undefined) metricsServer = await metrics.serve('0.0.0.0', metricsPort).catch((e: Error) => Promise.reject(new CliError(`kv bench: ${e.message}`, 1)));
    if (values['no-preload']) {
      // Learn every key's context before measuring, so that no put lands blind on a key an
      // earlier run wrote (that would add a sibling each run and measure ever larger objects).
      if (target === 'kv' && writes(workload)) {
        process.stderr.write(`reading the contexts of ${shape.keys} keys ...\n`);
        await preload(bench, shape.keys, value, shape.concurrency, true);
      }
    } else if (workload !== 'put') {
      process.stderr.write(`preloading ${shape.keys} keys ...\n`);
      await preload(bench, shape.keys, value, shape.concurrency);
    }
    const figures = { ...(await runLoad(bench, { workload, ...shape, value, rate, onMeasured: metrics ? (kind, seconds, outcome) => metrics.done(kind, seconds, outcome) : undefined })), api, routing: target === 'etcd' ? 'round robin' : routing };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(figures)}\n`);
      return;
    }
    const l = figures.latencyMs;
    process.stdout.write(
      [
        `${target === 'etcd' ? 'etcd' : 'kv'}: workload ${workload}, api ${api}, routing ${figures.routing}, ${shape.distribution} over ${shape.keys} keys, ${shape.valueBytes} B values, concurrency ${shape.concurrency}${rate ? `, target ${rate} ops/s` : ''}`,
        `ops/s          ${figures.opsPerSecond}   (${figures.ops} ops in ${figures.durationS} s, ${figures.errors} errors${figures.errors ? ` ${JSON.stringify(figures.errorKinds)}` : ''})`,
        `latency ms     p50 ${l.p50}   p99 ${l.p99}   p99.9 ${l.p999}   max ${l.max}`,
        ...Object.entries(figures.latencyMsByKind).map(([kind, k]) => `  ${kind.padEnd(12)} p50 ${k.p50}   p99 ${k.p99}   p99.9 ${k.p999}   max ${k.max}`),
        `node CPU       ${figures.nodeCpuSeconds} s over ${figures.nodePids.length} server processes = ${figures.nodeCpuSecondsPer1000Ops} CPU-s per 1,000 ops (bench itself: ${figures.benchCpuSecondsPer1000Ops})`,
      ].join('\n') + '\n',
    );
  } finally {
    bench.close();
    if (metricsServer) {
      if (lingerS > 0) await new Promise((r) => setTimeout(r, lingerS * 1000));
      metricsServer.close();
      metricsServer.closeAllConnections();
    }
  }
}

/**
 * `kv bench`: a load generator that prints figures (never a pass/fail test). Closed loop at a
 * given concurrency, or open loop at a fixed rate where latency counts from each operation's
 * intended start (no coordinated omission). Latencies go into an HdrHistogram; the CPU seconds
 * the node processes spent come from /proc.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { KvClient, KvClientError } from '../client/client';
import { CliError } from './cli-error';
import { resolveEndpoints } from './endpoints';
import { clockTicksPerSecond, cpuTicks, integerFlag, latencyFigures, LatencyFigures, newLatencyHistogram, numberFlag, openLoop } from './measure';

export const BENCH_USAGE = `kv bench: load a running cluster and print throughput, latency and CPU figures

Options:
  --endpoint E1,E2,...    nodes to spread load over (default: $KV_ENDPOINTS, else the
                          running local cluster's, else 127.0.0.1:7001..7005)
  --workload W            put | get | mixed (50/50)                          (default mixed)
  --api A                 batch (the Batch stream) | unary                   (default batch)
  --routing R             primary (client sends each op to a primary of its key) |
                          any (round robin over endpoints; nodes forward)      (default primary)
  --concurrency C         operations in flight; a closed loop needs many to fill the
                          batches that throughput depends on                  (default 1024)
  --rate OPS              open loop at this many ops/s; 0 = as fast as possible (default 0)
  --duration-s S          measured seconds                                    (default 10)
  --warmup-s S            unmeasured seconds before                           (default 2)
  --keys K                distinct keys                                       (default 10000)
  --distribution D        uniform | zipfian (theta 0.99)                      (default uniform)
  --value-bytes B         value size                                          (default 1024)
  --no-preload            skip writing every key first (a put or mixed run then reads every
                          key's context first, so its puts never add siblings)
  --json                  print the figures as one JSON object`;

interface BenchFigures {
  workload: string;
  api: string;
  routing: string;
  concurrency: number;
  rateTarget: number;
  durationS: number;
  ops: number;
  errors: number;
  errorKinds: Record<string, number>;
  opsPerSecond: number;
  latencyMs: LatencyFigures;
  /** The same figures for gets and puts apart (a kind the workload does not issue is absent). */
  latencyMsByKind: Partial<Record<'get' | 'put', LatencyFigures>>;
  nodeCpuSeconds: number;
  nodeCpuSecondsPer1000Ops: number;
  benchCpuSecondsPer1000Ops: number;
  nodePids: number[];
}

/** YCSB's Zipfian generator over [0, n). */
class Zipfian {
  private readonly zetan: number;
  private readonly alpha: number;
  private readonly eta: number;
  constructor(
    private readonly n: number,
    private readonly theta = 0.99,
  ) {
    let zetan = 0;
    for (let i = 1; i <= n; i++) zetan += 1 / Math.pow(i, theta);
    const zeta2 = 1 + 1 / Math.pow(2, theta);
    this.zetan = zetan;
    this.alpha = 1 / (1 - theta);
    this.eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / zetan);
  }
  next(): number {
    const u = Math.random();
    const uz = u * this.zetan;
    if (uz < 1) return 0;
    if (uz < 1 + Math.pow(0.5, this.theta)) return 1;
    return Math.min(this.n - 1, Math.floor(this.n * Math.pow(this.eta * u - this.eta + 1, this.alpha)));
  }
}

/** PIDs of `kv node` processes listening on the given ports (from /proc/<pid>/cmdline). */
export function findNodePids(ports: number[]): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = args.indexOf('node');
    const p = args.indexOf('--port');
    if (i > 0 && p > i && ports.includes(Number(args[p + 1]))) pids.push(Number(entry));
  }
  return pids;
}

export async function benchCommand(argv: readonly string[]): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        endpoint: { type: 'string' },
        workload: { type: 'string', default: 'mixed' },
        api: { type: 'string', default: 'batch' },
        routing: { type: 'string', default: 'primary' },
        concurrency: { type: 'string', default: '1024' },
        rate: { type: 'string', default: '0' },
        'duration-s': { type: 'string', default: '10' },
        'warmup-s': { type: 'string', default: '2' },
        keys: { type: 'string', default: '10000' },
        distribution: { type: 'string', default: 'uniform' },
        'value-bytes': { type: 'string', default: '1024' },
        'no-preload': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
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
  const num = (name: string, min: number, max: number) => numberFlag(values, name, min, max);
  const oneOf = (name: string, allowed: string[]) => {
    const v = String(values[name]);
    if (!allowed.includes(v)) throw new CliError(`--${name}: ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
    return v;
  };
  const workload = oneOf('workload', ['put', 'get', 'mixed']);
  const api = oneOf('api', ['batch', 'unary']);
  const distribution = oneOf('distribution', ['uniform', 'zipfian']);
  const routing = oneOf('routing', ['primary', 'any']) as 'primary' | 'any';
  const concurrency = integerFlag(values, 'concurrency', 1, 100000);
  const rate = num('rate', 0, 10_000_000);
  const durationS = num('duration-s', 1, 3600);
  const warmupS = num('warmup-s', 0, 600);
  const keys = integerFlag(values, 'keys', 1, 100_000_000);
  const valueBytes = integerFlag(values, 'value-bytes', 0, 16 * 1024 * 1024);
  const { endpoints } = resolveEndpoints(values.endpoint as string | undefined);

  const clients =
    routing === 'primary'
      ? [new KvClient({ endpoints, routing, batch: api === 'batch', timeoutMs: 10_000, attemptsMax: 1, batchInFlightMax: 100_000 })]
      : endpoints.map((e) => new KvClient({ endpoints: [e], routing, batch: api === 'batch', timeoutMs: 10_000, attemptsMax: 1, batchInFlightMax: 100_000 }));
  const value = Buffer.alloc(valueBytes, 'v');
  const keyOf = (i: number) => `bench-${createHash('md5').update(String(i)).digest('hex').slice(0, 12)}`;
  const zipf = distribution === 'zipfian' ? new Zipfian(keys) : undefined;
  const pickKey = () => keyOf(zipf ? zipf.next() : Math.floor(Math.random() * keys));
  let rr = 0;
  const client = () => clients[rr++ % clients.length]!;

  const contexts = new Map<string, string>();
  try {
    if (workload !== 'put' && !values['no-preload']) {
      process.stderr.write(`preloading ${keys} keys ...\n`);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(concurrency, 512) }, async () => {
          while (next < keys) {
            const key = keyOf(next++);
            const { context } = await client().get(key);
            contexts.set(key, (await client().put(key, value, { context })).context);
          }
        }),
      );
    }
    const members = (await clients[0]!.status()).members.map((m) => m.address);
    if (workload !== 'get' && values['no-preload']) {
      // Learn every key's context before measuring, so that no put lands blind on a key an
      // earlier run wrote (that would add a sibling each run and measure ever larger objects).
      process.stderr.write(`reading the contexts of ${keys} keys ...\n`);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(concurrency, 512) }, async () => {
          while (next < keys) {
            const key = keyOf(next++);
            contexts.set(key, (await client().get(key)).context);
          }
        }),
      );
    }
    const ports = [...new Set([...endpoints, ...members])].map((e) => Number(e.split(':').pop()));
    const pids = findNodePids(ports);
    const histogram = newLatencyHistogram();
    const byKind = { get: newLatencyHistogram(), put: newLatencyHistogram() };
    const errorKinds: Record<string, number> = {};
    let measuring = false;
    let ops = 0;
    let errors = 0;
    const runOne = async (intendedAtNs: bigint) => {
      const isPut = workload === 'put' || (workload === 'mixed' && Math.random() < 0.5);
      const key = pickKey();
      try {
        // Writes carry the latest context this run saw for the key, as a real client would:
        // blind writes would pile up siblings (by design) and measure ever larger objects.
        if (isPut) contexts.set(key, (await client().put(key, value, { context: contexts.get(key) })).context);
        else contexts.set(key, (await client().get(key)).context);
        if (measuring) {
          ops++;
          const us = Math.max(1, Number((process.hrtime.bigint() - intendedAtNs) / 1000n));
          histogram.recordValue(us);
          byKind[isPut ? 'put' : 'get'].recordValue(us);
        }
      } catch (e) {
        if (measuring) {
          errors++;
          const kind = e instanceof KvClientError ? e.codeName : 'CLIENT';
          errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
        }
      }
    };
    const ticks = clockTicksPerSecond();
    let cpuStart = 0;
    let benchCpuStart = 0;
    let measureStart = 0n;
    const stopAt = Date.now() + (warmupS + durationS) * 1000;
    setTimeout(() => {
      measuring = true;
      histogram.reset();
      byKind.get.reset();
      byKind.put.reset();
      cpuStart = cpuTicks(pids);
      const u = process.cpuUsage();
      benchCpuStart = u.user + u.system;
      measureStart = process.hrtime.bigint();
    }, warmupS * 1000);

    if (rate === 0) {
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (Date.now() < stopAt) await runOne(process.hrtime.bigint());
        }),
      );
    } else {
      await openLoop(rate, concurrency, stopAt, runOne);
    }
    const elapsedS = Number(process.hrtime.bigint() - measureStart) / 1e9;
    const nodeCpuSeconds = (cpuTicks(pids) - cpuStart) / ticks;
    const u = process.cpuUsage();
    const benchCpuSeconds = (u.user + u.system - benchCpuStart) / 1e6;
    const latencyMsByKind: BenchFigures['latencyMsByKind'] = {};
    if (byKind.get.totalCount > 0) latencyMsByKind.get = latencyFigures(byKind.get);
    if (byKind.put.totalCount > 0) latencyMsByKind.put = latencyFigures(byKind.put);
    const figures: BenchFigures = {
      workload,
      api,
      routing,
      concurrency,
      rateTarget: rate,
      durationS: Math.round(elapsedS * 100) / 100,
      ops,
      errors,
      errorKinds,
      opsPerSecond: Math.round(ops / elapsedS),
      latencyMs: latencyFigures(histogram),
      latencyMsByKind,
      nodeCpuSeconds: Math.round(nodeCpuSeconds * 100) / 100,
      nodeCpuSecondsPer1000Ops: ops ? Math.round((nodeCpuSeconds / ops) * 1000 * 1000) / 1000 : 0,
      benchCpuSecondsPer1000Ops: ops ? Math.round((benchCpuSeconds / ops) * 1000 * 1000) / 1000 : 0,
      nodePids: pids,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(figures)}\n`);
    } else {
      process.stdout.write(
        [
          `workload ${workload}, api ${api}, routing ${routing}, ${distribution} over ${keys} keys, ${valueBytes} B values, concurrency ${concurrency}${rate ? `, target ${rate} ops/s` : ''}`,
          `ops/s          ${figures.opsPerSecond}   (${ops} ops in ${figures.durationS} s, ${errors} errors${errors ? ` ${JSON.stringify(errorKinds)}` : ''})`,
          `latency ms     p50 ${figures.latencyMs.p50}   p99 ${figures.latencyMs.p99}   p99.9 ${figures.latencyMs.p999}   max ${figures.latencyMs.max}`,
          ...Object.entries(latencyMsByKind).map(([kind, l]) => `  ${kind.padEnd(12)} p50 ${l.p50}   p99 ${l.p99}   p99.9 ${l.p999}   max ${l.max}`),
          `node CPU       ${figures.nodeCpuSeconds} s over ${pids.length} node processes = ${figures.nodeCpuSecondsPer1000Ops} CPU-s per 1,000 ops (bench itself: ${figures.benchCpuSecondsPer1000Ops})`,
        ].join('\n') + '\n',
      );
    }
  } finally {
    for (const c of clients) c.close();
  }
}

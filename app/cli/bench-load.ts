/**
 * The load loop of `kv bench` and `kv bench compare`, written once for every target: a closed
 * loop at a given concurrency, or an open loop at a fixed rate where latency counts from each
 * operation's intended start (no coordinated omission). Latencies go into HdrHistograms; the CPU
 * the target's server processes and the bench itself spent comes from /proc and process.cpuUsage.
 */
import { BenchTarget, errorKind } from './bench-target';
import { latencyFigures, LatencyFigures, MeasuredWindow, newLatencyHistogram, openLoop, per1000Ops, WindowFigures } from './measure';
import { benchKey, keyChooser, OpKind, opOf, WorkloadName } from './workload';

export interface LoadSpec {
  readonly workload: WorkloadName;
  readonly keys: number;
  readonly distribution: 'uniform' | 'zipfian';
  readonly value: Uint8Array;
  /** Operations in flight at most (a closed loop keeps exactly this many). */
  readonly concurrency: number;
  /** Operations a second of an open loop; 0 runs a closed loop. */
  readonly rate: number;
  readonly durationS: number;
  /** Unmeasured seconds before. */
  readonly warmupS: number;
  /** Told each measured operation: its kind, latency (when it succeeded) and outcome ('ok' or the error kind). */
  readonly onMeasured?: (kind: string, seconds: number | undefined, outcome: string) => void;
}

export interface LoadFigures {
  target: string;
  workload: WorkloadName;
  concurrency: number;
  rateTarget: number;
  durationS: number;
  ops: number;
  errors: number;
  errorKinds: Record<string, number>;
  opsPerSecond: number;
  /** Every operation; a read-modify-write counts once, its read and write together. */
  latencyMs: LatencyFigures;
  /** The same figures per kind of operation (a kind the workload does not issue is absent). */
  latencyMsByKind: Partial<Record<OpKind, LatencyFigures>>;
  /** CPU seconds of the target's server processes (store nodes, etcd members) while measuring. */
  nodeCpuSeconds: number;
  /** Their CPU seconds per 1,000 operations: numerically, CPU milliseconds per operation. */
  nodeCpuSecondsPer1000Ops: number;
  /** The bench's own (the load generator shares the machine). */
  benchCpuSecondsPer1000Ops: number;
  nodePids: number[];
}

/** Key names are computed once up to this many keys (hashing one per operation costs the bench CPU). */
const KEY_NAMES_CACHED_MAX = 1_000_000;
/** Operations in flight while preloading. */
const PRELOAD_CONCURRENCY_MAX = 512;

function keyNames(keys: number): (i: number) => string {
  if (keys > KEY_NAMES_CACHED_MAX) return benchKey;
  const names = Array.from({ length: keys }, (_, i) => benchKey(i));
  return (i) => names[i]!;
}

/**
 * Touches every key once before measuring: writes it (read, then write with that read's
 * context), or with `readOnly` only reads it, so a store target learns every key's context.
 */
export async function preload(target: BenchTarget, keys: number, value: Uint8Array, concurrency: number, readOnly = false): Promise<void> {
  const name = keyNames(keys);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, PRELOAD_CONCURRENCY_MAX, keys) }, async () => {
      while (next < keys) {
        const key = name(next++);
        const { context } = await target.get(key);
        if (!readOnly) await target.put(key, value, context);
      }
    }),
  );
}

export async function runLoad(target: BenchTarget, spec: LoadSpec): Promise<LoadFigures> {
  const pids = target.serverPids();
  const name = keyNames(spec.keys);
  const pick = keyChooser(spec.keys, spec.distribution);
  const histogram = newLatencyHistogram();
  const byKind = { get: newLatencyHistogram(), put: newLatencyHistogram(), rmw: newLatencyHistogram() };
  const errorKinds: Record<string, number> = {};
  let measuring = false;
  let ops = 0;
  let errors = 0;
  const runOne = async (intendedAtNs: bigint) => {
    const kind = opOf(spec.workload, Math.random());
    const key = name(pick());
    try {
      if (kind === 'get') {
        await target.get(key);
      } else if (kind === 'put') {
        await target.put(key, spec.value);
      } else {
        const { context } = await target.get(key);
        await target.put(key, spec.value, context);
      }
      if (measuring) {
        ops++;
        const us = Math.max(1, Number((process.hrtime.bigint() - intendedAtNs) / 1000n));
        histogram.recordValue(us);
        byKind[kind].recordValue(us);
        spec.onMeasured?.(kind, us / 1e6, 'ok');
      }
    } catch (e) {
      if (measuring) {
        errors++;
        const k = errorKind(e);
        errorKinds[k] = (errorKinds[k] ?? 0) + 1;
        spec.onMeasured?.(kind, undefined, k);
      }
    }
  };
  const stopAt = Date.now() + (spec.warmupS + spec.durationS) * 1000;
  const window = new MeasuredWindow(pids, spec.warmupS, () => {
    measuring = true;
    histogram.reset();
    for (const h of Object.values(byKind)) h.reset();
  });
  let figures: WindowFigures;
  try {
    if (spec.rate === 0) {
      await Promise.all(
        Array.from({ length: spec.concurrency }, async () => {
          while (Date.now() < stopAt) await runOne(process.hrtime.bigint());
        }),
      );
    } else {
      await openLoop(spec.rate, spec.concurrency, stopAt, runOne);
    }
  } finally {
    figures = window.finish();
  }
  const { elapsedS, serverCpuSeconds: nodeCpuSeconds, selfCpuSeconds: benchCpuSeconds } = figures;
  const per1000 = (seconds: number) => per1000Ops(seconds, ops);
  const latencyMsByKind: LoadFigures['latencyMsByKind'] = {};
  for (const [kind, h] of Object.entries(byKind) as Array<[OpKind, typeof histogram]>) if (h.totalCount > 0) latencyMsByKind[kind] = latencyFigures(h);
  return {
    target: target.name,
    workload: spec.workload,
    concurrency: spec.concurrency,
    rateTarget: spec.rate,
    durationS: Math.round(elapsedS * 100) / 100,
    ops,
    errors,
    errorKinds,
    opsPerSecond: Math.round(ops / elapsedS),
    latencyMs: latencyFigures(histogram),
    latencyMsByKind,
    nodeCpuSeconds: Math.round(nodeCpuSeconds * 100) / 100,
    nodeCpuSecondsPer1000Ops: per1000(nodeCpuSeconds),
    benchCpuSecondsPer1000Ops: per1000(benchCpuSeconds),
    nodePids: pids,
  };
}

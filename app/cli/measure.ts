/**
 * What the benchmark programs (`kv bench`, `kv floor`) measure with: an open loop that issues
 * operations on schedule, latency histograms, the CPU that processes used (from /proc), and
 * their numeric flags.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as hdr from 'hdr-histogram-js';
import { CliError } from './cli-error';

const HIGHEST_TRACKABLE_US = 60_000_000;
/** How often the open loop issues the operations that have come due. */
const OPEN_LOOP_TICK_MS = 1;

export interface LatencyFigures {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** A histogram of latencies in microseconds, 1 µs to 60 s, 3 significant digits. */
export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_TRACKABLE_US, numberOfSignificantValueDigits: 3 });
}

/** Percentiles of a microsecond histogram, in milliseconds. */
export function latencyFigures(h: hdr.Histogram): LatencyFigures {
  const ms = (us: number) => Math.round(us) / 1000;
  return { p50: ms(h.getValueAtPercentile(50)), p99: ms(h.getValueAtPercentile(99)), p999: ms(h.getValueAtPercentile(99.9)), max: ms(h.maxValue), mean: ms(h.mean) };
}

export function clockTicksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
}

/** CPU ticks (user + system) the processes have used; clockTicksPerSecond() ticks make a second. */
export function cpuTicks(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // the process exited: its ticks are lost to the figure, which the output says via the pids
    }
  }
  return total;
}

/** What a measured window took: its length, the server processes' CPU and this process's own. */
export interface WindowFigures {
  readonly elapsedS: number;
  readonly serverCpuSeconds: number;
  readonly selfCpuSeconds: number;
}

/** Seconds per 1,000 of `ops` operations, rounded to the millisecond (0 without operations). */
export function per1000Ops(seconds: number, ops: number): number {
  return ops ? Math.round((seconds / ops) * 1e6) / 1000 : 0;
}

/**
 * The measured part of a benchmark run: it starts after the warm-up (at once for none), when it
 * calls `reset` (the caller clears what it counted so far), and reads the CPU that the server
 * processes `pids` and this process used until `finish`.
 */
export class MeasuredWindow {
  private serverCpuStart = 0;
  private selfCpuStart = 0;
  private startNs = 0n;
  private readonly warmup: NodeJS.Timeout | undefined;

  constructor(
    private readonly pids: number[],
    warmupS: number,
    reset: () => void,
  ) {
    const start = () => {
      reset();
      this.serverCpuStart = cpuTicks(pids);
      const u = process.cpuUsage();
      this.selfCpuStart = u.user + u.system;
      this.startNs = process.hrtime.bigint();
    };
    if (warmupS === 0) start();
    else this.warmup = setTimeout(start, warmupS * 1000);
  }

  /** Ends the window (a warm-up not yet over is cancelled). */
  finish(): WindowFigures {
    clearTimeout(this.warmup);
    const u = process.cpuUsage();
    return {
      elapsedS: Number(process.hrtime.bigint() - this.startNs) / 1e9,
      serverCpuSeconds: (cpuTicks(this.pids) - this.serverCpuStart) / clockTicksPerSecond(),
      selfCpuSeconds: (u.user + u.system - this.selfCpuStart) / 1e6,
    };
  }
}

/** A numeric flag within min..max, or a CliError that names the flag, the value and the range. */
export function numberFlag(values: Record<string, unknown>, name: string, min: number, max: number): number {
  const text = values[name];
  const n = typeof text === 'string' && text.trim() !== '' ? Number(text) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`--${name}: ${JSON.stringify(text)} must be a number within ${min}..${max}`);
  return n;
}

/** An integer flag within min..max, or a CliError that names the flag, the value and the range. */
export function integerFlag(values: Record<string, unknown>, name: string, min: number, max: number): number {
  const text = values[name];
  const n = typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new CliError(`--${name}: ${JSON.stringify(text)} must be an integer within ${min}..${max}`);
  return n;
}

/**
 * Open loop: issues operations on schedule, one every 1/rate s, until stopAt (ms since the
 * epoch), then waits for those in flight. Operations come due in the background even when the
 * event loop stalls, and are issued late rather than skipped. At most `concurrency` are in
 * flight; the rest wait, and their wait counts in their latency (runOne gets the intended start).
 * Resolves with the number of operations issued; an abort stops issuing and stops waiting.
 */
export function openLoop(
  rate: number,
  concurrency: number,
  stopAt: number,
  runOne: (intendedAtNs: bigint) => Promise<void>,
  signal?: AbortSignal,
): Promise<number> {
  const intervalNs = BigInt(Math.round(1e9 / rate));
  const start = process.hrtime.bigint();
  const stopAtNs = start + BigInt(Math.max(0, stopAt - Date.now())) * 1_000_000n;
  let issued = 0n;
  let started = 0;
  let inFlight = 0;
  const backlog: bigint[] = [];
  return new Promise<number>((resolve) => {
    let waiter: NodeJS.Timeout | undefined;
    const finish = () => {
      clearInterval(tick);
      clearInterval(waiter);
      resolve(started);
    };
    signal?.addEventListener('abort', finish, { once: true });
    const pump = () => {
      while (backlog.length > 0 && inFlight < concurrency) {
        const at = backlog.shift()!;
        inFlight++;
        started++;
        const done = () => {
          inFlight--;
          pump();
        };
        runOne(at).then(done, done);
      }
    };
    const tick = setInterval(() => {
      const now = process.hrtime.bigint();
      const until = now < stopAtNs ? now : stopAtNs;
      while (start + issued * intervalNs <= until && start + issued * intervalNs < stopAtNs) {
        backlog.push(start + issued * intervalNs);
        issued++;
      }
      pump();
      if (now < stopAtNs) return;
      clearInterval(tick);
      waiter = setInterval(() => {
        pump();
        if (inFlight === 0 && backlog.length === 0) finish();
      }, 10);
    }, OPEN_LOOP_TICK_MS);
  });
}

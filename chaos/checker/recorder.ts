/**
 * Runs one logical operation as a client does, with retries, and records it: the history, the
 * events (metrics), and the operations in flight (for the health check).
 *
 * Retries, as a careful client does them: exponential backoff with equal jitter (half the wait
 * fixed, half random, so clients that failed together do not retry together), a bounded number
 * of attempts, and never a resend of a write that may have applied (that would apply it twice:
 * the operation ends as indeterminate). A non-retryable failure (a bad request) ends it at once.
 */
import { History, Op, OpKind, WorkloadName } from './history';
import { outcomeOf, StoreOutcome } from './store';

export interface RetryPolicy {
  /** Attempts of one logical operation, the first included. */
  readonly attemptsMax: number;
  /** The wait before the first retry, before jitter. */
  readonly backoffInitialMs: number;
  /** The longest wait between two attempts. */
  readonly backoffMaxMs: number;
}

export const RETRY_POLICY_DEFAULT: RetryPolicy = { attemptsMax: 5, backoffInitialMs: 50, backoffMaxMs: 2000 };

/** The wait before retry `retry` (1: the first): min(max, initial * 2^(retry-1)), half of it jittered. */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const full = Math.min(policy.backoffMaxMs, policy.backoffInitialMs * 2 ** (retry - 1));
  return full / 2 + random() * (full / 2);
}

/** What the checker reports as it goes: Prometheus metrics, in the CLI. */
export interface CheckerEvents {
  /** A logical operation ended. */
  operation(op: Op): void;
  /** The verdict found this many lost writes and resurrected deletes (reported once, at the end). */
  violations(found: { readonly lostWrites: number; readonly resurrectedDeletes: number }): void;
}

export const NO_EVENTS: CheckerEvents = { operation() {}, violations() {} };

/** Milliseconds since the epoch, sub-millisecond and monotonic (wall time as it was at start). */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Retried<T> {
  readonly outcome: StoreOutcome<T>;
  readonly attempts: number;
}

/**
 * Calls `attempt` (1, 2, ...) until it succeeds, fails for good, may have applied a write, or the
 * attempts run out, waiting backoffMs between attempts.
 */
export async function withRetries<T>(attempt: (n: number) => Promise<StoreOutcome<T>>, policy: RetryPolicy, random: () => number = Math.random): Promise<Retried<T>> {
  for (let n = 1; ; n++) {
    const r = await attempt(n);
    if (r.ok || !r.error.retryable || r.error.mayHaveApplied || n >= policy.attemptsMax) return { outcome: r, attempts: n };
    await sleep(backoffMs(policy, n, random));
  }
}

export class Recorder {
  private readonly inFlight = new Map<number, number>();
  private nextId = 0;

  constructor(
    readonly history: History,
    private readonly events: CheckerEvents,
    private readonly policy: RetryPolicy = RETRY_POLICY_DEFAULT,
    readonly now: () => number = preciseNow,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Runs `attempt` with retries (withRetries), records the operation and returns its last
   * outcome. `startMs`: when the operation was due (an open loop's schedule), so that time spent
   * waiting for a free slot counts.
   */
  async run<T>(workload: WorkloadName, kind: OpKind, attempt: (n: number) => Promise<StoreOutcome<T>>, startMs = this.now()): Promise<StoreOutcome<T>> {
    const id = this.nextId++;
    this.inFlight.set(id, startMs);
    let done: Retried<T>;
    try {
      done = await withRetries(attempt, this.policy, this.random);
    } finally {
      this.inFlight.delete(id);
    }
    const { outcome: r, attempts } = done;
    const op: Op = { startMs, endMs: this.now(), workload, kind, outcome: outcomeOf(r), code: r.ok ? '' : r.error.code, attempts };
    this.history.record(op);
    this.events.operation(op);
    return r;
  }

  /** Operations in flight that started before `beforeMs` (stuck, for the health check). */
  inFlightSince(beforeMs: number): number {
    let n = 0;
    for (const started of this.inFlight.values()) if (started < beforeMs) n++;
    return n;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }
}

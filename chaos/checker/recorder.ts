/**
 * Runs one logical operation as a client does, with retries, and records it: the history, the
 * events (metrics), and the operations in flight (for the health check).
 *
 * Retries, as a careful client does them: exponential backoff with equal jitter (half the wait
 * fixed, half random, so clients that failed together do not retry together), a bounded number
 * of attempts, and never a resend of a write that may have applied (that could apply it twice).
 * A non-retryable failure (a bad request) ends it at once.
 *
 * A write that may have applied is settled as a retrying application settles it (settleWrite):
 * after a backoff it reads the key back (with retries). Found: the operation succeeded, without
 * writing again. Not found: it writes again, as the workload says (a fresh read for the context;
 * set-add adds the same element, register and load write a new unique value, never the one that
 * may have applied). At most INDETERMINATE_RESOLVE_ROUNDS_MAX read-backs an operation; a write
 * still in doubt after them, or whose read-back failed, ends the operation as indeterminate.
 * What the operation was told stays apart from what it read: only an acknowledged write is
 * recorded as acknowledged (the workloads do that, per attempt); a read-back that finds a write
 * proves it reached some replica, not that it is durable.
 */
import { History, Op, OpKind, Resolution, WorkloadName } from './history';
import { Outcome, outcomeOf, StoreOutcome } from './store';

export interface RetryPolicy {
  /** Attempts of one logical operation, the first included. */
  readonly attemptsMax: number;
  /** The wait before the first retry, before jitter. */
  readonly backoffInitialMs: number;
  /** The longest wait between two attempts. */
  readonly backoffMaxMs: number;
}

export const RETRY_POLICY_DEFAULT: RetryPolicy = { attemptsMax: 5, backoffInitialMs: 50, backoffMaxMs: 2000 };

/** Read-backs of one logical write at most; each one that does not find the write is followed by a write again. */
export const INDETERMINATE_RESOLVE_ROUNDS_MAX = 3;

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

/** A logical write that reading the key back can settle (settleWrite). */
export interface SettledWrite<T> {
  /**
   * One attempt of the write, called again for each retry and after each read-back that did not
   * find the write: it reads afresh for its context and records its own acknowledgement.
   */
  readonly write: () => Promise<StoreOutcome<T>>;
  /** Reads the key: whether one of this operation's writes that may have applied is there. */
  readonly readBack: () => Promise<StoreOutcome<boolean>>;
}

export interface Settled<T> {
  readonly outcome: Outcome;
  /** The reply of the write the operation ended with, when that write was acknowledged. */
  readonly acked: T | undefined;
  readonly resolution: Resolution;
  /** The last error's code ('' when the operation succeeded). */
  readonly code: string;
  /** Every attempt: writes, read-backs and redone writes. */
  readonly attempts: number;
  /** Write attempts that may have applied. */
  readonly indeterminateWrites: number;
}

/**
 * Runs a logical write: withRetries, and after a write that may have applied, up to
 * INDETERMINATE_RESOLVE_ROUNDS_MAX rounds of a backoff, a read-back (withRetries) and, when the
 * read-back did not find the write, the write again.
 */
export async function settleWrite<T>(w: SettledWrite<T>, policy: RetryPolicy, random: () => number = Math.random): Promise<Settled<T>> {
  let attempts = 0;
  let indeterminateWrites = 0;
  let resolution: Resolution = 'none';
  const end = (outcome: Outcome, code: string, acked?: T, how = resolution): Settled<T> => ({ outcome, acked, resolution: how, code, attempts, indeterminateWrites });
  for (let round = 1; ; round++) {
    const written = await withRetries(w.write, policy, random);
    attempts += written.attempts;
    const r = written.outcome;
    if (r.ok) return end('ok', '', r.value);
    if (!r.error.mayHaveApplied) return end('failed', r.error.code);
    indeterminateWrites++;
    if (round > INDETERMINATE_RESOLVE_ROUNDS_MAX) return end('indeterminate', r.error.code, undefined, 'unresolved');
    // The coordinator may still be writing: a read at once could miss what is about to land.
    await sleep(backoffMs(policy, round, random));
    const back = await withRetries(w.readBack, policy, random);
    attempts += back.attempts;
    if (!back.outcome.ok) return end('indeterminate', back.outcome.error.code, undefined, 'unresolved');
    if (back.outcome.value) return end('ok', '', undefined, 'applied');
    resolution = 'redone';
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
    const { outcome: r, attempts } = await this.inFlightWhile(startMs, () => withRetries(attempt, this.policy, this.random));
    const outcome = outcomeOf(r);
    // Without a read-back, a write that may have applied stays in doubt.
    const doubt = outcome === 'indeterminate';
    this.record({ startMs, endMs: this.now(), workload, kind, outcome, code: r.ok ? '' : r.error.code, attempts, indeterminateWrites: doubt ? 1 : 0, resolution: doubt ? 'unresolved' : 'none' });
    return r;
  }

  /** Runs a logical write with settleWrite and records it; `startMs` as in run(). */
  async runWrite<T>(workload: WorkloadName, kind: OpKind, w: SettledWrite<T>, startMs = this.now()): Promise<Settled<T>> {
    const done = await this.inFlightWhile(startMs, () => settleWrite(w, this.policy, this.random));
    const { outcome, code, attempts, indeterminateWrites, resolution } = done;
    this.record({ startMs, endMs: this.now(), workload, kind, outcome, code, attempts, indeterminateWrites, resolution });
    return done;
  }

  private async inFlightWhile<T>(startMs: number, run: () => Promise<T>): Promise<T> {
    const id = this.nextId++;
    this.inFlight.set(id, startMs);
    try {
      return await run();
    } finally {
      this.inFlight.delete(id);
    }
  }

  private record(op: Op): void {
    this.history.record(op);
    this.events.operation(op);
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

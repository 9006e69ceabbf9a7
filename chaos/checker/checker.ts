/**
 * The checker: runs the workloads against a store while faults come and go, then judges what it
 * saw. Used by `kv chaos check` (command.ts), by the local fault runner (chaos/local/) and as a
 * Kubernetes Job; the runner tells it when each fault started and ended.
 *
 *   const checker = new Checker(store, { ...CHECKER_DEFAULTS, workloads: ['set-add', 'register'] });
 *   checker.start();
 *   checker.faultStarted('kill kv-2'); ...; checker.faultEnded('kill kv-2');
 *   await checker.stop();
 *   const result = await checker.verdict(); // after the fault healed
 *
 * The steady state (health): no loss found so far, and at least healthyAvailabilityMin of the
 * operations of the last healthWindowS seconds succeeded. Loss can only be found by the verdict:
 * while faults last, a read that misses an acknowledged write may just be stale.
 */
import { openLoop } from '../../app/cli/measure';
import { FaultWindow, tally, timeline, windowFigures } from './availability';
import { awaitConvergence } from './converge';
import { History, WORKLOAD_NAMES, WorkloadName } from './history';
import { LoadWorkload } from './load';
import { mapBounded } from '../../app/parallel';
import { CheckerEvents, INDETERMINATE_RESOLVE_ROUNDS_MAX, NO_EVENTS, Recorder, RETRY_POLICY_DEFAULT, RetryPolicy, withRetries } from './recorder';
import { RegisterWorkload } from './register';
import { CheckResult, EXAMPLES_MAX, pct } from './result';
import { SetAddWorkload } from './set-add';
import { CheckedStore, StoreOutcome } from './store';
import { FinalRead, judge } from './verdict';
import { Workload, WorkloadContext, WorkloadOptions } from './workload';

export interface CheckerOptions {
  readonly workloads: readonly WorkloadName[];
  /** Keys of each workload. */
  readonly keys: number;
  /** Cycles in flight at most, per workload. */
  readonly concurrency: number;
  /** Cycles a second, per workload. */
  readonly ratePerS: number;
  /** Per workload, keys, concurrency or rate of its own. @default - keys, concurrency and ratePerS above */
  readonly perWorkload?: Partial<Record<WorkloadName, Partial<WorkloadOptions>>>;
  readonly retry: RetryPolicy;
  /** The verdict fails below this share of successful operations over the run (0..1). */
  readonly availabilityMin: number;
  /** How long, after the workloads stopped, the replicas may take to converge. */
  readonly convergeWithinS: number;
  /** The verdict fails when a key's final state holds more values. */
  readonly siblingsMax: number;
  /** The health check fails below this share of successful operations over healthWindowS (0..1). */
  readonly healthyAvailabilityMin: number;
  readonly healthWindowS: number;
  /** Operations the history keeps at most (23 bytes each). */
  readonly historyOpsMax: number;
  /** Every key the checker writes starts with it: a run never sees another run's keys. */
  readonly keyPrefix: string;
}

export const CHECKER_DEFAULTS: CheckerOptions = {
  workloads: WORKLOAD_NAMES,
  keys: 16,
  concurrency: 4,
  ratePerS: 50,
  retry: RETRY_POLICY_DEFAULT,
  availabilityMin: 0.99,
  convergeWithinS: 60,
  siblingsMax: 8,
  healthyAvailabilityMin: 0.95,
  healthWindowS: 10,
  historyOpsMax: 2_000_000,
  keyPrefix: 'chaos-check/',
};

/** Final reads in flight at most. */
const FINAL_READS_IN_FLIGHT_MAX = 16;
/** How far ahead `start()` without a duration schedules (it runs until stop()). */
const UNTIL_STOPPED_MS = 365 * 24 * 3600 * 1000;

export interface Health {
  readonly healthy: boolean;
  /** One line: what holds, or what broke. */
  readonly reason: string;
  /** Over the health window, or null when no operation counted. */
  readonly availability: number | null;
}

/** A prefix no earlier run used: the time and a random part. */
export function runKeyPrefix(base: string, nowMs = Date.now()): string {
  return `${base}${new Date(nowMs).toISOString().replace(/[-:.]/g, '')}-${Math.random().toString(36).slice(2, 8)}/`;
}

export class Checker {
  readonly history: History;
  readonly recorder: Recorder;
  private readonly setAdd?: SetAddWorkload;
  private readonly register?: RegisterWorkload;
  private readonly workloads: Array<{ readonly workload: Workload; readonly options: WorkloadOptions }> = [];
  private readonly windows: FaultWindow[] = [];
  private readonly openWindows = new Map<string, number>();
  private readonly cycles = new Set<Promise<void>>();
  private abort: AbortController | undefined;
  private loops: Promise<unknown>[] = [];
  private startedAtMs: number | undefined;
  private stoppedAtMs: number | undefined;
  private found = { lostWrites: 0, resurrectedDeletes: 0 };

  constructor(
    private readonly store: CheckedStore,
    readonly options: CheckerOptions,
    private readonly events: CheckerEvents = NO_EVENTS,
  ) {
    if (options.workloads.length === 0) throw new Error('Checker: no workload given');
    this.history = new History(options.historyOpsMax);
    this.recorder = new Recorder(this.history, events, options.retry);
    for (const name of WORKLOAD_NAMES.filter((n) => options.workloads.includes(n))) {
      const own = { keys: options.keys, concurrency: options.concurrency, ratePerS: options.ratePerS, ...options.perWorkload?.[name] };
      if (!(Number.isSafeInteger(own.keys) && own.keys >= 1 && Number.isSafeInteger(own.concurrency) && own.concurrency >= 1 && own.ratePerS > 0)) {
        throw new Error(`Checker: ${name}: keys ${own.keys} and concurrency ${own.concurrency} must be integers of at least 1, ratePerS ${own.ratePerS} above 0`);
      }
      const context: WorkloadContext = { store, recorder: this.recorder, options: own, prefix: options.keyPrefix };
      let workload: Workload;
      if (name === 'set-add') workload = this.setAdd = new SetAddWorkload(context);
      else if (name === 'register') workload = this.register = new RegisterWorkload(context);
      else workload = new LoadWorkload(context);
      this.workloads.push({ workload, options: own });
    }
  }

  private now(): number {
    return this.recorder.now();
  }

  get running(): boolean {
    return this.startedAtMs !== undefined && this.stoppedAtMs === undefined;
  }

  /** Starts every workload on its schedule; they run until stop() (or until `durationS` passed). */
  start(durationS?: number): void {
    if (this.startedAtMs !== undefined) throw new Error('Checker.start: already started; a checker runs once');
    this.startedAtMs = this.now();
    this.abort = new AbortController();
    // openLoop schedules on the monotonic clock in ns; the history keeps ms since the epoch.
    const offsetMs = this.now() - Number(process.hrtime.bigint()) / 1e6;
    const stopAt = Date.now() + (durationS === undefined ? UNTIL_STOPPED_MS : durationS * 1000);
    this.loops = this.workloads.map(({ workload, options }) =>
      openLoop(
        options.ratePerS,
        options.concurrency,
        stopAt,
        (dueNs) => {
          // Cycles still queued when the checker stops are not started.
          if (!this.running) return Promise.resolve();
          const cycle = workload.cycle(Number(dueNs) / 1e6 + offsetMs);
          this.cycles.add(cycle);
          return cycle.finally(() => this.cycles.delete(cycle));
        },
        this.abort!.signal,
      ),
    );
  }

  /** Stops issuing cycles and waits for those in flight (each is bounded by its retries). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.stoppedAtMs = this.now();
    this.abort!.abort();
    await Promise.all(this.loops);
    while (this.cycles.size > 0) await Promise.all([...this.cycles]);
    this.stoppedAtMs = this.now();
  }

  /** Runs for `durationS` (or until `signal` aborts), then stops. */
  async run(durationS: number, signal?: AbortSignal): Promise<void> {
    this.start(durationS);
    await Promise.race([
      Promise.all(this.loops),
      new Promise<void>((resolve) => {
        if (signal?.aborted) resolve();
        signal?.addEventListener('abort', () => resolve(), { once: true });
      }),
    ]);
    await this.stop();
  }

  /** A fault began (the runner calls it as it breaks something). */
  faultStarted(label: string, atMs = this.now()): void {
    if (this.openWindows.has(label)) throw new Error(`faultStarted: a fault labelled ${JSON.stringify(label)} is already on`);
    this.openWindows.set(label, atMs);
  }

  /** The fault labelled so healed. */
  faultEnded(label: string, atMs = this.now()): void {
    const startMs = this.openWindows.get(label);
    if (startMs === undefined) throw new Error(`faultEnded: no fault labelled ${JSON.stringify(label)} is on (on: ${[...this.openWindows.keys()].join(', ') || 'none'})`);
    this.openWindows.delete(label);
    this.windows.push({ label, startMs, endMs: atMs });
  }

  /** A fault window known after the fact. */
  addFaultWindow(window: FaultWindow): void {
    if (!(window.endMs >= window.startMs)) throw new Error(`addFaultWindow: ${window.label} ends (${window.endMs}) before it starts (${window.startMs})`);
    this.windows.push(window);
  }

  health(nowMs = this.now()): Health {
    const lost = this.found.lostWrites + this.found.resurrectedDeletes;
    if (lost > 0) return { healthy: false, reason: `the verdict found ${this.found.lostWrites} lost writes and ${this.found.resurrectedDeletes} resurrected deletes`, availability: null };
    if (!this.running) return { healthy: true, reason: this.startedAtMs === undefined ? 'not started' : 'stopped; no loss found', availability: null };
    const windowMs = this.options.healthWindowS * 1000;
    const sinceMs = Math.max(this.startedAtMs!, nowMs - windowMs);
    const ended = this.history.endedSince(sinceMs);
    // An operation in flight for longer than the window counts as failing: a client waiting that long has no answer.
    const stuck = this.recorder.inFlightSince(nowMs - windowMs);
    const total = ended.ok + ended.failed + ended.indeterminate + stuck;
    const seconds = Math.round((nowMs - sinceMs) / 100) / 10;
    if (total === 0) {
      if (nowMs - this.startedAtMs! < windowMs) return { healthy: true, reason: `warming up: no operation finished in the first ${seconds} s`, availability: null };
      return { healthy: false, reason: `no operation finished in the last ${seconds} s`, availability: null };
    }
    const availability = ended.ok / total;
    const figures = `${pct(availability)} of ${total} operations succeeded over the last ${seconds} s (${ended.failed} failed, ${ended.indeterminate} indeterminate, ${stuck} stuck)`;
    if (availability < this.options.healthyAvailabilityMin) return { healthy: false, reason: `${figures}, below ${pct(this.options.healthyAvailabilityMin)}`, availability };
    return { healthy: true, reason: `${figures}; no loss found`, availability };
  }

  /**
   * Stops the workloads if they still run, waits for the replicas to converge, reads every
   * checked key at R=N and judges. Call it after the faults healed.
   */
  async verdict(): Promise<CheckResult> {
    if (this.startedAtMs === undefined) throw new Error('Checker.verdict: the checker never started');
    await this.stop();
    const endMs = this.stoppedAtMs!;
    for (const label of [...this.openWindows.keys()]) this.faultEnded(label, endMs);
    const keys = this.workloads.flatMap((w) => w.workload.keysToCheck());
    const convergence = await awaitConvergence(this.store, keys, this.options.convergeWithinS, () => this.now());
    let belowN = 0;
    const reads = await mapBounded(keys, FINAL_READS_IN_FLIGHT_MAX, async (key): Promise<FinalRead> => {
      const read = (r?: number) => withRetries(() => this.store.get(key, { r }), this.options.retry);
      const n = convergence.primaries.get(key);
      let got: StoreOutcome<{ values: readonly string[] }> = (await read(n)).outcome;
      // A replica still down: the store's own quorum is the best read left.
      if (!got.ok && n !== undefined) {
        got = (await read()).outcome;
        if (got.ok) belowN++;
      }
      return got.ok ? { ok: true, values: got.value.values } : { ok: false, error: `${got.error.code}: ${got.error.message}` };
    });
    const finals = new Map(keys.map((k, i) => [k, reads[i]!]));
    const judgement = judge({ acked: this.setAdd?.acked ?? new Map(), register: this.register?.ledger ?? { writes: [], deletes: [] }, finals, siblingsMax: this.options.siblingsMax });
    this.found = { lostWrites: judgement.lostElements.length + judgement.lostWrites.length, resurrectedDeletes: judgement.resurrected.length };
    this.events.violations(this.found);

    const ops = this.history.ops();
    const overall = tally(ops);
    const byWorkload = Object.fromEntries(this.workloads.map(({ workload }) => [workload.name, tally(ops.filter((op) => op.workload === workload.name))]));
    const errors: Record<string, number> = {};
    for (const op of ops) if (op.outcome !== 'ok') errors[op.code] = (errors[op.code] ?? 0) + 1;
    const o = this.options;
    const reasons: string[] = [];
    const lost = this.found.lostWrites;
    if (lost > 0) reasons.push(`${lost} acknowledged writes lost (${judgement.lostElements.length} set elements, ${judgement.lostWrites.length} register values)`);
    if (judgement.resurrected.length > 0) reasons.push(`${judgement.resurrected.length} deleted values came back`);
    if (judgement.siblingsOver.length > 0) reasons.push(`${judgement.siblingsOver.length} keys hold more than ${o.siblingsMax} siblings (up to ${judgement.siblingsMaxSeen})`);
    if (judgement.unreadable.length > 0) reasons.push(`${judgement.unreadable.length} keys could not be read at the end`);
    if (!convergence.converged) reasons.push(`${convergence.keysDiverged} keys had not converged after ${o.convergeWithinS} s`);
    if (overall.availability === null) reasons.push('no operation ran');
    else if (overall.availability < o.availabilityMin) reasons.push(`availability ${pct(overall.availability)} is below ${pct(o.availabilityMin)}`);
    const startMs = this.startedAtMs;
    return {
      holds: reasons.length === 0,
      reasons,
      run: {
        startedAt: new Date(startMs).toISOString(),
        endedAt: new Date(endMs).toISOString(),
        startMs,
        durationS: (endMs - startMs) / 1000,
        keyPrefix: o.keyPrefix,
        workloads: Object.fromEntries(this.workloads.map(({ workload, options }) => [workload.name, options])),
        retry: o.retry,
        readBackRoundsMax: INDETERMINATE_RESOLVE_ROUNDS_MAX,
      },
      hypothesis: { availabilityMin: o.availabilityMin, convergeWithinS: o.convergeWithinS, siblingsMax: o.siblingsMax },
      correctness: {
        keysChecked: judgement.keysChecked,
        lostWrites: lost,
        lostElements: judgement.lostElements.length,
        lostRegisterWrites: judgement.lostWrites.length,
        resurrectedDeletes: judgement.resurrected.length,
        siblingsMaxSeen: judgement.siblingsMaxSeen,
        keysOverSiblingsMax: judgement.siblingsOver.length,
        keysUnreadable: judgement.unreadable.length,
        finalReadsBelowN: belowN,
        examples: {
          lost: [...judgement.lostElements, ...judgement.lostWrites].slice(0, EXAMPLES_MAX),
          resurrected: judgement.resurrected.slice(0, EXAMPLES_MAX),
          siblingsOver: judgement.siblingsOver.slice(0, EXAMPLES_MAX),
          unreadable: judgement.unreadable.slice(0, EXAMPLES_MAX),
        },
      },
      convergence: { converged: convergence.converged, afterS: convergence.afterS, withinS: convergence.withinS, keysDiverged: convergence.keysDiverged, diverged: convergence.diverged },
      availability: {
        overall,
        byWorkload,
        errors,
        windows: windowFigures(ops, this.windows, endMs).map((w) => ({ ...w, startS: (w.startMs - startMs) / 1000, endS: (w.endMs - startMs) / 1000 })),
      },
      timeline: timeline(ops, startMs, endMs),
      history: { ops: this.history.size, dropped: this.history.dropped, opsMax: this.history.opsMax },
    };
  }
}

/**
 * The chaos checker's Prometheus metrics (chaos/checker/), on a registry of their own: what it
 * did and what it found, for the dashboards and the Chaos Mesh status checks. Names follow the
 * node's conventions (units last, _total counters, labels from fixed lists only).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Op, settledWrites } from '../chaos/checker/history';
import type { CheckerEvents } from '../chaos/checker/recorder';

/** What the steady-state gauges read, at scrape time. */
export interface SteadyState {
  readonly healthy: boolean;
  /** Over the health window; null when no operation counted. */
  readonly availability: number | null;
}

export class CheckerMetrics implements CheckerEvents {
  readonly registry = new Registry();
  private readonly operations: Counter<'workload' | 'kind' | 'outcome'>;
  private readonly retries: Counter<'workload'>;
  private readonly indeterminateWrites: Counter<'workload' | 'resolution'>;
  private readonly seconds: Histogram<'workload' | 'outcome'>;
  private readonly lostWrites: Counter;
  private readonly resurrectedDeletes: Counter;
  /** Where the steady-state gauges read: set by whoever owns the checker. */
  steadyStateSource: () => SteadyState = () => ({ healthy: true, availability: null });

  constructor() {
    const registers = [this.registry];
    this.operations = new Counter({ name: 'kv_checker_operations_total', help: 'Logical operations the chaos checker did (retries inside), by workload (set-add, register, load), kind (get, put, delete, update) and outcome (ok, failed, indeterminate: a write that may have applied).', labelNames: ['workload', 'kind', 'outcome'], registers });
    this.retries = new Counter({ name: 'kv_checker_retries_total', help: 'Attempts beyond the first that the chaos checker\'s logical operations made, by workload.', labelNames: ['workload'], registers });
    this.indeterminateWrites = new Counter({
      name: 'kv_checker_indeterminate_writes_total',
      help: 'Write attempts of the chaos checker that may have applied, by workload and how a read-back of the key settled each: applied (found), redone (not found, written again), unresolved (no read-back settled it).',
      labelNames: ['workload', 'resolution'],
      registers,
    });
    this.seconds = new Histogram({
      name: 'kv_checker_operation_duration_seconds',
      help: 'Time of a chaos checker logical operation from when it was due to its last answer, retries and backoff included, by workload and outcome.',
      labelNames: ['workload', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.lostWrites = new Counter({ name: 'kv_checker_lost_writes_total', help: 'Acknowledged writes the chaos checker\'s verdict found missing (set-add elements and register values).', registers });
    this.resurrectedDeletes = new Counter({ name: 'kv_checker_resurrected_deletes_total', help: 'Values the chaos checker\'s verdict found back after an acknowledged delete removed them.', registers });
    const steady = () => this.steadyStateSource();
    new Gauge({
      name: 'kv_checker_steady_state',
      help: 'Whether the steady state holds, as /healthz answers it: 1 while no loss was found and recent availability is above the threshold, else 0.',
      registers,
      collect() {
        this.set(steady().healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: 'kv_checker_recent_availability_ratio',
      help: 'Share of the chaos checker\'s operations that succeeded over its health window (the last 10 s by default); absent while none counted.',
      registers,
      collect() {
        const a = steady().availability;
        this.reset();
        if (a !== null) this.set(a);
      },
    });
  }

  operation(op: Op): void {
    this.operations.inc({ workload: op.workload, kind: op.kind, outcome: op.outcome });
    if (op.attempts > 1) this.retries.inc({ workload: op.workload }, op.attempts - 1);
    for (const [resolution, n] of Object.entries(settledWrites(op))) if (n > 0) this.indeterminateWrites.inc({ workload: op.workload, resolution }, n);
    this.seconds.observe({ workload: op.workload, outcome: op.outcome }, (op.endMs - op.startMs) / 1000);
  }

  violations(found: { readonly lostWrites: number; readonly resurrectedDeletes: number }): void {
    this.lostWrites.inc(found.lostWrites);
    this.resurrectedDeletes.inc(found.resurrectedDeletes);
  }

  /** The exposition text and its content type, for /metrics. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

/**
 * The coordinator: admission (bounds, drain), request checks and routing. Any node accepts an
 * operation; a node that is not a primary of the key forwards it to one that is (./forwarding.ts),
 * so the coordinator is always a replica. The get and put state machines (./get-fsm.ts,
 * ./put-fsm.ts) run over pure cores (./quorum.ts, ./write-core.ts); read repair
 * (./read-repair.ts) and hints (./hints.ts, ./handoff.ts) are their own modules.
 *
 * While draining (the node is stopping), a client operation is passed on to another primary and
 * a forwarded one is refused with ShuttingDown, which tells the forwarding node to try the next.
 */
import { KvError, Result, err } from '../errors';
import { Logger, silentLogger } from '../../observability/log';
import { partitionOf, PartitionReplicas, Routing } from '../ring/ring';
import { Clock, systemClock } from './clock';
import { forward } from './forwarding';
import { runGet } from './get-fsm';
import { checkOp, checkTimeoutMs, ClientOp, OpResult, RequestLimits } from '../api/ops';
import { ContextSeal } from '../versioning/context-seal';
import { runPut } from './put-fsm';
import { ReadRepairer } from './read-repair';
import { LocalReplica } from './replica';
import { traceFields, TracedReplicas, TraceSpan, Tracer } from './trace';
import { ReplicaTransport } from './transport';
import { WriteTarget } from './write-core';

export interface CoordinatorConfig extends RequestLimits {
  /** Time budget of an operation without a deadline of its own. */
  readonly requestTimeoutMs: number;
  /** How long a get keeps waiting for the remaining replicas after it answered, for read repair. */
  readonly readRepairWaitMs: number;
  /** Operations this node coordinates or forwards at once; beyond it, RESOURCE_EXHAUSTED. */
  readonly inFlightMax: number;
  /** Read repairs in flight at once; beyond it a repair is skipped (anti-entropy catches up). */
  readonly readRepairsInFlightMax: number;
  /**
   * Hints a node holds for one target at most (the cluster's setting); 0 turns sloppy quorum off:
   * writes go to primaries only.
   * @default - sloppy quorum on
   */
  readonly hintsPerTargetMax?: number;
}

/** Counters the coordinator reports; the node wires them to Prometheus. */
export interface CoordinatorEvents {
  readRepair(node: string): void;
  readRepairSkipped(): void;
  forwarded(): void;
  limitWarning(message: string): void;
  /** A write went to a fallback as a hint for a down primary. */
  hinted(target: WriteTarget): void;
}

const NO_EVENTS: CoordinatorEvents = { readRepair() {}, readRepairSkipped() {}, forwarded() {}, limitWarning() {}, hinted() {} };

export interface CoordinatorDeps {
  readonly self: string;
  /** Where each partition's replicas are, as the current cluster state places them. */
  readonly routing: () => Routing;
  readonly local: LocalReplica;
  /** Every replica, this node's included (see ./replicas.ts). */
  readonly replicas: ReplicaTransport;
  readonly config: CoordinatorConfig;
  readonly log?: Logger;
  readonly events?: CoordinatorEvents;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default - no tracing: an operation pays one null check */
  readonly tracer?: Tracer;
  /** Seals the contexts this node hands out and opens those clients pass back (the cluster's context keys). */
  readonly contexts: ContextSeal;
}

export interface ExecuteOptions {
  readonly timeoutMs?: number;
  /** The operation was forwarded by another node: coordinate it here, never forward again. */
  readonly forwarded?: boolean;
  /** The W3C traceparent the operation arrived with: from the client, or from a node that traces it and forwarded it. */
  readonly traceparent?: string;
}

export class Coordinator {
  private inFlight = 0;
  private draining = false;
  private drained: (() => void) | undefined;
  private readonly log: Logger;
  private readonly events: CoordinatorEvents;
  private readonly repairer: ReadRepairer;
  private readonly clock: Clock;

  constructor(private readonly deps: CoordinatorDeps) {
    this.log = deps.log ?? silentLogger;
    this.events = deps.events ?? NO_EVENTS;
    this.clock = deps.clock ?? systemClock;
    this.repairer = new ReadRepairer(deps.replicas, deps.config.readRepairsInFlightMax, deps.config.requestTimeoutMs, this.events, this.log);
  }

  get operationsInFlight(): number {
    return this.inFlight;
  }

  async execute(op: ClientOp, options: ExecuteOptions = {}): Promise<Result<OpResult>> {
    const tracer = this.deps.tracer;
    if (tracer === undefined) return this.run(op, options, this.deps.replicas, undefined);
    return this.traced(tracer, op, options);
  }

  /**
   * One traced operation: a server span `kv.<op>` whose children are its replica requests (see
   * ./trace.ts). A forwarded operation is traced only when the node that forwarded it traces it:
   * the first node's sampler decides for the whole operation. A client that sends its own trace
   * context decides instead: the operation joins the client's trace if the client sampled it.
   */
  private async traced(tracer: Tracer, op: ClientOp, options: ExecuteOptions): Promise<Result<OpResult>> {
    const forwarded = options.forwarded === true;
    const span = forwarded && options.traceparent === undefined ? undefined : tracer.serve(`kv.${op.kind}`, options.traceparent, { 'kv.node': this.deps.self, 'kv.forward.received': forwarded });
    if (span === undefined) return this.run(op, options, this.deps.replicas, undefined);
    const replicas = new TracedReplicas(this.deps.replicas, span);
    const r = await this.run(op, options, replicas, span);
    span.set({ ...replicas.attributes, 'kv.quorum.reached': r.ok });
    span.end(r.ok ? undefined : `${r.error.condition}: ${r.error.message}`);
    return r;
  }

  private async run(op: ClientOp, options: ExecuteOptions, replicas: ReplicaTransport, span: TraceSpan | undefined): Promise<Result<OpResult>> {
    const forwarded = options.forwarded === true;
    if (this.draining && forwarded) return err(new KvError('ShuttingDown', `node ${this.deps.self} is shutting down; the forwarding node tries another primary`));
    const { config } = this.deps;
    if (this.inFlight >= config.inFlightMax) {
      return err(new KvError('Overloaded', `node ${this.deps.self} has ${this.inFlight} operations in flight, the limit (inFlightMax) is ${config.inFlightMax}; retry with backoff`));
    }
    const checked = checkOp(op, config, this.deps.contexts);
    if (!checked.ok) return checked;
    const asked = checkTimeoutMs(options.timeoutMs ?? 0);
    if (!asked.ok) return asked;
    const timeoutMs = asked.value > 0 ? asked.value : config.requestTimeoutMs;
    this.inFlight++;
    try {
      const { partition, placement } = this.placementOf(checked.value.key);
      const primaries = placement.primaries;
      span?.set({ 'kv.partition': partition });
      if (this.draining) {
        const others = primaries.filter((p) => p !== this.deps.self);
        if (others.length === 0) return err(new KvError('ShuttingDown', `node ${this.deps.self} is shutting down and is the only replica of the key; retry when it is back`));
        return await forward(replicas, op, others, timeoutMs, this.events, this.clock);
      }
      const c = checked.value;
      // R and W are checked against N, but a partition has fewer primaries while a membership
      // change refills the replicas of a removed member: that many replies cannot come.
      const quorum = c.kind === 'get' ? c.r : c.w;
      span?.set({ 'kv.quorum': quorum });
      if (quorum > primaries.length) {
        const name = c.kind === 'get' ? 'R' : 'W';
        return err(new KvError('InsufficientReplicas', `${op.kind}: ${name}=${quorum}, but partition ${partition} has ${primaries.length} primar${primaries.length === 1 ? 'y' : 'ies'} (${primaries.join(', ')}) until a membership change refills the replicas of a removed member; retry with a lower ${name} or when the change is done (nothing was written)`));
      }
      const isPrimary = primaries.includes(this.deps.self);
      // A forwarded operation that finds this node no primary: the forwarding node's cluster state
      // differs from ours (gossip is spreading a membership change). A read can be coordinated
      // anywhere; a write needs a primary's own replica for its new dot: refused before it starts,
      // so the forwarding node tries another primary.
      if (c.kind === 'get') {
        if (isPrimary || forwarded) return await runGet({ replicas, contexts: this.deps.contexts, repairer: this.repairer, readRepairWaitMs: config.readRepairWaitMs, clock: this.clock, trace: span }, partition, c, placement, timeoutMs);
        return await forward(replicas, op, primaries, timeoutMs, this.events, this.clock);
      }
      if (!isPrimary) {
        if (forwarded) return err(new KvError('NotPrimary', `node ${this.deps.self} received a forwarded ${op.kind} for partition ${partition} but is not one of its primaries (${primaries.join(', ')}) in its cluster state: a membership change is spreading; the forwarding node tries another primary`));
        return await forward(replicas, op, primaries, timeoutMs, this.events, this.clock);
      }
      return await runPut(
        { self: this.deps.self, local: this.deps.local, replicas, contexts: this.deps.contexts, limitWarning: (m) => this.events.limitWarning(m), hinted: (t) => this.events.hinted(t), clock: this.clock, trace: span },
        partition,
        c,
        config.hintsPerTargetMax === 0 ? { primaries, fallbacks: [] } : placement,
        timeoutMs,
      );
    } catch (e) {
      if (e instanceof KvError) return err(e);
      this.log.error('operation failed', { op: op.kind, error: String(e), detail: (e as { detail?: unknown }).detail, stack: (e as Error).stack, ...traceFields(span?.traceparent) });
      const failure = this.deps.local.failure(op.kind, e);
      const hint = failure.condition === 'CorruptRecord' ? '; a get of the key repairs the record from the other replicas' : '';
      return err(new KvError(failure.condition, `${op.kind} failed on ${this.deps.self}: ${(e as Error).message}${hint}`));
    } finally {
      this.inFlight--;
      if (this.draining && this.inFlight === 0) this.drained?.();
    }
  }

  /** Stops coordinating: from now on operations are passed on; resolves when those in flight have answered. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  private placementOf(key: Uint8Array): { partition: number; placement: PartitionReplicas } {
    const routing = this.deps.routing();
    const partition = partitionOf(key, routing.partitions);
    return { partition, placement: routing.replicas(partition) };
  }
}

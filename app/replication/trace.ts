/**
 * What the replication layer needs from tracing: a narrow interface, implemented with
 * OpenTelemetry in observability/tracing.ts. With tracing off the coordinator holds no Tracer at
 * all, so an operation pays one null check; with it on, an operation the sampler does not pick
 * gets no span (serve answers undefined) and pays the sampler's decision only.
 *
 * Trace context travels between nodes as a W3C traceparent string inside the peer request
 * message, never as an OpenTelemetry type, so app/rpc knows nothing about tracing either.
 */
import { KvError, Result } from '../errors';
import { ClientOp, OpResult } from '../api/ops';
import { ReplicaTransport } from './transport';

export type SpanAttributes = Readonly<Record<string, string | number | boolean>>;

export interface TraceSpan {
  /** This span's W3C traceparent, to carry to the node a request goes to. */
  readonly traceparent: string;
  set(attributes: SpanAttributes): void;
  /** A client span for a request this operation makes (to a replica, this node's own included). */
  child(name: string, attributes: SpanAttributes): TraceSpan;
  /** Ends the span; with `error`, marked as failed with that message. */
  end(error?: string): void;
}

export interface Tracer {
  /**
   * A server span: for a client operation (no parent: the sampler decides, and undefined means
   * not sampled) or for work another node asked for (continuing its traceparent).
   */
  serve(name: string, parent: string | undefined, attributes: SpanAttributes): TraceSpan | undefined;
}

/** Span and attribute names, one place (the README's Observability section lists them). */
export const SPAN = {
  fetch: 'kv.replica.fetch',
  replicate: 'kv.replica.replicate',
  forward: 'kv.forward',
  localWrite: 'kv.replica.write',
  readRepair: 'kv.read_repair',
} as const;

/** A W3C traceparent (version 00): version, trace id, parent span id, flags. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/** Whether a traceparent is well formed (W3C: an all-zero trace or span id is invalid). */
export function isTraceparent(text: string): boolean {
  const m = TRACEPARENT.exec(text);
  return m !== null && m[1] !== ZERO_TRACE_ID && m[2] !== ZERO_SPAN_ID;
}

/**
 * The ECS `trace.id` and `span.id` of a log line written within a traced operation (nothing
 * when it is not traced), so that Kibana links the line to its trace in Jaeger.
 */
export function traceFields(traceparent: string | undefined): Record<string, string> {
  if (traceparent === undefined || !isTraceparent(traceparent)) return {};
  return { 'trace.id': traceparent.slice(3, 35), 'span.id': traceparent.slice(36, 52) };
}

function failure(r: Result<unknown, KvError>): string | undefined {
  return r.ok ? undefined : `${r.error.condition}: ${r.error.message}`;
}

/**
 * The replicas as one traced operation sees them: each request is a child span of the operation
 * (peer, partition, whether it was asked as a fallback), carries that span's traceparent to the
 * peer, and is counted for the operation's attributes. One is made per sampled operation.
 */
export class TracedReplicas implements ReplicaTransport {
  asked = 0;
  answered = 0;
  fallbacks = 0;
  hinted = 0;
  forwards = 0;

  constructor(
    private readonly inner: ReplicaTransport,
    private readonly span: TraceSpan,
  ) {}

  async fetch(node: string, partition: number, key: Uint8Array, timeoutMs: number, hintFor?: string): Promise<Result<Uint8Array | undefined>> {
    const child = this.request(SPAN.fetch, node, partition, hintFor);
    const r = await this.inner.fetch(node, partition, key, timeoutMs, hintFor, child.traceparent);
    return this.answer(child, r);
  }

  async replicate(node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number, hintFor?: string): Promise<Result<void>> {
    const child = this.request(SPAN.replicate, node, partition, hintFor);
    if (hintFor !== undefined) this.hinted++;
    const r = await this.inner.replicate(node, partition, key, object, timeoutMs, hintFor, child.traceparent);
    return this.answer(child, r);
  }

  async forward(node: string, op: ClientOp, timeoutMs: number): Promise<Result<OpResult, KvError>> {
    this.forwards++;
    const child = this.span.child(SPAN.forward, { 'kv.peer': node });
    const r = await this.inner.forward(node, op, timeoutMs, child.traceparent);
    child.end(failure(r));
    return r;
  }

  isUp(node: string): boolean {
    return this.inner.isUp(node);
  }

  /** What the operation's span says about its replicas, as far as they had answered. */
  get attributes(): SpanAttributes {
    return { 'kv.replicas.asked': this.asked, 'kv.replicas.answered': this.answered, 'kv.fallbacks': this.fallbacks, 'kv.hinted': this.hinted, 'kv.forwarded': this.forwards > 0 };
  }

  private request(name: string, node: string, partition: number, hintFor: string | undefined): TraceSpan {
    this.asked++;
    if (hintFor !== undefined) this.fallbacks++;
    return this.span.child(name, hintFor === undefined ? { 'kv.peer': node, 'kv.partition': partition } : { 'kv.peer': node, 'kv.partition': partition, 'kv.hint_for': hintFor });
  }

  private answer<T>(child: TraceSpan, r: Result<T, KvError>): Result<T, KvError> {
    if (r.ok) this.answered++;
    child.end(failure(r));
    return r;
  }
}

/**
 * The node's traces (OpenTelemetry): the one file that imports the OpenTelemetry SDK. It
 * implements the replication layer's narrow Tracer (app/replication/trace.ts) with a tracer
 * provider, a ParentBased(TraceIdRatio) sampler and a batching OTLP/HTTP exporter.
 *
 * Where spans go is the OpenTelemetry SDK's standard configuration, read by the exporter itself:
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces), else
 * http://localhost:4318/v1/traces; OTEL_EXPORTER_OTLP_HEADERS and the other OTEL_EXPORTER_OTLP_*
 * variables likewise. The exporter sends OTLP/JSON over HTTP. OTEL_SERVICE_NAME (default kv) and
 * OTEL_RESOURCE_ATTRIBUTES name the service and add resource attributes.
 *
 * This uses the trace SDK (sdk-trace-base) rather than @opentelemetry/sdk-node: sdk-node would
 * register global providers and auto-instrumentation hooks, which the file comment below rules out.
 *
 * No global OpenTelemetry state is registered (no global provider, context manager or
 * propagator): spans are parented explicitly, and trace context crosses nodes as a W3C
 * traceparent in the peer request message, so nothing else in the process is instrumented by
 * accident and nothing pays for async context tracking.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type SpanContext, type Tracer as OtelTracer } from '@opentelemetry/api';
import { parseTraceParent } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { SpanAttributes, TraceSpan, Tracer } from '../app/replication/trace';

/** Spans waiting for export at most; beyond it new spans are dropped (the exporter is behind). */
export const SPAN_QUEUE_MAX = 8192;
/** Spans in one export request at most. */
export const EXPORT_BATCH_SPANS_MAX = 512;
/** Pause between exports of the queued spans. */
export const EXPORT_INTERVAL_MS = 1000;
/** How long one export may take before it is abandoned (its spans are lost). */
export const EXPORT_TIMEOUT_MS = 10_000;

export interface TracingOptions {
  /** This node's id: the spans' service.instance.id. */
  readonly nodeId: string;
  /** Share of client operations traced, 0 < ratio <= 1 (0 means no tracing: do not call this). */
  readonly sampleRatio: number;
  /**
   * Where to send spans (the full OTLP/HTTP traces URL).
   * @default - the OTEL_EXPORTER_OTLP_* variables, as the OpenTelemetry SDK reads them
   */
  readonly url?: string;
  /** @default EXPORT_INTERVAL_MS */
  readonly exportIntervalMs?: number;
}

/** A running tracer: the replication layer's Tracer, and a way to flush and stop it. */
export interface NodeTracing {
  readonly tracer: Tracer;
  /** Exports every span ended so far. */
  flush(): Promise<void>;
  /** Flushes, then stops exporting. */
  shutdown(): Promise<void>;
}

function traceparentOf(c: SpanContext): string {
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

class OtelSpan implements TraceSpan {
  private parentText: string | undefined;

  constructor(
    private readonly tracer: OtelTracer,
    private readonly span: Span,
  ) {}

  get traceparent(): string {
    return (this.parentText ??= traceparentOf(this.span.spanContext()));
  }

  set(attributes: SpanAttributes): void {
    this.span.setAttributes(attributes);
  }

  child(name: string, attributes: SpanAttributes): TraceSpan {
    const parent = trace.setSpan(ROOT_CONTEXT, this.span);
    return new OtelSpan(this.tracer, this.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent));
  }

  end(error?: string): void {
    if (error !== undefined) this.span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    this.span.end();
  }
}

/** Starts tracing: spans are sampled, batched and exported from now until shutdown. */
export function startTracing(options: TracingOptions): NodeTracing {
  const ratio = options.sampleRatio;
  if (!(ratio > 0 && ratio <= 1)) throw new Error(`tracing: sample ratio ${ratio} must be within (0, 1]; with 0, tracing is off and startTracing is not called`);
  const exporter = new OTLPTraceExporter(options.url === undefined ? {} : { url: options.url });
  const provider = new BasicTracerProvider({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, take precedence (the SDK's standard variables).
    resource: resourceFromAttributes({ 'service.name': 'kv', 'service.instance.id': options.nodeId }).merge(detectResources({ detectors: [envDetector] })),
    // A span whose parent (a traceparent from another node) was sampled is sampled too: the
    // node where the client operation arrived decides for the whole trace.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }),
    spanProcessors: [
      new BatchSpanProcessor(exporter, {
        maxQueueSize: SPAN_QUEUE_MAX,
        maxExportBatchSize: EXPORT_BATCH_SPANS_MAX,
        scheduledDelayMillis: options.exportIntervalMs ?? EXPORT_INTERVAL_MS,
        exportTimeoutMillis: EXPORT_TIMEOUT_MS,
      }),
    ],
  });
  const otel = provider.getTracer('kv');
  const tracer: Tracer = {
    serve(name, parent, attributes) {
      let context = ROOT_CONTEXT;
      if (parent !== undefined) {
        const remote = parseTraceParent(parent);
        // A malformed traceparent starts no trace here: the sender's trace is broken anyway.
        if (remote === null) return undefined;
        context = trace.setSpanContext(ROOT_CONTEXT, { ...remote, isRemote: true });
      }
      const span = otel.startSpan(name, { kind: SpanKind.SERVER, attributes }, context);
      // Not sampled: no span, and nothing is carried to the replicas either.
      if (!span.isRecording()) return undefined;
      return new OtelSpan(otel, span);
    },
  };
  return { tracer, flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}

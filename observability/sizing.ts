/**
 * What the monitoring stack deploys in each profile, and how big: one table read by the deployment
 * config (lib/config.ts, for the defaults a context key can override), the Helm releases
 * (constructs/aws/kv-observability.ts) and the telemetry chart (observability/telemetry-chart.ts),
 * so that docs/observability.md has one place to quote. Pure data: no cdk8s, no CDK.
 *
 * dev is the smallest stack that still runs every part (one replica of everything, short retention);
 * prod survives the loss of a node or a zone (two Prometheus, three Alertmanagers and three
 * Elasticsearch nodes, spread over hosts and zones).
 */

/** The profiles the stack is sized for (the deployment profiles of lib/config.ts). */
export const OBSERVABILITY_PROFILE_NAMES = ['dev', 'prod'] as const;
export type ObservabilityProfileName = (typeof OBSERVABILITY_PROFILE_NAMES)[number];

/**
 * A container's CPU and memory. Memory is requested and limited alike, so that a container is never
 * OOM-killed for using what it asked for; CPU may burst from the request up to the limit.
 */
export interface ContainerSize {
  readonly cpuRequestMillis: number;
  readonly cpuLimitMillis: number;
  readonly memoryMiB: number;
}

export interface ObservabilitySizing {
  /** Share of client operations the store nodes trace (KV_TRACE_SAMPLE_RATIO), 0..1. */
  readonly traceSampleRatio: number;
  readonly prometheus: { readonly replicas: number; readonly retentionDays: number; readonly storageGiB: number; readonly size: ContainerSize };
  readonly alertmanager: { readonly replicas: number; readonly storageGiB: number; readonly size: ContainerSize };
  readonly grafana: ContainerSize;
  /** The dashboard and datasource sidecars beside Grafana, each. */
  readonly grafanaSidecar: ContainerSize;
  readonly prometheusOperator: ContainerSize;
  readonly kubeStateMetrics: ContainerSize;
  /** Per Kubernetes node (a DaemonSet). */
  readonly nodeExporter: ContainerSize;
  readonly openTelemetryOperator: ContainerSize;
  readonly eckOperator: ContainerSize;
  /** The OpenTelemetry Collector the store nodes send their spans to. */
  readonly collector: { readonly replicas: number; readonly size: ContainerSize };
  /** Jaeger v2 (receives from the collector, stores in Elasticsearch, serves the UI). */
  readonly jaeger: { readonly replicas: number; readonly size: ContainerSize };
  /** Days of traces kept in Elasticsearch (the index cleaner deletes older daily indices). */
  readonly traceRetentionDays: number;
  /** Days of the store nodes' logs kept in Elasticsearch (the ILM policy deletes older ones). */
  readonly nodeLogRetentionDays: number;
  /** The index cleaner's CronJob container. */
  readonly indexCleaner: ContainerSize;
  /**
   * Elasticsearch: nodes, each one's volume, and its container (the JVM heap is half the memory
   * limit: Elasticsearch sizes it from the container's limit).
   */
  readonly elasticsearch: { readonly nodes: number; readonly storageGiB: number; readonly size: ContainerSize };
  readonly kibana: { readonly replicas: number; readonly size: ContainerSize };
  /** Per Kubernetes node (the Beat's DaemonSet). */
  readonly filebeat: ContainerSize;
}

const size = (cpuRequestMillis: number, cpuLimitMillis: number, memoryMiB: number): ContainerSize => ({ cpuRequestMillis, cpuLimitMillis, memoryMiB });

export const OBSERVABILITY_SIZING: Readonly<Record<ObservabilityProfileName, ObservabilitySizing>> = {
  // About 1.6 vCPU and 7.3 GiB requested in all (the DaemonSets on three nodes), beside the store's
  // 1.5 vCPU and 3 GiB, on three t3.large (about 5.8 vCPU and 21 GiB allocatable).
  dev: {
    traceSampleRatio: 0.1,
    prometheus: { replicas: 1, retentionDays: 3, storageGiB: 10, size: size(200, 1000, 1536) },
    alertmanager: { replicas: 1, storageGiB: 1, size: size(20, 200, 128) },
    grafana: size(100, 500, 256),
    grafanaSidecar: size(20, 200, 128),
    prometheusOperator: size(50, 500, 128),
    kubeStateMetrics: size(20, 200, 128),
    nodeExporter: size(20, 200, 64),
    openTelemetryOperator: size(50, 500, 128),
    eckOperator: size(50, 500, 256),
    collector: { replicas: 1, size: size(100, 500, 256) },
    jaeger: { replicas: 1, size: size(100, 500, 512) },
    traceRetentionDays: 3,
    nodeLogRetentionDays: 3,
    indexCleaner: size(20, 200, 64),
    elasticsearch: { nodes: 1, storageGiB: 10, size: size(500, 1000, 2048) },
    kibana: { replicas: 1, size: size(200, 1000, 1024) },
    filebeat: size(50, 500, 200),
  },
  // About 8.2 vCPU and 30 GiB requested in all (the DaemonSets on six nodes), beside the store's 3 vCPU
  // and 6 GiB, on six m7i.xlarge (about 23 vCPU and 87 GiB allocatable).
  prod: {
    traceSampleRatio: 0.01,
    prometheus: { replicas: 2, retentionDays: 15, storageGiB: 100, size: size(1000, 2000, 4096) },
    alertmanager: { replicas: 3, storageGiB: 2, size: size(50, 500, 256) },
    grafana: size(200, 1000, 512),
    grafanaSidecar: size(50, 200, 128),
    prometheusOperator: size(100, 500, 256),
    kubeStateMetrics: size(100, 500, 256),
    nodeExporter: size(50, 250, 64),
    openTelemetryOperator: size(100, 500, 256),
    eckOperator: size(100, 1000, 512),
    collector: { replicas: 2, size: size(250, 1000, 512) },
    jaeger: { replicas: 2, size: size(250, 1000, 1024) },
    traceRetentionDays: 14,
    nodeLogRetentionDays: 14,
    indexCleaner: size(50, 500, 128),
    elasticsearch: { nodes: 3, storageGiB: 100, size: size(1000, 2000, 4096) },
    kibana: { replicas: 2, size: size(200, 1000, 1024) },
    filebeat: size(100, 500, 300),
  },
};

/** A ContainerSize as Kubernetes resources (requests and limits). */
export function resourcesOf(s: ContainerSize): { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } } {
  const memory = `${s.memoryMiB}Mi`;
  return { requests: { cpu: `${s.cpuRequestMillis}m`, memory }, limits: { cpu: `${s.cpuLimitMillis}m`, memory } };
}

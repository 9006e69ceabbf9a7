/**
 * The store's monitoring stack on an EKS cluster: three operators installed with Helm at pinned
 * chart versions, then the cdk8s charts whose custom resources those operators serve.
 *
 *   MonitoringNamespace  the namespace, with the store's metrics label (its NetworkPolicy admits scrapes from it)
 *   kube-prometheus-stack Prometheus, Alertmanager, Grafana and the prometheus-operator, in that namespace
 *   opentelemetry-operator runs the OpenTelemetry Collector the store sends its spans to
 *   eck-operator          runs Elasticsearch, Kibana and Filebeat
 *   Monitoring            KvMonitoringChart: the store's PodMonitor, rules, Alertmanager routes, dashboards
 *   Telemetry             KvTelemetryChart: the collector, Jaeger, Elasticsearch, Kibana, Filebeat
 *
 * Each release waits for its pods (Helm's --wait), so the CRDs and the admission webhooks exist
 * before the charts' custom resources are applied.
 */
import { Duration } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as cdk8s from 'cdk8s';
import { Construct, IDependable } from 'constructs';
import type { KvStoreChart } from '../k8s/kv-store-chart';
import { KvMonitoringChart } from '../../observability/monitoring-chart';
import { MONITORING_NAMESPACE, MonitoringNamespaceChart } from '../../observability/monitoring-namespace-chart';
import { ContainerSize, OBSERVABILITY_SIZING, ObservabilityProfileName, ObservabilitySizing, resourcesOf } from '../../observability/sizing';
import { KvTelemetryChart } from '../../observability/telemetry-chart';

/** A Helm chart at a pinned version, and the release and namespace it is installed as. */
export interface PinnedHelmChart {
  readonly repository: string;
  readonly chart: string;
  readonly version: string;
  readonly release: string;
  /** @default - the monitoring namespace */
  readonly namespace?: string;
}

/** Prometheus operator v0.93, Prometheus, Alertmanager, Grafana; the CRDs the monitoring chart is tested against. */
export const KUBE_PROMETHEUS_STACK_CHART: PinnedHelmChart = {
  repository: 'https://prometheus-community.github.io/helm-charts',
  chart: 'kube-prometheus-stack',
  version: '88.5.3',
  // The monitoring chart's custom resources carry `release: <this>`, which the stack selects by.
  release: 'kube-prometheus-stack',
};
/** OpenTelemetry operator 0.158 (collector 0.158); the CRDs the telemetry chart is tested against. */
export const OPENTELEMETRY_OPERATOR_CHART: PinnedHelmChart = {
  repository: 'https://open-telemetry.github.io/opentelemetry-helm-charts',
  chart: 'opentelemetry-operator',
  version: '0.122.0',
  release: 'opentelemetry-operator',
  namespace: 'opentelemetry-operator-system',
};
/** Elastic Cloud on Kubernetes 3.5. */
export const ECK_OPERATOR_CHART: PinnedHelmChart = {
  repository: 'https://helm.elastic.co',
  chart: 'eck-operator',
  version: '3.5.0',
  release: 'elastic-operator',
  namespace: 'elastic-system',
};

/**
 * The Prometheus adapter: serves `kv_operations_in_flight` per pod on the custom metrics API, which
 * the gateways' HPA scales on (constructs/k8s/kv-gateway.ts).
 */
export const PROMETHEUS_ADAPTER_CHART: PinnedHelmChart = {
  repository: 'https://prometheus-community.github.io/helm-charts',
  chart: 'prometheus-adapter',
  version: '4.11.0',
  release: 'prometheus-adapter',
};

/** Values of the adapter: the stack's Prometheus, and one rule, the store's in-flight gauge per pod. */
export function prometheusAdapterValues(namespace: string): Record<string, unknown> {
  return {
    prometheus: { url: `http://${KUBE_PROMETHEUS_STACK_CHART.release}-prometheus.${namespace}.svc`, port: 9090, path: '' },
    rules: {
      default: false,
      custom: [
        {
          seriesQuery: 'kv_operations_in_flight{namespace!="",pod!=""}',
          resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
          name: { matches: '^kv_operations_in_flight$', as: 'kv_operations_in_flight' },
          // The gauge as last scraped, per pod (max over the scrape interval, so a short burst counts).
          metricsQuery: 'max(max_over_time(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)',
        },
      ],
    },
  };
}

/** Helm waits this long for a release's pods (the most aws-eks-v2 allows: the kubectl Lambda's own limit). */
export const HELM_TIMEOUT = Duration.minutes(15);
/** Validity of the OpenTelemetry operator's self-signed webhook certificate (see openTelemetryOperatorValues). */
export const OPENTELEMETRY_WEBHOOK_CERT_DAYS = 3650;
/** Prometheus stops keeping samples before its volume is full: this share of the volume. */
export const PROMETHEUS_RETENTION_SIZE_SHARE = 0.85;

export interface KvObservabilityProps {
  readonly cluster: eks.ICluster;
  /** The store: its metrics label, pods and namespace. */
  readonly store: KvStoreChart;
  /** The manifest that applies the store's chart: the monitoring chart's objects go into its namespace. */
  readonly storeManifest: IDependable;
  /** StorageClass of every volume (Prometheus, Alertmanager, Elasticsearch). */
  readonly storageClassName: string;
  /**
   * What the releases wait for: the StorageClass's manifest, the node groups.
   * @default - nothing
   */
  readonly dependsOn?: readonly IDependable[];
  /**
   * The monitoring namespace.
   * @default MONITORING_NAMESPACE ('monitoring')
   */
  readonly namespace?: string;
  /**
   * Sizes every component (observability/sizing.ts).
   * @default 'dev' - single replicas, short retention
   */
  readonly profile?: ObservabilityProfileName;
  /**
   * Prometheus' `cluster` external label, which the alerts group by.
   * @default - no cluster label
   */
  readonly clusterLabel?: string;
  /**
   * How often Prometheus scrapes the store, and how often a firing alert is notified again.
   * @default - the monitoring chart's (30 s, 24 h)
   */
  readonly scrapeIntervalSeconds?: number;
  readonly alertRepeatIntervalHours?: number;
  /**
   * Days of samples Prometheus keeps, and each Prometheus replica's volume, GiB.
   * @default - the profile's (dev 3 days on 10 GiB, prod 15 days on 100 GiB)
   */
  readonly prometheusRetentionDays?: number;
  readonly prometheusStorageGiB?: number;
  /**
   * Elasticsearch nodes and each one's volume; days of traces and of the nodes' logs kept.
   * @default - the telemetry chart's, by profile
   */
  readonly elasticsearchNodes?: number;
  readonly elasticsearchStorageGiB?: number;
  readonly traceRetentionDays?: number;
  readonly nodeLogRetentionDays?: number;
}

export class KvObservability extends Construct {
  public readonly namespaceName: string;
  public readonly namespaceManifest: eks.KubernetesManifest;
  public readonly prometheusStack: eks.HelmChart;
  public readonly openTelemetryOperator: eks.HelmChart;
  public readonly eckOperator: eks.HelmChart;
  /** Serves kv_operations_in_flight to the gateways' HPA. */
  public readonly prometheusAdapter: eks.HelmChart;
  public readonly monitoringChart: KvMonitoringChart;
  public readonly telemetryChart: KvTelemetryChart;
  public readonly monitoringManifest: eks.KubernetesManifest;
  public readonly telemetryManifest: eks.KubernetesManifest;

  constructor(scope: Construct, id: string, props: KvObservabilityProps) {
    super(scope, id);
    const namespace = props.namespace ?? MONITORING_NAMESPACE;
    const profile = props.profile ?? 'dev';
    const sizing = OBSERVABILITY_SIZING[profile];
    if (sizing === undefined) fail('profile', profile, `use one of ${Object.keys(OBSERVABILITY_SIZING).join(', ')}`);
    const prometheusRetentionDays = props.prometheusRetentionDays ?? sizing.prometheus.retentionDays;
    const prometheusStorageGiB = props.prometheusStorageGiB ?? sizing.prometheus.storageGiB;
    if (!isInt(prometheusRetentionDays, 1, 365)) fail('prometheusRetentionDays', prometheusRetentionDays, 'use 1 to 365 days');
    if (!isInt(prometheusStorageGiB, 2, 16384)) fail('prometheusStorageGiB', prometheusStorageGiB, 'use 2 to 16384 GiB (the gp3 limit)');
    const { cluster, store } = props;
    this.namespaceName = namespace;

    // Each chart in its own cdk8s App, as the cluster stack does with the store's.
    const namespaceChart = new MonitoringNamespaceChart(new cdk8s.App(), 'monitoring-namespace', { store, name: namespace });
    this.namespaceManifest = cluster.addCdk8sChart('MonitoringNamespace', namespaceChart);

    // The charts first (plain objects, nothing applied yet): Grafana's Jaeger data source is the telemetry chart's.
    this.monitoringChart = new KvMonitoringChart(new cdk8s.App(), 'monitoring', {
      store,
      scrapeIntervalSeconds: props.scrapeIntervalSeconds,
      alertRepeatIntervalHours: props.alertRepeatIntervalHours,
      selectorLabels: { release: KUBE_PROMETHEUS_STACK_CHART.release },
    });
    this.telemetryChart = new KvTelemetryChart(new cdk8s.App(), 'telemetry', {
      store,
      namespace,
      profile,
      storageClassName: props.storageClassName,
      elasticsearchNodes: props.elasticsearchNodes,
      elasticsearchStorageGiB: props.elasticsearchStorageGiB,
      traceRetentionDays: props.traceRetentionDays,
      nodeLogRetentionDays: props.nodeLogRetentionDays,
    });

    const install = (id: string, pinned: PinnedHelmChart, values: Record<string, unknown>): eks.HelmChart => {
      const release = cluster.addHelmChart(id, {
        repository: pinned.repository,
        chart: pinned.chart,
        version: pinned.version,
        release: pinned.release,
        namespace: pinned.namespace ?? namespace,
        // The monitoring namespace is ours (it carries the metrics label); the operators' own are Helm's.
        createNamespace: pinned.namespace !== undefined,
        values,
        wait: true,
        timeout: HELM_TIMEOUT,
      });
      release.node.addDependency(...(props.dependsOn ?? []));
      if (pinned.namespace === undefined) release.node.addDependency(this.namespaceManifest);
      return release;
    };
    this.prometheusStack = install(
      'PrometheusStack',
      KUBE_PROMETHEUS_STACK_CHART,
      kubePrometheusStackValues({
        sizing,
        profile,
        storageClassName: props.storageClassName,
        prometheusRetentionDays,
        prometheusStorageGiB,
        clusterLabel: props.clusterLabel,
        jaegerQueryUrl: this.telemetryChart.jaegerQueryUrl,
      }),
    );
    this.openTelemetryOperator = install('OpenTelemetryOperator', OPENTELEMETRY_OPERATOR_CHART, openTelemetryOperatorValues(sizing.openTelemetryOperator));
    this.eckOperator = install('EckOperator', ECK_OPERATOR_CHART, eckOperatorValues(sizing.eckOperator));
    // After the stack: the adapter queries its Prometheus.
    this.prometheusAdapter = install('PrometheusAdapter', PROMETHEUS_ADAPTER_CHART, prometheusAdapterValues(namespace));
    this.prometheusAdapter.node.addDependency(this.prometheusStack);

    // Then each chart once the CRDs it uses are served: the monitoring chart also needs the store's namespace.
    this.monitoringManifest = cluster.addCdk8sChart('Monitoring', this.monitoringChart);
    this.monitoringManifest.node.addDependency(this.prometheusStack, props.storeManifest);
    this.telemetryManifest = cluster.addCdk8sChart('Telemetry', this.telemetryChart);
    this.telemetryManifest.node.addDependency(this.namespaceManifest, this.openTelemetryOperator, this.eckOperator, ...(props.dependsOn ?? []));
  }
}

export interface KubePrometheusStackValuesOptions {
  readonly sizing: ObservabilitySizing;
  readonly profile: ObservabilityProfileName;
  readonly storageClassName: string;
  readonly prometheusRetentionDays: number;
  readonly prometheusStorageGiB: number;
  readonly clusterLabel?: string;
  /** Jaeger's query URL, added to Grafana as a data source. */
  readonly jaegerQueryUrl?: string;
}

/** The values of kube-prometheus-stack: sizes, volumes and HA by profile, and what EKS does not let it scrape. */
export function kubePrometheusStackValues(o: KubePrometheusStackValuesOptions): Record<string, unknown> {
  const { sizing } = o;
  const volume = (storageGiB: number) => ({
    volumeClaimTemplate: { spec: { storageClassName: o.storageClassName, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: `${storageGiB}Gi` } } } },
  });
  // prod: the replicas in distinct zones, so that a zone's loss leaves a Prometheus and an Alertmanager quorum.
  const spread = o.profile === 'prod' ? { podAntiAffinity: 'hard', podAntiAffinityTopologyKey: 'topology.kubernetes.io/zone' } : {};
  return {
    prometheus: {
      prometheusSpec: {
        replicas: sizing.prometheus.replicas,
        retention: `${o.prometheusRetentionDays}d`,
        retentionSize: `${Math.floor(o.prometheusStorageGiB * PROMETHEUS_RETENTION_SIZE_SHARE)}GiB`,
        storageSpec: volume(o.prometheusStorageGiB),
        resources: resourcesOf(sizing.prometheus.size),
        ...(o.clusterLabel === undefined ? {} : { externalLabels: { cluster: o.clusterLabel } }),
        ...spread,
      },
    },
    alertmanager: {
      alertmanagerSpec: {
        replicas: sizing.alertmanager.replicas,
        storage: volume(sizing.alertmanager.storageGiB),
        resources: resourcesOf(sizing.alertmanager.size),
        // The store's AlertmanagerConfig carries the release label (observability/monitoring-chart.ts).
        alertmanagerConfigSelector: { matchLabels: { release: KUBE_PROMETHEUS_STACK_CHART.release } },
        ...spread,
      },
    },
    grafana: {
      resources: resourcesOf(sizing.grafana),
      sidecar: { resources: resourcesOf(sizing.grafanaSidecar) },
      ...(o.jaegerQueryUrl === undefined ? {} : { additionalDataSources: [{ name: 'Jaeger', type: 'jaeger', uid: 'jaeger', url: o.jaegerQueryUrl, access: 'proxy' }] }),
    },
    prometheusOperator: { resources: resourcesOf(sizing.prometheusOperator) },
    'kube-state-metrics': { resources: resourcesOf(sizing.kubeStateMetrics) },
    'prometheus-node-exporter': { resources: resourcesOf(sizing.nodeExporter) },
    // EKS runs the control plane out of reach: no scrape of the controller manager, the scheduler
    // or etcd (each would only be a target down). kube-proxy serves its metrics on localhost.
    kubeControllerManager: { enabled: false },
    kubeScheduler: { enabled: false },
    kubeEtcd: { enabled: false },
    kubeProxy: { enabled: false },
    defaultRules: { rules: { etcd: false, kubeControllerManager: false, kubeSchedulerAlerting: false, kubeSchedulerRecording: false, kubeProxy: false } },
  };
}

/**
 * The values of the OpenTelemetry operator. Its admission webhooks need a serving certificate: the
 * chart generates a self-signed one (autoGenerateCert) instead of asking cert-manager for one, which
 * would be a fourth operator, with its own CRDs, pods and upgrades, for one certificate that only the
 * API server ever checks. The chart makes it anew at each install and upgrade of the release, and
 * nothing renews it in between (a CDK deploy upgrades the release only when its version or values
 * change): hence a validity of ten years, not the chart's one, which would stop every change to a
 * collector a year after the last upgrade.
 */
export function openTelemetryOperatorValues(size: ContainerSize): Record<string, unknown> {
  return {
    manager: { resources: resourcesOf(size) },
    admissionWebhooks: { certManager: { enabled: false }, autoGenerateCert: { enabled: true, recreate: true, certPeriodDays: OPENTELEMETRY_WEBHOOK_CERT_DAYS } },
  };
}

/** The values of the ECK operator (it manages its webhook's certificate itself). */
export function eckOperatorValues(size: ContainerSize): Record<string, unknown> {
  return { resources: resourcesOf(size) };
}

function isInt(v: number, min: number, max: number): boolean {
  return Number.isInteger(v) && v >= min && v <= max;
}

function fail(prop: string, value: unknown, fix: string): never {
  throw new Error(`KvObservability: ${prop} is ${JSON.stringify(value)}; ${fix}.`);
}

import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cdk8s from 'cdk8s';
import {
  eckOperatorValues,
  KUBE_PROMETHEUS_STACK_CHART,
  kubePrometheusStackValues,
  KvObservability,
  KvObservabilityProps,
  openTelemetryOperatorValues,
  PROMETHEUS_RETENTION_SIZE_SHARE,
} from '../../constructs/aws/kv-observability';
import { KvStoreChart } from '../../constructs/k8s/kv-store-chart';
import { OBSERVABILITY_SIZING, resourcesOf } from '../../observability/sizing';
import { bareCluster, newApp, TEST_ACCOUNT, TEST_REGION } from './helpers';

/** The construct on a bare cluster (no node groups, no store manifest of its own). */
function build(props: Partial<KvObservabilityProps> = {}): { stack: Stack; observability: KvObservability } {
  const stack = new Stack(newApp(), 'Test', { env: { account: TEST_ACCOUNT, region: TEST_REGION } });
  const cluster = bareCluster(stack);
  const store = new KvStoreChart(new cdk8s.App(), 'kv', { image: 'kv:1' });
  const storeManifest = cluster.addCdk8sChart('Store', store);
  const observability = new KvObservability(stack, 'Observability', { cluster, store, storeManifest, storageClassName: 'gp3', ...props });
  return { stack, observability };
}

describe('KvObservability', () => {
  test('by default: the dev sizes, in the monitoring namespace, the store scraped every 30 s', () => {
    const { stack, observability } = build();
    expect(observability.namespaceName).toBe('monitoring');
    const values = Object.values(Template.fromStack(stack).findResources('Custom::AWSCDK-EKS-HelmChart')).find((r) => r.Properties.Chart === 'kube-prometheus-stack')!.Properties.Values;
    const dev = OBSERVABILITY_SIZING.dev;
    expect(JSON.parse(values as string).prometheus.prometheusSpec).toMatchObject({ replicas: dev.prometheus.replicas, retention: `${dev.prometheus.retentionDays}d` });
    expect(synth(observability.monitoringChart).find((o) => o.kind === 'PodMonitor')!.spec.podMetricsEndpoints[0].interval).toBe('30s');
    // The release label the prometheus-operator selects by is on the store's monitoring objects.
    expect(synth(observability.monitoringChart).find((o) => o.kind === 'PrometheusRule')!.metadata.labels.release).toBe(KUBE_PROMETHEUS_STACK_CHART.release);
    expect(synth(observability.telemetryChart).find((o) => o.kind === 'Elasticsearch')!.spec.nodeSets[0].count).toBe(dev.elasticsearch.nodes);
  });

  test('passes its knobs to the telemetry chart', () => {
    const { observability } = build({ profile: 'prod', elasticsearchNodes: 5, elasticsearchStorageGiB: 300 });
    const nodeSet = synth(observability.telemetryChart).find((o) => o.kind === 'Elasticsearch')!.spec.nodeSets[0];
    expect(nodeSet.count).toBe(5);
    expect(nodeSet.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('300Gi');
  });

  test.each([
    [{ prometheusRetentionDays: 0 }, /KvObservability: prometheusRetentionDays is 0; use 1 to 365 days/],
    [{ prometheusStorageGiB: 1 }, /KvObservability: prometheusStorageGiB is 1; use 2 to 16384 GiB/],
    [{ elasticsearchNodes: 2 }, /KvTelemetryChart: elasticsearchNodes is 2/],
  ])('rejects %j, naming the prop, the value and the fix', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});

describe('Helm values', () => {
  const prod = OBSERVABILITY_SIZING.prod;
  const values = kubePrometheusStackValues({ sizing: prod, profile: 'prod', storageClassName: 'gp3', prometheusRetentionDays: 15, prometheusStorageGiB: 100, jaegerQueryUrl: 'http://kv-jaeger.monitoring.svc.cluster.local:16686' });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const v = values as Record<string, any>;

  test('Prometheus keeps samples by age and stops before its volume is full', () => {
    expect(v.prometheus.prometheusSpec.retention).toBe('15d');
    expect(v.prometheus.prometheusSpec.retentionSize).toBe(`${Math.floor(100 * PROMETHEUS_RETENTION_SIZE_SHARE)}GiB`);
  });

  test('every component it runs is sized', () => {
    expect(v.prometheus.prometheusSpec.resources).toEqual(resourcesOf(prod.prometheus.size));
    expect(v.alertmanager.alertmanagerSpec.resources).toEqual(resourcesOf(prod.alertmanager.size));
    expect(v.grafana.resources).toEqual(resourcesOf(prod.grafana));
    expect(v.grafana.sidecar.resources).toEqual(resourcesOf(prod.grafanaSidecar));
    expect(v.prometheusOperator.resources).toEqual(resourcesOf(prod.prometheusOperator));
    expect(v['kube-state-metrics'].resources).toEqual(resourcesOf(prod.kubeStateMetrics));
    expect(v['prometheus-node-exporter'].resources).toEqual(resourcesOf(prod.nodeExporter));
  });

  test('Alertmanager takes the store\'s AlertmanagerConfig by the release label; Grafana gets Jaeger as a data source', () => {
    expect(v.alertmanager.alertmanagerSpec.alertmanagerConfigSelector).toEqual({ matchLabels: { release: KUBE_PROMETHEUS_STACK_CHART.release } });
    expect(v.grafana.additionalDataSources).toEqual([expect.objectContaining({ type: 'jaeger', url: 'http://kv-jaeger.monitoring.svc.cluster.local:16686' })]);
  });

  test('nothing EKS keeps out of reach is scraped (the control plane, kube-proxy)', () => {
    for (const key of ['kubeControllerManager', 'kubeScheduler', 'kubeEtcd', 'kubeProxy']) expect(v[key]).toEqual({ enabled: false });
  });

  test('the OpenTelemetry operator generates its webhook certificate instead of asking cert-manager', () => {
    expect(openTelemetryOperatorValues(prod.openTelemetryOperator)).toEqual({
      manager: { resources: resourcesOf(prod.openTelemetryOperator) },
      admissionWebhooks: { certManager: { enabled: false }, autoGenerateCert: { enabled: true, recreate: true, certPeriodDays: 3650 } },
    });
    expect(eckOperatorValues(prod.eckOperator)).toEqual({ resources: resourcesOf(prod.eckOperator) });
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function synth(chart: cdk8s.Chart): Record<string, any>[] {
  return cdk8s.Testing.synth(chart);
}

#!/usr/bin/env node
/**
 * cdk8s app: renders every chart to dist/k8s/ for review and for `kubectl apply` outside CDK.
 * The image defaults to a placeholder registry path; pass KV_IMAGE to render a real one. The cluster
 * stack applies the same chart classes with the ECR image and the backup bucket filled in.
 * KV_PROFILE (dev or prod, default dev) picks the monitoring and telemetry charts' profile
 * (lib/config.ts). The Helm releases those charts need (kube-prometheus-stack, the OpenTelemetry
 * and ECK operators) are the cluster stack's (constructs/aws/kv-observability.ts).
 * The chaos chart (chaos.k8s.yaml) runs a suite of chaos/experiments.ts with Chaos Mesh when
 * applied: KV_CHAOS_SUITE names the suite or the one experiment (default short), KV_AWS_REGION the
 * region whose zones a zone fault cuts (default the placeholder eu-west-1); Chaos Mesh itself
 * is the cluster stack's (constructs/aws/kv-chaos-mesh.ts). docs/chaos.md says how to run it.
 */
import { App } from 'cdk8s';
import { KvChaosChart } from '../chaos/chaos-mesh-chart';
import { KvStoreChart } from '../constructs/k8s/kv-store-chart';
import { StorageClassChart } from '../constructs/k8s/storage-class-chart';
import { loadConfig } from '../lib/config';
import { KvMonitoringChart } from '../observability/monitoring-chart';
import { MONITORING_NAMESPACE, MonitoringNamespaceChart } from '../observability/monitoring-namespace-chart';
import { KvBenchChart } from '../constructs/k8s/kv-bench-chart';
import { collectorOtlpHttpEndpoint, KvTelemetryChart } from '../observability/telemetry-chart';

/** Where `npm run synth` writes manifests (relative to the working directory, the repository root). */
const K8S_OUTDIR = 'dist/k8s';
const PLACEHOLDER_IMAGE = 'kv-node:latest';

// The region only places the zones a zone fault names (`<region>a`, b and c, as lib/config.ts does).
const config = loadConfig({ context: (key) => (key === 'profile' ? process.env.KV_PROFILE : undefined), env: { KV_AWS_REGION: process.env.KV_AWS_REGION } });
const app = new App({ outdir: process.env.KV_K8S_OUTDIR ?? K8S_OUTDIR });
const storage = new StorageClassChart(app, 'storage');
const o = config.observability;
const store = new KvStoreChart(app, 'kv', {
  image: process.env.KV_IMAGE ?? PLACEHOLDER_IMAGE,
  storageClassName: storage.storageClassName,
  tracing: { sampleRatio: o.traceSampleRatio, otlpEndpoint: collectorOtlpHttpEndpoint(MONITORING_NAMESPACE) },
  // As the cluster stack deploys it: gateways with their HPA, TLS as the profile says (prod: on).
  gateway: {},
  tls: config.store.tls ? {} : undefined,
});
new KvMonitoringChart(app, 'monitoring', { store, ...config.monitoring });
new MonitoringNamespaceChart(app, 'monitoring-namespace', { store, name: MONITORING_NAMESPACE });
new KvTelemetryChart(app, 'telemetry', {
  store,
  namespace: MONITORING_NAMESPACE,
  profile: config.profile,
  storageClassName: storage.storageClassName,
  elasticsearchNodes: o.elasticsearchNodes,
  elasticsearchStorageGiB: o.elasticsearchStorageGiB,
  traceRetentionDays: o.traceRetentionDays,
  nodeLogRetentionDays: o.nodeLogRetentionDays,
});
// A load test, applied by hand (docs/operations.md, Load tests): kv bench pods against the gateways.
new KvBenchChart(app, 'bench', {
  image: process.env.KV_IMAGE ?? PLACEHOLDER_IMAGE,
  endpoint: store.gateway ? `${store.gateway.serviceName}.${store.namespaceName}.svc.${store.clusterDomain}:${store.grpcPort}` : store.clientEndpoint,
  clientNamespaceLabel: store.clientNamespaceLabel,
  metricsNamespaceLabel: store.metricsNamespaceLabel,
});
new KvChaosChart(app, 'chaos', { store, zones: config.availabilityZones, suite: process.env.KV_CHAOS_SUITE ?? 'short' });
app.synth();

/**
 * A load test on the cluster: `kv bench` as an Indexed Job of many pods against the gateways (or
 * the store's client Service), in a namespace of its own labelled as a client namespace (the
 * store's and the gateways' NetworkPolicies admit it). Each pod serves its operations and latency
 * on a metrics port while it runs (`--metrics-port`), a PodMonitor has Prometheus scrape them, and
 * recording rules sum the pods into one report: `kv_bench:operations:rate1m`,
 * `kv_bench:errors:rate1m` and `kv_bench:latency_seconds:p50|p99|p999`. Each pod also logs its own
 * figures as one JSON line. Not applied by the cluster stack: `kubectl apply -f
 * dist/k8s/bench.k8s.yaml` starts a run (docs/operations.md, Load tests).
 */
import { ApiObject, Chart, ChartProps, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { SPOT_SCHEDULING } from './kv-gateway';
import { checkIntProp } from './int-prop';

const k8s = kplus.k8s;

/** The port each bench pod serves its metrics on. */
export const BENCH_METRICS_PORT = 9470;
/** The scrape job of the bench pods. */
export const BENCH_SCRAPE_JOB = 'kv-bench';

export interface KvBenchChartProps extends ChartProps {
  readonly image: string;
  /** host:port the pods load: the gateways' Service, or the store's client Service. */
  readonly endpoint: string;
  /** The label that makes a namespace a client of the store (the store chart's clientNamespaceLabel). */
  readonly clientNamespaceLabel: string;
  /** The label that lets a namespace be scraped by the monitoring stack. */
  readonly metricsNamespaceLabel: string;
  /** Labels the kube-prometheus-stack selects PodMonitors and rules by. @default { release: 'kube-prometheus-stack' } */
  readonly selectorLabels?: Readonly<Record<string, string>>;
  /** @default 'kv-bench' */
  readonly namespace?: string;
  /** Pods, all at once. @default 4 */
  readonly pods?: number;
  /** @default 'a' */
  readonly workload?: string;
  /** Operations a second over all pods; 0: each pod runs a closed loop. @default 0 */
  readonly rate?: number;
  /** Operations in flight per pod. @default 256 */
  readonly concurrency?: number;
  /** @default 300 */
  readonly durationS?: number;
  /** @default 10000 */
  readonly keys?: number;
  /** @default 1024 */
  readonly valueBytes?: number;
}

export class KvBenchChart extends Chart {
  public readonly namespaceName: string;
  public readonly jobName = 'kv-bench';

  constructor(scope: Construct, id: string, props: KvBenchChartProps) {
    const namespace = props.namespace ?? 'kv-bench';
    super(scope, id, { ...props, namespace });
    this.namespaceName = namespace;
    const pods = props.pods ?? 4;
    const rate = props.rate ?? 0;
    const concurrency = props.concurrency ?? 256;
    const durationS = props.durationS ?? 300;
    const keys = props.keys ?? 10_000;
    const valueBytes = props.valueBytes ?? 1024;
    const check = (prop: string, v: number, min: number, max: number) => checkIntProp('KvBenchChart', prop, v, min, max);
    check('pods', pods, 1, 1000);
    check('rate', rate, 0, 10_000_000);
    check('concurrency', concurrency, 1, 100_000);
    check('durationS', durationS, 1, 86_400);
    check('keys', keys, 1, 100_000_000);
    check('valueBytes', valueBytes, 0, 1024 * 1024);
    if (rate > 0 && rate < pods) throw new Error(`KvBenchChart: rate is ${rate}; use 0 or at least one operation a second per pod (${pods}).`);
    const selectorLabels = props.selectorLabels ?? { release: 'kube-prometheus-stack' };
    const labels = { 'app.kubernetes.io/name': 'dynamo-kv', 'app.kubernetes.io/component': 'bench' };

    const ns = new kplus.Namespace(this, 'Namespace', { metadata: { name: namespace, labels: { [props.clientNamespaceLabel]: 'true', [props.metricsNamespaceLabel]: 'true' } } });
    ApiObject.of(ns).addJsonPatch(JsonPatch.remove('/metadata/namespace'));

    // The metrics stay served for two scrape intervals after the run, so the last scrape sees the end.
    const lingerS = 70;
    const args = ['bench', '--endpoint', props.endpoint, '--workload', props.workload ?? 'a', '--concurrency', String(concurrency), '--duration-s', String(durationS), '--keys', String(keys), '--value-bytes', String(valueBytes), '--json', '--metrics-port', String(BENCH_METRICS_PORT), '--linger-s', String(lingerS)];
    if (rate > 0) args.push('--rate', String(Math.floor(rate / pods)));
    new k8s.KubeJob(this, 'Job', {
      metadata: { name: this.jobName, labels },
      spec: {
        completionMode: 'Indexed',
        completions: pods,
        parallelism: pods,
        backoffLimit: 0,
        activeDeadlineSeconds: durationS + 600,
        ttlSecondsAfterFinished: 24 * 3600,
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
            // Load generators prefer spot capacity, as gateways do.
            ...SPOT_SCHEDULING,
            containers: [
              {
                name: 'bench',
                image: props.image,
                args,
                ports: [{ name: 'metrics', containerPort: BENCH_METRICS_PORT }],
                resources: { requests: { cpu: k8s.Quantity.fromString('1'), memory: k8s.Quantity.fromString('512Mi') }, limits: { memory: k8s.Quantity.fromString('1Gi') } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      },
    });

    new ApiObject(this, 'PodMonitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: this.jobName, labels: { ...labels, ...selectorLabels } },
      spec: {
        selector: { matchLabels: labels },
        namespaceSelector: { matchNames: [namespace] },
        podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval: '15s', relabelings: [{ action: 'replace', targetLabel: 'job', replacement: BENCH_SCRAPE_JOB }] }],
      },
    });

    const sel = `job="${BENCH_SCRAPE_JOB}"`;
    const quantile = (q: string) => `histogram_quantile(${q}, sum by (le, workload) (rate(kv_bench_latency_seconds_bucket{${sel}}[1m])))`;
    new ApiObject(this, 'PrometheusRule', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: this.jobName, labels: { ...labels, ...selectorLabels } },
      spec: {
        groups: [
          {
            name: 'kv-bench',
            rules: [
              { record: 'kv_bench:operations:rate1m', expr: `sum by (workload, kind) (rate(kv_bench_operations_total{${sel},outcome="ok"}[1m]))` },
              { record: 'kv_bench:errors:rate1m', expr: `sum by (workload, outcome) (rate(kv_bench_operations_total{${sel},outcome!="ok"}[1m]))` },
              { record: 'kv_bench:latency_seconds:p50', expr: quantile('0.5') },
              { record: 'kv_bench:latency_seconds:p99', expr: quantile('0.99') },
              { record: 'kv_bench:latency_seconds:p999', expr: quantile('0.999') },
            ],
          },
        ],
      },
    });
  }
}

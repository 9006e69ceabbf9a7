/**
 * How the store is watched, for a Prometheus and Alertmanager run by the prometheus-operator
 * (kube-prometheus-stack): a PodMonitor that scrapes every store pod, a PrometheusRule with the
 * recording rules and alerts of observability/rules.ts, and an AlertmanagerConfig that groups,
 * routes and inhibits them. The custom resources are written as plain ApiObjects: their schemas are
 * the operator's CRDs, which the tests validate every object against (test/infra/monitoring-chart.test.ts).
 *
 * The monitoring namespace must carry the store's metrics label (`dynamo-kv/metrics=true` by
 * default): the store's NetworkPolicy admits scrapes from such namespaces only.
 */
import { ApiObject, Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import type { KvStoreChart } from '../constructs/k8s/kv-store-chart';
import { alertNamed, ruleGroups, SCRAPE_JOB } from './rules';

/** The scrape job of the gateways (the store's nodes are SCRAPE_JOB). */
export const GATEWAY_SCRAPE_JOB = 'kv-gateway';
import { dashboardJson, DASHBOARDS } from './dashboards';

/** The label kube-prometheus-stack's Grafana sidecar looks for on dashboard ConfigMaps. */
export const GRAFANA_DASHBOARD_LABEL = 'grafana_dashboard';

const API_VERSION_V1 = 'monitoring.coreos.com/v1';
const API_VERSION_V1ALPHA1 = 'monitoring.coreos.com/v1alpha1';

/** Samples one scrape of a node may return: a limit, so that a label gone wild cannot flood Prometheus. */
export const SAMPLES_PER_SCRAPE_BASE = 10_000;
/** kv_anti_entropy_exchange_age_seconds has a series per partition a node is a primary of. */
export const SAMPLES_PER_PARTITION = 2;
/** Per peer: reachability, suspicion, three hint gauges, and the replica-request histograms by kind. */
export const SAMPLES_PER_MEMBER = 500;
/** The most members the sample limit makes room for (lib/config.ts allows 64 replicas). */
export const MEMBERS_MAX = 64;

/** A key of a Secret in the AlertmanagerConfig's namespace (the store's). */
export interface SecretKey {
  readonly name: string;
  readonly key: string;
}

export interface KvMonitoringChartProps extends ChartProps {
  /** The store to watch: its namespace, pod labels and metrics port name come from it. */
  readonly store: KvStoreChart;
  /**
   * How often each node is scraped.
   * @default 30
   */
  readonly scrapeIntervalSeconds?: number;
  /**
   * How often a notification of a firing alert is repeated.
   * @default 24
   */
  readonly alertRepeatIntervalHours?: number;
  /**
   * Labels the Prometheus and Alertmanager of kube-prometheus-stack select custom resources by.
   * @default { release: 'kube-prometheus-stack' } - the Helm release name of a default install
   */
  readonly selectorLabels?: Readonly<Record<string, string>>;
  /**
   * Secret key holding the webhook URL critical alerts are sent to (a pager).
   * @default - no notification: critical alerts are seen in Alertmanager only
   */
  readonly criticalWebhookUrlSecret?: SecretKey;
  /**
   * Secret key holding the webhook URL warnings are sent to (a chat channel).
   * @default - no notification: warnings are seen in Alertmanager only
   */
  readonly warningWebhookUrlSecret?: SecretKey;
  /**
   * Where each alert's runbook_url points (a section per alert is appended).
   * @default RUNBOOK_URL of observability/rules.ts
   */
  readonly runbookUrl?: string;
}

/** Receivers of the AlertmanagerConfig; routes name them. */
export const RECEIVER_CRITICAL = 'kv-critical';
export const RECEIVER_WARNING = 'kv-warning';

/** The monitoring chart. Construct IDs below are part of the contract (they name the manifests). */
export class KvMonitoringChart extends Chart {
  public readonly podMonitor: ApiObject;
  /** Scrapes the gateways, when the store has them. */
  public readonly gatewayPodMonitor?: ApiObject;
  public readonly prometheusRule: ApiObject;
  public readonly alertmanagerConfig: ApiObject;
  /** The dashboards (observability/dashboards.ts), a ConfigMap each. */
  public readonly dashboards: ApiObject[];

  constructor(scope: Construct, id: string, props: KvMonitoringChartProps) {
    const store = props.store;
    super(scope, id, { ...props, namespace: store.namespaceName });

    const scrapeIntervalSeconds = props.scrapeIntervalSeconds ?? 30;
    const alertRepeatIntervalHours = props.alertRepeatIntervalHours ?? 24;
    const selectorLabels = props.selectorLabels ?? { release: 'kube-prometheus-stack' };
    validate({ scrapeIntervalSeconds, alertRepeatIntervalHours });

    const name = store.setName;
    const labels = { ...store.podLabels, 'app.kubernetes.io/component': 'monitoring', ...selectorLabels };
    const sampleLimit = SAMPLES_PER_SCRAPE_BASE + SAMPLES_PER_PARTITION * store.partitions + SAMPLES_PER_MEMBER * MEMBERS_MAX;

    // One PodMonitor per tier, alike but for what they select and the job they label.
    const podMonitor = (id: string, monitorName: string, selector: Readonly<Record<string, string>>, limit: number, job: string) =>
      new ApiObject(this, id, {
        apiVersion: API_VERSION_V1,
        kind: 'PodMonitor',
        metadata: { name: monitorName, labels },
        spec: {
          selector: { matchLabels: { ...selector } },
          namespaceSelector: { matchNames: [store.namespaceName] },
          sampleLimit: limit,
          podMetricsEndpoints: [
            {
              port: store.metricsPortName,
              path: '/metrics',
              interval: `${scrapeIntervalSeconds}s`,
              // Within the interval, and long enough for a node busy with a group commit.
              scrapeTimeout: `${Math.min(10, scrapeIntervalSeconds)}s`,
              // The node labels its own samples `node` (its id, the pod name); the target gets the
              // same label from the pod name so that `up` carries it too, and the node's own wins.
              honorLabels: true,
              relabelings: [
                { action: 'replace', sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'node' },
                { action: 'replace', targetLabel: 'job', replacement: job },
              ],
            },
          ],
        },
      });
    this.podMonitor = podMonitor('PodMonitor', name, store.podLabels, sampleLimit, SCRAPE_JOB);
    // The gateways (when the store has them), under a job of their own: the store's alerts are about
    // the nodes that hold data. Their in-flight gauge feeds the gateways' HPA (Prometheus adapter).
    if (store.gateway) this.gatewayPodMonitor = podMonitor('GatewayPodMonitor', store.gateway.deploymentName, store.gateway.labels, SAMPLES_PER_SCRAPE_BASE, GATEWAY_SCRAPE_JOB);

    this.prometheusRule = new ApiObject(this, 'PrometheusRule', {
      apiVersion: API_VERSION_V1,
      kind: 'PrometheusRule',
      metadata: { name, labels },
      spec: { groups: ruleGroups({ runbookUrl: props.runbookUrl }) },
    });

    const equal = (name: string, value: string) => ({ name, value, matchType: '=' });
    const nodeDown = alertNamed('KvNodeDown').alert;
    const underReplicated = alertNamed('KvPartitionsUnderReplicated').alert;
    const webhook = (secret: SecretKey | undefined) => (secret === undefined ? {} : { webhookConfigs: [{ urlSecret: { name: secret.name, key: secret.key }, sendResolved: true }] });
    this.alertmanagerConfig = new ApiObject(this, 'AlertmanagerConfig', {
      apiVersion: API_VERSION_V1ALPHA1,
      kind: 'AlertmanagerConfig',
      metadata: { name, labels },
      spec: {
        // The operator adds a `namespace=<this namespace>` matcher to this route: the rules keep the
        // namespace label in every aggregation for it.
        route: {
          receiver: RECEIVER_WARNING,
          groupBy: ['alertname', 'cluster'],
          groupWait: '30s',
          groupInterval: '5m',
          repeatInterval: `${alertRepeatIntervalHours}h`,
          routes: [{ receiver: RECEIVER_CRITICAL, matchers: [equal('severity', 'critical')], groupWait: '10s' }],
        },
        receivers: [
          { name: RECEIVER_CRITICAL, ...webhook(props.criticalWebhookUrlSecret) },
          { name: RECEIVER_WARNING, ...webhook(props.warningWebhookUrlSecret) },
        ],
        inhibitRules: [
          // A node that is down explains every other alert about it: hints for it, its disk, its
          // anti-entropy. Each alert carries the node it is about (observability/rules.ts).
          { sourceMatch: [equal('alertname', nodeDown)], targetMatch: [{ name: 'alertname', value: nodeDown, matchType: '!=' }], equal: ['cluster', 'node'] },
          // ... and the other members' view that its partitions have a primary down.
          { sourceMatch: [equal('alertname', nodeDown)], targetMatch: [equal('alertname', underReplicated)], equal: ['cluster'] },
        ],
      },
    });

    // One ConfigMap a dashboard, labelled for the Grafana dashboard sidecar of kube-prometheus-stack.
    this.dashboards = DASHBOARDS.map(
      (d) =>
        new ApiObject(this, `Dashboard-${d.uid}`, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `${name}-dashboard-${d.uid.replace(/^kv-/, '')}`, labels: { ...labels, [GRAFANA_DASHBOARD_LABEL]: '1' } },
          data: { [`${d.uid}.json`]: JSON.stringify(dashboardJson(d)) },
        }),
    );
  }
}

function validate(p: { readonly scrapeIntervalSeconds: number; readonly alertRepeatIntervalHours: number }): void {
  const fail = (prop: string, value: unknown, fix: string): never => {
    throw new Error(`KvMonitoringChart: ${prop} is ${JSON.stringify(value)}; ${fix}.`);
  };
  if (!Number.isInteger(p.scrapeIntervalSeconds) || p.scrapeIntervalSeconds < 5 || p.scrapeIntervalSeconds > 300) {
    fail('scrapeIntervalSeconds', p.scrapeIntervalSeconds, 'use 5 to 300 seconds (the alerts need several scrapes within their for: windows)');
  }
  if (!Number.isInteger(p.alertRepeatIntervalHours) || p.alertRepeatIntervalHours < 1 || p.alertRepeatIntervalHours > 168) {
    fail('alertRepeatIntervalHours', p.alertRepeatIntervalHours, 'use 1 to 168 hours');
  }
}

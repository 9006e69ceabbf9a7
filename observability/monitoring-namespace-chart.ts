/**
 * The namespace the monitoring stack runs in (kube-prometheus-stack, the OpenTelemetry Collector,
 * Jaeger, Elasticsearch, Kibana, Filebeat), labelled with the store's metrics label: the store's
 * NetworkPolicy admits scrapes of its metrics port only from namespaces carrying it. Nothing else
 * here needs to reach the store: the nodes send their spans out (their egress is open), and Filebeat
 * reads their logs from the Kubernetes node's disk. So the namespace does not carry the client label.
 *
 * A chart of its own because the Helm releases need the namespace before they install, and the
 * telemetry chart needs the releases' CRDs: it is applied first (as StorageClassChart is).
 */
import { ApiObject, Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import type { KvStoreChart } from '../constructs/k8s/kv-store-chart';

/** The namespace's name unless told otherwise. */
export const MONITORING_NAMESPACE = 'monitoring';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface MonitoringNamespaceChartProps extends ChartProps {
  /** The store the monitoring scrapes: the namespace carries its metrics label. */
  readonly store: KvStoreChart;
  /**
   * The namespace's name.
   * @default MONITORING_NAMESPACE ('monitoring')
   */
  readonly name?: string;
}

export class MonitoringNamespaceChart extends Chart {
  public readonly namespaceName: string;
  public readonly namespaceObject: ApiObject;

  constructor(scope: Construct, id: string, props: MonitoringNamespaceChartProps) {
    // No chart-wide namespace: a Namespace is cluster-scoped.
    super(scope, id, { ...props, namespace: undefined });
    const name = props.name ?? MONITORING_NAMESPACE;
    if (!DNS_LABEL.test(name)) throw new Error(`MonitoringNamespaceChart: name is ${JSON.stringify(name)}; use a DNS label ([a-z0-9-], at most 63 characters).`);
    this.namespaceName = name;
    this.namespaceObject = new ApiObject(this, 'Namespace', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'app.kubernetes.io/part-of': 'dynamo-kv-monitoring', [props.store.metricsNamespaceLabel]: 'true' } },
    });
  }
}

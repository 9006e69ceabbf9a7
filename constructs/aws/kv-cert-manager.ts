/**
 * cert-manager (Helm, pinned): issues and renews the store's certificates, from the store chart's
 * own cluster CA (constructs/k8s/kv-tls.ts): the node certificates that authenticate peers to each
 * other (mutual TLS) and serve the client port, and the client certificates of the gateways and
 * the backup jobs. A renewed certificate lands in its Secret, the kubelet updates the mounted
 * files, and the nodes reload them for new connections: rotation needs no restart (docs/security.md).
 *
 * Its CRDs are installed and kept by the chart (`crds.enabled`, `crds.keep`): deleting the release
 * must not delete every Certificate with them.
 */
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { Construct, IDependable } from 'constructs';
import { HELM_TIMEOUT, PinnedHelmChart } from './kv-observability';

/** cert-manager 1.21, whose CRDs constructs/k8s/imports/cert-manager.io.ts was generated from. */
export const CERT_MANAGER_CHART: PinnedHelmChart = {
  repository: 'https://charts.jetstack.io',
  chart: 'cert-manager',
  version: 'v1.21.1',
  release: 'cert-manager',
  namespace: 'cert-manager',
};

export interface KvCertManagerProps {
  readonly cluster: eks.Cluster;
  /** Nodes to run on: the release waits for them. */
  readonly dependsOn: readonly IDependable[];
  /**
   * Controller and webhook replicas. Two keep the webhook answering through a node's drain (every
   * Certificate change goes through it).
   * @default 2
   */
  readonly replicas?: number;
}

export class KvCertManager extends Construct {
  public readonly release: eks.HelmChart;

  constructor(scope: Construct, id: string, props: KvCertManagerProps) {
    super(scope, id);
    const replicas = props.replicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new Error(`KvCertManager: replicas ${replicas} is not a whole number within 1..5`);
    // With more than one, a PodDisruptionBudget keeps one of each running through a drain.
    const pdb = { enabled: replicas > 1, minAvailable: 1 };
    // The id is the cluster's child's (`chart-<id>`): unique among every release on the cluster.
    this.release = props.cluster.addHelmChart('CertManager', {
      repository: CERT_MANAGER_CHART.repository,
      chart: CERT_MANAGER_CHART.chart,
      version: CERT_MANAGER_CHART.version,
      release: CERT_MANAGER_CHART.release,
      namespace: CERT_MANAGER_CHART.namespace,
      createNamespace: true,
      values: {
        crds: { enabled: true, keep: true },
        replicaCount: replicas,
        podDisruptionBudget: pdb,
        webhook: { replicaCount: replicas, podDisruptionBudget: pdb },
        cainjector: { replicaCount: replicas, podDisruptionBudget: pdb },
        // Its /metrics is served, but no ServiceMonitor is created: the Prometheus operator's CRDs
        // come later (KvObservability), and the release would fail without them.
        prometheus: { enabled: true, servicemonitor: { enabled: false } },
      },
      wait: true,
      timeout: HELM_TIMEOUT,
    });
    this.release.node.addDependency(...props.dependsOn);
  }
}

/**
 * Chaos Mesh on the EKS cluster: the Helm release at a pinned chart version, then the store's chaos
 * chart (chaos/chaos-mesh-chart.ts) once the release's CRDs are served.
 *
 *   chaos-mesh   Helm, namespace chaos-mesh: the controller manager (experiments, Schedules,
 *                Workflows, StatusChecks), a chaos daemon on every node (it enters the target pods'
 *                namespaces through containerd), the dashboard with its security mode on
 *   Chaos        KvChaosChart's standing parts: the dashboard's account and any Schedules. Not the
 *                suite's Workflow and checker: this manifest is applied again at every change of
 *                it, which is no time to start a run (docs/chaos.md: a run is `kubectl apply`)
 *
 * The cluster stack builds this only when the deployment config says `chaosMesh` (on in dev, off in
 * prod): the daemon runs privileged on every node, which a production cluster should not carry
 * unless someone means to break it.
 */
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as cdk8s from 'cdk8s';
import { Construct, IDependable } from 'constructs';
import { CHAOS_MESH_NAMESPACE, KvChaosChart } from '../../chaos/chaos-mesh-chart';
import { ContainerSize, resourcesOf } from '../../observability/sizing';
import type { KvStoreChart } from '../k8s/kv-store-chart';
import { HELM_TIMEOUT, PinnedHelmChart } from './kv-observability';

/**
 * Chaos Mesh 2.8.3. The CRDs the chart is tested against (../shared/crds/chaos-mesh) are of a commit
 * just after v2.8.3 whose CRDs differ from v2.8.3's in description text only.
 */
export const CHAOS_MESH_CHART: PinnedHelmChart = {
  repository: 'https://charts.chaos-mesh.org',
  chart: 'chaos-mesh',
  version: '2.8.3',
  release: 'chaos-mesh',
  namespace: CHAOS_MESH_NAMESPACE,
};

/** EKS nodes (AL2023) run containerd; the daemon talks to it through this socket on the host. */
export const CONTAINERD_SOCKET_PATH = '/run/containerd/containerd.sock';

/** Each component's container: Chaos Mesh's own requests, with limits added (it sets none). */
export const CHAOS_MESH_SIZES: Readonly<Record<'controllerManager' | 'chaosDaemon' | 'dashboard', ContainerSize>> = {
  controllerManager: { cpuRequestMillis: 25, cpuLimitMillis: 500, memoryMiB: 256 },
  // One per Kubernetes node.
  chaosDaemon: { cpuRequestMillis: 25, cpuLimitMillis: 500, memoryMiB: 256 },
  dashboard: { cpuRequestMillis: 25, cpuLimitMillis: 250, memoryMiB: 256 },
};

export interface KvChaosMeshProps {
  readonly cluster: eks.ICluster;
  /** The store the experiments break: the chaos chart's objects go into its namespace. */
  readonly store: KvStoreChart;
  /** The manifest that applies the store's chart (and creates its namespace). */
  readonly storeManifest: IDependable;
  /** The cluster's zones (a zone fault cuts one off from the others). */
  readonly zones: readonly string[];
  /**
   * Recurring runs: a cron for each experiment or suite (KvChaosChartProps.schedules).
   * @default - none
   */
  readonly schedules?: Readonly<Record<string, string>>;
  /**
   * What the release waits for: the node groups its daemon runs on.
   * @default - nothing
   */
  readonly dependsOn?: readonly IDependable[];
}

export class KvChaosMesh extends Construct {
  public readonly release: eks.HelmChart;
  public readonly chart: KvChaosChart;
  public readonly manifest: eks.KubernetesManifest;

  constructor(scope: Construct, id: string, props: KvChaosMeshProps) {
    super(scope, id);
    const { cluster, store } = props;

    this.release = cluster.addHelmChart('ChaosMesh', {
      repository: CHAOS_MESH_CHART.repository,
      chart: CHAOS_MESH_CHART.chart,
      version: CHAOS_MESH_CHART.version,
      release: CHAOS_MESH_CHART.release,
      namespace: CHAOS_MESH_CHART.namespace,
      createNamespace: true,
      values: chaosMeshValues(),
      // Waits for the daemon on every node and the webhooks, so that the chart below is admitted.
      wait: true,
      timeout: HELM_TIMEOUT,
    });
    this.release.node.addDependency(...(props.dependsOn ?? []));

    // In its own cdk8s App, as the cluster stack does with the store's chart.
    this.chart = new KvChaosChart(new cdk8s.App(), 'chaos', { store, zones: props.zones, runSuite: false, schedules: props.schedules, chaosMeshNamespace: CHAOS_MESH_CHART.namespace });
    this.manifest = cluster.addCdk8sChart('Chaos', this.chart);
    this.manifest.node.addDependency(this.release, props.storeManifest);
  }
}

/**
 * The values of the chaos-mesh chart for EKS: containerd's runtime and socket (the chart's default is
 * Docker's, which EKS nodes do not run), the dashboard behind a token (securityMode) and reached by
 * port-forward only (a ClusterIP Service, not the chart's NodePort), and each container sized.
 */
export function chaosMeshValues(): Record<string, unknown> {
  return {
    chaosDaemon: { runtime: 'containerd', socketPath: CONTAINERD_SOCKET_PATH, resources: resourcesOf(CHAOS_MESH_SIZES.chaosDaemon) },
    controllerManager: {
      // One, not the chart's three: a restarted controller delays the injection or the recovery of a
      // fault by its restart, which a test tool can afford; three would hold 768 MiB on dev's nodes.
      replicaCount: 1,
      resources: resourcesOf(CHAOS_MESH_SIZES.controllerManager),
    },
    dashboard: { securityMode: true, service: { type: 'ClusterIP' }, resources: resourcesOf(CHAOS_MESH_SIZES.dashboard) },
    // No DNSChaos among the experiments: no DNS server to run for it.
    dnsServer: { create: false },
  };
}

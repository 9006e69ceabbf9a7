/**
 * Cluster: EKS (aws-eks-v2) with one managed node group per zone, the add-ons the store needs
 * (VPC CNI with network policies, EBS CSI, Pod Identity agent), the gp3 StorageClass, the store's
 * Pod Identity role limited to its backup prefix, the store's chart, and the monitoring stack
 * (constructs/aws/kv-observability.ts: Prometheus, Grafana, the OpenTelemetry Collector, Jaeger,
 * Elasticsearch, Kibana, Filebeat), and Chaos Mesh when asked (constructs/aws/kv-chaos-mesh.ts).
 */
import { KubectlV34Layer } from '@aws-cdk/lambda-layer-kubectl-v34';
import { CfnOutput, CfnResource, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cdk8s from 'cdk8s';
import { Construct } from 'constructs';
import { ImageTagCheck } from '../constructs/aws/image-tag-check';
import { KvChaosMesh } from '../constructs/aws/kv-chaos-mesh';
import { KvCertManager } from '../constructs/aws/kv-cert-manager';
import { KvClusterAutoscaler } from '../constructs/aws/kv-cluster-autoscaler';
import { SPOT_TAINT } from '../constructs/k8s/kv-gateway';
import { KvObservability, KvObservabilityProps } from '../constructs/aws/kv-observability';
import { KvVolumeGrowth } from '../constructs/aws/kv-volume-growth';
import { KvGatewayOptions, KvStoreChart } from '../constructs/k8s/kv-store-chart';
import { StorageClassChart } from '../constructs/k8s/storage-class-chart';
import { MONITORING_NAMESPACE } from '../observability/monitoring-namespace-chart';
import { OBSERVABILITY_SIZING, ObservabilityProfileName } from '../observability/sizing';
import { collectorOtlpHttpEndpoint } from '../observability/telemetry-chart';
import { CONTROL_PLANE_LOG_TYPES, KUBERNETES_VERSION } from './config';

/** Nodes a managed node group replaces at once during an update; the rest keep serving. */
export const NODE_GROUP_MAX_UNAVAILABLE = 1;

/** The Lambda layers the kubectl provider runs with. */
export interface KubectlLayers {
  readonly kubectlLayer: lambda.ILayerVersion;
  /** @default - the AWS CLI layer bundled with aws-cdk-lib */
  readonly awscliLayer?: lambda.ILayerVersion;
}

/** The monitoring knobs, documented where they take effect (constructs/aws/kv-observability.ts). */
type MonitoringKnobs = Pick<
  KvObservabilityProps,
  'scrapeIntervalSeconds' | 'alertRepeatIntervalHours' | 'prometheusRetentionDays' | 'prometheusStorageGiB' | 'elasticsearchNodes' | 'elasticsearchStorageGiB' | 'traceRetentionDays' | 'nodeLogRetentionDays'
>;

export interface ClusterStackProps extends StackProps, MonitoringKnobs {
  /** EKS cluster name; also names the control-plane log group and the node groups. */
  readonly clusterName: string;
  /** The three zones, one managed node group each (the same zones as the VPC's). */
  readonly availabilityZones: readonly string[];
  /**
   * Kubernetes minor version.
   * @default KUBERNETES_VERSION - the version this build pins; any other is rejected, since the
   * kubectl layer and cdk8s-plus packages must move with it
   */
  readonly kubernetesVersion?: string;
  /**
   * Days the EKS control-plane logs are kept.
   * @default - two years (the CloudWatch Logs log group default)
   */
  readonly logRetentionDays?: number;
  /**
   * Public CIDRs allowed to reach the EKS API endpoint.
   * @default - none: the endpoint is private only
   */
  readonly endpointPublicCidrs?: readonly string[];
  /**
   * IAM role ARN given cluster-admin through an EKS access entry.
   * @default - no admin access entry
   */
  readonly adminRoleArn?: string;
  /** EC2 instance types of every per-zone managed node group, e.g. ['m7i.large']. */
  readonly nodeInstanceTypes: readonly string[];
  /** Nodes per zone: minimum, desired and maximum of each zone's node group. */
  readonly nodesPerZoneMin: number;
  readonly nodesPerZone: number;
  readonly nodesPerZoneMax: number;
  /** Root volume of each node, GiB. */
  readonly nodeDiskSizeGiB: number;
  /**
   * Tag of the node image in `repository` (the deploy workflow passes the git SHA). The deployment
   * fails before the store's chart is applied when the repository has no image with this tag.
   */
  readonly storeImageTag: string;
  /**
   * Namespace the store runs in.
   * @default - the store chart's default ('kv')
   */
  readonly storeNamespace?: string;
  /**
   * Store nodes (StatefulSet replicas).
   * @default - the store chart's default (3, one per zone)
   */
  readonly storeReplicas?: number;
  /**
   * Size of each store node's data volume, GiB. Raising it grows the volumes through their claims
   * (constructs/aws/kv-volume-growth.ts); it can never be below storeVolumeClaimGiB.
   * @default - the store chart's default (20)
   */
  readonly storeStorageGiB?: number;
  /**
   * Size in the StatefulSet's volume claim template, GiB: the size the StatefulSet was created with,
   * which the API server refuses to change afterwards.
   * @default - storeStorageGiB: right for a new cluster only; pass the creation size once it exists
   */
  readonly storeVolumeClaimGiB?: number;
  /**
   * TLS on the store's gRPC port, mutual TLS between its nodes and client authorization (the store
   * chart's `tls`); installs cert-manager (constructs/aws/kv-cert-manager.ts) for its certificates.
   * @default false - plaintext; the NetworkPolicy is the only guard of the peer service
   */
  readonly storeTls?: boolean;
  /**
   * The gateway tier's sizing and autoscaling (constructs/k8s/kv-gateway.ts).
   * @default - 2 to 10 gateways, scaled at 70 % CPU or 256 operations in flight per pod
   */
  readonly gateway?: KvGatewayOptions;
  /**
   * Replication factor N, read quorum R, write quorum W and ring partitions handed to every node.
   * @default - the node's defaults (app/node/config.ts): 3, 2, 2 and 64
   */
  readonly n?: number;
  readonly r?: number;
  readonly w?: number;
  readonly partitions?: number;
  readonly vpc: ec2.IVpc;
  readonly backupBucket: s3.IBucket;
  /** Key prefix (no slashes) under which the store writes backups. */
  readonly backupPrefix: string;
  /** Role the store's pods get through EKS Pod Identity (BackupStack.storeRole). */
  readonly storeRole: iam.IRole;
  readonly repository: ecr.IRepository;
  /**
   * Creates the kubectl provider's layers. Unit tests pass stubs: the real kubectl layer is a large
   * asset, and copying it into every test's cloud assembly makes synth slow.
   * @default - KubectlV34Layer, matching the pinned Kubernetes version
   */
  readonly kubectlLayers?: (scope: Construct) => KubectlLayers;
  /**
   * Sizes the monitoring stack (observability/sizing.ts): replicas, container resources, volumes.
   * @default 'dev' - single replicas, short retention
   */
  readonly observabilityProfile?: ObservabilityProfileName;
  /**
   * Share of client operations the store nodes trace, 0 (off) to 1.
   * @default - the observability profile's (0.1 for dev, 0.01 for prod)
   */
  readonly traceSampleRatio?: number;
  /**
   * A role allowed to watch the store's rollout (the deploy workflow's `kubectl rollout status`):
   * Kubernetes' view permissions in the store's namespace only (an EKS access entry with
   * AmazonEKSViewPolicy), and the eks:DescribeCluster that `aws eks update-kubeconfig` needs.
   * @default - none
   */
  readonly rolloutReader?: iam.IRole;
  /**
   * Installs Chaos Mesh and the store's chaos chart (constructs/aws/kv-chaos-mesh.ts).
   * @default false - no Chaos Mesh: its daemon runs privileged on every node
   */
  readonly chaosMesh?: boolean;
}

export class ClusterStack extends Stack {
  private readonly configuredZones: readonly string[];

  /** The configured zones: without this override CDK would look the zones up in the account at synth. */
  public override get availabilityZones(): string[] {
    return [...this.configuredZones];
  }

  public readonly cluster: eks.Cluster;
  public readonly nodegroups: readonly eks.Nodegroup[];
  /** Spot nodes, tainted: gateways and load tests only. */
  public readonly spotNodegroup: eks.Nodegroup;
  public readonly clusterAutoscaler: KvClusterAutoscaler;
  public readonly storeChart: KvStoreChart;
  /** The store's claims grown to storeStorageGiB (no patches while it is the claim template's size). */
  public readonly volumeGrowth: KvVolumeGrowth;
  public readonly observability: KvObservability;
  /** cert-manager, when the store has TLS (storeTls). */
  public readonly certManager?: KvCertManager;
  /** Chaos Mesh and the chaos chart, when `chaosMesh` is on. */
  public readonly chaosMesh?: KvChaosMesh;

  constructor(scope: Construct, id: string, props: ClusterStackProps) {
    super(scope, id, props);
    this.configuredZones = props.availabilityZones;
    const { clusterName } = props;
    const kubernetesVersion = props.kubernetesVersion ?? KUBERNETES_VERSION;
    const endpointPublicCidrs = props.endpointPublicCidrs ?? [];
    // The kubectl layer package and cdk8s-plus-34 are tied to one minor version (see config.ts).
    if (kubernetesVersion !== KUBERNETES_VERSION) {
      throw new Error(
        `ClusterStack: kubernetesVersion is ${kubernetesVersion}; this build pins ${KUBERNETES_VERSION} ` +
          '(change KUBERNETES_VERSION together with the kubectl layer and cdk8s-plus packages).',
      );
    }
    const makeLayers = props.kubectlLayers ?? ((s: Construct): KubectlLayers => ({ kubectlLayer: new KubectlV34Layer(s, 'KubectlLayer') }));
    const layers = makeLayers(this);

    // Created before the cluster so that its retention applies (EKS would create it without one).
    const controlPlaneLogs = new logs.LogGroup(this, 'ControlPlaneLogs', {
      logGroupName: `/aws/eks/${clusterName}/cluster`,
      retention: props.logRetentionDays as logs.RetentionDays | undefined,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const secretsKey = new kms.Key(this, 'SecretsKey', {
      description: `Envelope encryption of Kubernetes secrets in ${clusterName}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const endpointAccess =
      endpointPublicCidrs.length === 0
        ? eks.EndpointAccess.PRIVATE
        : eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...endpointPublicCidrs);

    this.cluster = new eks.Cluster(this, 'Cluster', {
      clusterName,
      version: eks.KubernetesVersion.of(kubernetesVersion),
      vpc: props.vpc,
      vpcSubnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
      // Capacity comes from the per-zone node groups below, not Auto Mode or a default group.
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      endpointAccess,
      clusterLogging: CONTROL_PLANE_LOG_TYPES.map((t) => t as eks.ClusterLoggingTypes),
      secretsEncryptionKey: secretsKey,
      kubectlProviderOptions: { kubectlLayer: layers.kubectlLayer, awscliLayer: layers.awscliLayer },
    });
    // Only the cluster resource itself must wait for the log group, not everything inside the construct.
    (this.cluster.node.defaultChild as CfnResource).node.addDependency(controlPlaneLogs);

    if (props.adminRoleArn !== undefined) {
      this.cluster.grantClusterAdmin('AdminAccess', props.adminRoleArn);
    }

    // One node role for all groups: the groups differ only in zone.
    const nodeRole = new iam.Role(this, 'NodeRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEKSWorkerNodePolicy'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEC2ContainerRegistryPullOnly'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEKS_CNI_Policy'),
      ],
    });

    // One managed node group per zone: an EBS volume lives in one zone, so a pod whose volume is in
    // zone a must find a node in zone a; a multi-zone group could scale that zone to zero.
    // Updates (a new AMI, Kubernetes version, instance type) replace NODE_GROUP_MAX_UNAVAILABLE node
    // at a time, and never force: a drain that the store's PodDisruptionBudget refuses fails the
    // update (EKS reports PodEvictionFailure) instead of killing a pod that holds a quorum member.
    this.nodegroups = props.availabilityZones.map((az) =>
      this.cluster.addNodegroupCapacity(`Nodes-${az.slice(-1)}`, {
        nodegroupName: `${clusterName}-${az}`,
        nodeRole,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, availabilityZones: [az] },
        amiType: eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
        instanceTypes: props.nodeInstanceTypes.map((t) => new ec2.InstanceType(t)),
        minSize: props.nodesPerZoneMin,
        desiredSize: props.nodesPerZone,
        maxSize: props.nodesPerZoneMax,
        diskSize: props.nodeDiskSizeGiB,
        labels: { 'dynamo-kv/node-group': az },
        maxUnavailable: NODE_GROUP_MAX_UNAVAILABLE,
        forceUpdate: false,
      }),
    );

    // Spot capacity for what may be interrupted: gateways and load generators tolerate the taint,
    // the store's pods do not, so no replica ever lands on a spot node. Empty until the Cluster
    // Autoscaler grows it for pending pods (it tries this group first: see the expander below).
    this.spotNodegroup = this.cluster.addNodegroupCapacity('Nodes-Spot', {
      nodegroupName: `${clusterName}-spot`,
      nodeRole,
      subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      amiType: eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      capacityType: eks.CapacityType.SPOT,
      instanceTypes: props.nodeInstanceTypes.map((t) => new ec2.InstanceType(t)),
      minSize: 0,
      desiredSize: 0,
      maxSize: props.nodesPerZoneMax * props.availabilityZones.length,
      diskSize: props.nodeDiskSizeGiB,
      labels: { 'dynamo-kv/node-group': 'spot' },
      taints: [{ key: SPOT_TAINT.key, value: SPOT_TAINT.value, effect: eks.TaintEffect.NO_SCHEDULE }],
      maxUnavailable: NODE_GROUP_MAX_UNAVAILABLE,
      forceUpdate: false,
    });
    // One zone at a time: each group waits for the previous one, so CloudFormation creates and
    // updates them in sequence and a rolling update never has two zones' nodes draining at once
    // (with N=3 over three zones, two zones down at once would lose a quorum of some partitions).
    this.nodegroups.forEach((group, i) => {
      if (i > 0) group.node.addDependency(this.nodegroups[i - 1]!);
    });

    // VPC CNI as a managed add-on so that NetworkPolicy objects are enforced (off by default).
    const vpcCni = new eks.CfnAddon(this, 'VpcCniAddon', {
      clusterName: this.cluster.clusterName,
      addonName: 'vpc-cni',
      resolveConflicts: 'OVERWRITE',
      configurationValues: JSON.stringify({ enableNetworkPolicy: 'true' }),
    });

    // Nodes for pending pods (gateways the HPA added, load tests), spot first; idle nodes removed.
    this.clusterAutoscaler = new KvClusterAutoscaler(this, 'ClusterAutoscaler', {
      cluster: this.cluster,
      clusterName,
      region: this.region,
      dependsOn: [...this.nodegroups, this.spotNodegroup, ...(this.cluster.eksPodIdentityAgent ? [this.cluster.eksPodIdentityAgent] : [])],
    });

    // metrics-server: CPU and memory of pods for `kubectl top` and the gateways' HPA.
    const metricsServer = new eks.CfnAddon(this, 'MetricsServerAddon', {
      clusterName: this.cluster.clusterName,
      addonName: 'metrics-server',
      resolveConflicts: 'OVERWRITE',
    });
    metricsServer.node.addDependency(...this.nodegroups);

    // Pod Identity agent: hands pods the credentials of the role associated with their service account.
    const podIdentityAgent = this.cluster.eksPodIdentityAgent;
    if (podIdentityAgent === undefined) throw new Error('ClusterStack: the EKS Pod Identity agent add-on was not created.');

    // EBS CSI driver: provisions the gp3 volumes. Its controller gets its role through Pod Identity.
    const ebsCsiRole = new iam.Role(this, 'EbsCsiRole', {
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEBSCSIDriverPolicy')],
    });
    const ebsCsi = new eks.CfnAddon(this, 'EbsCsiAddon', {
      clusterName: this.cluster.clusterName,
      addonName: 'aws-ebs-csi-driver',
      resolveConflicts: 'OVERWRITE',
      podIdentityAssociations: [{ serviceAccount: 'ebs-csi-controller-sa', roleArn: ebsCsiRole.roleArn }],
    });
    // The controller pods need nodes to run on, and the agent to get credentials.
    ebsCsi.node.addDependency(podIdentityAgent, ...this.nodegroups);

    // Each chart in its own cdk8s App, as bin/k8s.ts does; the CDK tokens inside (image URI, bucket
    // name) are resolved by CloudFormation when the manifest is applied. The store chart resolves
    // its own defaults; the namespace and service account below are the ones it chose.
    const storageChart = new StorageClassChart(new cdk8s.App(), 'storage');
    // The nodes send their spans to the collector of the monitoring stack below. Its endpoint is a
    // function of the monitoring namespace, since that stack's charts read the store's.
    const observabilityProfile = props.observabilityProfile ?? 'dev';
    const otlpEndpoint = collectorOtlpHttpEndpoint(MONITORING_NAMESPACE);
    this.storeChart = new KvStoreChart(new cdk8s.App(), 'kv', {
      image: props.repository.repositoryUriForTag(props.storeImageTag),
      namespace: props.storeNamespace,
      serviceAccountName: 'kv',
      replicas: props.storeReplicas,
      n: props.n,
      r: props.r,
      w: props.w,
      partitions: props.partitions,
      storageClassName: storageChart.storageClassName,
      storageGiB: props.storeStorageGiB,
      volumeClaimGiB: props.storeVolumeClaimGiB,
      backup: { bucketName: props.backupBucket.bucketName, prefix: props.backupPrefix },
      // Stateless gateways in front of the store, scaled by an HPA (CPU from metrics-server, operations
      // in flight from the Prometheus adapter); the storage pods scale through membership only.
      gateway: props.gateway ?? {},
      tracing: { sampleRatio: props.traceSampleRatio ?? OBSERVABILITY_SIZING[observabilityProfile].traceSampleRatio, otlpEndpoint },
      tls: props.storeTls ? {} : undefined,
    });
    // cert-manager issues the store's certificates: its CRDs and webhook must be there before the chart.
    this.certManager = props.storeTls ? new KvCertManager(this, 'CertManager', { cluster: this.cluster, dependsOn: this.nodegroups }) : undefined;

    // The store's AWS identity: its service account gets the backup role (read and write its prefix only).
    const storeIdentity = new eks.CfnPodIdentityAssociation(this, 'StorePodIdentity', {
      clusterName: this.cluster.clusterName,
      namespace: this.storeChart.namespaceName,
      serviceAccount: this.storeChart.serviceAccountName,
      roleArn: props.storeRole.roleArn,
    });
    storeIdentity.node.addDependency(podIdentityAgent);

    const storageManifest = this.cluster.addCdk8sChart('StorageClass', storageChart);
    storageManifest.node.addDependency(ebsCsi);

    // The image must be in the repository before anything runs it: the check fails the deployment
    // (and CloudFormation rolls back) instead of leaving pods in ImagePullBackOff.
    const imageCheck = new ImageTagCheck(this, 'StoreImage', { repository: props.repository, tag: props.storeImageTag });

    const storeManifest = this.cluster.addCdk8sChart('Store', this.storeChart);
    storeManifest.node.addDependency(storageManifest, storeIdentity, vpcCni, imageCheck.resource, ...(this.certManager ? [this.certManager.release] : []));
    // Volumes larger than the claim template: each claim patched to storageGiB, once it is bound.
    this.volumeGrowth = new KvVolumeGrowth(this, 'StoreVolumes', { cluster: this.cluster, store: this.storeChart, storeManifest });

    if (props.rolloutReader !== undefined) {
      this.cluster.grantAccess('RolloutReaderAccess', props.rolloutReader.roleArn, [
        eks.AccessPolicy.fromAccessPolicyName('AmazonEKSViewPolicy', { accessScopeType: eks.AccessScopeType.NAMESPACE, namespaces: [this.storeChart.namespaceName] }),
      ]);
      // In this stack, attached to the role by name: the role's own stack must not depend on this one.
      new iam.Policy(this, 'RolloutReaderDescribeCluster', {
        roles: [props.rolloutReader],
        statements: [new iam.PolicyStatement({ actions: ['eks:DescribeCluster'], resources: [this.cluster.clusterArn] })],
      });
    }

    // The monitoring stack: its Helm releases wait for volumes (the StorageClass) and nodes to run on.
    this.observability = new KvObservability(this, 'Observability', {
      cluster: this.cluster,
      store: this.storeChart,
      storeManifest,
      storageClassName: storageChart.storageClassName,
      dependsOn: [storageManifest, ...this.nodegroups],
      namespace: MONITORING_NAMESPACE,
      profile: observabilityProfile,
      clusterLabel: clusterName,
      scrapeIntervalSeconds: props.scrapeIntervalSeconds,
      alertRepeatIntervalHours: props.alertRepeatIntervalHours,
      prometheusRetentionDays: props.prometheusRetentionDays,
      prometheusStorageGiB: props.prometheusStorageGiB,
      elasticsearchNodes: props.elasticsearchNodes,
      elasticsearchStorageGiB: props.elasticsearchStorageGiB,
      traceRetentionDays: props.traceRetentionDays,
      nodeLogRetentionDays: props.nodeLogRetentionDays,
    });
    // The store was told the endpoint before the collector's chart existed: the two must agree.
    if (this.observability.telemetryChart.otlpHttpEndpoint !== otlpEndpoint) {
      throw new Error(`ClusterStack: the store sends spans to ${otlpEndpoint}, but the collector is at ${this.observability.telemetryChart.otlpHttpEndpoint}.`);
    }

    // Chaos Mesh last: its chart's objects go into the store's namespace, and its daemon needs nodes.
    if (props.chaosMesh ?? false) {
      this.chaosMesh = new KvChaosMesh(this, 'ChaosMesh', {
        cluster: this.cluster,
        store: this.storeChart,
        storeManifest,
        zones: props.availabilityZones,
        dependsOn: [...this.nodegroups],
      });
    }

    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'UpdateKubeconfig', {
      value: `aws eks update-kubeconfig --region ${this.region} --name ${clusterName}`,
    });
  }
}

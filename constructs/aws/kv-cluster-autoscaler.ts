/**
 * Node autoscaling: the Kubernetes Cluster Autoscaler (Helm, pinned), which adds nodes to a
 * managed node group when pods are pending for want of room (gateways the HPA added, load-test
 * pods) and removes nodes that have been idle a while. It finds the node groups by the tags EKS puts
 * on their Auto Scaling groups (`k8s.io/cluster-autoscaler/enabled`, `.../<cluster>`), and may
 * change only those (an IAM condition on the cluster's tag), with a role given to its service
 * account through EKS Pod Identity.
 *
 * The store's own nodes are never drained by it: the store pods use a local emptyDir (their zone
 * file), and the autoscaler leaves nodes with such pods alone (`skip-nodes-with-local-storage`,
 * set explicitly), besides the store's PodDisruptionBudget.
 */
import { Duration } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IDependable } from 'constructs';
import { HELM_TIMEOUT, PinnedHelmChart } from './kv-observability';

/** Cluster Autoscaler 1.34.1, for Kubernetes 1.34 (its minor version must match the cluster's). */
export const CLUSTER_AUTOSCALER_CHART: PinnedHelmChart = {
  repository: 'https://kubernetes.github.io/autoscaler',
  chart: 'cluster-autoscaler',
  version: '9.52.1',
  release: 'cluster-autoscaler',
  namespace: 'kube-system',
};

/** The service account the chart runs as (its `rbac.serviceAccount.name`). */
export const CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = 'cluster-autoscaler';

export interface KvClusterAutoscalerProps {
  readonly cluster: eks.Cluster;
  readonly clusterName: string;
  readonly region: string;
  /** The node groups it scales, and the Pod Identity agent: the release waits for them. */
  readonly dependsOn: readonly IDependable[];
  /**
   * How long a node must be unneeded before it is removed.
   * @default 10 minutes
   */
  readonly scaleDownUnneededTime?: Duration;
}

export class KvClusterAutoscaler extends Construct {
  public readonly role: iam.Role;
  public readonly release: eks.HelmChart;

  constructor(scope: Construct, id: string, props: KvClusterAutoscalerProps) {
    super(scope, id);
    const unneeded = props.scaleDownUnneededTime ?? Duration.minutes(10);

    this.role = new iam.Role(this, 'Role', {
      description: `Cluster Autoscaler of ${props.clusterName}: resize its tagged node groups only`,
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeNodeGroups',
        // Describe calls have no resource-level permissions.
        actions: [
          'autoscaling:DescribeAutoScalingGroups',
          'autoscaling:DescribeAutoScalingInstances',
          'autoscaling:DescribeLaunchConfigurations',
          'autoscaling:DescribeScalingActivities',
          'autoscaling:DescribeTags',
          'ec2:DescribeImages',
          'ec2:DescribeInstanceTypes',
          'ec2:DescribeLaunchTemplateVersions',
          'ec2:GetInstanceTypesFromInstanceRequirements',
          'eks:DescribeNodegroup',
        ],
        resources: ['*'],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ResizeThisClustersNodeGroups',
        actions: ['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup'],
        resources: ['*'],
        conditions: { StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${props.clusterName}`]: 'owned' } },
      }),
    );

    const identity = new eks.CfnPodIdentityAssociation(this, 'PodIdentity', {
      clusterName: props.cluster.clusterName,
      namespace: CLUSTER_AUTOSCALER_CHART.namespace!,
      serviceAccount: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
      roleArn: this.role.roleArn,
    });

    this.release = props.cluster.addHelmChart('Release', {
      repository: CLUSTER_AUTOSCALER_CHART.repository,
      chart: CLUSTER_AUTOSCALER_CHART.chart,
      version: CLUSTER_AUTOSCALER_CHART.version,
      release: CLUSTER_AUTOSCALER_CHART.release,
      namespace: CLUSTER_AUTOSCALER_CHART.namespace,
      values: {
        cloudProvider: 'aws',
        awsRegion: props.region,
        autoDiscovery: { clusterName: props.clusterName },
        rbac: { serviceAccount: { create: true, name: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT } },
        // Auto Scaling group names of managed node groups are eks-<node group name>-<id>.
        expanderPriorities: { 50: [`.*-${props.clusterName}-spot-.*`], 10: ['.*'] },
        extraArgs: {
          // Zones stay even: each zone's group grows alike.
          'balance-similar-node-groups': true,
          // The spot group first, when it can hold the pending pods; then the least waste.
          expander: 'priority,least-waste',
          'skip-nodes-with-local-storage': true,
          'skip-nodes-with-system-pods': true,
          'scale-down-unneeded-time': `${unneeded.toMinutes()}m`,
        },
      },
      wait: true,
      timeout: HELM_TIMEOUT,
    });
    this.release.node.addDependency(identity, ...props.dependsOn);
  }
}

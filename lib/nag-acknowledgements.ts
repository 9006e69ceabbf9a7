/**
 * Every cdk-nag (AwsSolutions) finding we accept, each on the narrowest construct and each with its
 * reason. cdk-nag v3 matches findings one by one (rule plus the exact policy or resource), so a new
 * wildcard or managed policy shows up as a new, unacknowledged finding and fails synth and tests.
 */
import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import type { KvStacks } from './stacks';

function ack(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-${id}`, reason });
}

function managedPolicy(name: string): string {
  return `IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`;
}

export function acknowledgeNagFindings(stacks: KvStacks): void {
  const { network, registry, cluster, backup } = stacks;

  // CloudFormation Validate (built into CDK) warnings.
  Validations.of(network.vpc).acknowledge({
    id: 'CloudFormation-Validate::W3010',
    reason: 'Zones are named in config on purpose: synth must not look them up, and node groups are pinned one per zone.',
  });
  Validations.of(cluster.cluster).acknowledge({
    id: 'CloudFormation-Validate::W9009',
    reason: 'aws-eks-v2 renders EncryptionConfig.Resources ["secrets"], the only value EKS accepts; the deprecation does not change behaviour.',
  });

  // The ECR interface endpoints' security groups admit HTTPS from the VPC's own CIDR, a token that
  // EC23 (no 0.0.0.0/0 ingress) cannot evaluate.
  for (const id of ['EcrApiEndpoint', 'EcrDockerEndpoint']) {
    const endpoint = network.vpc.node.tryFindChild(id);
    if (endpoint === undefined) continue;
    ack(endpoint, 'EC23', 'The endpoint security group admits port 443 from the VPC CIDR only (CDK sets it from the VPC); the rule cannot read the CIDR token.');
  }

  // Registry: the deploy role.
  const deployPolicy = registry.deployRole.node.findChild('DefaultPolicy');
  ack(
    deployPolicy,
    `IAM5[Resource::arn:aws:iam::${registry.account}:role/cdk-hnb659fds-*-${registry.account}-${registry.region}]`,
    'cdk deploy assumes the CDK bootstrap roles (deploy, file-publishing, image-publishing, lookup) of this account and region only; their names differ by a role kind in the middle.',
  );
  ack(deployPolicy, 'IAM5[Resource::*]', 'ecr:GetAuthorizationToken has no resource-level permissions; it must be granted on "*". Push and pull are limited to the node repository.');

  // The Cluster Autoscaler's role: Auto Scaling, EC2 and EKS describe calls have no resource-level
  // permissions; its two writes are limited to this cluster's node groups by a tag condition.
  ack(
    cluster.clusterAutoscaler.role.node.findChild('DefaultPolicy'),
    'IAM5[Resource::*]',
    'Describe calls (Auto Scaling groups, instance types, launch templates, node groups) take no resource ARN; SetDesiredCapacity and TerminateInstanceInAutoScalingGroup are limited to groups tagged k8s.io/cluster-autoscaler/<this cluster>=owned.',
  );

  // Cluster: roles that EKS, EC2 and the EBS CSI driver document as using AWS managed policies.
  const eksCluster = cluster.cluster;
  ack(
    eksCluster.role,
    managedPolicy('AmazonEKSClusterPolicy'),
    'AmazonEKSClusterPolicy is the policy EKS documents for the cluster role; AWS updates it as EKS needs new permissions.',
  );
  const nodeRole = cluster.node.findChild('NodeRole');
  for (const policy of ['AmazonEKSWorkerNodePolicy', 'AmazonEC2ContainerRegistryPullOnly', 'AmazonEKS_CNI_Policy']) {
    ack(nodeRole, managedPolicy(policy), `${policy} is the AWS-maintained policy EKS documents for managed node group roles.`);
  }
  ack(
    cluster.node.findChild('EbsCsiRole'),
    managedPolicy('service-role/AmazonEBSCSIDriverPolicy'),
    'AmazonEBSCSIDriverPolicy is the AWS-maintained policy the EBS CSI add-on documents; it tracks new EBS APIs the driver uses.',
  );

  // Cluster: the kubectl provider that aws-eks-v2 creates (Lambda functions we do not write).
  const kubectlProvider = eksCluster.node.findChild('KubectlProvider');
  for (const policy of ['service-role/AWSLambdaBasicExecutionRole', 'service-role/AWSLambdaVPCAccessExecutionRole', 'AmazonEC2ContainerRegistryReadOnly']) {
    ack(kubectlProvider, managedPolicy(policy), `The aws-eks-v2 kubectl provider's Lambda roles use ${policy} (logging, VPC ENIs for the private endpoint, pulling images); CDK owns these roles.`);
  }
  const handler = kubectlProvider.node.findChild('Handler');
  // Where ECR Public exists, the handler role also gets its read-only policy, behind a condition.
  const hasEcrPublic = handler.node.tryFindChild('HasEcrPublic') as CfnElement | undefined;
  if (hasEcrPublic !== undefined) {
    const conditional = {
      'Fn::If': [
        Stack.of(handler).getLogicalId(hasEcrPublic),
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly']] },
        { Ref: 'AWS::NoValue' },
      ],
    };
    ack(
      kubectlProvider,
      `IAM4[Policy::${JSON.stringify(conditional)}]`,
      'The kubectl provider reads ECR Public (Helm charts, images) where that service exists; CDK owns this role.',
    );
  }
  ack(
    kubectlProvider,
    `IAM5[Resource::<${Stack.of(handler).getLogicalId(handler.node.defaultChild as CfnElement)}.Arn>:*]`,
    'The custom-resource framework may invoke every version of the kubectl handler function; the wildcard is the version suffix only.',
  );
  ack(handler, 'L1', 'The kubectl handler runtime is chosen by aws-eks-v2 to match the kubectl layer; CDK upgrades it.');

  // Cluster: the deploy-time image-tag check (constructs/aws/image-tag-check.ts) and its provider.
  const imageCheck = cluster.node.findChild('StoreImage');
  ack(
    imageCheck,
    managedPolicy('service-role/AWSLambdaBasicExecutionRole'),
    'The image-tag check and its custom-resource provider write their logs through the AWS-maintained basic execution policy; beyond it the check may only DescribeImages on the node repository.',
  );
  const imageCheckHandler = imageCheck.node.findChild('Handler');
  ack(
    imageCheck,
    `IAM5[Resource::<${Stack.of(imageCheckHandler).getLogicalId(imageCheckHandler.node.defaultChild as CfnElement)}.Arn>:*]`,
    'The custom-resource framework may invoke every version of the image-tag check function; the wildcard is the version suffix only.',
  );

  // Backup: the store's role, limited to its prefix.
  ack(
    backup.storeRole.node.findChild('DefaultPolicy'),
    `IAM5[Resource::<${backup.getLogicalId(backup.bucket.node.defaultChild as CfnElement)}.Arn>/${backup.prefix}/*]`,
    'The store writes one object per backup under its prefix; the wildcard covers that prefix of the backup bucket only.',
  );
}

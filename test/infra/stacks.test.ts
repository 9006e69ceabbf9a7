import { Match, Template } from 'aws-cdk-lib/assertions';
import { CHAOS_MESH_CHART } from '../../constructs/aws/kv-chaos-mesh';
import { ECK_OPERATOR_CHART, KUBE_PROMETHEUS_STACK_CHART, OPENTELEMETRY_OPERATOR_CHART, PROMETHEUS_ADAPTER_CHART } from '../../constructs/aws/kv-observability';
import { NODE_GROUP_MAX_UNAVAILABLE } from '../../lib/cluster-stack';
import { IMAGE_TAG_CHECK_RESOURCE_TYPE } from '../../constructs/aws/image-tag-check';
import { buildStacks, TEST_ACCOUNT, TEST_IMAGE_TAG } from './helpers';
import { S3_ACTIONS_USED } from '../../app/backup/bucket';
import { Layout } from '../../app/backup/manifest';
import { Testing } from 'cdk8s';
import { CERT_MANAGER_CHART } from '../../constructs/aws/kv-cert-manager';
import { CLUSTER_AUTOSCALER_CHART } from '../../constructs/aws/kv-cluster-autoscaler';
import { SPOT_TAINT } from '../../constructs/k8s/kv-gateway';

const ADMIN_ROLE = `arn:aws:iam::${TEST_ACCOUNT}:role/PlatformAdmin`;
/** The per-zone (on-demand) node groups, not the spot group. */
const ZONE_GROUP = { Properties: { CapacityType: Match.absent() } };

// Building the four stacks takes a few seconds; each profile is built once and shared.
const dev = buildStacks({ profile: 'dev', adminRoleArn: ADMIN_ROLE, githubRepository: 'acme/dynamo-kv' });
const prod = buildStacks({ profile: 'prod', endpointPublicCidrs: '203.0.113.0/24' });
const devTemplates = {
  network: Template.fromStack(dev.stacks.network),
  backup: Template.fromStack(dev.stacks.backup),
  registry: Template.fromStack(dev.stacks.registry),
  cluster: Template.fromStack(dev.stacks.cluster),
};
const prodTemplates = {
  network: Template.fromStack(prod.stacks.network),
  registry: Template.fromStack(prod.stacks.registry),
  cluster: Template.fromStack(prod.stacks.cluster),
};

describe('network stack', () => {
  test('spans exactly the three configured zones with a public and a private subnet in each', () => {
    const subnets = devTemplates.network.findResources('AWS::EC2::Subnet');
    const zones = Object.values(subnets).map((s) => s.Properties.AvailabilityZone as string);
    expect(zones.sort()).toEqual(['eu-west-1a', 'eu-west-1a', 'eu-west-1b', 'eu-west-1b', 'eu-west-1c', 'eu-west-1c']);
    devTemplates.network.resourcePropertiesCountIs('AWS::EC2::Subnet', { MapPublicIpOnLaunch: true }, 3);
    devTemplates.network.resourcePropertiesCountIs('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false }, 3);
  });

  test('dev has one NAT gateway, prod one per zone', () => {
    devTemplates.network.resourceCountIs('AWS::EC2::NatGateway', 1);
    prodTemplates.network.resourceCountIs('AWS::EC2::NatGateway', 3);
  });

  test('records all traffic in VPC flow logs with a retention', () => {
    devTemplates.network.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    devTemplates.network.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: dev.config.logRetentionDays });
  });

  test('keeps S3 and ECR traffic off the NAT gateways: an S3 gateway endpoint everywhere, and ECR interface endpoints in prod\'s private subnets', () => {
    // Dev: the S3 gateway endpoint only (free); the interface endpoints would cost more than dev's image pulls through NAT.
    expect(Object.values(devTemplates.network.findResources('AWS::EC2::VPCEndpoint')).map((e) => e.Properties.VpcEndpointType)).toEqual(['Gateway']);
    const endpoints = Object.values(prodTemplates.network.findResources('AWS::EC2::VPCEndpoint')).map((e) => e.Properties);
    const services = endpoints.map((e) => JSON.stringify(e.ServiceName));
    expect(endpoints.map((e) => e.VpcEndpointType).sort()).toEqual(['Gateway', 'Interface', 'Interface']);
    expect(services.some((s) => s.includes('.s3'))).toBe(true);
    expect(services.some((s) => s.includes('ecr.api'))).toBe(true);
    expect(services.some((s) => s.includes('ecr.dkr'))).toBe(true);
    for (const e of endpoints.filter((x) => x.VpcEndpointType === 'Interface')) {
      expect(e.PrivateDnsEnabled).toBe(true);
      expect(e.SubnetIds).toHaveLength(3);
    }
    // The gateway endpoint is routed from the private subnets' route tables, one per zone.
    expect(endpoints.find((e) => e.VpcEndpointType === 'Gateway')!.RouteTableIds).toHaveLength(3);
  });

  test('tags public subnets for internet-facing and private subnets for internal load balancers', () => {
    devTemplates.network.resourcePropertiesCountIs('AWS::EC2::Subnet', { Tags: Match.arrayWith([{ Key: 'kubernetes.io/role/elb', Value: '1' }]) }, 3);
    devTemplates.network.resourcePropertiesCountIs('AWS::EC2::Subnet', { Tags: Match.arrayWith([{ Key: 'kubernetes.io/role/internal-elb', Value: '1' }]) }, 3);
  });
});

describe('backup stack', () => {
  const bucketProps = () => {
    const buckets = devTemplates.backup.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } } });
    expect(Object.keys(buckets)).toHaveLength(1);
    return Object.values(buckets)[0];
  };

  test('the backup bucket is encrypted, versioned, private and retained when the stack is deleted', () => {
    const bucket = bucketProps();
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }]);
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.UpdateReplacePolicy).toBe('Retain');
    expect(bucket.Properties.LoggingConfiguration).toBeDefined();
  });

  test('moves backups to a cheaper class after N days and expires noncurrent versions', () => {
    const rules = bucketProps().Properties.LifecycleConfiguration.Rules;
    expect(rules).toEqual([
      expect.objectContaining({
        Status: 'Enabled',
        Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: dev.config.backup.transitionAfterDays }],
        NoncurrentVersionExpiration: { NoncurrentDays: dev.config.backup.noncurrentExpireAfterDays },
      }),
    ]);
  });

  test('denies every request that is not over TLS', () => {
    const policies = devTemplates.backup.findResources('AWS::S3::BucketPolicy');
    const denies = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s) => s.Effect === 'Deny');
    expect(denies).toEqual(
      expect.arrayContaining([expect.objectContaining({ Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
    );
    // One TLS-only deny per bucket (backups and access logs).
    expect(denies.filter((s) => s.Condition?.Bool?.['aws:SecureTransport'] === 'false')).toHaveLength(2);
  });

  test("the store's role may list, read and write only its backup prefix", () => {
    const policies = devTemplates.backup.findResources('AWS::IAM::Policy');
    const statements = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const prefix = dev.config.backup.prefix;
    expect(statements).toHaveLength(2);
    const list = statements.find((s) => s.Action === 's3:ListBucket');
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': [`${prefix}/*`] } });
    const objects = statements.find((s) => s.Sid === 'ReadWriteBackupPrefix');
    expect(objects.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.any(String), 'Arn'] }, `/${prefix}/*`]] });
    // No statement reaches the whole bucket's objects, other buckets, or any other service.
    for (const s of statements) {
      for (const action of [s.Action].flat()) expect(action).toMatch(/^s3:(ListBucket|GetObject|PutObject|DeleteObject|AbortMultipartUpload|ListMultipartUploadParts)$/);
      // Neither "*" nor "<bucket>/*" (every object in the bucket).
      expect(JSON.stringify(s.Resource)).not.toMatch(/"\*"|"\/\*"/);
    }
  });

  test("the store's role allows every S3 action kv backup and kv restore make, under the prefix the CLI lists", () => {
    const statements = Object.values(devTemplates.backup.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const allowed = new Set(statements.flatMap((s) => [s.Action].flat()));
    expect(S3_ACTIONS_USED.filter((a) => !allowed.has(a))).toEqual([]);
    // The CLI lists under <prefix>/<cluster>/, which the s3:prefix condition covers.
    const root = new Layout(dev.config.backup.prefix, 'kv').root;
    const list = statements.find((s) => s.Action === 's3:ListBucket');
    const pattern = list.Condition.StringLike['s3:prefix'][0] as string;
    expect(root.startsWith(pattern.replace(/\*$/, ''))).toBe(true);
  });

  test("the store's role can be assumed only by EKS Pod Identity", () => {
    devTemplates.backup.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{ Action: ['sts:AssumeRole', 'sts:TagSession'], Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' } }],
      },
    });
  });
});

describe('registry stack', () => {
  test('the node image repository scans on push, has immutable tags and a lifecycle, and is retained', () => {
    const repos = devTemplates.registry.findResources('AWS::ECR::Repository');
    const [repo] = Object.values(repos);
    expect(repo.Properties.ImageScanningConfiguration).toEqual({ ScanOnPush: true });
    expect(repo.Properties.ImageTagMutability).toBe('IMMUTABLE');
    expect(repo.DeletionPolicy).toBe('Retain');
    const rules = JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules;
    expect(rules).toEqual([
      expect.objectContaining({ selection: expect.objectContaining({ tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 7 }) }),
      expect.objectContaining({ selection: expect.objectContaining({ tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 50 }) }),
    ]);
  });

  test('creates the GitHub OIDC provider for the sts.amazonaws.com audience', () => {
    devTemplates.registry.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Resource = { Properties: Record<string, any> };
  /** The GitHub OIDC roles of a registry template, by the one subject each trusts. */
  const oidcRoles = (t: Template): Record<string, { id: string; role: Resource; statements: Resource['Properties'][] }> => {
    const roles = Object.entries(t.findResources('AWS::IAM::Role') as Record<string, Resource>).filter(([, r]) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('githubusercontent'));
    const policies = Object.values(t.findResources('AWS::IAM::Policy') as Record<string, Resource>);
    return Object.fromEntries(
      roles.map(([id, role]) => {
        const [statement] = role.Properties.AssumeRolePolicyDocument.Statement;
        const statements = policies.filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: id }])).flatMap((p) => p.Properties.PolicyDocument.Statement);
        return [statement.Condition.StringEquals['token.actions.githubusercontent.com:sub'], { id, role, statements }];
      }),
    );
  };

  test('each GitHub role trusts one environment of this repository and nothing else: no branch, no wildcard', () => {
    for (const [t, repo, env] of [[devTemplates.registry, 'acme/dynamo-kv', 'dev'], [prodTemplates.registry, 'example-org/dynamo-kv', 'prod']] as const) {
      const roles = oidcRoles(t);
      // Exactly two roles, each with a single subject (a string, not a list that could hold a second).
      expect(Object.keys(roles).sort()).toEqual([`repo:${repo}:environment:${env}`, `repo:${repo}:environment:${env}-read`]);
      for (const { role } of Object.values(roles)) {
        expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
          {
            Action: 'sts:AssumeRoleWithWebIdentity',
            Effect: 'Allow',
            Principal: { Federated: { Ref: expect.stringMatching(/^GitHubDeployProvider/) } },
            Condition: { StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com', 'token.actions.githubusercontent.com:sub': expect.any(String) } },
          },
        ]);
      }
      // A job on main without an environment (subject repo:<repo>:ref:refs/heads/main) matches no role.
      const json = JSON.stringify(t.toJSON());
      expect(json).not.toContain(':ref:refs/heads/');
      expect(json).not.toMatch(/StringLike[^}]*githubusercontent/);
    }
  });

  test('the deploy role may assume only this account and region\'s CDK bootstrap roles, and push and look up node images', () => {
    const deploy = oidcRoles(devTemplates.registry)['repo:acme/dynamo-kv:environment:dev']!;
    expect(deploy.statements).toEqual(
      expect.arrayContaining([
        { Sid: 'AssumeCdkBootstrapRoles', Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: `arn:aws:iam::${TEST_ACCOUNT}:role/cdk-hnb659fds-*-${TEST_ACCOUNT}-eu-west-1` },
        expect.objectContaining({ Action: expect.arrayContaining(['ecr:PutImage', 'ecr:DescribeImages']), Resource: { 'Fn::GetAtt': [expect.stringMatching(/^NodeImages/), 'Arn'] } }),
      ]),
    );
  });

  test('the read role may assume the CDK lookup role only: it can neither deploy nor push', () => {
    const read = oidcRoles(devTemplates.registry)['repo:acme/dynamo-kv:environment:dev-read']!;
    expect(read.statements).toEqual([
      { Sid: 'AssumeCdkLookupRole', Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: `arn:aws:iam::${TEST_ACCOUNT}:role/cdk-hnb659fds-lookup-role-${TEST_ACCOUNT}-eu-west-1` },
    ]);
    const outputs = devTemplates.registry.toJSON().Outputs;
    expect(outputs.ReadRoleArn.Value).toEqual({ 'Fn::GetAtt': [read.id, 'Arn'] });
  });

  test('rejects a read environment that is the deploy environment', () => {
    expect(() => buildStacks({ profile: 'dev', githubReadEnvironment: 'dev' })).toThrow(/"githubReadEnvironment" is "dev"; expected a GitHub environment name .* other than githubEnvironment \(dev\)/);
  });

  test('imports the OIDC provider instead of creating it when the account already has one', () => {
    const shared = buildStacks({ profile: 'prod', createGithubOidcProvider: 'false' });
    const template = Template.fromStack(shared.stacks.registry);
    template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(JSON.stringify(template.toJSON())).toContain(':oidc-provider/token.actions.githubusercontent.com');
  });
});

describe('cluster stack', () => {
  const clusterProps = (t: Template) => Object.values(t.findResources('AWS::EKS::Cluster'))[0].Properties;

  test('runs the pinned Kubernetes version with secrets encrypted by a rotating KMS key', () => {
    const props = clusterProps(devTemplates.cluster);
    expect(props.Version).toBe('1.34');
    expect(props.EncryptionConfig[0].Resources).toEqual(['secrets']);
    devTemplates.cluster.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  // cdk-nag does not inspect aws-eks-v2 clusters, so logging and endpoint access are asserted here.
  test('enables every control-plane log type, into a log group with a retention', () => {
    expect(clusterProps(devTemplates.cluster).Logging.ClusterLogging.EnabledTypes).toEqual(
      ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'].map((Type) => ({ Type })),
    );
    devTemplates.cluster.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/eks/kv-dev/cluster', RetentionInDays: 14 });
  });

  test('the API endpoint is private when no public CIDRs are configured', () => {
    expect(clusterProps(devTemplates.cluster).ResourcesVpcConfig).toMatchObject({ EndpointPrivateAccess: true, EndpointPublicAccess: false });
  });

  test('the public API endpoint admits only the configured CIDRs', () => {
    expect(clusterProps(prodTemplates.cluster).ResourcesVpcConfig).toMatchObject({
      EndpointPrivateAccess: true,
      EndpointPublicAccess: true,
      PublicAccessCidrs: ['203.0.113.0/24'],
    });
  });

  test('has one managed node group per zone, each in that zone\'s private subnet, sized from config', () => {
    const groups = Object.values(devTemplates.cluster.findResources('AWS::EKS::Nodegroup', ZONE_GROUP)).map((g) => g.Properties);
    expect(groups).toHaveLength(3);
    expect(groups.map((g) => g.NodegroupName).sort()).toEqual(['kv-dev-eu-west-1a', 'kv-dev-eu-west-1b', 'kv-dev-eu-west-1c']);
    for (const g of groups) {
      expect(g.Subnets).toHaveLength(1);
      expect(g.InstanceTypes).toEqual(dev.config.nodeGroups.instanceTypes);
      expect(g.ScalingConfig).toEqual({ MinSize: 1, DesiredSize: 1, MaxSize: 2 });
      expect(g.AmiType).toBe('AL2023_x86_64_STANDARD');
    }
    const subnets = new Set(groups.map((g) => JSON.stringify(g.Subnets[0])));
    expect(subnets.size).toBe(3);
    const prodGroups = Object.values(prodTemplates.cluster.findResources('AWS::EKS::Nodegroup', ZONE_GROUP)).map((g) => g.Properties);
    expect(prodGroups.map((g) => g.ScalingConfig)).toEqual(Array(3).fill({ MinSize: 2, DesiredSize: 2, MaxSize: 4 }));
  });

  test('a spot node group, empty until needed, tainted so that only gateways and load tests run there, never the store', () => {
    for (const [t, max] of [[devTemplates.cluster, 6], [prodTemplates.cluster, 12]] as const) {
      const spot = Object.values(t.findResources('AWS::EKS::Nodegroup', { Properties: { CapacityType: 'SPOT' } })).map((g) => g.Properties);
      expect(spot).toHaveLength(1);
      expect(spot[0].ScalingConfig).toEqual({ MinSize: 0, DesiredSize: 0, MaxSize: max });
      expect(spot[0].Taints).toEqual([{ Key: SPOT_TAINT.key, Value: SPOT_TAINT.value, Effect: 'NO_SCHEDULE' }]);
      expect(spot[0].Subnets).toHaveLength(3);
    }
    // Who tolerates the taint: the gateways do, the store's pods do not.
    const store = dev.stacks.cluster.storeChart;
    const objects = Testing.synth(store);
    const tolerates = (kind: string) => JSON.stringify(objects.find((o) => o.kind === kind)!.spec.template.spec.tolerations ?? []).includes(SPOT_TAINT.key);
    expect(tolerates('Deployment')).toBe(true);
    expect(tolerates('StatefulSet')).toBe(false);
  });

  test('prod (TLS on) installs cert-manager, pinned, with its CRDs kept, before the store chart that holds its Certificates; dev has neither', () => {
    const releases = Object.entries(prodTemplates.cluster.findResources('Custom::AWSCDK-EKS-HelmChart', { Properties: { Chart: 'cert-manager' } }));
    expect(releases).toHaveLength(1);
    const [releaseId, release] = releases[0]!;
    expect(release.Properties).toMatchObject({ Repository: CERT_MANAGER_CHART.repository, Version: CERT_MANAGER_CHART.version, Namespace: 'cert-manager', CreateNamespace: true, Wait: true });
    expect(JSON.parse(release.Properties.Values as string)).toMatchObject({ crds: { enabled: true, keep: true }, replicaCount: 2, webhook: { replicaCount: 2 } });
    const resources = (t: Template, type: string) => Object.entries(t.findResources(type));
    const store = resources(prodTemplates.cluster, 'Custom::AWSCDK-EKS-KubernetesResource').find(([id]) => id.startsWith('ClusterStore'))!;
    expect(store[1].DependsOn).toContain(releaseId);
    expect(JSON.stringify(store[1].Properties.Manifest)).toContain('cert-manager.io/v1');
    expect(Object.keys(devTemplates.cluster.findResources('Custom::AWSCDK-EKS-HelmChart', { Properties: { Chart: 'cert-manager' } }))).toHaveLength(0);
    expect(JSON.stringify(resources(devTemplates.cluster, 'Custom::AWSCDK-EKS-KubernetesResource').find(([id]) => id.startsWith('ClusterStore'))![1].Properties.Manifest)).not.toContain('cert-manager.io/v1');
  });

  test('the Cluster Autoscaler: pinned for Kubernetes 1.34, spot first, with a Pod Identity role that may resize only this cluster\'s groups', () => {
    const releases = Object.values(devTemplates.cluster.findResources('Custom::AWSCDK-EKS-HelmChart', { Properties: { Chart: 'cluster-autoscaler' } }));
    expect(releases).toHaveLength(1);
    expect(releases[0].Properties).toMatchObject({ Repository: CLUSTER_AUTOSCALER_CHART.repository, Version: CLUSTER_AUTOSCALER_CHART.version, Namespace: 'kube-system', Wait: true });
    const values = JSON.parse(releases[0].Properties.Values as string);
    expect(values).toMatchObject({ cloudProvider: 'aws', awsRegion: 'eu-west-1', autoDiscovery: { clusterName: 'kv-dev' }, rbac: { serviceAccount: { name: 'cluster-autoscaler' } } });
    expect(values.extraArgs).toMatchObject({ expander: 'priority,least-waste', 'skip-nodes-with-local-storage': true });
    expect(values.expanderPriorities[50]).toEqual(['.*-kv-dev-spot-.*']);
    devTemplates.cluster.hasResourceProperties('AWS::EKS::PodIdentityAssociation', { Namespace: 'kube-system', ServiceAccount: 'cluster-autoscaler' });
    const statements = Object.values(devTemplates.cluster.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>);
    const resize = statements.find((st) => st.Sid === 'ResizeThisClustersNodeGroups')!;
    expect(resize.Action).toEqual(['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup']);
    expect(resize.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/k8s.io/cluster-autoscaler/kv-dev': 'owned' } });
  });

  test('node groups replace one node at a time, never force a drain past the PodDisruptionBudget, and update one zone after another', () => {
    for (const t of [devTemplates.cluster, prodTemplates.cluster]) {
      const groups = Object.entries(t.findResources('AWS::EKS::Nodegroup', ZONE_GROUP));
      expect(groups).toHaveLength(3);
      for (const [, g] of groups) {
        expect(g.Properties.UpdateConfig).toEqual({ MaxUnavailable: NODE_GROUP_MAX_UNAVAILABLE });
        expect(g.Properties.ForceUpdateEnabled).toBe(false);
      }
      // Zone order: a, then b after a, then c after b; so no two groups are ever updated at once.
      const byZone = groups.sort(([, x], [, y]) => String(x.Properties.NodegroupName).localeCompare(String(y.Properties.NodegroupName)));
      const ids = byZone.map(([id]) => id);
      const dependsOn = byZone.map(([, g]) => (g.DependsOn ?? []) as string[]);
      expect(dependsOn[0]!.filter((d) => ids.includes(d))).toEqual([]);
      expect(dependsOn[1]!.filter((d) => ids.includes(d))).toEqual([ids[0]]);
      expect(dependsOn[2]!.filter((d) => ids.includes(d))).toEqual([ids[1]]);
    }
    expect(NODE_GROUP_MAX_UNAVAILABLE).toBe(1);
  });

  test('installs the EBS CSI driver (with its Pod Identity role), the Pod Identity agent and the VPC CNI with network policies', () => {
    devTemplates.cluster.hasResourceProperties('AWS::EKS::Addon', {
      AddonName: 'aws-ebs-csi-driver',
      PodIdentityAssociations: [{ ServiceAccount: 'ebs-csi-controller-sa', RoleArn: Match.anyValue() }],
    });
    devTemplates.cluster.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent' });
    devTemplates.cluster.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'vpc-cni', ConfigurationValues: JSON.stringify({ enableNetworkPolicy: 'true' }) });
    // CPU of pods for the gateways' HPA.
    devTemplates.cluster.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'metrics-server' });
  });

  test("associates the store's service account with the backup role through Pod Identity", () => {
    devTemplates.cluster.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      Namespace: 'kv',
      ServiceAccount: 'kv',
      RoleArn: { 'Fn::GetStackOutput': Match.objectLike({ StackName: 'KvDevBackup' }) },
    });
  });

  test('gives the configured admin role cluster-admin through an access entry', () => {
    const entries = Object.values(devTemplates.cluster.findResources('AWS::EKS::AccessEntry', { Properties: { PrincipalArn: ADMIN_ROLE } }));
    expect(entries).toHaveLength(1);
    const [policy] = entries[0].Properties.AccessPolicies;
    expect(policy.AccessScope).toEqual({ Type: 'cluster' });
    expect(JSON.stringify(policy.PolicyArn)).toContain(':eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy');
    // Without an admin role configured, only the kubectl provider's entry exists.
    const prodEntries = Object.values(prodTemplates.cluster.findResources('AWS::EKS::AccessEntry'));
    expect(prodEntries.map((e) => JSON.stringify(e.Properties.PrincipalArn))).not.toContain(JSON.stringify(ADMIN_ROLE));
  });

  test('the read-only GitHub role may view the store\'s namespace and describe the cluster (for the rollout check), nothing more', () => {
    // By reference to the registry stack's read role (its ARN and name are that stack's outputs).
    const entries = Object.values(devTemplates.cluster.findResources('AWS::EKS::AccessEntry')).filter((e) => JSON.stringify(e.Properties.PrincipalArn).includes('GitHubReadRole'));
    expect(entries).toHaveLength(1);
    const [policy] = entries[0].Properties.AccessPolicies;
    expect(entries[0].Properties.AccessPolicies).toHaveLength(1);
    expect(policy.AccessScope).toEqual({ Type: 'namespace', Namespaces: ['kv'] });
    expect(JSON.stringify(policy.PolicyArn)).toContain(':eks::aws:cluster-access-policy/AmazonEKSViewPolicy');
    const policies = Object.values(devTemplates.cluster.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles).includes('GitHubReadRole'));
    expect(policies).toHaveLength(1);
    expect(policies[0].Properties.PolicyDocument.Statement).toEqual([
      { Action: 'eks:DescribeCluster', Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Cluster/), 'Arn'] } },
    ]);
    // The deploy role gets no cluster access: it deploys through CloudFormation only.
    expect(JSON.stringify(devTemplates.cluster.toJSON())).not.toContain('GitHubDeployRole');
  });

  test('applies the gp3 StorageClass and then the store chart with the ECR image and the backup bucket', () => {
    const manifests = devTemplates.cluster.findResources('Custom::AWSCDK-EKS-KubernetesResource');
    const byId = Object.entries(manifests);
    const storage = byId.find(([id]) => id.startsWith('ClusterStorageClass'));
    const store = byId.find(([id]) => id.startsWith('ClusterStore'));
    expect(storage && store).toBeTruthy();
    const storageJson = JSON.stringify(storage![1].Properties.Manifest);
    expect(storageJson).toContain('WaitForFirstConsumer');
    expect(storageJson).toContain('\\"encrypted\\":\\"true\\"');
    const storeJson = JSON.stringify(store![1].Properties.Manifest);
    expect(storeJson).toContain('StatefulSet');
    expect(storeJson).toContain('KvDevRegistry'); // image URI comes from the registry stack
    expect(storeJson).toContain('KvDevBackup'); // bucket name comes from the backup stack
    expect(store![1].DependsOn).toEqual(expect.arrayContaining([storage![0], 'StorePodIdentity', 'VpcCniAddon']));
  });
  test('the store chart brings the Job that makes the context keys Secret in the cluster; no key and no Secret is in either profile\'s template', () => {
    for (const templates of [devTemplates, prodTemplates]) {
      const store = Object.entries(templates.cluster.findResources('Custom::AWSCDK-EKS-KubernetesResource')).find(([id]) => id.startsWith('ClusterStore'))!;
      const storeJson = JSON.stringify(store[1].Properties.Manifest);
      expect(storeJson).toMatch(/\\"kind\\":\\"Job\\"/);
      expect(storeJson).toContain('\\"args\\":[\\"k8s\\",\\"context-keys\\",\\"--namespace\\",\\"kv\\",\\"--secret\\",\\"kv-context-keys\\"]');
      expect(storeJson).not.toMatch(/\\"kind\\":\\"Secret\\"/);
      expect(storeJson).not.toMatch(/[0-9a-fA-F]{64}/);
      // No manifest anywhere in the template is a Secret.
      expect(JSON.stringify(templates.cluster.toJSON())).not.toMatch(/\\"kind\\":\\"Secret\\"/);
    }
  });
  test('checks that the image tag is in the node repository before the store chart (or anything else) runs it', () => {
    const checks = Object.entries(devTemplates.cluster.findResources(IMAGE_TAG_CHECK_RESOURCE_TYPE));
    expect(checks).toHaveLength(1);
    const [checkId, check] = checks[0]!;
    expect(check.Properties.ImageTag).toBe(dev.config.store.imageTag);
    expect(check.Properties.ImageTag).toBe(TEST_IMAGE_TAG);
    // The repository of the registry stack, by reference.
    expect(JSON.stringify(check.Properties.RepositoryName)).toContain('KvDevRegistry');
    const store = Object.entries(devTemplates.cluster.findResources('Custom::AWSCDK-EKS-KubernetesResource')).find(([id]) => id.startsWith('ClusterStore'))!;
    expect(store[1].DependsOn).toContain(checkId);
    expect(JSON.stringify(store[1].Properties.Manifest)).toContain(`:${TEST_IMAGE_TAG}`);
  });
});

describe('monitoring stack in the cluster stack', () => {
  const resources = (t: Template, type: string) => Object.entries(t.findResources(type));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const releases = (t: Template): Record<string, { id: string; Properties: Record<string, any>; DependsOn: string[] }> =>
    Object.fromEntries(resources(t, 'Custom::AWSCDK-EKS-HelmChart').map(([id, r]) => [r.Properties.Chart as string, { id, Properties: r.Properties, DependsOn: r.DependsOn }]));
  const manifest = (t: Template, prefix: string) => {
    const found = resources(t, 'Custom::AWSCDK-EKS-KubernetesResource').filter(([id]) => id.startsWith(prefix) && !id.startsWith(`${prefix}Namespace`));
    expect(found).toHaveLength(1);
    const [id, r] = found[0]!;
    // The manifest is JSON text joined with tokens (Fn::Join): searched as text.
    return { id, dependsOn: r.DependsOn as string[], json: JSON.stringify(r.Properties.Manifest) };
  };

  test('installs kube-prometheus-stack, the OpenTelemetry operator and ECK with Helm, at their pinned versions and namespaces, waiting for their pods', () => {
    const r = releases(devTemplates.cluster);
    // Beside Chaos Mesh, which dev also installs (see below).
    expect(Object.keys(r).sort()).toEqual(['chaos-mesh', 'cluster-autoscaler', 'eck-operator', 'kube-prometheus-stack', 'opentelemetry-operator', 'prometheus-adapter']);
    expect(r['kube-prometheus-stack']!.Properties).toMatchObject({ Repository: 'https://prometheus-community.github.io/helm-charts', Version: KUBE_PROMETHEUS_STACK_CHART.version, Namespace: 'monitoring', Release: 'kube-prometheus-stack', Wait: true });
    expect(r['opentelemetry-operator']!.Properties).toMatchObject({ Repository: 'https://open-telemetry.github.io/opentelemetry-helm-charts', Version: OPENTELEMETRY_OPERATOR_CHART.version, Namespace: 'opentelemetry-operator-system', CreateNamespace: true, Wait: true });
    expect(r['eck-operator']!.Properties).toMatchObject({ Repository: 'https://helm.elastic.co', Version: ECK_OPERATOR_CHART.version, Namespace: 'elastic-system', CreateNamespace: true, Wait: true });
    for (const v of [KUBE_PROMETHEUS_STACK_CHART, OPENTELEMETRY_OPERATOR_CHART, ECK_OPERATOR_CHART].map((c) => c.version)) expect(v).toMatch(/^\d+\.\d+\.\d+$/);
    // The monitoring namespace is not Helm's: it comes first, with the store's metrics label.
    expect(r['kube-prometheus-stack']!.Properties.CreateNamespace).toBeUndefined();
    // The Prometheus adapter, after the stack whose Prometheus it queries: the gateways' in-flight gauge per pod.
    const adapter = r['prometheus-adapter']!;
    expect(adapter.Properties).toMatchObject({ Repository: 'https://prometheus-community.github.io/helm-charts', Version: PROMETHEUS_ADAPTER_CHART.version, Namespace: 'monitoring', Wait: true });
    const values = JSON.parse(adapter.Properties.Values as string) as { prometheus: { url: string }; rules: { default: boolean; custom: Array<{ seriesQuery: string; name: { as: string } }> } };
    expect(values.prometheus.url).toBe('http://kube-prometheus-stack-prometheus.monitoring.svc');
    expect(values.rules.default).toBe(false);
    expect(values.rules.custom.map((c) => c.name.as)).toEqual(['kv_operations_in_flight']);
    expect(adapter.DependsOn).toContain(r['kube-prometheus-stack']!.id);
    const namespace = resources(devTemplates.cluster, 'Custom::AWSCDK-EKS-KubernetesResource').find(([id]) => id.startsWith('ClusterMonitoringNamespace'))!;
    expect(JSON.stringify(namespace[1].Properties.Manifest)).toContain('\\"dynamo-kv/metrics\\":\\"true\\"');
    expect(r['kube-prometheus-stack']!.DependsOn).toContain(namespace[0]);
  });

  test('the monitoring releases wait for the StorageClass and the node groups', () => {
    const storage = resources(devTemplates.cluster, 'Custom::AWSCDK-EKS-KubernetesResource').find(([id]) => id.startsWith('ClusterStorageClass'))![0];
    const nodegroups = Object.keys(devTemplates.cluster.findResources('AWS::EKS::Nodegroup', ZONE_GROUP));
    const monitoring = [KUBE_PROMETHEUS_STACK_CHART, OPENTELEMETRY_OPERATOR_CHART, ECK_OPERATOR_CHART].map((c) => releases(devTemplates.cluster)[c.chart]!);
    for (const release of monitoring) expect(release.DependsOn).toEqual(expect.arrayContaining([storage, ...nodegroups]));
  });

  test('the monitoring and telemetry manifests are applied after the releases whose CRDs they use', () => {
    const r = releases(devTemplates.cluster);
    const monitoring = manifest(devTemplates.cluster, 'ClusterMonitoring');
    const telemetry = manifest(devTemplates.cluster, 'ClusterTelemetry');
    const store = resources(devTemplates.cluster, 'Custom::AWSCDK-EKS-KubernetesResource').find(([id]) => id.startsWith('ClusterStore'))![0];
    expect(monitoring.dependsOn).toEqual(expect.arrayContaining([r['kube-prometheus-stack']!.id, store]));
    expect(telemetry.dependsOn).toEqual(expect.arrayContaining([r['opentelemetry-operator']!.id, r['eck-operator']!.id]));
    expect(monitoring.json).toContain('PrometheusRule');
    for (const kind of ['OpenTelemetryCollector', 'Elasticsearch', 'Kibana', 'Beat']) expect(telemetry.json).toContain(`\\"kind\\":\\"${kind}\\"`);
  });

  test('the store sends its spans to the collector, sampling per profile', () => {
    const storeJson = (t: Template) => JSON.stringify(resources(t, 'Custom::AWSCDK-EKS-KubernetesResource').find(([id]) => id.startsWith('ClusterStore'))![1].Properties.Manifest);
    for (const [t, config] of [[devTemplates.cluster, dev.config], [prodTemplates.cluster, prod.config]] as const) {
      const json = storeJson(t);
      expect(json).toContain(`{\\"name\\":\\"OTEL_EXPORTER_OTLP_ENDPOINT\\",\\"value\\":\\"${dev.stacks.cluster.observability.telemetryChart.otlpHttpEndpoint}\\"}`);
      expect(json).toContain(`{\\"name\\":\\"KV_TRACE_SAMPLE_RATIO\\",\\"value\\":\\"${config.observability.traceSampleRatio}\\"}`);
    }
    expect(dev.config.observability.traceSampleRatio).toBe(0.1);
    expect(prod.config.observability.traceSampleRatio).toBe(0.01);
  });

  test('prod runs Prometheus twice and Alertmanager three times, in distinct zones, on gp3 volumes; dev once each', () => {
    const values = (t: Template) => JSON.parse(releases(t)['kube-prometheus-stack']!.Properties.Values as string);
    const prodValues = values(prodTemplates.cluster);
    expect(prodValues.prometheus.prometheusSpec).toMatchObject({ replicas: 2, retention: `${prod.config.observability.prometheusRetentionDays}d`, podAntiAffinity: 'hard', podAntiAffinityTopologyKey: 'topology.kubernetes.io/zone' });
    expect(prodValues.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec).toMatchObject({ storageClassName: 'gp3', resources: { requests: { storage: `${prod.config.observability.prometheusStorageGiB}Gi` } } });
    expect(prodValues.alertmanager.alertmanagerSpec).toMatchObject({ replicas: 3, podAntiAffinity: 'hard' });
    const devValues = values(devTemplates.cluster);
    expect(devValues.prometheus.prometheusSpec.replicas).toBe(1);
    expect(devValues.alertmanager.alertmanagerSpec.replicas).toBe(1);
    expect(devValues.prometheus.prometheusSpec.podAntiAffinity).toBeUndefined();
    // Alerts group by cluster: the label comes from Prometheus.
    expect(devValues.prometheus.prometheusSpec.externalLabels).toEqual({ cluster: 'kv-dev' });
  });
});

describe('Chaos Mesh in the cluster stack', () => {
  const resources = (t: Template, type: string) => Object.entries(t.findResources(type));
  const chaosRelease = (t: Template) => resources(t, 'Custom::AWSCDK-EKS-HelmChart').find(([, r]) => r.Properties.Chart === 'chaos-mesh');

  test('dev installs it at its pinned version, for containerd, with the dashboard behind a token, once the node groups exist', () => {
    const [, release] = chaosRelease(devTemplates.cluster)!;
    expect(release.Properties).toMatchObject({ Repository: CHAOS_MESH_CHART.repository, Version: CHAOS_MESH_CHART.version, Namespace: 'chaos-mesh', CreateNamespace: true, Wait: true });
    const values = JSON.parse(release.Properties.Values as string);
    expect(values.chaosDaemon).toMatchObject({ runtime: 'containerd', socketPath: '/run/containerd/containerd.sock' });
    expect(values.dashboard.securityMode).toBe(true);
    const nodegroups = Object.keys(devTemplates.cluster.findResources('AWS::EKS::Nodegroup', ZONE_GROUP));
    expect(release.DependsOn).toEqual(expect.arrayContaining(nodegroups));
  });

  test('dev applies the chaos chart after the release and the store, in the store\'s namespace', () => {
    const [releaseId] = chaosRelease(devTemplates.cluster)!;
    const manifests = resources(devTemplates.cluster, 'Custom::AWSCDK-EKS-KubernetesResource');
    const store = manifests.find(([id]) => id.startsWith('ClusterStore'))![0];
    const chaos = manifests.filter(([id]) => id.startsWith('ClusterChaos'));
    expect(chaos).toHaveLength(1);
    expect(chaos[0]![1].DependsOn).toEqual(expect.arrayContaining([releaseId, store]));
    expect(JSON.stringify(chaos[0]![1].Properties.Manifest)).toContain('\\"namespace\\":\\"kv\\"');
    expect(dev.stacks.cluster.chaosMesh!.chart.namespace).toBe('kv');
  });

  test('prod has none unless -c chaosMesh=true', () => {
    expect(chaosRelease(prodTemplates.cluster)).toBeUndefined();
    expect(resources(prodTemplates.cluster, 'Custom::AWSCDK-EKS-KubernetesResource').filter(([id]) => id.startsWith('ClusterChaos'))).toHaveLength(0);
    expect(prod.stacks.cluster.chaosMesh).toBeUndefined();
    const opted = buildStacks({ profile: 'prod', chaosMesh: 'true' });
    expect(chaosRelease(Template.fromStack(opted.stacks.cluster))).toBeDefined();
  });
});

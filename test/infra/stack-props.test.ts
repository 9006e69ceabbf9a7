/**
 * Each stack built from its required props alone: every optional prop does what its `@default`
 * says. (lib/app.ts passes every prop from the deployment config; stacks.test.ts covers that.)
 */
import { Template } from 'aws-cdk-lib/assertions';
import * as cdk8s from 'cdk8s';
import { intDefault } from '../../app/node/config';
import { BackupStack } from '../../lib/backup-stack';
import { ClusterStack, ClusterStackProps } from '../../lib/cluster-stack';
import { KUBERNETES_VERSION } from '../../lib/config';
import { acknowledgeNagFindings } from '../../lib/nag-acknowledgements';
import { NetworkStack } from '../../lib/network-stack';
import { RegistryStack } from '../../lib/registry-stack';
import { OBSERVABILITY_SIZING } from '../../observability/sizing';
import { newApp, stubKubectlLayers, TEST_ACCOUNT, TEST_REGION } from './helpers';

const env = { account: TEST_ACCOUNT, region: TEST_REGION };
const availabilityZones = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
const TWO_YEARS_DAYS = 731;

function buildMinimal(cluster: Partial<ClusterStackProps> = {}) {
  const app = newApp();
  const network = new NetworkStack(app, 'Network', { env, availabilityZones, vpcCidr: '10.60.0.0/16' });
  const backup = new BackupStack(app, 'Backup', { env, prefix: 'kv-backups' });
  const registry = new RegistryStack(app, 'Registry', { env, githubRepository: 'acme/kv', githubEnvironment: 'dev', githubReadEnvironment: 'dev-read' });
  const clusterStack = new ClusterStack(app, 'Cluster', {
    env,
    clusterName: 'kv-test',
    availabilityZones,
    nodeInstanceTypes: ['t3.large'],
    nodesPerZoneMin: 1,
    nodesPerZone: 1,
    nodesPerZoneMax: 2,
    nodeDiskSizeGiB: 30,
    storeImageTag: 'abc123',
    vpc: network.vpc,
    backupBucket: backup.bucket,
    backupPrefix: backup.prefix,
    storeRole: backup.storeRole,
    repository: registry.repository,
    kubectlLayers: stubKubectlLayers,
    ...cluster,
  });
  const stacks = { network, backup, registry, cluster: clusterStack };
  // The same acknowledgements as the app's (hard-coded zones on purpose ...), so synth stays quiet.
  acknowledgeNagFindings(stacks);
  return stacks;
}

const stacks = buildMinimal();

test('network: one NAT gateway per zone, flow logs kept two years', () => {
  const template = Template.fromStack(stacks.network);
  template.resourceCountIs('AWS::EC2::NatGateway', 3);
  template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: TWO_YEARS_DAYS });
});

test('backup: BackupBucket\'s lifecycle (30 days to Glacier IR, noncurrent versions kept 90)', () => {
  const template = Template.fromStack(stacks.backup);
  // The backups bucket and its access-log bucket both have rules; the backups' are the ones with transitions.
  const rules = Object.values(template.findResources('AWS::S3::Bucket')).flatMap((b) => b.Properties.LifecycleConfiguration?.Rules ?? []);
  expect(rules).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 30 }],
        NoncurrentVersionExpiration: { NoncurrentDays: 90 },
      }),
    ]),
  );
});

test('registry: creates the account\'s GitHub OIDC provider', () => {
  Template.fromStack(stacks.registry).resourceCountIs('AWS::IAM::OIDCProvider', 1);
});

test('cluster: pinned version, private endpoint, no admin entry, and the chart\'s and node\'s store defaults', () => {
  const template = Template.fromStack(stacks.cluster);
  const cluster = Object.values(template.findResources('AWS::EKS::Cluster'))[0]!.Properties;
  expect(cluster.Version).toBe(KUBERNETES_VERSION);
  expect(cluster.ResourcesVpcConfig).toMatchObject({ EndpointPrivateAccess: true, EndpointPublicAccess: false });
  // Only the kubectl provider's access entry.
  template.resourceCountIs('AWS::EKS::AccessEntry', 1);
  template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/eks/kv-test/cluster', RetentionInDays: TWO_YEARS_DAYS });
  template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', { Namespace: 'kv', ServiceAccount: 'kv' });
  expect(stacks.cluster.storeChart.namespaceName).toBe('kv');
  const manifests = Object.entries(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'));
  const store = JSON.stringify(manifests.find(([id]) => id.startsWith('ClusterStore'))![1].Properties.Manifest);
  for (const [name, value] of [['KV_N', intDefault('n')], ['KV_R', intDefault('r')], ['KV_W', intDefault('w')], ['KV_PARTITIONS', intDefault('partitions')]]) {
    expect(store).toContain(`{\\"name\\":\\"${name}\\",\\"value\\":\\"${value}\\"}`);
  }
  expect(store).toContain('\\"replicas\\":3');
});

test('cluster: rejects a Kubernetes version other than the pinned one', () => {
  expect(() => buildMinimal({ kubernetesVersion: '1.33' })).toThrow(/ClusterStack: kubernetesVersion is 1\.33; this build pins 1\.34/);
});

test('cluster: the monitoring stack at the dev sizes, the store tracing a tenth of operations to its collector', () => {
  const template = Template.fromStack(stacks.cluster);
  const manifests = Object.entries(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'));
  const store = JSON.stringify(manifests.find(([id]) => id.startsWith('ClusterStore'))![1].Properties.Manifest);
  expect(store).toContain(`{\\"name\\":\\"KV_TRACE_SAMPLE_RATIO\\",\\"value\\":\\"${OBSERVABILITY_SIZING.dev.traceSampleRatio}\\"}`);
  expect(store).toContain(stacks.cluster.observability.telemetryChart.otlpHttpEndpoint);
  const prometheus = Object.values(template.findResources('Custom::AWSCDK-EKS-HelmChart')).find((r) => r.Properties.Chart === 'kube-prometheus-stack')!;
  expect(JSON.parse(prometheus.Properties.Values).prometheus.prometheusSpec).toMatchObject({
    replicas: OBSERVABILITY_SIZING.dev.prometheus.replicas,
    retention: `${OBSERVABILITY_SIZING.dev.prometheus.retentionDays}d`,
    externalLabels: { cluster: 'kv-test' },
  });
  const elasticsearch = cdk8s.Testing.synth(stacks.cluster.observability.telemetryChart).find((o) => o.kind === 'Elasticsearch')!;
  expect(elasticsearch.spec.nodeSets[0].count).toBe(OBSERVABILITY_SIZING.dev.elasticsearch.nodes);
});

test('cluster: no Chaos Mesh unless asked', () => {
  expect(stacks.cluster.chaosMesh).toBeUndefined();
  const releases = Object.values(Template.fromStack(stacks.cluster).findResources('Custom::AWSCDK-EKS-HelmChart')).map((r) => r.Properties.Chart);
  expect(releases).not.toContain('chaos-mesh');
});

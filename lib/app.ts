/**
 * Composition of the deployment: which stacks exist, in what order, and how they reference each
 * other (by object; CDK turns the references into exports and dependencies).
 */
import { App, Stack, Tags } from 'aws-cdk-lib';
import { BackupStack } from './backup-stack';
import { ClusterStack, ClusterStackProps } from './cluster-stack';
import type { DeploymentConfig } from './config';
import { acknowledgeNagFindings } from './nag-acknowledgements';
import { NetworkStack } from './network-stack';
import { RegistryStack } from './registry-stack';

import type { KvStacks } from './stacks';

export type { KvStacks };

export interface CreateStacksOptions {
  /** See ClusterStackProps.kubectlLayers (tests pass stubs). */
  readonly kubectlLayers?: ClusterStackProps['kubectlLayers'];
}

/** Adds every stack of one deployment (one profile) to `app`. Deploy order: Network, Backup, Registry, Cluster. */
export function createStacks(app: App, config: DeploymentConfig, options: CreateStacksOptions = {}): KvStacks {
  const env = { account: config.account, region: config.region };
  const p = config.stackPrefix;

  // Each stack gets flat props, resolved here from the deployment config; no stack sees the config.
  const network = new NetworkStack(app, `${p}Network`, {
    env,
    description: 'dynamo-kv: VPC over three zones',
    availabilityZones: config.availabilityZones,
    vpcCidr: config.vpcCidr,
    natGateways: config.natGateways,
    logRetentionDays: config.logRetentionDays,
    // Interface endpoints cost about $48/month for the two, over three zones; dev pulls few images.
    ecrInterfaceEndpoints: config.profile === 'prod',
  });
  const backup = new BackupStack(app, `${p}Backup`, {
    env,
    description: 'dynamo-kv: backup bucket',
    prefix: config.backup.prefix,
    transitionAfterDays: config.backup.transitionAfterDays,
    noncurrentExpireAfterDays: config.backup.noncurrentExpireAfterDays,
  });
  const registry = new RegistryStack(app, `${p}Registry`, {
    env,
    description: 'dynamo-kv: node image registry and GitHub deploy role',
    githubRepository: config.githubRepository,
    githubEnvironment: config.githubEnvironment,
    githubReadEnvironment: config.githubReadEnvironment,
    createGithubOidcProvider: config.createGithubOidcProvider,
  });
  const cluster = new ClusterStack(app, `${p}Cluster`, {
    env,
    description: 'dynamo-kv: EKS cluster, the store and its monitoring',
    clusterName: `kv-${config.profile}`,
    availabilityZones: config.availabilityZones,
    kubernetesVersion: config.kubernetesVersion,
    logRetentionDays: config.logRetentionDays,
    endpointPublicCidrs: config.endpointPublicCidrs,
    // The config's "" (no admin role) is the prop's absence.
    adminRoleArn: config.adminRoleArn === '' ? undefined : config.adminRoleArn,
    nodeInstanceTypes: config.nodeGroups.instanceTypes,
    nodesPerZoneMin: config.nodeGroups.minSizePerZone,
    nodesPerZone: config.nodeGroups.desiredSizePerZone,
    nodesPerZoneMax: config.nodeGroups.maxSizePerZone,
    nodeDiskSizeGiB: config.nodeGroups.diskSizeGiB,
    storeImageTag: config.store.imageTag,
    storeNamespace: config.store.namespace,
    storeReplicas: config.store.replicas,
    storeStorageGiB: config.store.storageGiB,
    storeVolumeClaimGiB: config.store.volumeClaimGiB,
    storeTls: config.store.tls,
    n: config.store.n,
    r: config.store.r,
    w: config.store.w,
    partitions: config.store.partitions,
    vpc: network.vpc,
    backupBucket: backup.bucket,
    backupPrefix: backup.prefix,
    storeRole: backup.storeRole,
    repository: registry.repository,
    // The deploy workflow's rollout check runs as the read-only GitHub role (docs/deploy.md).
    rolloutReader: registry.readRole,
    kubectlLayers: options.kubectlLayers,
    observabilityProfile: config.profile,
    scrapeIntervalSeconds: config.monitoring.scrapeIntervalSeconds,
    alertRepeatIntervalHours: config.monitoring.alertRepeatIntervalHours,
    traceSampleRatio: config.observability.traceSampleRatio,
    prometheusRetentionDays: config.observability.prometheusRetentionDays,
    prometheusStorageGiB: config.observability.prometheusStorageGiB,
    elasticsearchNodes: config.observability.elasticsearchNodes,
    elasticsearchStorageGiB: config.observability.elasticsearchStorageGiB,
    traceRetentionDays: config.observability.traceRetentionDays,
    nodeLogRetentionDays: config.observability.nodeLogRetentionDays,
    chaosMesh: config.chaosMesh,
  });

  const stacks: KvStacks = { network, backup, registry, cluster };
  for (const stack of Object.values(stacks) as Stack[]) {
    Tags.of(stack).add('project', 'dynamo-kv');
    Tags.of(stack).add('profile', config.profile);
  }
  acknowledgeNagFindings(stacks);
  return stacks;
}

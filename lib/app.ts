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

  const network = new NetworkStack(app, `${p}Network`, { env, config, description: 'dynamo-kv: VPC over three zones' });
  const backup = new BackupStack(app, `${p}Backup`, { env, config, description: 'dynamo-kv: backup bucket' });
  const registry = new RegistryStack(app, `${p}Registry`, { env, config, description: 'dynamo-kv: node image registry and GitHub deploy role' });
  const cluster = new ClusterStack(app, `${p}Cluster`, {
    env,
    config,
    description: 'dynamo-kv: EKS cluster and the store',
    vpc: network.vpc,
    backupBucket: backup.bucket,
    backupPrefix: backup.prefix,
    storeRole: backup.storeRole,
    repository: registry.repository,
    kubectlLayers: options.kubectlLayers,
  });

  const stacks: KvStacks = { network, backup, registry, cluster };
  for (const stack of Object.values(stacks) as Stack[]) {
    Tags.of(stack).add('project', 'dynamo-kv');
    Tags.of(stack).add('profile', config.profile);
  }
  acknowledgeNagFindings(stacks);
  return stacks;
}

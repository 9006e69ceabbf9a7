/** The set of stacks the app creates, shared by lib/app.ts and the cdk-nag acknowledgements. */
import type { BackupStack } from './backup-stack';
import type { ClusterStack } from './cluster-stack';
import type { NetworkStack } from './network-stack';
import type { RegistryStack } from './registry-stack';

export interface KvStacks {
  readonly network: NetworkStack;
  readonly backup: BackupStack;
  readonly registry: RegistryStack;
  readonly cluster: ClusterStack;
}

/**
 * Cluster-wide storage for the store: the default StorageClass, an encrypted gp3 EBS class provisioned
 * by the EBS CSI driver add-on. Kept apart from the store's chart because it is cluster-scoped and
 * shared by every later workload that needs a volume.
 */
import { Chart, ChartProps } from 'cdk8s';
import * as kplus from 'cdk8s-plus-34';
import { Construct } from 'constructs';

const k8s = kplus.k8s;

export interface StorageClassChartProps extends ChartProps {
  /**
   * StorageClass name.
   * @default 'gp3'
   */
  readonly storageClassName?: string;
  /**
   * Whether this class is the cluster default (used by claims that name no class).
   * @default true
   */
  readonly isDefault?: boolean;
}

export class StorageClassChart extends Chart {
  public readonly storageClassName: string;

  constructor(scope: Construct, id: string, props: StorageClassChartProps = {}) {
    super(scope, id, props);
    this.storageClassName = props.storageClassName ?? 'gp3';
    const isDefault = props.isDefault ?? true;

    new k8s.KubeStorageClass(this, 'Gp3', {
      metadata: {
        name: this.storageClassName,
        annotations: { 'storageclass.kubernetes.io/is-default-class': String(isDefault) },
      },
      provisioner: 'ebs.csi.aws.com',
      // encrypted: EBS encryption with the account's aws/ebs key; data at rest is always encrypted.
      parameters: { type: 'gp3', encrypted: 'true', 'csi.storage.k8s.io/fstype': 'ext4' },
      // WaitForFirstConsumer: create the volume in the zone where the pod was scheduled. With
      // Immediate, a volume could land in a zone with no room for its pod, which then never starts.
      volumeBindingMode: 'WaitForFirstConsumer',
      // Retain: deleting a claim by mistake must not destroy a node's data; reclaim volumes by hand.
      reclaimPolicy: 'Retain',
      allowVolumeExpansion: true,
    });
  }
}

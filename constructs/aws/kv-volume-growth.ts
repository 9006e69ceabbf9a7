/**
 * Grows the store's data volumes to the chart's storageGiB through their claims. A StatefulSet's
 * volume claim templates cannot change once it exists (the API server refuses the update, and the
 * stack with it), so the chart keeps its template at volumeClaimGiB, the creation size, and this
 * construct patches each claim `data-<name>-<i>`, i < replicas, to storageGiB; the EBS CSI driver
 * then grows the volume and the kubelet its file system, while the pod runs (the StorageClass allows
 * expansion). docs/operations.md, "Grow the disks", has the procedure and its limits.
 *
 * Per claim, two custom resources on the cluster's kubectl provider:
 * - a wait until the claim exists and is bound (`.spec.volumeName` set): a claim is created by the
 *   StatefulSet controller after the chart is applied, bound once its pod is scheduled, and the API
 *   server refuses to resize a claim that is not bound yet;
 * - the patch, whose construct ID carries the size. A change of size is a new resource, never an
 *   update of the old one: CloudFormation rolls an update back by applying the old properties, which
 *   would ask the API server to shrink the claim and fail the rollback. The patch is retained on
 *   removal (nothing to restore: a volume never shrinks), so neither a rollback nor the removal of a
 *   claim that an operator already deleted can fail.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { Construct, IDependable } from 'constructs';
import { KvStoreChart } from '../k8s/kv-store-chart';

export interface KvVolumeGrowthProps {
  /** The cluster the store runs in. */
  readonly cluster: eks.ICluster;
  /** The store's chart: its namespace, claims, storageGiB and volumeClaimGiB. */
  readonly store: KvStoreChart;
  /** The store's applied manifest; the claims come from it. */
  readonly storeManifest: IDependable;
  /**
   * How long to wait for a claim to exist and be bound before the deployment fails. A claim stays
   * unbound while its pod cannot be scheduled (no free host in its zone, for instance).
   * @default 10 minutes - within the kubectl provider's 15-minute limit
   */
  readonly bindTimeout?: Duration;
}

/** The claims' size as the API takes it. */
function gibibytes(giB: number): string {
  return `${giB}Gi`;
}

export class KvVolumeGrowth extends Construct {
  /** One patch per claim; none when storageGiB is the claim template's size. */
  public readonly patches: readonly eks.KubernetesPatch[];

  constructor(scope: Construct, id: string, props: KvVolumeGrowthProps) {
    super(scope, id);
    const { store } = props;
    const bindTimeout = props.bindTimeout ?? Duration.minutes(10);
    if (bindTimeout.toSeconds() < 60 || bindTimeout.toSeconds() > 14 * 60) {
      throw new Error(`KvVolumeGrowth: bindTimeout is ${bindTimeout.toSeconds()} s; use 60 to 840 s (the kubectl provider stops after 15 minutes).`);
    }
    // The chart checks this too; a volume that should shrink is a programmer error here.
    if (store.storageGiB < store.volumeClaimGiB) {
      throw new Error(`KvVolumeGrowth: storageGiB is ${store.storageGiB}, below volumeClaimGiB ${store.volumeClaimGiB}; volumes never shrink.`);
    }
    if (store.storageGiB === store.volumeClaimGiB) {
      this.patches = [];
      return;
    }

    const size = gibibytes(store.storageGiB);
    this.patches = store.dataClaimNames.map((claim) => {
      const bound = new eks.KubernetesObjectValue(this, `${claim}-Bound`, {
        cluster: props.cluster,
        objectType: 'persistentvolumeclaim',
        objectName: claim,
        objectNamespace: store.namespaceName,
        // Empty until the claim is bound; the provider retries an empty value and a missing claim
        // until the timeout.
        jsonPath: '.spec.volumeName',
        timeout: bindTimeout,
      });
      bound.node.addDependency(props.storeManifest);
      const patch = new eks.KubernetesPatch(this, `${claim}-${size}`, {
        cluster: props.cluster,
        resourceName: `persistentvolumeclaim/${claim}`,
        resourceNamespace: store.namespaceName,
        patchType: eks.PatchType.MERGE,
        applyPatch: { spec: { resources: { requests: { storage: size } } } },
        // Never applied (the patch is retained), and harmless if it were: an empty merge patch.
        restorePatch: {},
        removalPolicy: RemovalPolicy.RETAIN,
      });
      patch.node.addDependency(bound);
      return patch;
    });
  }
}

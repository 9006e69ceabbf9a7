/** Growing the store's volumes through their claims, on a bare cluster and in the cluster stack. */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cdk8s from 'cdk8s';
import { KvVolumeGrowth } from '../../constructs/aws/kv-volume-growth';
import { KvStoreChart, KvStoreChartProps } from '../../constructs/k8s/kv-store-chart';
import { bareCluster, buildStacks, newApp } from './helpers';

const PATCH = 'Custom::AWSCDK-EKS-KubernetesPatch';
const VALUE = 'Custom::AWSCDK-EKS-KubernetesObjectValue';
const MANIFEST = 'Custom::AWSCDK-EKS-KubernetesResource';

function grow(chart: Partial<KvStoreChartProps>, bindTimeout?: Duration): Template {
  const stack = new Stack(newApp(), 'Grow', { env: { account: '111122223333', region: 'eu-west-1' } });
  const cluster = bareCluster(stack);
  const store = new KvStoreChart(new cdk8s.App(), 'kv', { image: 'i', ...chart });
  const storeManifest = cluster.addCdk8sChart('Store', store);
  new KvVolumeGrowth(stack, 'Volumes', { cluster, store, storeManifest, bindTimeout });
  return Template.fromStack(stack);
}

describe('KvVolumeGrowth', () => {
  test('patches nothing while storageGiB is the claim template\'s size', () => {
    const t = grow({ storageGiB: 20 });
    t.resourceCountIs(PATCH, 0);
    t.resourceCountIs(VALUE, 0);
  });

  test('patches every pod\'s claim to storageGiB, each once the claim is bound, after the store is applied', () => {
    const t = grow({ replicas: 4, storageGiB: 50, volumeClaimGiB: 20 });
    const patches = Object.entries(t.findResources(PATCH));
    const values = t.findResources(VALUE);
    const [manifestId] = Object.keys(t.findResources(MANIFEST)).filter((id) => id.startsWith('ClusterStore'));
    expect(patches.map(([, p]) => p.Properties.ResourceName).sort()).toEqual([0, 1, 2, 3].map((i) => `persistentvolumeclaim/data-kv-${i}`));
    for (const [, patch] of patches) {
      expect(patch.Properties).toMatchObject({ ResourceNamespace: 'kv', PatchType: 'merge', ApplyPatchJson: '{"spec":{"resources":{"requests":{"storage":"50Gi"}}}}', RestorePatchJson: '{}' });
      // Retained: a rollback or a removal never sends the API server anything.
      expect(patch.DeletionPolicy).toBe('Retain');
      expect(patch.UpdateReplacePolicy).toBe('Retain');
      const [wait] = (patch.DependsOn as string[]).filter((d) => d in values);
      const claim = String(patch.Properties.ResourceName).split('/')[1];
      expect(values[wait!]!.Properties).toMatchObject({ ObjectType: 'persistentvolumeclaim', ObjectName: claim, ObjectNamespace: 'kv', JsonPath: '.spec.volumeName', TimeoutSeconds: 600 });
      expect(values[wait!]!.DependsOn).toContain(manifestId);
    }
  });

  test('a new size is a new patch resource, never an update of the old one (whose rollback would ask for a shrink)', () => {
    const ids = (giB: number) => Object.keys(grow({ storageGiB: giB, volumeClaimGiB: 20 }).findResources(PATCH)).sort();
    const at40 = ids(40);
    const at60 = ids(60);
    expect(at40).toHaveLength(3);
    expect(at60).toHaveLength(3);
    expect(at40.filter((id) => at60.includes(id))).toEqual([]);
    // The waits are the same resources at either size: nothing to wait for again.
    const waits = (giB: number) => Object.keys(grow({ storageGiB: giB, volumeClaimGiB: 20 }).findResources(VALUE)).sort();
    expect(waits(40)).toEqual(waits(60));
  });

  test('rejects a bind timeout beyond the kubectl provider\'s limit', () => {
    expect(() => grow({ storageGiB: 40, volumeClaimGiB: 20 }, Duration.minutes(20))).toThrow('KvVolumeGrowth: bindTimeout is 1200 s; use 60 to 840 s');
  });
});

describe('volume growth in the cluster stack', () => {
  test('-c storageGiB grows the claims and leaves the store\'s manifest (its StatefulSet) exactly as it was', () => {
    const base = buildStacks({ profile: 'dev' });
    const grown = buildStacks({ profile: 'dev', storageGiB: '60' });
    const baseTemplate = Template.fromStack(base.stacks.cluster);
    const grownTemplate = Template.fromStack(grown.stacks.cluster);
    baseTemplate.resourceCountIs(PATCH, 0);
    const patches = Object.values(grownTemplate.findResources(PATCH));
    expect(patches).toHaveLength(grown.config.store.replicas);
    for (const p of patches) expect(p.Properties.ApplyPatchJson).toContain('"storage":"60Gi"');
    expect(grown.config.store).toMatchObject({ storageGiB: 60, volumeClaimGiB: 20 });
    // The StatefulSet is the same object either way: applying it changes nothing there. (The backup
    // spool is sized from the volumes as they are now, so the CronJobs may differ.)
    // (Resolved by the stack: the image and bucket are tokens, which print differently per build.)
    const statefulSet = (b: typeof base) => b.stacks.cluster.resolve(cdk8s.Testing.synth(b.stacks.cluster.storeChart).find((o) => o.kind === 'StatefulSet'));
    expect(statefulSet(grown)).toEqual(statefulSet(base));
    expect(statefulSet(grown).spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('20Gi');
  });
});

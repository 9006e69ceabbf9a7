import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cdk8s from 'cdk8s';
import { CHAOS_MESH_CHART, CHAOS_MESH_SIZES, chaosMeshValues, CONTAINERD_SOCKET_PATH, KvChaosMesh, KvChaosMeshProps } from '../../constructs/aws/kv-chaos-mesh';
import { KvStoreChart } from '../../constructs/k8s/kv-store-chart';
import { resourcesOf } from '../../observability/sizing';
import { bareCluster, newApp, TEST_ACCOUNT, TEST_REGION } from './helpers';

/** The construct on a bare cluster (no node groups), after a store manifest of its own. */
function build(props: Partial<KvChaosMeshProps> = {}): { stack: Stack; chaos: KvChaosMesh; template: Template } {
  const stack = new Stack(newApp(), 'Test', { env: { account: TEST_ACCOUNT, region: TEST_REGION } });
  const cluster = bareCluster(stack);
  const store = new KvStoreChart(new cdk8s.App(), 'kv', { image: 'kv:1' });
  const storeManifest = cluster.addCdk8sChart('Store', store);
  const chaos = new KvChaosMesh(stack, 'ChaosMesh', { cluster, store, storeManifest, zones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'], ...props });
  return { stack, chaos, template: Template.fromStack(stack) };
}

describe('KvChaosMesh', () => {
  const { template } = build();
  const release = Object.entries(template.findResources('Custom::AWSCDK-EKS-HelmChart'))[0]!;
  const manifests = Object.entries(template.findResources('Custom::AWSCDK-EKS-KubernetesResource'));
  const store = manifests.find(([id]) => id.startsWith('ClusterStore'))!;
  const chaos = manifests.find(([id]) => id.startsWith('ClusterChaos'))!;

  test('installs the pinned chaos-mesh chart into its own namespace, waiting for its pods', () => {
    expect(release[1].Properties).toMatchObject({ Repository: 'https://charts.chaos-mesh.org', Chart: 'chaos-mesh', Version: CHAOS_MESH_CHART.version, Release: 'chaos-mesh', Namespace: 'chaos-mesh', CreateNamespace: true, Wait: true });
    expect(CHAOS_MESH_CHART.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(JSON.parse(release[1].Properties.Values as string)).toEqual(chaosMeshValues());
  });

  test('applies the chaos chart after the release (its CRDs) and the store (its namespace)', () => {
    expect(chaos[1].DependsOn).toEqual(expect.arrayContaining([release[0], store[0]]));
    const json = JSON.stringify(chaos[1].Properties.Manifest);
    expect(json).toContain('kv-chaos-dashboard');
  });

  test('the stack\'s chart holds no run: no Workflow, no checker Job (a run is applied by hand)', () => {
    const json = JSON.stringify(chaos[1].Properties.Manifest);
    expect(json).toContain('\\"kind\\":\\"ClusterRole\\"');
    for (const kind of ['Workflow', 'Job', 'PodMonitor']) expect(json).not.toContain(`\\"kind\\":\\"${kind}\\"`);
  });

  test('passes Schedules through', () => {
    const { chaos: withSchedule } = build({ schedules: { short: '@weekly' } });
    expect(cdk8s.Testing.synth(withSchedule.chart).filter((o) => o.kind === 'Schedule').map((o) => o.spec.schedule)).toEqual(['@weekly']);
  });
});

describe('chaos-mesh values', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const v = chaosMeshValues() as Record<string, any>;

  test('the daemon talks to containerd, as EKS nodes run it', () => {
    expect(v.chaosDaemon).toMatchObject({ runtime: 'containerd', socketPath: '/run/containerd/containerd.sock' });
    expect(CONTAINERD_SOCKET_PATH).toBe('/run/containerd/containerd.sock');
  });

  test('the dashboard asks for a token (security mode) and is reached by port-forward only', () => {
    expect(v.dashboard).toMatchObject({ securityMode: true, service: { type: 'ClusterIP' } });
  });

  test('every component it runs is sized; one controller', () => {
    expect(v.controllerManager).toEqual({ replicaCount: 1, resources: resourcesOf(CHAOS_MESH_SIZES.controllerManager) });
    expect(v.chaosDaemon.resources).toEqual(resourcesOf(CHAOS_MESH_SIZES.chaosDaemon));
    expect(v.dashboard.resources).toEqual(resourcesOf(CHAOS_MESH_SIZES.dashboard));
    expect(v.dnsServer).toEqual({ create: false });
  });
});

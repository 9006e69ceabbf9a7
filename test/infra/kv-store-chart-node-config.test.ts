/**
 * The store's chart and the node agree: the container environment the chart renders, resolved as
 * the kubelet would resolve it for each pod, is a configuration the node accepts, with the chart's
 * N/R/W, partitions and ports. And the chart's bounds are the node's bounds.
 */
import { Testing } from 'cdk8s';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { intSetting, parseNodeConfig, SETTINGS } from '../../app/node/config';
import { BACKUP_ENV, DATA_DIR, KvStoreChart, KvStoreChartProps, OTLP_ENDPOINT_ENV, ZONE_FILE } from '../../constructs/k8s/kv-store-chart';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K8sObject = Record<string, any>;
interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } };
}

const IMAGE = 'registry.example/kv-node:abc123';
const NODE_VARIABLES = new Set(SETTINGS.map((s) => s.env));

function statefulSet(props: Partial<KvStoreChartProps> = {}): K8sObject {
  const objects: K8sObject[] = Testing.synth(new KvStoreChart(Testing.app(), 'kv', { image: IMAGE, ...props }));
  const sets = objects.filter((o) => o.kind === 'StatefulSet');
  expect(sets).toHaveLength(1);
  return sets[0]!;
}

function containerEnv(set: K8sObject): EnvVar[] {
  const containers = set.spec.template.spec.containers as K8sObject[];
  expect(containers.map((c) => c.name)).toEqual(['kv']);
  return containers[0]!.env as EnvVar[];
}

/**
 * The environment a pod's process sees: field references filled in for the pod, then `$(VAR)`
 * expanded from variables defined earlier in the list (a later or unknown one stays as written,
 * `$$` is a literal `$`), as the kubelet does.
 */
function resolveEnv(env: readonly EnvVar[], podName: string): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const v of env) {
    let text: string;
    if (v.value !== undefined) {
      text = v.value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) =>
        name === undefined ? '$' : Object.hasOwn(resolved, name) ? resolved[name]! : whole,
      );
    } else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.name') {
      text = podName;
    } else {
      throw new Error(`${v.name}: the test does not know how to resolve ${JSON.stringify(v.valueFrom)}`);
    }
    resolved[v.name] = text;
  }
  return resolved;
}

/** The zone file as the init container leaves it, at a path of the test's (the pod's is not writable here). */
const zoneDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-chart-zone-'));
const zoneFile = path.join(zoneDir, 'zone');
fs.writeFileSync(zoneFile, 'eu-west-1a\n');
afterAll(() => fs.rmSync(zoneDir, { recursive: true, force: true }));

/** A pod's environment once its init container has run: the zone file exists (here, at the test's path). */
function podEnv(set: K8sObject, podName: string): Record<string, string> {
  const env = resolveEnv(containerEnv(set), podName);
  expect(env.KV_ZONE_FILE).toBe(ZONE_FILE);
  return { ...env, KV_ZONE_FILE: zoneFile };
}

function podNames(set: K8sObject): string[] {
  return Array.from({ length: set.spec.replicas as number }, (_, ordinal) => `${set.metadata.name}-${ordinal}`);
}

describe('the chart renders a configuration every node accepts', () => {
  test('every variable the chart sets is one the node reads (or the backup job\'s)', () => {
    const backup = new Set<string>(Object.values(BACKUP_ENV));
    const names = containerEnv(statefulSet({ backup: { bucketName: 'bucket', prefix: 'kv-backups' }, tracing: { sampleRatio: 0.1, otlpEndpoint: 'http://otel-collector.observability:4318' } })).map((v) => v.name);
    // The OpenTelemetry SDK reads its own standard variable for the endpoint.
    expect(names).toContain(OTLP_ENDPOINT_ENV);
    expect(names.filter((name) => !NODE_VARIABLES.has(name) && !backup.has(name) && name !== OTLP_ENDPOINT_ENV)).toEqual([]);
    expect(names.filter((name) => backup.has(name)).sort()).toEqual([...backup].sort());
    expect(new Set(names).size).toBe(names.length);
  });

  test.each<[string, Partial<KvStoreChartProps>]>([
    ['the defaults', {}],
    ['more pods than founding members', { replicas: 5 }],
    [
      'every node setting changed',
      { replicas: 6, foundingMembers: 5, n: 5, r: 3, w: 4, partitions: 128, grpcPort: 7100, metricsPort: 9500, durability: 'relaxed', logLevel: 'debug', name: 'store', namespace: 'data' },
    ],
    ['the node\'s largest N', { replicas: intSetting('n').max, n: intSetting('n').max, r: intSetting('r').max, w: 1 }],
    ['tracing on', { tracing: { sampleRatio: 0.1, otlpEndpoint: 'http://otel-collector.observability:4318' } }],
  ])('%s: each pod\'s environment parses, with the chart\'s N/R/W, partitions and ports', (_, props) => {
    const chart = new KvStoreChart(Testing.app(), 'kv', { image: IMAGE, ...props });
    const set = Testing.synth(chart).find((o) => o.kind === 'StatefulSet')!;
    const container = set.spec.template.spec.containers[0];
    const ports = Object.fromEntries((container.ports as K8sObject[]).map((p) => [p.name, p.containerPort]));
    const pods = podNames(set);
    expect(pods).toHaveLength(props.replicas ?? 3);
    const founding = pods.slice(0, props.foundingMembers ?? props.n ?? 3);
    for (const pod of pods) {
      const config = parseNodeConfig([], podEnv(set, pod));
      expect(config).toMatchObject({
        nodeId: pod,
        host: '0.0.0.0',
        port: ports.grpc,
        metricsPort: ports.metrics,
        n: props.n ?? 3,
        r: props.r ?? 2,
        w: props.w ?? 2,
        partitions: props.partitions ?? 64,
        durability: props.durability ?? 'durable',
        logLevel: props.logLevel ?? 'info',
        dataDir: DATA_DIR,
        zone: 'eu-west-1a',
        join: 'auto',
        traceSampleRatio: props.tracing?.sampleRatio ?? 0,
      });
      expect(ports).toEqual({ grpc: props.grpcPort ?? 7001, metrics: props.metricsPort ?? 9464 });
      // Every pod sees the same founding members; a founding pod is among them, any other joins
      // through them; each at the address it advertises.
      // A founding pod starts as a member of the founding list; any other starts outside the
      // cluster (alone) and joins through the founding members' addresses.
      expect([...config.peers.keys()]).toEqual(founding.includes(pod) ? founding : [pod]);
      expect(config.startsOutside).toBe(!founding.includes(pod));
      expect(config.seeds).toHaveLength(founding.includes(pod) ? founding.length - 1 : founding.length);
      expect(config.peers.get(pod)).toBe(config.advertise);
      expect(config.advertise).toBe(`${pod}.${chart.peerServiceName}.${chart.namespaceName}.svc.cluster.local:${ports.grpc}`);
    }
  });

  test('the check fails when the kubelet could not expand the advertise address (the node rejects the variable)', () => {
    const env = containerEnv(statefulSet());
    const advertiseFirst = [...env.filter((v) => v.name === 'KV_ADVERTISE'), ...env.filter((v) => v.name !== 'KV_ADVERTISE')];
    expect(() => parseNodeConfig([], { ...resolveEnv(advertiseFirst, 'kv-0'), KV_ZONE_FILE: zoneFile })).toThrow(/KV_ADVERTISE: "\$\(KV_NODE_ID\)\..*" is not host:port/);
  });
});

describe('the chart\'s bounds are the node\'s bounds', () => {
  const n = intSetting('n');
  const partitions = intSetting('partitions');

  test.each<[Partial<KvStoreChartProps>, RegExp]>([
    [{ n: n.max + 1, replicas: n.max + 1 }, new RegExp(`n is ${n.max + 1}; use ${n.min} to ${n.max} replicas per key`)],
    [{ n: 0 }, new RegExp(`n is 0; use ${n.min} to ${n.max} replicas per key`)],
    [{ partitions: partitions.max * 2 }, new RegExp(`partitions is ${partitions.max * 2}; use a power of two up to ${partitions.max}`)],
    [{ metricsPort: 65536 }, /metricsPort is 65536; use a port from 1024 to 65535/],
    [{ durability: 'fast' as 'durable' }, /durability is "fast"; use one of durable, relaxed/],
    [{ logLevel: 'trace' as 'info' }, /logLevel is "trace"; use one of debug, info, warn, error/],
    [{ tracing: { sampleRatio: 1.5, otlpEndpoint: 'http://c:4318' } }, /tracing.sampleRatio: 1.5 is not within 0..1/],
    [{ tracing: { sampleRatio: 0.1, otlpEndpoint: 'collector:4318' } }, /tracing.otlpEndpoint: "collector:4318" is not an http\(s\) URL/],
  ])('rejects %j with the node\'s limit in the message', (props, message) => {
    expect(() => statefulSet(props)).toThrow(message);
  });
});

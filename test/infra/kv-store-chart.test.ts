import { Testing } from 'cdk8s';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { K8S_HELP, k8sCommand } from '../../app/cli/k8s';
import { KV_COMMAND, KvStoreChart, KvStoreChartProps, ZONE_FILE } from '../../constructs/k8s/kv-store-chart';
import { advertiseAddress, peerList } from '../../constructs/k8s/peer-list';
import { StorageClassChart } from '../../constructs/k8s/storage-class-chart';
import { REPO_ROOT } from './helpers';
import { validateK8sObject } from './k8s-schema';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K8sObject = Record<string, any>;

function synth(props: Partial<KvStoreChartProps> = {}): K8sObject[] {
  const chart = new KvStoreChart(Testing.app(), 'kv', { image: 'registry.example/kv-node:abc123', ...props });
  return Testing.synth(chart);
}

function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found).toHaveLength(1);
  return found[0];
}

const objects = synth({ backup: { bucketName: 'kv-backups-bucket', prefix: 'kv-backups' } });
const set = only(objects, 'StatefulSet');
const pod = set.spec.template.spec;
const container = pod.containers[0];
const env = Object.fromEntries(container.env.map((e: K8sObject) => [e.name, e.value ?? e.valueFrom]));
const labels = set.spec.selector.matchLabels;

function statefulSetOf(props: Partial<KvStoreChartProps>): K8sObject {
  return only(synth(props), 'StatefulSet');
}

/** Cluster-scoped kinds: they carry no namespace. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

describe('peer list', () => {
  test('names every member by StatefulSet ordinal and headless-service DNS name', () => {
    expect(peerList({ setName: 'kv', foundingMembers: 3, headlessServiceName: 'kv-peer', namespace: 'default', clusterDomain: 'cluster.local', port: 7001 })).toBe(
      'kv-0=kv-0.kv-peer.default.svc.cluster.local:7001,kv-1=kv-1.kv-peer.default.svc.cluster.local:7001,kv-2=kv-2.kv-peer.default.svc.cluster.local:7001',
    );
  });

  test('advertises the pod through a dependent env var the kubelet expands', () => {
    expect(advertiseAddress({ headlessServiceName: 'kv-peer', namespace: 'kv', clusterDomain: 'cluster.local', port: 7001 })).toBe(
      '$(KV_NODE_ID).kv-peer.kv.svc.cluster.local:7001',
    );
  });
});

describe('store chart', () => {
  test('every object passes the Kubernetes API schema', () => {
    const all = [...objects, ...Testing.synth(new StorageClassChart(Testing.app(), 'storage'))];
    expect(all.map((o) => o.kind).sort()).toEqual(
      ['ClusterRole', 'ClusterRoleBinding', 'CronJob', 'CronJob', 'CronJob', 'Job', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'Service', 'Service', 'ServiceAccount', 'ServiceAccount', 'StatefulSet', 'StorageClass'],
    );
    for (const o of all) expect(() => validateK8sObject(o)).not.toThrow();
  });

  test('the schema check catches what an API server would reject', () => {
    const broken = structuredClone(set);
    broken.spec.replicas = '3';
    expect(() => validateK8sObject(broken)).toThrow(/replicas must be integer/);
    const noSelector = structuredClone(set);
    delete noSelector.spec.selector;
    expect(() => validateK8sObject(noSelector)).toThrow(/selector/);
  });

  test('puts every namespaced object in the store namespace and creates that namespace first', () => {
    expect(objects[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'kv' } });
    expect(objects[0].metadata.namespace).toBeUndefined();
    for (const o of objects.slice(1).filter((x) => !CLUSTER_SCOPED.has(x.kind))) expect(o.metadata.namespace).toBe('kv');
    for (const o of objects.filter((x) => CLUSTER_SCOPED.has(x.kind))) expect(o.metadata.namespace).toBeUndefined();
  });

  test('the StatefulSet has stable names, parallel pod management and a partitioned rolling update', () => {
    expect(set.metadata.name).toBe('kv');
    expect(set.spec.serviceName).toBe('kv-peer');
    expect(set.spec.replicas).toBe(3);
    expect(set.spec.podManagementPolicy).toBe('Parallel');
    expect(set.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
    expect(synth({ updatePartition: 2 }).find((o) => o.kind === 'StatefulSet')!.spec.updateStrategy.rollingUpdate.partition).toBe(2);
    // Stable selector labels, not the construct-path label: a StatefulSet selector cannot change.
    expect(labels).toEqual({ 'app.kubernetes.io/name': 'dynamo-kv', 'app.kubernetes.io/instance': 'kv', 'app.kubernetes.io/component': 'node' });
  });

  test('claims a gp3 volume per pod, mounted as the data directory, and retains claims on delete and scale-down', () => {
    expect(set.spec.volumeClaimTemplates).toEqual([
      { metadata: { name: 'data' }, spec: { storageClassName: 'gp3', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } } } },
    ]);
    expect(set.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(container.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/kv' });
    // The claim replaces the placeholder volume; /tmp and the zone are emptyDirs.
    expect(pod.volumes.map((v: K8sObject) => v.name).sort()).toEqual(['context-keys', 'tmp', 'zone']);
  });

  test('mounts the context keys from a Secret it only references, read-only, and points the node at them; no Secret is synthesized', () => {
    expect(pod.volumes.find((v: K8sObject) => v.name === 'context-keys')).toEqual({ name: 'context-keys', secret: { secretName: 'kv-context-keys', items: [{ key: 'keys', path: 'keys' }], defaultMode: 0o440 } });
    expect(container.volumeMounts).toContainEqual({ name: 'context-keys', mountPath: '/etc/kv/context-keys', readOnly: true });
    expect(container.env).toContainEqual({ name: 'KV_CONTEXT_KEYS_FILE', value: '/etc/kv/context-keys/keys' });
    expect(synth({}).filter((o) => o.kind === 'Secret')).toEqual([]);
    const named = synth({ contextKeysSecretName: 'kv-keys-2026' }).find((o) => o.kind === 'StatefulSet')!;
    expect(named.spec.template.spec.volumes.find((v: K8sObject) => v.name === 'context-keys').secret.secretName).toBe('kv-keys-2026');
    expect(() => synth({ contextKeysSecretName: 'Bad_Name' })).toThrow(/contextKeysSecretName: "Bad_Name" is not a Secret name/);
  });

  test('the claim template keeps the creation size (volumeClaimGiB) when storageGiB grows; the claims to grow are named per pod', () => {
    const claimSize = (props: Partial<KvStoreChartProps>) => statefulSetOf(props).spec.volumeClaimTemplates[0].spec.resources.requests.storage;
    // A new cluster: the template asks for storageGiB.
    expect(claimSize({ storageGiB: 50 })).toBe('50Gi');
    // A grown one: the template is what the StatefulSet was created with, so the apply changes nothing there.
    expect(claimSize({ storageGiB: 80, volumeClaimGiB: 50 })).toBe('50Gi');
    expect(statefulSetOf({ storageGiB: 80, volumeClaimGiB: 50 })).toEqual(statefulSetOf({ storageGiB: 50, volumeClaimGiB: 50 }));
    const chart = new KvStoreChart(Testing.app(), 'kv', { image: 'i', replicas: 4, storageGiB: 80, volumeClaimGiB: 50 });
    expect([chart.storageGiB, chart.volumeClaimGiB]).toEqual([80, 50]);
    expect(chart.dataClaimNames).toEqual(['data-kv-0', 'data-kv-1', 'data-kv-2', 'data-kv-3']);
    // The StatefulSet controller names each claim <template>-<set>-<ordinal>.
    expect(`${set.spec.volumeClaimTemplates[0].metadata.name}-${set.metadata.name}-0`).toBe('data-kv-0');
  });

  test('spreads pods over zones (hard) and never puts two on one host (hard anti-affinity)', () => {
    expect(pod.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: labels } },
    ]);
    expect(pod.affinity).toEqual({
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: labels } }] },
    });
  });

  test('runs `kv node` with N/R/W, partitions, data dir, the founding members as peers, and joins by itself', () => {
    expect(container.args).toEqual(['node']);
    expect(container.env[0]).toEqual({ name: 'KV_NODE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(env).toMatchObject({
      KV_HOST: '0.0.0.0',
      KV_PORT: '7001',
      KV_ADVERTISE: '$(KV_NODE_ID).kv-peer.kv.svc.cluster.local:7001',
      KV_DATA_DIR: '/var/lib/kv',
      KV_N: '3',
      KV_R: '2',
      KV_W: '2',
      KV_PARTITIONS: '64',
      KV_DURABILITY: 'durable',
      KV_METRICS_PORT: '9464',
      KV_LOG_LEVEL: 'info',
      KV_JOIN: 'auto',
      KV_BACKUP_BUCKET: 'kv-backups-bucket',
      KV_BACKUP_PREFIX: 'kv-backups',
    });
    expect(env.KV_PEERS.split(',')).toEqual([0, 1, 2].map((i) => `kv-${i}=kv-${i}.kv-peer.kv.svc.cluster.local:7001`));
    // The founding members, not the replicas: five pods, of which the first four found the cluster.
    const founding = (props: Partial<KvStoreChartProps>) => statefulSetOf(props).spec.template.spec.containers[0].env.find((e: K8sObject) => e.name === 'KV_PEERS').value.split(',');
    expect(founding({ replicas: 5 })).toHaveLength(3);
    expect(founding({ replicas: 5, foundingMembers: 4 }).map((m: string) => m.split('=')[0])).toEqual(['kv-0', 'kv-1', 'kv-2', 'kv-3']);
    expect(founding({ replicas: 7, n: 5 })).toHaveLength(5);
  });

  test('scaling replicas changes nothing in the pod template, so it restarts no pod', () => {
    const three = statefulSetOf({ replicas: 3 });
    const six = statefulSetOf({ replicas: 6 });
    expect(six.spec.replicas).toBe(6);
    expect(six.spec.template).toEqual(three.spec.template);
    // Everything else of the set but the count is the same too.
    expect({ ...six.spec, replicas: 3 }).toEqual(three.spec);
  });

  test('an init container writes the zone of the pod\'s Kubernetes node where the node reads it', () => {
    expect(pod.initContainers).toHaveLength(1);
    const init = pod.initContainers[0];
    expect(init.name).toBe('zone');
    expect(init.image).toBe(container.image);
    // The node's name from the downward API, expanded by the kubelet in the arguments.
    expect(init.env).toEqual([{ name: 'KV_K8S_NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]);
    expect(init.args).toEqual(['k8s', 'zone', '--node-name', '$(KV_K8S_NODE_NAME)', '--out', ZONE_FILE]);
    expect(env.KV_ZONE_FILE).toBe(ZONE_FILE);
    expect(env.KV_ZONE).toBeUndefined();
    // One emptyDir: writable for the init container, read-only for the node.
    const zoneDir = path.posix.dirname(ZONE_FILE);
    expect(init.volumeMounts).toEqual([{ name: 'zone', mountPath: zoneDir }]);
    expect(container.volumeMounts).toContainEqual({ name: 'zone', mountPath: zoneDir, readOnly: true });
    expect(pod.volumes.find((v: K8sObject) => v.name === 'zone')).toEqual({ name: 'zone', emptyDir: { sizeLimit: '1Mi' } });
    expect(init.securityContext).toEqual(container.securityContext);
    expect(init.resources.limits.memory).toBe('256Mi');
  });

  test('omits the backup settings and jobs when no backup target is given', () => {
    const plain = synth();
    const names = plain.find((o) => o.kind === 'StatefulSet')!.spec.template.spec.containers[0].env.map((e: K8sObject) => e.name);
    expect(names).not.toContain('KV_BACKUP_BUCKET');
    expect(plain.filter((o) => o.kind === 'CronJob')).toEqual([]);
  });

  test('probes over plain HTTP on the metrics port (the kubelet cannot probe gRPC over TLS): startup and liveness on /livez, readiness on /readyz', () => {
    expect(container.startupProbe.httpGet).toEqual({ path: '/livez', port: 9464, scheme: 'HTTP' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/livez', port: 9464, scheme: 'HTTP' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 9464, scheme: 'HTTP' });
    expect(container.readinessProbe.grpc).toBeUndefined();
    // The startup probe allows minutes for a large LMDB environment to open.
    expect(container.startupProbe.failureThreshold * container.startupProbe.periodSeconds).toBeGreaterThanOrEqual(300);
  });

  test('the preStop hook leaves on scale-in, within a grace period that also leaves the node its 20 s drain', () => {
    expect(container.lifecycle.preStop).toEqual({
      exec: {
        command: [
          ...KV_COMMAND,
          'k8s',
          'pre-stop',
          '--statefulset',
          'kv',
          '--namespace',
          'kv',
          '--sleep-s',
          '5',
          '--budget-s',
          '3570',
          '--endpoint',
          '127.0.0.1:7001,kv.kv.svc.cluster.local:7001',
          '--log-file',
          '/proc/1/fd/2',
        ],
      },
    });
    expect(pod.terminationGracePeriodSeconds).toBe(3600);
    const custom = statefulSetOf({ scaleInGracePeriodSeconds: 600, preStopSleepSeconds: 2, name: 'store', namespace: 'data' }).spec.template.spec;
    const command: string[] = custom.containers[0].lifecycle.preStop.exec.command;
    expect(custom.terminationGracePeriodSeconds).toBe(600);
    expect(command.slice(command.indexOf('--statefulset'), command.indexOf('--endpoint'))).toEqual(['--statefulset', 'store', '--namespace', 'data', '--sleep-s', '2', '--budget-s', '570']);
  });

  test('the preStop command is the image\'s entry point with flags the command takes', () => {
    // An exec hook does not go through ENTRYPOINT, so the chart names it: it must be the Dockerfile's.
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`ENTRYPOINT ${JSON.stringify(KV_COMMAND).replace(/,/g, ', ')}`);
    const flags = (container.lifecycle.preStop.exec.command as string[]).filter((a) => a.startsWith('--'));
    for (const flag of flags) expect(K8S_HELP).toContain(flag);
  });

  test('sets explicit requests and limits', () => {
    expect(container.resources).toEqual({ requests: { cpu: '500m', memory: '1024Mi' }, limits: { cpu: '2000m', memory: '1024Mi' } });
  });

  test('runs as non-root with a read-only root filesystem, no capabilities, and a writable data volume', () => {
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    // fsGroup makes the EBS volume writable by UID 1000.
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, fsGroup: 1000, fsGroupChangePolicy: 'OnRootMismatch' });
    expect(container.volumeMounts.find((m: K8sObject) => m.name === 'data').readOnly).toBeFalsy();
  });

  test('runs under the pod-identity service account; the store\'s pods, and only they, mount its API token', () => {
    expect(pod.serviceAccountName).toBe('kv');
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(only(objects, 'ServiceAccount', 'kv').automountServiceAccountToken).toBe(false);
  });

  test('the API token may get nodes and get the store\'s own StatefulSet, and nothing else', () => {
    // The context keys Job's own account and Role are tested with the Job.
    const storeRbac = (all: K8sObject[]) => all.filter((o) => o.apiVersion === 'rbac.authorization.k8s.io/v1' && o.metadata.labels['app.kubernetes.io/component'] === 'node');
    const rbac = storeRbac(objects);
    expect(rbac.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
    const subjects = [{ kind: 'ServiceAccount', name: 'kv', namespace: 'kv' }];
    expect(only(objects, 'ClusterRole').rules).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]);
    expect(only(objects, 'ClusterRoleBinding')).toMatchObject({ roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: only(objects, 'ClusterRole').metadata.name }, subjects });
    expect(only(rbac, 'Role').rules).toEqual([{ apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: ['kv'], verbs: ['get'] }]);
    expect(only(rbac, 'RoleBinding')).toMatchObject({ roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: only(rbac, 'Role').metadata.name }, subjects });
    // A ClusterRole's name is cluster-wide: two stores (namespaces, names) must not share one.
    const other = synth({ namespace: 'other', name: 'store', serviceAccountName: 'store' });
    expect(only(other, 'ClusterRole').metadata.name).not.toBe(only(objects, 'ClusterRole').metadata.name);
    expect(only(other, 'ClusterRoleBinding').subjects).toEqual([{ kind: 'ServiceAccount', name: 'store', namespace: 'other' }]);
    expect(only(storeRbac(other), 'Role').rules[0].resourceNames).toEqual(['store']);
  });

  test('a headless peer Service publishes not-ready pods; the client Service routes to ready pods', () => {
    const peer = only(objects, 'Service', 'kv-peer');
    expect(peer.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: labels });
    expect(peer.spec.ports.map((p: K8sObject) => p.port)).toEqual([7001, 9464]);
    const client = only(objects, 'Service', 'kv');
    expect(client.spec).toMatchObject({ type: 'ClusterIP', selector: labels, ports: [{ name: 'grpc', port: 7001, targetPort: 7001 }] });
    expect(client.spec.publishNotReadyAddresses).toBeFalsy();
  });

  test('a PodDisruptionBudget allows one store pod down at a time', () => {
    expect(only(objects, 'PodDisruptionBudget').spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: labels } });
  });

  test('the NetworkPolicy admits peer traffic from store pods and client traffic from labelled namespaces only', () => {
    const policy = only(objects, 'NetworkPolicy').spec;
    expect(policy.podSelector).toEqual({ matchLabels: labels });
    expect(policy.policyTypes).toEqual(['Ingress']);
    expect(policy.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: labels } }], ports: [{ protocol: 'TCP', port: 7001 }] },
      {
        from: [
          { namespaceSelector: { matchLabels: { 'dynamo-kv/client': 'true' } } },
          { podSelector: { matchLabels: { ...labels, 'app.kubernetes.io/component': 'backup' } } },
          { podSelector: { matchLabels: { ...labels, 'app.kubernetes.io/component': 'gateway' } } },
        ],
        ports: [{ protocol: 'TCP', port: 7001 }],
      },
      { from: [{ namespaceSelector: { matchLabels: { 'dynamo-kv/metrics': 'true' } } }], ports: [{ protocol: 'TCP', port: 9464 }] },
    ]);
  });

  test.each<[Partial<KvStoreChartProps>, RegExp]>([
    [{ r: 4 }, /r is 4; use 1 to n \(3\)/],
    [{ w: 0 }, /w is 0; use 1 to n \(3\)/],
    [{ replicas: 2 }, /replicas is 2; use at least n \(3\)/],
    [{ partitions: 48 }, /partitions is 48; use a power of two/],
    [{ partitions: 131072 }, /partitions is 131072; use a power of two/],
    [{ name: 'KV' }, /name is "KV"; use a DNS label/],
    [{ name: 'k'.repeat(62) }, /name is "k{62}"/],
    [{ grpcPort: 80 }, /grpcPort is 80; use a port from 1024 to 65535/],
    [{ metricsPort: 7001 }, /metricsPort is 7001; use a port different from grpcPort/],
    [{ updatePartition: 4 }, /updatePartition is 4; use 0 to replicas \(3\)/],
    [{ scaleInGracePeriodSeconds: 89 }, /scaleInGracePeriodSeconds is 89; use 90 to 86400 \(a day\): the leave's budget \(at least 60 s\) \+ 20 s of drain \+ 10 s of margin; size it as data per node/],
    [{ foundingMembers: 4 }, /foundingMembers is 4; use n \(3\) to replicas \(3\): the founding pods kv-0 \.\. kv-3 must all exist/],
    [{ foundingMembers: 2, replicas: 5 }, /foundingMembers is 2; use n \(3\) to replicas \(5\)/],
    [{ image: ' ' }, /image is " "; give the node image reference/],
    [{ storageGiB: 30, volumeClaimGiB: 50 }, /storageGiB is 30; use at least volumeClaimGiB \(50\), the size the volume claims were created with: a volume grows but never shrinks/],
    [{ volumeClaimGiB: 0 }, /volumeClaimGiB is 0; use 1 to 16384 GiB/],
  ])('rejects %j with a message naming the prop, the value and the fix', (props, message) => {
    expect(() => synth(props)).toThrow(message);
  });
});

describe('context keys job', () => {
  const job = only(objects, 'Job');
  const jobPod = job.spec.template.spec;
  const jobContainer = jobPod.containers[0];
  const mountedSecret = () => pod.volumes.find((v: K8sObject) => v.name === 'context-keys').secret.secretName;

  test('runs `kv k8s context-keys` in the node image for the Secret the store\'s pods mount, with flags the command takes', async () => {
    expect(jobPod.containers).toHaveLength(1);
    expect(jobContainer.image).toBe(container.image);
    expect(jobContainer.command).toBeUndefined(); // the image's entry point, kv
    expect(jobContainer.args).toEqual(['k8s', 'context-keys', '--namespace', 'kv', '--secret', mountedSecret()]);
    expect(mountedSecret()).toBe('kv-context-keys');
    const named = synth({ contextKeysSecretName: 'kv-keys-2026', namespace: 'store' });
    expect(only(named, 'Job').spec.template.spec.containers[0].args).toEqual(['k8s', 'context-keys', '--namespace', 'store', '--secret', 'kv-keys-2026']);
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await k8sCommand([...jobContainer.args.slice(1), '--help'], 'unused');
      expect(out).toHaveBeenCalledWith(`${K8S_HELP}\n`);
    } finally {
      out.mockRestore();
    }
  });

  test('retries a few times, gives up after a deadline, and is deleted a day after it finishes', () => {
    expect(job.spec).toMatchObject({ backoffLimit: 4, activeDeadlineSeconds: 600, ttlSecondsAfterFinished: 86_400 });
    expect(jobPod.restartPolicy).toBe('Never');
  });

  test('runs as its own ServiceAccount whose token only the Job\'s pod mounts', () => {
    expect(jobPod.serviceAccountName).toBe('kv-context-keys');
    expect(jobPod.automountServiceAccountToken).toBe(true);
    expect(only(objects, 'ServiceAccount', 'kv-context-keys').automountServiceAccountToken).toBe(false);
  });

  test('its Role allows only create on secrets and get on the one Secret, bound to its own account only', () => {
    const role = only(objects, 'Role', 'kv-context-keys-creator');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['kv-context-keys'], verbs: ['get'] },
    ]);
    expect(only(objects, 'RoleBinding', 'kv-context-keys-creator')).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kv-context-keys-creator' },
      subjects: [{ kind: 'ServiceAccount', name: 'kv-context-keys', namespace: 'kv' }],
    });
    // No other binding gives the Job's account anything, and no other rule touches secrets.
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
    expect(bindings.filter((b) => b.subjects.some((x: K8sObject) => x.name === 'kv-context-keys')).map((b) => b.metadata.name)).toEqual(['kv-context-keys-creator']);
    const secretRules = objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole').flatMap((r) => r.rules).filter((rule: K8sObject) => rule.resources.includes('secrets'));
    expect(secretRules).toEqual(role.rules);
    const named = synth({ contextKeysSecretName: 'kv-keys-2026' });
    expect(only(named, 'Role', 'kv-context-keys-creator').rules[1].resourceNames).toEqual(['kv-keys-2026']);
  });

  test('runs non-root on a read-only root filesystem with no capabilities and the RuntimeDefault seccomp profile, as the store\'s containers', () => {
    expect(jobContainer.securityContext).toEqual(container.securityContext);
    expect(jobContainer.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    expect(jobPod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(jobContainer.resources.limits).toEqual({ cpu: '500m', memory: '256Mi' });
  });

  test('its pod is not a store pod: the StatefulSet, Services, PDB and NetworkPolicy do not select it', () => {
    const jobLabels = job.spec.template.metadata.labels;
    expect(jobLabels['app.kubernetes.io/component']).toBe('context-keys');
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => jobLabels[k] === v);
    expect(selects(set.spec.selector.matchLabels)).toBe(false);
    for (const svc of objects.filter((o) => o.kind === 'Service')) expect(selects(svc.spec.selector)).toBe(false);
    expect(selects(only(objects, 'PodDisruptionBudget').spec.selector.matchLabels)).toBe(false);
    expect(selects(only(objects, 'NetworkPolicy').spec.podSelector.matchLabels)).toBe(false);
  });

  test('is named within 63 characters by a hash of its pod template: the same for the same chart, new for a new image', () => {
    expect(job.metadata.name).toMatch(/^kv-context-keys-[0-9a-f]{8}$/);
    expect(only(synth({ backup: { bucketName: 'kv-backups-bucket', prefix: 'kv-backups' } }), 'Job').metadata.name).toBe(job.metadata.name);
    expect(only(synth({ image: 'registry.example/kv-node:def456' }), 'Job').metadata.name).not.toBe(job.metadata.name);
    const long = only(synth({ name: 'k'.repeat(58) }), 'Job').metadata.name;
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^k+-context-keys-[0-9a-f]{8}$/);
  });

  test('no key material is in the synthesized manifests: no Secret, no data or stringData, no key-length hex', () => {
    // Every field name at any depth.
    const keysOf = (o: unknown): string[] =>
      Array.isArray(o) ? o.flatMap(keysOf) : o && typeof o === 'object' ? Object.entries(o).flatMap(([k, v]) => [k, ...keysOf(v)]) : [];
    for (const manifests of [objects, synth({ contextKeysSecretName: 'kv-keys-2026' }), synth({ createContextKeys: false })]) {
      expect(manifests.filter((o) => o.kind === 'Secret')).toEqual([]);
      // (A ConfigMap's data is not secret; the chart has none by default.)
      const fields = keysOf(manifests.filter((o) => o.kind !== 'ConfigMap'));
      expect(fields).not.toContain('stringData');
      expect(fields).not.toContain('data');
      expect(JSON.stringify(manifests)).not.toMatch(/[0-9a-fA-F]{64}/);
    }
  });

  test('createContextKeys: false leaves the Secret to the operator: no Job, ServiceAccount or Role of its own; the pods still mount it', () => {
    const opted = synth({ createContextKeys: false });
    expect(opted.filter((o) => o.kind === 'Job')).toEqual([]);
    expect(opted.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'context-keys')).toEqual([]);
    const names = (all: K8sObject[]) => all.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    const own = [`Job/${job.metadata.name}`, 'ServiceAccount/kv-context-keys', 'Role/kv-context-keys-creator', 'RoleBinding/kv-context-keys-creator'];
    expect(names(synth({})).filter((n) => own.includes(n))).toEqual(own.sort());
    expect(names(opted)).toEqual(names(synth({})).filter((n) => !own.includes(n)));
    const optedSet = only(opted, 'StatefulSet');
    expect(optedSet.spec.template.spec.volumes.find((v: K8sObject) => v.name === 'context-keys').secret.secretName).toBe('kv-context-keys');
  });
});

describe('storage class chart', () => {
  test('the default class is encrypted gp3 on the EBS CSI driver, bound when the pod is scheduled', () => {
    const [sc] = Testing.synth(new StorageClassChart(Testing.app(), 'storage'));
    expect(sc).toMatchObject({
      kind: 'StorageClass',
      metadata: { name: 'gp3', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'ebs.csi.aws.com',
      parameters: { type: 'gp3', encrypted: 'true' },
      volumeBindingMode: 'WaitForFirstConsumer',
      reclaimPolicy: 'Retain',
      allowVolumeExpansion: true,
    });
  });

  test('allows volume expansion, which growing the store\'s disks through their claims needs', () => {
    const [sc] = Testing.synth(new StorageClassChart(Testing.app(), 'storage', { storageClassName: 'other', isDefault: false }));
    expect(sc.allowVolumeExpansion).toBe(true);
  });
});

describe('backup jobs', () => {
  const jobs = objects.filter((o) => o.kind === 'CronJob');
  const byName = Object.fromEntries(jobs.map((j) => [j.metadata.name, j]));
  const podOf = (name: string) => byName[name].spec.jobTemplate.spec.template.spec;

  test('a daily backup, a daily prune and a suspended restore template, never two of a kind at once', () => {
    expect(Object.keys(byName).sort()).toEqual(['kv-backup', 'kv-backup-prune', 'kv-restore']);
    expect(byName['kv-backup'].spec).toMatchObject({ schedule: '17 2 * * *', timeZone: 'Etc/UTC', concurrencyPolicy: 'Forbid', suspend: false });
    expect(byName['kv-backup-prune'].spec).toMatchObject({ schedule: '47 4 * * *', concurrencyPolicy: 'Forbid', suspend: false });
    expect(byName['kv-restore'].spec.suspend).toBe(true);
    for (const j of jobs) expect(j.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 6 * 3600 });
  });

  test('run the kv CLI against the client Service with the bucket and prefix, as the store\'s ServiceAccount (its Pod Identity role)', () => {
    const backup = podOf('kv-backup');
    expect(backup.serviceAccountName).toBe(pod.serviceAccountName);
    expect(backup.containers[0].image).toBe(container.image);
    expect(backup.containers[0].args).toEqual(['backup', '--endpoint', 'kv.kv.svc.cluster.local:7001', '--spool-dir', '/spool', '--cluster', 'kv']);
    expect(podOf('kv-backup-prune').containers[0].args).toEqual(['backup', 'prune', '--keep-last', '7', '--keep-days', '30', '--cluster', 'kv']);
    expect(podOf('kv-restore').containers[0].args).toEqual(['restore', '--endpoint', 'kv.kv.svc.cluster.local:7001', '--spool-dir', '/spool', '--cluster', 'kv']);
    expect(podOf('kv-restore').containers[0].env).toContainEqual({ name: 'KV_RESTORE_BACKUP', value: 'latest' });
    for (const name of Object.keys(byName)) {
      expect(podOf(name).containers[0].env).toEqual(expect.arrayContaining([{ name: 'KV_BACKUP_BUCKET', value: 'kv-backups-bucket' }, { name: 'KV_BACKUP_PREFIX', value: 'kv-backups' }]));
    }
  });

  test('pods run non-root on a read-only root, without an API token, with a spool volume sized for every node\'s copy', () => {
    for (const name of Object.keys(byName)) {
      const p = podOf(name);
      expect(p.automountServiceAccountToken).toBe(false);
      expect(p.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      expect(p.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    }
    const spool = podOf('kv-backup').volumes.find((v: K8sObject) => v.name === 'spool');
    expect(spool.ephemeral.volumeClaimTemplate.spec).toEqual({ accessModes: ['ReadWriteOnce'], storageClassName: 'gp3', resources: { requests: { storage: '60Gi' } } });
    const custom = synth({ replicas: 5, storageGiB: 100, backup: { bucketName: 'b-b-b', prefix: 'p', spoolGiB: 250, schedule: '0 3 * * 0', keepLast: 3, keepDays: 90 } }).filter((o) => o.kind === 'CronJob');
    const customBackup = custom.find((j) => j.metadata.name === 'kv-backup')!;
    expect(customBackup.spec.schedule).toBe('0 3 * * 0');
    expect(customBackup.spec.jobTemplate.spec.template.spec.volumes[0].ephemeral.volumeClaimTemplate.spec.resources.requests.storage).toBe('250Gi');
    expect(custom.find((j) => j.metadata.name === 'kv-backup-prune')!.spec.jobTemplate.spec.template.spec.containers[0].args).toEqual(['backup', 'prune', '--keep-last', '3', '--keep-days', '90', '--cluster', 'kv']);
  });

  test('backup pods are not store pods: the StatefulSet, its Services and the PDB do not select them', () => {
    const backupLabels = byName['kv-backup'].spec.jobTemplate.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => backupLabels[k] === v);
    expect(selects(set.spec.selector.matchLabels)).toBe(false);
    for (const svc of objects.filter((o) => o.kind === 'Service')) expect(selects(svc.spec.selector)).toBe(false);
    expect(selects(only(objects, 'PodDisruptionBudget').spec.selector.matchLabels)).toBe(false);
  });

  test('the job arguments are flags the kv CLI takes', async () => {
    const { backupCommand, restoreCommand } = await import('../../app/cli/backup');
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      for (const name of Object.keys(byName)) {
        const [command, ...args] = podOf(name).containers[0].args as string[];
        await (command === 'restore' ? restoreCommand : backupCommand)([...args, '--help']);
      }
      expect(out).toHaveBeenCalledTimes(3);
    } finally {
      out.mockRestore();
    }
  });

  test.each<[Partial<KvStoreChartProps>, RegExp]>([
    [{ backup: { bucketName: 'b', prefix: 'p', schedule: 'daily' } }, /backupSchedule is "daily"; use five cron fields/],
    [{ backup: { bucketName: 'b', prefix: 'p', keepLast: 0 } }, /backupKeepLast is 0; use 1 to 10000/],
    [{ backup: { bucketName: 'b', prefix: 'p', spoolGiB: 0 } }, /backupSpoolGiB is 0; use 1 to 65536/],
  ])('rejects %j', (props, message) => {
    expect(() => synth(props)).toThrow(message);
  });
});

describe('gateway tier', () => {
  const withGateway = synth({ gateway: {} });
  const deployment = only(withGateway, 'Deployment');
  const gatewayPod = deployment.spec.template.spec;
  const gateway = gatewayPod.containers[0];
  const hpa = only(withGateway, 'HorizontalPodAutoscaler');

  test('every object passes the Kubernetes API schema', () => {
    for (const o of withGateway) expect(() => validateK8sObject(o)).not.toThrow();
    expect(withGateway.filter((o) => o.metadata.name === 'kv-gateway').map((o) => o.kind).sort()).toEqual(['Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'PodDisruptionBudget', 'Service']);
  });

  test('the gateway container is a kv node the node itself parses as a gateway in front of the client Service', async () => {
    const { parseNodeConfig } = await import('../../app/node/config');
    const values: Record<string, string> = {};
    for (const e of gateway.env as K8sObject[]) {
      const fromField = e.valueFrom?.fieldRef?.fieldPath;
      values[e.name] = fromField === 'metadata.name' ? 'kv-gateway-5d8f7c9b4-x2x9q' : fromField === 'status.podIP' ? '10.0.3.7' : String(e.value).replace(/\$\(([A-Z_]+)\)/g, (_m, v: string) => values[v]!);
    }
    const config = parseNodeConfig(gateway.args.slice(1), values);
    expect(gateway.args).toEqual(['node']);
    expect(config).toMatchObject({ role: 'gateway', upstream: ['kv.kv.svc.cluster.local:7001'], nodeId: 'kv-gateway-5d8f7c9b4-x2x9q', advertise: '10.0.3.7:7001', host: '0.0.0.0', port: 7001 });
    expect(gateway.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 9464 });
    expect(gateway.livenessProbe.httpGet).toEqual({ path: '/livez', port: 9464 });
    expect(gateway.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(gatewayPod.automountServiceAccountToken).toBe(false);
    expect(gatewayPod.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions).toEqual([{ key: 'eks.amazonaws.com/capacityType', operator: 'In', values: ['SPOT'] }]);
  });

  test('the HPA scales the Deployment on CPU and on operations in flight per pod, up fast and down slowly', () => {
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'kv-gateway' });
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([2, 10]);
    expect(hpa.spec.metrics).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
      { type: 'Pods', pods: { metric: { name: 'kv_operations_in_flight' }, target: { type: 'AverageValue', averageValue: '256' } } },
    ]);
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
    const custom = only(synth({ gateway: { minReplicas: 3, maxReplicas: 30, cpuTargetPercent: 50, inFlightTarget: 100 } }), 'HorizontalPodAutoscaler').spec;
    expect([custom.minReplicas, custom.maxReplicas, custom.metrics[0].resource.target.averageUtilization, custom.metrics[1].pods.target.averageValue]).toEqual([3, 30, 50, '100']);
  });

  test('no HPA touches the storage tier, and the two tiers select each other\'s pods nowhere', () => {
    expect(withGateway.filter((o) => o.kind === 'HorizontalPodAutoscaler').map((o) => o.spec.scaleTargetRef.kind)).toEqual(['Deployment']);
    const gatewayLabels = deployment.spec.template.metadata.labels;
    const storeSet = only(withGateway, 'StatefulSet');
    const selects = (selector: Record<string, string>, podLabels: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    expect(selects(storeSet.spec.selector.matchLabels, gatewayLabels)).toBe(false);
    expect(selects(deployment.spec.selector.matchLabels, storeSet.spec.template.metadata.labels)).toBe(false);
    for (const svc of withGateway.filter((o) => o.kind === 'Service')) {
      expect(selects(svc.spec.selector, gatewayLabels) && selects(svc.spec.selector, storeSet.spec.template.metadata.labels)).toBe(false);
    }
    const storePolicy = withGateway.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'kv')!;
    expect(storePolicy.spec.ingress[1].from).toContainEqual({ podSelector: { matchLabels: gatewayLabels } });
  });

  test.each<[Partial<KvStoreChartProps>, RegExp]>([
    [{ gateway: { minReplicas: 0 } }, /gateway.minReplicas is 0; use 1 to 1000/],
    [{ gateway: { minReplicas: 5, maxReplicas: 4 } }, /gateway.maxReplicas is 4; use 5 to 1000/],
    [{ gateway: { cpuTargetPercent: 5 } }, /gateway.cpuTargetPercent is 5; use 10 to 100/],
  ])('rejects %j', (props, message) => {
    expect(() => synth(props)).toThrow(message);
  });
});

describe('TLS (props.tls): certificates from cert-manager, mounted where the node reads them', () => {
  const tlsObjects = synth({
    backup: { bucketName: 'kv-backups-bucket', prefix: 'kv-backups' },
    gateway: {},
    tls: { clients: [{ name: 'reports', role: 'read-only', tokenSha256: 'a'.repeat(64), prefixes: ['reports/'] }] },
  });
  const certificates = tlsObjects.filter((o) => o.kind === 'Certificate');
  const issuers = tlsObjects.filter((o) => o.kind === 'Issuer');
  const byName = (name: string) => certificates.find((c) => c.metadata.name === name)!;
  const tlsSet = only(tlsObjects, 'StatefulSet');
  const tlsContainer = tlsSet.spec.template.spec.containers[0];
  const envOf = (c: K8sObject): Record<string, string> => Object.fromEntries((c.env as K8sObject[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
  const mountOf = (pod: K8sObject, c: K8sObject, dir: string): K8sObject => {
    const mount = (c.volumeMounts as K8sObject[]).find((m) => m.mountPath === dir)!;
    expect(mount).toBeDefined();
    expect(mount.readOnly).toBe(true);
    expect(mount.subPath).toBeUndefined(); // a subPath mount is never refreshed by the kubelet: rotation would need a restart
    return (pod.volumes as K8sObject[]).find((v) => v.name === mount.name)!;
  };

  test('a self-signed CA whose key never rotates, a CA issuer, and every leaf issued by it', () => {
    expect(issuers.map((i) => [i.metadata.name, Object.keys(i.spec)[0]])).toEqual([['kv-selfsigned', 'selfSigned'], ['kv-ca-issuer', 'ca']]);
    const ca = byName('kv-ca');
    expect(ca.spec).toMatchObject({ isCA: true, secretName: 'kv-ca', issuerRef: { kind: 'Issuer', name: 'kv-selfsigned' }, privateKey: { rotationPolicy: 'Never' } });
    expect(issuers[1]!.spec.ca.secretName).toBe(ca.spec.secretName);
    const leaves = certificates.filter((c) => c !== ca);
    expect(leaves.map((c) => c.metadata.name).sort()).toEqual(['kv-backup', 'kv-chaos-checker', 'kv-gateway', 'kv-node']);
    for (const leaf of leaves) {
      expect(leaf.spec.issuerRef).toEqual({ kind: 'Issuer', name: 'kv-ca-issuer' });
      expect(leaf.spec.privateKey.rotationPolicy).toBe('Always');
      // Renewed with a third of its life left.
      expect(leaf.spec).toMatchObject({ duration: '2160h', renewBefore: '720h' });
    }
  });

  test('the node certificate carries the node marker and names every address peers and clients dial', async () => {
    const { NODE_CERT_URI } = await import('../../app/rpc/tls');
    const node = byName('kv-node');
    expect(node.spec.uris).toEqual([NODE_CERT_URI]);
    expect(node.spec.usages).toEqual(expect.arrayContaining(['server auth', 'client auth']));
    // Every peer address of the founding list, and the client endpoint, matches a DNS name (one-label wildcard).
    const matches = (host: string) => (node.spec.dnsNames as string[]).some((n) => n === host || (n.startsWith('*.') && host.slice(host.indexOf('.') + 1) === n.slice(2)));
    const peers = peerList({ setName: 'kv', foundingMembers: 3, headlessServiceName: 'kv-peer', namespace: 'kv', clusterDomain: 'cluster.local', port: 7001 }).split(',').map((p) => p.split('=')[1]!.split(':')[0]!);
    for (const host of [...peers, 'kv-7.kv-peer.kv.svc.cluster.local', 'kv.kv.svc.cluster.local']) expect(matches(host)).toBe(true);
    expect(matches('kv-0.other.kv.svc.cluster.local')).toBe(false);
    // The preStop hook dials 127.0.0.1.
    expect(node.spec.ipAddresses).toEqual(['127.0.0.1']);
  });

  test('the store container reads the node certificate and the client auth file, and the node parses its settings', async () => {
    const { parseNodeConfig } = await import('../../app/node/config');
    const values = envOf(tlsContainer);
    const config = parseNodeConfig(['--zone', 'eu-west-1a'], { ...values, KV_ZONE_FILE: '', KV_NODE_ID: 'kv-0', KV_ADVERTISE: 'kv-0.kv-peer.kv.svc.cluster.local:7001' });
    expect(config).toMatchObject({ tlsCertFile: '/etc/kv/tls/tls.crt', tlsKeyFile: '/etc/kv/tls/tls.key', tlsCaFile: '/etc/kv/tls/ca.crt', clientAuthFile: '/etc/kv/clients/clients.jsonl' });
    expect(mountOf(tlsSet.spec.template.spec, tlsContainer, '/etc/kv/tls').secret.secretName).toBe(byName('kv-node').spec.secretName);
    expect(mountOf(tlsSet.spec.template.spec, tlsContainer, '/etc/kv/clients').configMap.name).toBe('kv-clients');
    // The preStop hook's kv admin leave presents the node's own certificate.
    expect(values).toMatchObject({ KV_CLIENT_TLS_CA: '/etc/kv/tls/ca.crt', KV_CLIENT_TLS_CERT: '/etc/kv/tls/tls.crt', KV_CLIENT_TLS_KEY: '/etc/kv/tls/tls.key' });
  });

  test('the client auth file parses with the node\'s own parser, and lists the chart\'s clients by their certificates\' names', async () => {
    const { parseClientAuth } = await import('../../app/api/client-auth');
    const text = only(tlsObjects, 'ConfigMap', 'kv-clients').data['clients.jsonl'];
    const parsed = parseClientAuth(text, 'clients.jsonl');
    if (!parsed.ok) throw new Error(parsed.error);
    const entries = Object.fromEntries(parsed.value.entries.map((e) => [e.name, e]));
    expect(Object.keys(entries).sort()).toEqual(['backup', 'chaos-checker', 'gateway', 'reports']);
    for (const client of ['backup', 'chaos-checker', 'gateway']) {
      expect(entries[client]!.certificateCommonName).toBe(byName(`kv-${client}`).spec.commonName);
      expect(entries[client]!.role).toBe('admin');
    }
    expect(entries.reports).toMatchObject({ role: 'read-only', prefixesText: ['reports/'] });
    // No token, only its hash, is ever in the manifests.
    expect(text).not.toMatch(/token"/);
  });

  test('the gateways serve TLS with their certificate and apply the client auth file; the backup jobs present theirs', async () => {
    const { parseNodeConfig } = await import('../../app/node/config');
    const deployment = only(tlsObjects, 'Deployment');
    const gw = deployment.spec.template.spec.containers[0];
    const config = parseNodeConfig(['--node-id', 'gw-1', '--advertise', '10.0.0.1:7001'], envOf(gw));
    expect(config).toMatchObject({ role: 'gateway', tlsCertFile: '/etc/kv/tls/tls.crt', clientAuthFile: '/etc/kv/clients/clients.jsonl' });
    expect(mountOf(deployment.spec.template.spec, gw, '/etc/kv/tls').secret.secretName).toBe(byName('kv-gateway').spec.secretName);
    expect(byName('kv-gateway').spec.dnsNames).toContain('kv-gateway.kv.svc.cluster.local');
    for (const cron of tlsObjects.filter((o) => o.kind === 'CronJob')) {
      const spec = cron.spec.jobTemplate.spec.template.spec;
      const c = spec.containers[0];
      expect(envOf(c)).toMatchObject({ KV_CLIENT_TLS_CA: '/etc/kv/tls/ca.crt', KV_CLIENT_TLS_CERT: '/etc/kv/tls/tls.crt', KV_CLIENT_TLS_KEY: '/etc/kv/tls/tls.key' });
      expect(mountOf(spec, c, '/etc/kv/tls').secret.secretName).toBe(byName('kv-backup').spec.secretName);
    }
  });

  test('every object passes the Kubernetes API schema', () => {
    for (const o of tlsObjects.filter((x) => !['Certificate', 'Issuer'].includes(x.kind))) expect(() => validateK8sObject(o)).not.toThrow();
  });

  test('every pod that mounts a certificate can read its key: the Secret files are 0440, root-owned, so the pod\'s fsGroup must be its group', () => {
    const podSpecs = tlsObjects.flatMap((o) => [o.spec?.template?.spec, o.spec?.jobTemplate?.spec?.template?.spec].filter(Boolean)) as K8sObject[];
    const mounting = podSpecs.filter((p) => (p.volumes ?? []).some((v: K8sObject) => v.secret && /tls/.test(v.secret.secretName)));
    expect(mounting.length).toBe(5); // the StatefulSet, the gateways, three backup CronJobs
    for (const p of mounting) {
      const secret = (p.volumes as K8sObject[]).find((v) => v.secret && /tls/.test(v.secret.secretName))!;
      expect(secret.secret.defaultMode).toBe(0o440);
      expect(p.securityContext.fsGroup).toBe(p.securityContext.runAsGroup ?? p.containers[0].securityContext.runAsGroup);
    }
  });

  test('without props.tls there is no certificate, no TLS setting and no client auth file', () => {
    expect(objects.filter((o) => ['Certificate', 'Issuer', 'ConfigMap'].includes(o.kind))).toEqual([]);
    expect(Object.keys(env).filter((k) => /TLS|CLIENT_AUTH/.test(k))).toEqual([]);
  });

  test.each([
    [{ clients: [{ name: 'gateway', role: 'read-only' as const, tokenSha256: 'b'.repeat(64) }] }, /the name "gateway" is given twice/],
    [{ clients: [{ name: 'x', role: 'read-only' as const }] }, /has neither certificateCommonName nor tokenSha256/],
    [{ clients: [{ name: 'x', role: 'read-only' as const, tokenSha256: 'not-a-hash' }] }, /tokenSha256 is not 64 lowercase hex digits/],
    [{ certificateHours: 1 }, /certificateHours: 1 is not a whole number of hours within 24\.\.8760/],
  ])('rejects tls %j', (tls, message) => {
    expect(() => synth({ gateway: {}, tls })).toThrow(message);
  });
});

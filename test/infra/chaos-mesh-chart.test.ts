import { Testing } from 'cdk8s';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZONE_LABEL } from '../../app/k8s/kube-api';
import { KvStoreChart, KvStoreChartProps, NODE_CONTAINER_NAME, RUN_AS_ID, STATEFULSET_POD_NAME_LABEL } from '../../constructs/k8s/kv-store-chart';
import { CHAOS_MESH_NAMESPACE, CHECKER_MARGIN_S, CHECKER_METRICS_PORT, KvChaosChart, KvChaosChartProps, MARK_DEADLINE_S, WORKFLOW_SLACK_S } from '../../chaos/chaos-mesh-chart';
import { chaosMeshFault, ChaosObjectSpec, CHAOS_MESH_API_VERSION, NOT_ON_KUBERNETES, POD_KILL_GRACE_PERIOD_S, SPEC_FIELD, StoreTargets } from '../../chaos/chaos-mesh-faults';
import { EXPERIMENTS, Experiment, experimentNamed, SUITES } from '../../chaos/experiments';
import { describeWithCrds, validateCustomResource } from './crd-schema';
import { REPO_ROOT } from './helpers';
import { validateK8sObject } from './k8s-schema';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K8sObject = Record<string, any>;

const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
const IMAGE = 'registry.example/kv-node:abc123';

function synth(props: Partial<KvChaosChartProps> = {}, storeProps: Partial<KvStoreChartProps> = {}): { store: KvStoreChart; chart: KvChaosChart; objects: K8sObject[]; storeObjects: K8sObject[] } {
  const app = Testing.app();
  const store = new KvStoreChart(app, 'kv', { image: IMAGE, ...storeProps });
  const chart = new KvChaosChart(app, 'chaos', { store, zones: ZONES, ...props });
  return { store, chart, objects: Testing.synth(chart), storeObjects: Testing.synth(store) };
}

function only(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** A Workflow's templates by name, from a Workflow or from the workflow spec a Schedule holds. */
const templatesOf = (workflow: K8sObject): Map<string, K8sObject> => new Map(((workflow.spec ?? workflow).templates as K8sObject[]).map((t) => [t.name as string, t]));

/** The targets the default chart gives the mapping: pod kv-0 and zone eu-west-1a of namespace kv. */
const TARGETS: StoreTargets = {
  namespace: 'kv',
  podLabels: { 'app.kubernetes.io/name': 'dynamo-kv', 'app.kubernetes.io/instance': 'kv', 'app.kubernetes.io/component': 'node' },
  targetPod: 'kv-0',
  podNameLabel: STATEFULSET_POD_NAME_LABEL,
  zoneLabel: ZONE_LABEL,
  zone: 'eu-west-1a',
  otherZones: ['eu-west-1b', 'eu-west-1c'],
  containerName: NODE_CONTAINER_NAME,
  dataDir: '/var/lib/kv',
};
const STORE_SELECTOR = { namespaces: ['kv'], labelSelectors: TARGETS.podLabels };
const ONE_POD = { ...STORE_SELECTOR, expressionSelectors: [{ key: STATEFULSET_POD_NAME_LABEL, operator: 'In', values: ['kv-0'] }] };
const OTHER_PODS = { mode: 'all', selector: { ...STORE_SELECTOR, expressionSelectors: [{ key: STATEFULSET_POD_NAME_LABEL, operator: 'NotIn', values: ['kv-0'] }] } };

function objectsOf(name: string, targets: StoreTargets = TARGETS): readonly ChaosObjectSpec[] {
  const fault = chaosMeshFault(experimentNamed(name), targets);
  if (!fault.ok) throw new Error(`${name} is not on Kubernetes: ${fault.reason}`);
  return fault.objects;
}

describe('each experiment in Chaos Mesh', () => {
  test.each([
    ['node-kill', 'PodChaos', { action: 'pod-kill', gracePeriod: POD_KILL_GRACE_PERIOD_S, mode: 'one', selector: ONE_POD }],
    // A frozen node: all of its traffic dropped, no target (see chaos-mesh-faults.ts).
    ['node-pause', 'NetworkChaos', { action: 'partition', direction: 'both', mode: 'one', selector: ONE_POD }],
    ['partition-node', 'NetworkChaos', { action: 'partition', direction: 'both', mode: 'one', selector: ONE_POD, target: OTHER_PODS }],
    ['peer-delay', 'NetworkChaos', { action: 'delay', direction: 'both', delay: { latency: '100ms', jitter: '20ms' }, mode: 'one', selector: ONE_POD, target: OTHER_PODS }],
    ['peer-loss', 'NetworkChaos', { action: 'loss', direction: 'both', loss: { loss: '10' }, mode: 'one', selector: ONE_POD, target: OTHER_PODS }],
    ['peer-duplicate', 'NetworkChaos', { action: 'duplicate', direction: 'both', duplicate: { duplicate: '20' }, mode: 'one', selector: ONE_POD, target: OTHER_PODS }],
    ['disk-latency', 'IOChaos', { action: 'latency', delay: '50ms', percent: 100, containerNames: ['kv'], volumePath: '/var/lib/kv', path: '/var/lib/kv/**/*', mode: 'one', selector: ONE_POD }],
    ['disk-errors', 'IOChaos', { action: 'fault', errno: 5, percent: 50, containerNames: ['kv'], volumePath: '/var/lib/kv', path: '/var/lib/kv/**/*', mode: 'one', selector: ONE_POD }],
    ['disk-fill', 'IOChaos', { action: 'fault', errno: 28, percent: 100, methods: ['write', 'create', 'mknod', 'mkdir'], containerNames: ['kv'], volumePath: '/var/lib/kv', path: '/var/lib/kv/**/*', mode: 'one', selector: ONE_POD }],
    ['clock-skew', 'TimeChaos', { timeOffset: '-300s', clockIds: ['CLOCK_REALTIME'], containerNames: ['kv'], mode: 'one', selector: ONE_POD }],
    ['cpu-stress', 'StressChaos', { stressors: { cpu: { workers: 2, load: 100 } }, containerNames: ['kv'], mode: 'one', selector: ONE_POD }],
  ])('%s is one %s hitting pod kv-0', (name, kind, spec) => {
    expect(objectsOf(name)).toEqual([{ kind, suffix: '', spec }]);
  });

  test('a zone is cut off from each other zone: one NetworkChaos per other zone, by the nodes\' zone label', () => {
    const zoneOf = (zone: string) => ({ ...STORE_SELECTOR, nodeSelectors: { [ZONE_LABEL]: zone } });
    expect(objectsOf('partition-zone')).toEqual(
      ['eu-west-1b', 'eu-west-1c'].map((other) => ({
        kind: 'NetworkChaos',
        suffix: `-from-${other}`,
        spec: { action: 'partition', direction: 'both', mode: 'all', selector: zoneOf('eu-west-1a'), target: { mode: 'all', selector: zoneOf(other) } },
      })),
    );
  });

  test('several network disturbances together are one netem', () => {
    const combined: Experiment = { ...experimentNamed('peer-delay'), fault: { kind: 'network', delayMs: 50, jitterMs: 0, lossPercent: 5, duplicatePercent: 1 } };
    const fault = chaosMeshFault(combined, TARGETS);
    expect(fault.ok && fault.objects[0]!.spec).toMatchObject({ action: 'netem', delay: { latency: '50ms', jitter: '0ms' }, loss: { loss: '5' }, duplicate: { duplicate: '1' } });
  });

  test('no spec carries a duration: a Workflow times a step by its deadline, a Schedule adds its own', () => {
    for (const e of EXPERIMENTS) {
      const fault = chaosMeshFault(e, TARGETS);
      if (fault.ok) for (const o of fault.objects) expect(o.spec.duration).toBeUndefined();
    }
  });

  test('every experiment is either expressed or listed as local-only with a reason: a one-way cut, a wipe and a rolling restart are not expressible', () => {
    const local = NOT_ON_KUBERNETES.map((x) => x.experiment);
    expect(local).toEqual(['partition-node-outbound', 'wipe', 'rolling-restart']);
    for (const e of EXPERIMENTS) {
      const fault = chaosMeshFault(e, TARGETS);
      expect(fault.ok).toBe(!local.includes(e.name));
      if (!fault.ok) expect(fault.reason).toBe(NOT_ON_KUBERNETES.find((x) => x.experiment === e.name)!.reason);
    }
    expect(NOT_ON_KUBERNETES.find((x) => x.experiment === 'partition-node-outbound')!.reason).toMatch(/two-way cut of partition-node/);
  });
});

describeWithCrds()('chaos chart against the Chaos Mesh and prometheus-operator CRDs', () => {
  // Every suite and every expressible experiment on a schedule: every kind of object the chart makes.
  const expressible = EXPERIMENTS.filter((e) => !NOT_ON_KUBERNETES.some((x) => x.experiment === e.name)).map((e) => e.name);
  const schedules = Object.fromEntries([...Object.keys(SUITES), ...expressible].map((name) => [name, '@every 6h']));
  const { objects } = synth({ suite: 'full', schedules });

  test('every custom resource passes its CRD schema, unknown fields refused', () => {
    const custom = objects.filter((o) => String(o.apiVersion).includes('.') && !String(o.apiVersion).includes('k8s.io'));
    expect(custom.map((o) => o.kind).sort()).toEqual(['PodMonitor', ...Array(Object.keys(schedules).length).fill('Schedule'), 'Workflow'].sort());
    for (const o of custom) expect(() => validateCustomResource(o)).not.toThrow();
  });

  test('each experiment\'s objects, standalone with their duration, pass their kind\'s CRD', () => {
    for (const name of expressible) {
      for (const o of objectsOf(name)) {
        const standalone = { apiVersion: CHAOS_MESH_API_VERSION, kind: o.kind, metadata: { name: `${name}${o.suffix}`, namespace: 'kv' }, spec: { ...o.spec, duration: '20s' } };
        expect(() => validateCustomResource(standalone)).not.toThrow();
      }
    }
  });

  test('OpenAPI 3.0\'s boolean exclusiveMinimum is enforced (a Schedule\'s startingDeadlineSeconds must be above 0)', () => {
    const schedule = structuredClone(objects.find((o) => o.kind === 'Schedule')!);
    schedule.spec.startingDeadlineSeconds = 30;
    expect(() => validateCustomResource(schedule)).not.toThrow();
    schedule.spec.startingDeadlineSeconds = 0;
    expect(() => validateCustomResource(schedule)).toThrow(/startingDeadlineSeconds must be > 0/);
  });

  test('rejects a misspelt field inside a Workflow template (the check reaches the embedded specs)', () => {
    const workflow = structuredClone(only(objects, 'Workflow'));
    (workflow.spec.templates as K8sObject[]).find((t) => t.templateType === 'PodChaos')!.podChaos.gracePeriodSeconds = 1;
    expect(() => validateCustomResource(workflow)).toThrow(/gracePeriodSeconds|additional properties/);
  });

  test('every standard object passes the Kubernetes schema', () => {
    const standard = objects.filter((o) => !String(o.apiVersion).includes('.') || String(o.apiVersion).includes('k8s.io'));
    expect(standard.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Job', 'NetworkPolicy', 'NetworkPolicy', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'ServiceAccount'].sort());
    for (const o of standard) expect(() => validateK8sObject(o)).not.toThrow();
  });
});

describe('the suite Workflow', () => {
  const { chart, objects } = synth();
  const workflow = only(objects, 'Workflow');
  const templates = templatesOf(workflow);

  test('runs the short suite by default: a warm-up, then the faults in order, each marked to the checker and followed by its recovery gap, beside the StatusCheck', () => {
    expect(workflow.metadata).toMatchObject({ name: 'kv-chaos-short', namespace: 'kv' });
    expect(workflow.spec.entry).toBe('run');
    expect(templates.get('run')).toMatchObject({ templateType: 'Serial', children: ['warm-up', 'checked-faults'] });
    expect(templates.get('warm-up')).toMatchObject({ templateType: 'Suspend', deadline: '60s' });
    expect(templates.get('checked-faults')).toMatchObject({ templateType: 'Parallel', children: ['steady-state', 'faults'] });
    expect(templates.get('faults')!.children).toEqual(
      ['node-kill', 'node-pause', 'partition-node'].flatMap((name) => [`${name}-start`, name, `${name}-end`, `${name}-recovery`]),
    );
    const unmarked = templatesOf(only(synth({ markFaultWindows: false }).objects, 'Workflow'));
    expect(unmarked.get('faults')!.children).toEqual(['node-kill', 'node-kill-recovery', 'node-pause', 'node-pause-recovery', 'partition-node', 'partition-node-recovery']);
    expect(SUITES.short).toEqual(['node-kill', 'node-pause', 'partition-node', 'wipe']);
  });

  test('each fault lasts its experiment\'s duration (the template deadline) and each gap the experiment\'s convergeWithinS', () => {
    for (const name of ['node-kill', 'node-pause', 'partition-node']) {
      const e = experimentNamed(name);
      expect(templates.get(name)!.deadline).toBe(`${e.durationS}s`);
      expect(templates.get(`${name}-recovery`)).toEqual({ name: `${name}-recovery`, templateType: 'Suspend', deadline: `${e.hypothesis.convergeWithinS}s` });
    }
    expect(templates.get('node-kill')).toMatchObject({ templateType: 'PodChaos', podChaos: objectsOf('node-kill')[0]!.spec });
    const gaps = synth({ recoveryGapS: 15 }).objects;
    expect(templatesOf(only(gaps, 'Workflow')).get('node-kill-recovery')!.deadline).toBe('15s');
  });

  test('names the experiments it leaves out, and why (wipe is local-only)', () => {
    expect(chart.skipped).toEqual([{ experiment: 'wipe', reason: NOT_ON_KUBERNETES.find((x) => x.experiment === 'wipe')!.reason }]);
    expect(workflow.metadata.annotations['dynamo-kv/not-on-kubernetes']).toMatch(/^wipe: Chaos Mesh has no fault that deletes/);
    expect(chart.experiments.map((e) => e.name)).toEqual(['node-kill', 'node-pause', 'partition-node']);
  });

  test('the StatusCheck asks the checker\'s /healthz over HTTP, continuously, and aborts the Workflow after 3 failures 5 s apart', () => {
    const check = templates.get('steady-state')!;
    expect(check).toMatchObject({ templateType: 'StatusCheck', abortWithStatusCheck: true });
    expect(check.statusCheck).toEqual({
      mode: 'Continuous',
      type: 'HTTP',
      duration: check.deadline,
      intervalSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 3,
      successThreshold: 1,
      http: { url: 'http://kv-chaos-checker.kv.svc.cluster.local:9470/healthz', method: 'GET', criteria: { statusCode: '200' } },
    });
    // The URL is the checker Service's name, namespace and port.
    const service = only(objects, 'Service');
    expect(check.statusCheck.http.url).toBe(`http://${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local:${service.spec.ports[0].port}/healthz`);
    const tuned = templatesOf(only(synth({ statusCheckIntervalSeconds: 10, statusCheckFailureThreshold: 6, checkerServiceName: 'probe', checkerMetricsPort: 9999 }).objects, 'Workflow')).get('steady-state')!;
    expect(tuned.statusCheck).toMatchObject({ intervalSeconds: 10, failureThreshold: 6, http: { url: 'http://probe.kv.svc.cluster.local:9999/healthz' } });
  });

  test('each fault\'s start and end are POSTed to the checker, which labels its fault windows; a failed mark does not abort the run', () => {
    for (const edge of ['start', 'end']) {
      const m = templates.get(`node-pause-${edge}`)!;
      expect(m).toEqual({
        name: `node-pause-${edge}`,
        templateType: 'StatusCheck',
        deadline: `${MARK_DEADLINE_S}s`,
        statusCheck: {
          mode: 'Synchronous',
          type: 'HTTP',
          intervalSeconds: 1,
          timeoutSeconds: 2,
          successThreshold: 1,
          failureThreshold: 2,
          http: { url: `http://kv-chaos-checker.kv.svc.cluster.local:9470/faults/${edge}?label=node-pause`, method: 'POST', criteria: { statusCode: '200' } },
        },
      });
    }
  });

  test('its length: the warm-up, every fault, mark and gap, and a slack; the StatusCheck watches all of the faults', () => {
    const faultsS = ['node-kill', 'node-pause', 'partition-node'].map(experimentNamed).reduce((s, e) => s + 2 * MARK_DEADLINE_S + e.durationS + e.hypothesis.convergeWithinS, 0);
    expect(chart.workflowDurationS).toBe(60 + faultsS + WORKFLOW_SLACK_S);
    expect(templates.get('run')!.deadline).toBe(`${chart.workflowDurationS}s`);
    for (const name of ['checked-faults', 'steady-state', 'faults']) expect(templates.get(name)!.deadline).toBe(`${faultsS + WORKFLOW_SLACK_S}s`);
  });

  test('a single experiment runs on its own, with the same checker', () => {
    const { objects: one } = synth({ suite: 'disk-errors' });
    const w = only(one, 'Workflow');
    expect(w.metadata.name).toBe('kv-chaos-disk-errors');
    expect(templatesOf(w).get('faults')!.children).toEqual(['disk-errors-start', 'disk-errors', 'disk-errors-end', 'disk-errors-recovery']);
    expect(w.metadata.annotations).toBeUndefined();
    only(one, 'Job');
  });

  test('a zone fault is a Parallel of its NetworkChaos objects; the zone is a prop', () => {
    const t = templatesOf(only(synth({ suite: 'partition-zone', partitionZone: 'eu-west-1c' }).objects, 'Workflow'));
    expect(t.get('partition-zone')).toMatchObject({ templateType: 'Parallel', deadline: '20s', children: ['partition-zone-from-eu-west-1a', 'partition-zone-from-eu-west-1b'] });
    const cut = t.get('partition-zone-from-eu-west-1a')!;
    expect(cut).toMatchObject({ templateType: 'NetworkChaos', deadline: '20s' });
    expect(cut.networkChaos.selector.nodeSelectors).toEqual({ [ZONE_LABEL]: 'eu-west-1c' });
    expect(cut.networkChaos.target.selector.nodeSelectors).toEqual({ [ZONE_LABEL]: 'eu-west-1a' });
  });

  test('one-node faults hit the pod of targetOrdinal', () => {
    const t = templatesOf(only(synth({ targetOrdinal: 2 }).objects, 'Workflow'));
    expect(t.get('partition-node')!.networkChaos.selector.expressionSelectors).toEqual([{ key: STATEFULSET_POD_NAME_LABEL, operator: 'In', values: ['kv-2'] }]);
    expect(t.get('partition-node')!.networkChaos.target.selector.expressionSelectors).toEqual([{ key: STATEFULSET_POD_NAME_LABEL, operator: 'NotIn', values: ['kv-2'] }]);
  });
});

describe('the checker', () => {
  const { chart, objects, storeObjects } = synth();
  const job = only(objects, 'Job');
  const pod = job.spec.template.spec;
  const container = pod.containers[0];
  const storeSet = storeObjects.find((o) => o.kind === 'StatefulSet')!;
  const storeClient = storeObjects.find((o) => o.kind === 'Service' && o.spec.clusterIP !== 'None')!;

  test('runs `kv chaos check` in the store\'s image against the store\'s client Service, for the Workflow\'s length and a margin', () => {
    expect(container.image).toBe(IMAGE);
    expect(container.image).toBe(storeSet.spec.template.spec.containers[0].image);
    const endpoint = `${storeClient.metadata.name}.${storeClient.metadata.namespace}.svc.cluster.local:${storeClient.spec.ports[0].port}`;
    expect(container.args).toEqual([
      'chaos',
      'check',
      '--endpoints',
      endpoint,
      '--duration-s',
      String(chart.workflowDurationS + CHECKER_MARGIN_S),
      '--metrics-port',
      String(CHECKER_METRICS_PORT),
      '--metrics-host',
      '0.0.0.0',
      '--result-file',
      '-',
    ]);
    expect(chart.checkerDurationS).toBeGreaterThan(chart.workflowDurationS);
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(chart.checkerDurationS);
  });

  test('runs once, non-root with a read-only root like the store\'s pods, with resources, its own token-less account, its result in its log', () => {
    expect(job.spec.backoffLimit).toBe(0);
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: RUN_AS_ID, runAsGroup: RUN_AS_ID });
    const storeSecurity = storeSet.spec.template.spec.containers[0].securityContext;
    expect(container.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: storeSecurity.runAsUser, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.resources.requests).toEqual({ cpu: '250m', memory: '512Mi' });
    expect(container.resources.limits.memory).toBe(container.resources.requests.memory);
    expect(pod.serviceAccountName).toBe('kv-chaos-checker');
    expect(pod.serviceAccountName).not.toBe(storeSet.spec.template.spec.serviceAccountName);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
  });

  test('its Service and PodMonitor select its pod on the metrics port; the PodMonitor carries the release label', () => {
    const service = only(objects, 'Service');
    const monitor = only(objects, 'PodMonitor');
    const podLabels = job.spec.template.metadata.labels;
    expect(service.spec.selector).toEqual(podLabels);
    expect(service.spec.ports).toEqual([{ name: 'metrics', port: 9470, targetPort: 9470, protocol: 'TCP' }]);
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: 9470, protocol: 'TCP' }]);
    expect(monitor.spec.selector.matchLabels).toEqual(podLabels);
    expect(monitor.spec.podMetricsEndpoints[0].port).toBe('metrics');
    expect(monitor.metadata.labels.release).toBe('kube-prometheus-stack');
    // The store's Services do not take the checker for a node.
    expect(Object.entries(storeClient.spec.selector as Record<string, string>).every(([k, v]) => podLabels[k] === v)).toBe(false);
  });
});

/** Whether NetworkPolicies admit a connection, as Kubernetes decides it (matchLabels only, which is all the charts use). */
function admitted(policies: K8sObject[], to: { namespace: string; labels: Record<string, string>; port: number }, from: { namespace: string; namespaceLabels: Record<string, string>; labels: Record<string, string> }): boolean {
  const matches = (selector: { matchLabels?: Record<string, string> } | undefined, labels: Record<string, string>) => Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const selecting = policies.filter((p) => p.metadata.namespace === to.namespace && matches(p.spec.podSelector, to.labels) && (p.spec.policyTypes as string[]).includes('Ingress'));
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (p.spec.ingress as K8sObject[]).some(
      (rule) =>
        (rule.ports as K8sObject[]).some((port) => port.port === to.port) &&
        (rule.from as K8sObject[]).some((peer) => {
          if (peer.namespaceSelector !== undefined) return matches(peer.namespaceSelector, from.namespaceLabels) && (peer.podSelector === undefined || matches(peer.podSelector, from.labels));
          return from.namespace === to.namespace && matches(peer.podSelector, from.labels);
        }),
    ),
  );
}

describe('network policies', () => {
  const { objects, storeObjects } = synth();
  const storePolicies = storeObjects.filter((o) => o.kind === 'NetworkPolicy');
  const chaosPolicies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const checkerLabels = only(objects, 'Job').spec.template.metadata.labels;
  const storePod = { namespace: 'kv', labels: storeObjects.find((o) => o.kind === 'StatefulSet')!.spec.template.metadata.labels };
  const checker = { namespace: 'kv', namespaceLabels: { 'kubernetes.io/metadata.name': 'kv' }, labels: checkerLabels };

  test('the store\'s own policy does not admit the checker (its namespace carries no client label); the chart\'s adds it, on the gRPC port only', () => {
    expect(admitted(storePolicies, { ...storePod, port: 7001 }, checker)).toBe(false);
    expect(admitted([...storePolicies, ...chaosPolicies], { ...storePod, port: 7001 }, checker)).toBe(true);
    expect(admitted([...storePolicies, ...chaosPolicies], { ...storePod, port: 9464 }, checker)).toBe(false);
    // Any other pod of the namespace stays out.
    expect(admitted([...storePolicies, ...chaosPolicies], { ...storePod, port: 7001 }, { ...checker, labels: { app: 'other' } })).toBe(false);
  });

  test('the checker admits Chaos Mesh\'s StatusCheck and Prometheus on its metrics port, and nobody else', () => {
    const to = { namespace: 'kv', labels: checkerLabels, port: CHECKER_METRICS_PORT };
    expect(admitted(chaosPolicies, to, { namespace: CHAOS_MESH_NAMESPACE, namespaceLabels: { 'kubernetes.io/metadata.name': CHAOS_MESH_NAMESPACE }, labels: { 'app.kubernetes.io/component': 'controller-manager' } })).toBe(true);
    expect(admitted(chaosPolicies, to, { namespace: 'monitoring', namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring', 'dynamo-kv/metrics': 'true' }, labels: { app: 'prometheus' } })).toBe(true);
    expect(admitted(chaosPolicies, to, { namespace: 'default', namespaceLabels: { 'kubernetes.io/metadata.name': 'default' }, labels: {} })).toBe(false);
    expect(admitted(chaosPolicies, { ...to, port: 7001 }, { namespace: CHAOS_MESH_NAMESPACE, namespaceLabels: { 'kubernetes.io/metadata.name': CHAOS_MESH_NAMESPACE }, labels: {} })).toBe(false);
  });
});

describe('schedules and standing parts', () => {
  test('an experiment\'s Schedule holds its chaos object with its duration; Forbid, a bounded history', () => {
    const { objects } = synth({ schedules: { 'node-kill': '0 3 * * *' } });
    const schedule = only(objects, 'Schedule');
    expect(schedule.metadata.name).toBe('kv-chaos-node-kill');
    expect(schedule.spec).toEqual({ schedule: '0 3 * * *', concurrencyPolicy: 'Forbid', historyLimit: 5, type: 'PodChaos', podChaos: { ...objectsOf('node-kill')[0]!.spec, duration: '20s' } });
  });

  test('a suite\'s Schedule is a Workflow of its faults and gaps, with no StatusCheck (the checker runs once, with the suite Workflow)', () => {
    const schedule = only(synth({ schedules: { short: '@daily' } }).objects, 'Schedule');
    expect(schedule.spec.type).toBe('Workflow');
    const t = templatesOf(schedule.spec.workflow);
    expect(t.get(schedule.spec.workflow.entry)!.children).toEqual(templatesOf(only(synth({ markFaultWindows: false }).objects, 'Workflow')).get('faults')!.children);
    expect([...t.values()].map((x) => x.templateType)).not.toContain('StatusCheck');
  });

  test('a zone fault\'s Schedule is a Workflow of its Parallel', () => {
    const schedule = only(synth({ schedules: { 'partition-zone': '@every 6h' } }).objects, 'Schedule');
    expect(schedule.spec.type).toBe('Workflow');
    expect(templatesOf(schedule.spec.workflow).get(schedule.spec.workflow.entry)!.templateType).toBe('Parallel');
  });

  test('none by default; without the run the chart holds only the Schedules and the dashboard\'s account', () => {
    expect(synth().objects.filter((o) => o.kind === 'Schedule')).toHaveLength(0);
    const { chart, objects } = synth({ runSuite: false, schedules: { short: '@weekly' } });
    expect(chart.workflow).toBeUndefined();
    expect(objects.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Schedule', 'ServiceAccount']);
  });

  test('the dashboard\'s account reads everywhere and manages chaos objects in the store\'s namespace only', () => {
    const { chart, objects } = synth();
    const account = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === chart.dashboardServiceAccountName)!;
    expect(account.metadata.namespace).toBe('kv');
    const viewer = only(objects, 'ClusterRole');
    expect(viewer.metadata.namespace).toBeUndefined();
    for (const rule of viewer.rules as K8sObject[]) expect(rule.verbs).toEqual(['get', 'list', 'watch']);
    const manager = only(objects, 'Role');
    expect(manager.metadata.namespace).toBe('kv');
    expect(manager.rules).toEqual([{ apiGroups: ['chaos-mesh.org'], resources: ['*'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'patch', 'update'] }]);
    for (const binding of [only(objects, 'ClusterRoleBinding'), only(objects, 'RoleBinding')]) expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: chart.dashboardServiceAccountName, namespace: 'kv' }]);
  });
});

describe('rejected props', () => {
  test.each([
    [{ suite: 'nightly' }, /KvChaosChart: suite is "nightly"; use a suite \(short, full\) or an experiment \(node-kill, /],
    [{ suite: 'wipe' }, /KvChaosChart: suite is "wipe"; Chaos Mesh can express none of its experiments \(wipe\): run it locally with `kv chaos wipe`/],
    [{ zones: ['eu-west-1a'] }, /KvChaosChart: zones is \["eu-west-1a"\]; give the cluster's zones, at least two distinct ones/],
    [{ partitionZone: 'us-east-1a' }, /KvChaosChart: partitionZone is "us-east-1a"; use one of zones \(eu-west-1a, eu-west-1b, eu-west-1c\)/],
    [{ targetOrdinal: 3 }, /KvChaosChart: targetOrdinal is 3; use a pod of the store, 0 to 2/],
    [{ warmupS: 0 }, /KvChaosChart: warmupS is 0; use 10 to 1800 seconds/],
    [{ recoveryGapS: -1 }, /KvChaosChart: recoveryGapS is -1; use 0 to 3600 seconds/],
    [{ checkerMetricsPort: 80 }, /KvChaosChart: checkerMetricsPort is 80; use a port from 1024 to 65535/],
    [{ checkerServiceName: 'Checker' }, /KvChaosChart: checkerServiceName is "Checker"; use a DNS label/],
    [{ statusCheckIntervalSeconds: 2 }, /KvChaosChart: statusCheckIntervalSeconds is 2; use more than the request timeout \(2 s\)/],
    [{ statusCheckFailureThreshold: 0 }, /KvChaosChart: statusCheckFailureThreshold is 0; use 1 to 20/],
    [{ schedules: { 'node-kill': 'every night' } }, /KvChaosChart: schedules\["node-kill"\] is "every night"; use a cron of five fields/],
    [{ schedules: { nightly: '@daily' } }, /KvChaosChart: schedules is "nightly"; key each cron by a suite/],
    [{ schedules: { wipe: '@daily' } }, /KvChaosChart: schedules\["wipe"\] is "wipe"; Chaos Mesh cannot express it \(Chaos Mesh has no fault that deletes/],
  ])('rejects %j, naming the prop, the value and the fix', (props, message) => {
    expect(() => synth(props as Partial<KvChaosChartProps>)).toThrow(message);
  });
});

describe('docs/chaos.md', () => {
  const docs = () => fs.readFileSync(path.join(REPO_ROOT, 'docs', 'chaos.md'), 'utf8');
  /** The text from `heading` to the next heading of its level (other engineers' sections share the file). */
  const under = (text: string, heading: string): string => {
    const start = text.indexOf(`${heading}\n`);
    if (start < 0) return '';
    const level = heading.slice(0, heading.indexOf(' ') + 1);
    const end = text.indexOf(`\n${level}`, start + heading.length);
    return text.slice(start, end < 0 ? undefined : end);
  };
  const section = () => under(docs(), '## On Kubernetes: Chaos Mesh');

  test('has the Chaos Mesh section, which names every experiment and what it becomes', () => {
    expect(section()).not.toBe('');
    for (const e of EXPERIMENTS) expect(section()).toContain(`\`${e.name}\``);
    for (const kind of Object.keys(SPEC_FIELD)) expect(section()).toContain(kind);
  });

  test('lists every experiment Chaos Mesh cannot express, under its own heading', () => {
    const local = under(section(), '### What Chaos Mesh cannot express');
    expect(local).not.toBe('');
    for (const { experiment } of NOT_ON_KUBERNETES) expect(local).toContain(`\`${experiment}\``);
  });
});

/**
 * What each experiment of chaos/experiments.ts becomes in Chaos Mesh: the kind and the spec of each
 * chaos object, or the reason it cannot be expressed there. Pure data (no cdk8s): the chart
 * (chaos/chaos-mesh-chart.ts) puts the specs into Workflow templates and Schedules, and the tests
 * check the mapping experiment by experiment.
 *
 * Specs carry no `duration`: a Workflow template takes its length from its `deadline` (Chaos Mesh
 * refuses a chaos spec with a duration inside a Workflow), and a Schedule adds the duration itself.
 *
 * Who is hit. "One node" is one fixed pod, `<set>-<targetOrdinal>`, chosen by its StatefulSet
 * pod-name label on top of the store's labels, not a random one (`mode: one` over every store pod):
 * a fault on peer traffic must target "the other store pods", which a selector can only name when
 * it knows which pod was hit; a random pick would put the hit pod among its own targets. A fixed
 * pod also makes a run reproducible from its name. "One zone" is every store pod on a Kubernetes node
 * of that zone (`nodeSelectors` on topology.kubernetes.io/zone), cut from the pods of each other zone.
 */
import { Experiment, EXPERIMENTS, Fault, Target } from './experiments';

/** The Chaos Mesh kinds the store's experiments use. */
export type ChaosKind = 'PodChaos' | 'NetworkChaos' | 'IOChaos' | 'TimeChaos' | 'StressChaos';

export const CHAOS_MESH_API_VERSION = 'chaos-mesh.org/v1alpha1';

/** The field a Workflow template or a Schedule holds each kind's spec in. */
export const SPEC_FIELD: Readonly<Record<ChaosKind, string>> = {
  PodChaos: 'podChaos',
  NetworkChaos: 'networkChaos',
  IOChaos: 'ioChaos',
  TimeChaos: 'timeChaos',
  StressChaos: 'stressChaos',
};

/** A JSON value, as a chaos spec holds. */
export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/** One Chaos Mesh object of an experiment. */
export interface ChaosObjectSpec {
  readonly kind: ChaosKind;
  /** Appended to the experiment's name when an experiment needs several objects ('' when one). */
  readonly suffix: string;
  /** The object's spec, without `duration`. */
  readonly spec: { readonly [key: string]: Json };
}

/** An experiment in Chaos Mesh: its objects, which run together, or why there are none. */
export type ChaosMeshFault = { readonly ok: true; readonly objects: readonly ChaosObjectSpec[] } | { readonly ok: false; readonly reason: string };

/** Where the store's pods are, as the selectors need it. */
export interface StoreTargets {
  readonly namespace: string;
  /** Labels on every store pod (KvStoreChart.podLabels). */
  readonly podLabels: Readonly<Record<string, string>>;
  /** The pod a one-node fault hits, e.g. `kv-0`. */
  readonly targetPod: string;
  /** The label carrying a StatefulSet pod's name (STATEFULSET_POD_NAME_LABEL). */
  readonly podNameLabel: string;
  /** The node label holding a Kubernetes node's zone (topology.kubernetes.io/zone). */
  readonly zoneLabel: string;
  /** The zone a one-zone fault cuts off, and the others. */
  readonly zone: string;
  readonly otherZones: readonly string[];
  /** The node's container (the one I/O, time and stress faults act in). */
  readonly containerName: string;
  /** Where the node's data volume is mounted (DATA_DIR). */
  readonly dataDir: string;
}

/**
 * The grace period of a node kill, seconds. Not Chaos Mesh's default of 0: an API delete with a grace
 * period of 0 is a force deletion, after which the StatefulSet starts the pod's replacement at once,
 * possibly on the same host and the same volume while the old process still runs — two processes on
 * one LMDB environment, which tests Kubernetes misuse rather than the store. With 1 s the kubelet
 * stops the container (SIGTERM, then SIGKILL after its minimum of 2 s) before the pod is gone.
 */
export const POD_KILL_GRACE_PERIOD_S = 1;
/** ENOSPC ("no space left on device") and EIO, as Linux numbers them. */
export const ERRNO_ENOSPC = 28;
export const ERRNO_EIO = 5;
/** The I/O calls that need free space: the ones a full disk fails (reads, stat and statfs still work). */
export const SPACE_CONSUMING_METHODS = ['write', 'create', 'mknod', 'mkdir'] as const;

/**
 * Why an experiment cannot be expressed in Chaos Mesh, by fault; a fault not listed can be, for the
 * targets validateExperiment allows. Shown in docs/chaos.md and carried by the Workflow that skips it.
 */
export function notExpressibleReason(fault: Fault): string | undefined {
  switch (fault.kind) {
    case 'partition':
      return fault.direction === 'outbound'
        ? 'a one-way cut: Chaos Mesh partitions drop every packet in the given direction (iptables DROP, no connection state), ' +
            'so "to" also drops the replies on connections the others open to the node; over TCP (gRPC) that is the two-way cut ' +
            'of partition-node again (chaos-mesh issues #4477 and #1662). Run it locally, where the cut drops only new outbound connections'
        : undefined;
    case 'wipe':
      return 'Chaos Mesh has no fault that deletes a volume\'s data. On Kubernetes a wipe is deleting the node\'s PersistentVolumeClaim ' +
        'and then its pod (the StatefulSet makes a new, empty volume), which a Workflow step cannot do (a Task runs with no ServiceAccount of ' +
        'its own) and which leaves the old EBS volume behind (the gp3 class retains it): docs/chaos.md gives the commands';
    case 'rolling-restart':
      return 'not a fault injection: it is what a deploy does (`kubectl rollout restart statefulset/<name>`, one pod at a time, each ' +
        'waiting for the previous one to be Ready), so a deploy of a new image exercises it; docs/chaos.md gives the command';
    default:
      return undefined;
  }
}

/** Every experiment Chaos Mesh cannot express, with the reason (docs/chaos.md lists the same). */
export const NOT_ON_KUBERNETES: readonly { readonly experiment: string; readonly reason: string }[] = EXPERIMENTS.flatMap((e) => {
  const reason = notExpressibleReason(e.fault);
  return reason === undefined ? [] : [{ experiment: e.name, reason }];
});

/** A Chaos Mesh selector (PodSelectorSpec). */
type Selector = { readonly [key: string]: Json };
interface Selection {
  readonly mode: 'one' | 'all';
  readonly selector: Selector;
}

/** The pods a fault hits. */
function hit(target: Target, t: StoreTargets): Selection {
  const base = { namespaces: [t.namespace], labelSelectors: { ...t.podLabels } };
  switch (target) {
    case 'one-node':
      return { mode: 'one', selector: { ...base, expressionSelectors: [{ key: t.podNameLabel, operator: 'In', values: [t.targetPod] }] } };
    case 'one-zone':
      return { mode: 'all', selector: { ...base, nodeSelectors: { [t.zoneLabel]: t.zone } } };
    case 'every-node':
      return { mode: 'all', selector: base };
  }
}

/** The peers of the pods hit: for one node the other store pods, for one zone each other zone's (one group a zone). */
function peerGroups(target: Target, t: StoreTargets): readonly { readonly suffix: string; readonly selection: Selection }[] {
  const base = { namespaces: [t.namespace], labelSelectors: { ...t.podLabels } };
  switch (target) {
    case 'one-node':
      return [{ suffix: '', selection: { mode: 'all', selector: { ...base, expressionSelectors: [{ key: t.podNameLabel, operator: 'NotIn', values: [t.targetPod] }] } } }];
    case 'one-zone':
      // A NetworkChaos has one target, and a node selector matches labels by equality only ("not this
      // zone" cannot be said): one object for each other zone.
      return t.otherZones.map((zone) => ({ suffix: `-from-${zone}`, selection: { mode: 'all', selector: { ...base, nodeSelectors: { [t.zoneLabel]: zone } } } }));
    case 'every-node':
      return [];
  }
}

/** A network fault between the pods hit and their peers, one object per peer group. */
function network(e: Experiment, t: StoreTargets, spec: { readonly [key: string]: Json }): ChaosObjectSpec[] {
  const h = hit(e.target, t);
  return peerGroups(e.target, t).map(({ suffix, selection }) => ({
    kind: 'NetworkChaos',
    suffix,
    spec: { ...spec, mode: h.mode, selector: h.selector, target: { mode: selection.mode, selector: selection.selector } },
  }));
}

/** The experiment's Chaos Mesh objects, or why it has none. */
export function chaosMeshFault(e: Experiment, t: StoreTargets): ChaosMeshFault {
  const reason = notExpressibleReason(e.fault);
  if (reason !== undefined) return { ok: false, reason };
  const f = e.fault;
  const h = hit(e.target, t);
  const one = (kind: ChaosKind, spec: { readonly [key: string]: Json }): ChaosMeshFault => ({ ok: true, objects: [{ kind, suffix: '', spec: { ...spec, mode: h.mode, selector: h.selector } }] });
  const inContainer = { containerNames: [t.containerName] };
  const onDataVolume = { ...inContainer, volumePath: t.dataDir, path: `${t.dataDir}/**/*` };
  switch (f.kind) {
    case 'kill':
      return one('PodChaos', { action: 'pod-kill', gracePeriod: POD_KILL_GRACE_PERIOD_S });
    case 'pause':
      // Chaos Mesh cannot SIGSTOP a process. What the others see of a frozen node is connections
      // that stay open and go silent: every packet into and out of the pod dropped (a partition with
      // no target drops all of the pod's traffic on eth0; DROP sends no reset). Clients and the
      // kubelet's probes see the same silence, as with a frozen process. What differs is the node's
      // own side: its process keeps running (its timers fire, it suspects the others), where a frozen
      // one would resume later with a stale view. Not pod-failure: that stops the process (preStop,
      // SIGTERM) and closes its connections, so the others see a clean stop, i.e. node-kill again.
      return one('NetworkChaos', { action: 'partition', direction: 'both' });
    case 'partition':
      return { ok: true, objects: network(e, t, { action: 'partition', direction: 'both' }) };
    case 'network': {
      // "Peer traffic to and from the target": direction both, so that every packet between the node
      // and a peer passes one netem (the sender's), whichever way it goes.
      const parts: { [key: string]: Json } = {};
      if (f.delayMs > 0) parts.delay = { latency: `${f.delayMs}ms`, jitter: `${f.jitterMs}ms` };
      if (f.lossPercent > 0) parts.loss = { loss: String(f.lossPercent) };
      if (f.duplicatePercent > 0) parts.duplicate = { duplicate: String(f.duplicatePercent) };
      const names = Object.keys(parts);
      // One kind of disturbance has its own action; several together are `netem`.
      const action = names.length === 1 ? names[0]! : 'netem';
      return { ok: true, objects: network(e, t, { action, direction: 'both', ...parts }) };
    }
    case 'disk-latency':
      return one('IOChaos', { action: 'latency', delay: `${f.delayMs}ms`, percent: 100, ...onDataVolume });
    case 'disk-errors':
      return one('IOChaos', { action: 'fault', errno: ERRNO_EIO, percent: f.errorPercent, ...onDataVolume });
    case 'disk-fill':
      // The volume does not fill: every call that needs space fails as on a full disk (ENOSPC),
      // while reads and statfs go on. The node's own free-space reserve (statfs) therefore still sees
      // room; what is tested is the node refusing what its storage engine cannot write.
      return one('IOChaos', { action: 'fault', errno: ERRNO_ENOSPC, percent: 100, methods: [...SPACE_CONSUMING_METHODS], ...onDataVolume });
    case 'clock-skew':
      // CLOCK_REALTIME only (Chaos Mesh's default, said here): what Date.now() reads; timers and
      // timeouts use the monotonic clock, which a skewed wall clock does not move.
      return one('TimeChaos', { timeOffset: `${f.offsetS}s`, clockIds: ['CLOCK_REALTIME'], ...inContainer });
    case 'cpu-stress':
      // stress-ng runs in the node container's cgroup, so it competes for the container's CPU limit.
      return one('StressChaos', { stressors: { cpu: { workers: f.workers, load: f.loadPercent } }, ...inContainer });
    case 'wipe':
    case 'rolling-restart':
      // notExpressibleReason answered above; kept so that a new fault kind is a compile error here.
      throw new Error(`chaosMeshFault: ${f.kind} has no Chaos Mesh form`);
  }
}

/**
 * The chaos experiments of chaos/experiments.ts on Kubernetes, for Chaos Mesh (installed by the
 * cluster stack, constructs/aws/kv-chaos-mesh.ts): everything in the store's namespace.
 *
 * A run of a suite (or of one experiment) when the chart is applied:
 *   Workflow `<set>-chaos-<suite>`  a warm-up, then the faults in sequence, each followed by a
 *                                   recovery gap, beside a StatusCheck that asks the checker's
 *                                   /healthz and aborts the Workflow when the steady state breaks;
 *                                   each fault's start and end are told to the checker (POST
 *                                   /faults/start|end), which reports availability per fault
 *   Job `<set>-chaos-checker`       `kv chaos check` against the store's client Service for the
 *                                   Workflow's length and a margin, with its Service (the
 *                                   StatusCheck's and Prometheus' way in), a PodMonitor, and the
 *                                   NetworkPolicies that let it reach the store and be reached
 * Standing parts:
 *   Schedules                       recurring runs, opt-in (`schedules`)
 *   the dashboard's account         a ServiceAccount whose token signs in to the Chaos Mesh
 *                                   dashboard: read everywhere, manage experiments in this namespace
 *
 * The experiments Chaos Mesh cannot express (NOT_ON_KUBERNETES of chaos/chaos-mesh-faults.ts) are
 * left out of a Workflow, which names them and why in an annotation; a Schedule of one is refused.
 * Every object is validated against its CRD or the Kubernetes schema in
 * test/infra/chaos-mesh-chart.test.ts. docs/chaos.md says how to run and watch them.
 */
import { ApiObject, Chart, ChartProps, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { ZONE_LABEL } from '../app/k8s/kube-api';
import { DATA_DIR, KvStoreChart, NODE_CONTAINER_NAME, RUN_AS_ID, STATEFULSET_POD_NAME_LABEL } from '../constructs/k8s/kv-store-chart';
import { clientTlsParts } from '../constructs/k8s/kv-tls';
import { chaosMeshFault, CHAOS_MESH_API_VERSION, ChaosObjectSpec, Json, SPEC_FIELD, StoreTargets } from './chaos-mesh-faults';
import { EXPERIMENTS, Experiment, experimentsOf, SUITES, validateExperiment } from './experiments';

const k8s = kplus.k8s;

/** The namespace the Chaos Mesh Helm release runs in (its controller runs the StatusChecks). */
export const CHAOS_MESH_NAMESPACE = 'chaos-mesh';
/** The checker's metrics and /healthz port (`kv chaos check --metrics-port`). */
export const CHECKER_METRICS_PORT = 9470;
const METRICS_PORT_NAME = 'metrics';
/**
 * Where the checker writes its verdict (`--result-file`): stdout, as the last line of the Job's
 * log, which outlives the pod (`kubectl logs job/kv-chaos-checker | tail -1`).
 */
export const CHECKER_RESULT_FILE = '-';
/**
 * Room for Chaos Mesh to create and inject each step, added to the faults' own length: the deadline of
 * the faults' Serial is a hard stop, and the StatusCheck watches as long.
 */
export const WORKFLOW_SLACK_S = 60;
/**
 * The checker runs this much longer than the Workflow: its pod may start a minute after the
 * Workflow (an image pull), and it checks that replicas agree after the last fault has healed.
 */
export const CHECKER_MARGIN_S = 120;
/** Beyond its run, the longest the checker Job may take to be scheduled, start and write its verdict. */
const CHECKER_START_BUDGET_S = 300;
/** A finished checker Job (and its pod's log) is kept this long, then deleted by Kubernetes. */
export const CHECKER_TTL_S = 7 * 24 * 3600;
/** One /healthz request may take this long before it counts as a failure (the StatusCheck's timeout). */
export const STATUS_CHECK_TIMEOUT_S = 2;
/** The Workflow's annotation naming the suite's experiments it leaves out, one `name: reason` a line. */
export const NOT_ON_KUBERNETES_ANNOTATION = 'dynamo-kv/not-on-kubernetes';
/**
 * The longest a fault-window mark (a POST to the checker) may take: two tries a second apart, each
 * with the request timeout. Counted in full in the Workflow's length, which is an upper bound.
 */
export const MARK_DEADLINE_S = 8;
const MARK_TRIES = 2;
/** Runs of each Schedule whose objects Chaos Mesh keeps. */
export const SCHEDULE_HISTORY_LIMIT = 5;
/** The checker's container: it keeps every acknowledged element it wrote, hence the memory. */
const CHECKER_RESOURCES = { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '1', memory: '512Mi' } } as const;

export interface KvChaosChartProps extends ChartProps {
  /** The store to break: its namespace, pod labels, image, client Service and data volume come from it. */
  readonly store: KvStoreChart;
  /**
   * The zones of the cluster's nodes (topology.kubernetes.io/zone values), e.g. eu-west-1a, b and c:
   * a zone fault cuts `partitionZone` off from each of the others.
   */
  readonly zones: readonly string[];
  /**
   * What the Workflow runs: a suite of chaos/experiments.ts (SUITES) or one experiment's name.
   * @default 'short'
   */
  readonly suite?: string;
  /**
   * Whether the chart holds the run: the Workflow and its checker (Job, Service, PodMonitor,
   * NetworkPolicies), which start when the chart is applied. The cluster stack leaves it out: its
   * manifests are applied again whenever they change, which is no time to start a run.
   * @default true
   */
  readonly runSuite?: boolean;
  /**
   * Recurring runs: a cron (Chaos Mesh's: five fields, or @hourly, @every 6h ...; UTC) for each
   * experiment or suite name. A suite's Schedule runs its faults and recovery gaps with no StatusCheck
   * and no checker (the checker is a one-off Job): the store's own alerts watch those runs.
   * @default - none
   */
  readonly schedules?: Readonly<Record<string, string>>;
  /**
   * The zone a one-zone fault cuts off.
   * @default - the first of `zones`
   */
  readonly partitionZone?: string;
  /**
   * The ordinal of the pod a one-node fault hits (`<set>-<ordinal>`).
   * @default 0
   */
  readonly targetOrdinal?: number;
  /**
   * Seconds between the start of the Workflow and its first fault, for the checker to start and
   * see the steady state; the StatusCheck starts after it.
   * @default 60
   */
  readonly warmupS?: number;
  /**
   * Seconds after each fault before the next one, for the store to recover.
   * @default - each experiment's hypothesis.convergeWithinS: the time its replicas have to agree again
   */
  readonly recoveryGapS?: number;
  /**
   * The checker's Service (also its Job, ServiceAccount and PodMonitor).
   * @default '<set>-chaos-checker'
   */
  readonly checkerServiceName?: string;
  /**
   * The checker's metrics and /healthz port.
   * @default CHECKER_METRICS_PORT (9470)
   */
  readonly checkerMetricsPort?: number;
  /**
   * How often the StatusCheck asks the checker's /healthz, and how many failures in a row abort the
   * Workflow (a 503, a timeout or no answer each count).
   * @default 5 seconds, 3 failures: an abort within about 15 s of the steady state breaking, while
   * one slow answer does not stop a run
   */
  readonly statusCheckIntervalSeconds?: number;
  readonly statusCheckFailureThreshold?: number;
  /**
   * Whether the Workflow tells the checker when each fault starts and ends (POST
   * /faults/start?label=<experiment> and /faults/end), so that it reports availability per fault
   * window. A mark that fails is let go (the run goes on; only that window is missing).
   * @default true
   */
  readonly markFaultWindows?: boolean;
  /**
   * The namespace Chaos Mesh runs in: the checker's NetworkPolicy admits its StatusChecks from there.
   * @default CHAOS_MESH_NAMESPACE ('chaos-mesh')
   */
  readonly chaosMeshNamespace?: string;
  /**
   * Labels the checker's PodMonitor carries for kube-prometheus-stack to select it.
   * @default { release: 'kube-prometheus-stack' } - the release label of a default install
   */
  readonly selectorLabels?: Readonly<Record<string, string>>;
}

/** A template of a Chaos Mesh Workflow. */
type Template = { readonly name: string; readonly templateType: string; readonly [key: string]: Json };

/** The chaos chart. Construct IDs below are part of the contract (they name the manifests). */
export class KvChaosChart extends Chart {
  /** The experiments the Workflow runs, in order. */
  public readonly experiments: readonly Experiment[];
  /** The suite's experiments Chaos Mesh cannot express, left out of the Workflow, with the reason. */
  public readonly skipped: readonly { readonly experiment: string; readonly reason: string }[];
  /** Seconds from the Workflow's start to its end when nothing aborts it (the entry's deadline). */
  public readonly workflowDurationS: number;
  /** How long the checker drives the store (`--duration-s`). */
  public readonly checkerDurationS: number;
  /** What the StatusCheck asks. */
  public readonly statusCheckUrl: string;
  /** The run (undefined when runSuite is false). */
  public readonly workflow?: ApiObject;
  public readonly checkerJob?: ApiObject;
  public readonly schedules: readonly ApiObject[];
  /** The account whose token signs in to the Chaos Mesh dashboard (`kubectl create token`). */
  public readonly dashboardServiceAccountName: string;

  constructor(scope: Construct, id: string, props: KvChaosChartProps) {
    const store = props.store;
    super(scope, id, { ...props, namespace: store.namespaceName });

    // Resolve every default once, then validate, then build.
    const namespace = store.namespaceName;
    const suite = props.suite ?? 'short';
    const runSuite = props.runSuite ?? true;
    const schedules = props.schedules ?? {};
    const zones = [...props.zones];
    const partitionZone = props.partitionZone ?? zones[0];
    const targetOrdinal = props.targetOrdinal ?? 0;
    const warmupS = props.warmupS ?? 60;
    const checkerName = props.checkerServiceName ?? `${store.setName}-chaos-checker`;
    const checkerMetricsPort = props.checkerMetricsPort ?? CHECKER_METRICS_PORT;
    const statusCheckIntervalSeconds = props.statusCheckIntervalSeconds ?? 5;
    const statusCheckFailureThreshold = props.statusCheckFailureThreshold ?? 3;
    const markFaultWindows = props.markFaultWindows ?? true;
    const chaosMeshNamespace = props.chaosMeshNamespace ?? CHAOS_MESH_NAMESPACE;
    const selectorLabels = props.selectorLabels ?? { release: 'kube-prometheus-stack' };
    validate({ suite, schedules, zones, partitionZone, targetOrdinal, replicas: store.replicas, warmupS, recoveryGapS: props.recoveryGapS, checkerName, checkerMetricsPort, statusCheckIntervalSeconds, statusCheckFailureThreshold, chaosMeshNamespace });

    const targets: StoreTargets = {
      namespace,
      podLabels: store.podLabels,
      targetPod: `${store.setName}-${targetOrdinal}`,
      podNameLabel: STATEFULSET_POD_NAME_LABEL,
      zoneLabel: ZONE_LABEL,
      zone: partitionZone!,
      otherZones: zones.filter((z) => z !== partitionZone),
      containerName: NODE_CONTAINER_NAME,
      dataDir: DATA_DIR,
    };
    const gapOf = (e: Experiment) => props.recoveryGapS ?? e.hypothesis.convergeWithinS;
    const partOf = { 'app.kubernetes.io/part-of': 'dynamo-kv-chaos' };
    const instance = store.podLabels['app.kubernetes.io/instance'] ?? store.setName;
    const checkerLabels = { 'app.kubernetes.io/name': 'dynamo-kv', 'app.kubernetes.io/instance': instance, 'app.kubernetes.io/component': 'chaos-checker' };

    const plan = planOf(suite, targets);
    this.experiments = plan.steps.map((s) => s.experiment);
    this.skipped = plan.skipped;
    const checkerUrl = `http://${checkerName}.${namespace}.svc.${store.clusterDomain}:${checkerMetricsPort}`;
    const faults = faultSequence(plan.steps, gapOf, markFaultWindows ? checkerUrl : undefined);
    this.workflowDurationS = warmupS + faults.durationS + WORKFLOW_SLACK_S;
    this.checkerDurationS = this.workflowDurationS + CHECKER_MARGIN_S;
    this.statusCheckUrl = `${checkerUrl}/healthz`;

    // ---- The run: the Workflow and its checker ----

    if (runSuite) {
      const watchedS = faults.durationS + WORKFLOW_SLACK_S;
      const seconds = (s: number) => `${s}s`;
      this.workflow = new ApiObject(this, 'Workflow', {
        apiVersion: CHAOS_MESH_API_VERSION,
        kind: 'Workflow',
        metadata: {
          name: `${store.setName}-chaos-${suite}`,
          labels: { ...partOf },
          // What the suite holds that this Workflow leaves out, and why, for whoever reads it in the cluster.
          ...(plan.skipped.length === 0 ? {} : { annotations: { [NOT_ON_KUBERNETES_ANNOTATION]: plan.skipped.map((s) => `${s.experiment}: ${s.reason}`).join('\n') } }),
        },
        spec: {
          entry: 'run',
          templates: [
            { name: 'run', templateType: 'Serial', deadline: seconds(this.workflowDurationS), children: ['warm-up', 'checked-faults'] },
            { name: 'warm-up', templateType: 'Suspend', deadline: seconds(warmupS) },
            // The faults and the StatusCheck side by side: an abort of the StatusCheck aborts the
            // Workflow, and Chaos Mesh recovers the fault that is running.
            { name: 'checked-faults', templateType: 'Parallel', deadline: seconds(watchedS), children: ['steady-state', 'faults'] },
            {
              name: 'steady-state',
              templateType: 'StatusCheck',
              deadline: seconds(watchedS),
              abortWithStatusCheck: true,
              statusCheck: {
                // Continuous: asks until its duration is over or the failures reach the threshold.
                // At the end the Workflow is aborted too unless the last answer was a success
                // (successThreshold 1): a run that ends broken is reported as such.
                mode: 'Continuous',
                type: 'HTTP',
                duration: seconds(watchedS),
                intervalSeconds: statusCheckIntervalSeconds,
                timeoutSeconds: STATUS_CHECK_TIMEOUT_S,
                failureThreshold: statusCheckFailureThreshold,
                successThreshold: 1,
                http: { url: this.statusCheckUrl, method: 'GET', criteria: { statusCode: '200' } },
              },
            },
            { name: 'faults', templateType: 'Serial', deadline: seconds(watchedS), children: faults.children },
            ...faults.templates,
          ],
        },
      });
      this.checkerJob = this.checker({ store, checkerName, checkerLabels, checkerMetricsPort, chaosMeshNamespace, selectorLabels });
    }

    // ---- Standing parts: the Schedules, the dashboard's account ----

    this.schedules = Object.entries(schedules).map(([name, cron]) => {
      const spec = scheduleSpec(name, targets, gapOf);
      return new ApiObject(this, `Schedule-${name}`, {
        apiVersion: CHAOS_MESH_API_VERSION,
        kind: 'Schedule',
        metadata: { name: `${store.setName}-chaos-${name}`, labels: { ...partOf } },
        // Forbid: a run still going when the next is due is not doubled by it.
        spec: { schedule: cron, concurrencyPolicy: 'Forbid', historyLimit: SCHEDULE_HISTORY_LIMIT, ...spec },
      });
    });

    // The dashboard signs a user in with a ServiceAccount token and acts with the account's rights
    // (securityMode). As the dashboard's own generator writes them: read pods, namespaces and every
    // chaos object in the cluster (its lists are cluster-wide), and manage chaos objects in the
    // store's namespace only.
    this.dashboardServiceAccountName = `${store.setName}-chaos-dashboard`;
    const dashboardLabels = { ...partOf, 'app.kubernetes.io/component': 'chaos-dashboard-user' };
    new k8s.KubeServiceAccount(this, 'DashboardServiceAccount', { metadata: { name: this.dashboardServiceAccountName, labels: dashboardLabels }, automountServiceAccountToken: false });
    const subjects = [{ kind: 'ServiceAccount', name: this.dashboardServiceAccountName, namespace }];
    const read = ['get', 'list', 'watch'];
    const viewerName = `${namespace}-${store.setName}-chaos-viewer`;
    const viewer = new k8s.KubeClusterRole(this, 'DashboardViewerRole', {
      metadata: { name: viewerName, labels: dashboardLabels },
      rules: [
        { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: read },
        { apiGroups: ['chaos-mesh.org'], resources: ['*'], verbs: read },
      ],
    });
    const viewerBinding = new k8s.KubeClusterRoleBinding(this, 'DashboardViewerBinding', {
      metadata: { name: viewerName, labels: dashboardLabels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: viewer.name },
      subjects,
    });
    // Cluster-scoped objects must not carry the chart-wide namespace.
    for (const o of [viewer, viewerBinding]) o.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    const manager = new k8s.KubeRole(this, 'DashboardManagerRole', {
      metadata: { name: `${store.setName}-chaos-manager`, labels: dashboardLabels },
      rules: [{ apiGroups: ['chaos-mesh.org'], resources: ['*'], verbs: [...read, 'create', 'delete', 'patch', 'update'] }],
    });
    new k8s.KubeRoleBinding(this, 'DashboardManagerBinding', {
      metadata: { name: manager.name, labels: dashboardLabels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: manager.name },
      subjects,
    });
  }

  /** The checker Job, its Service, PodMonitor, ServiceAccount and NetworkPolicies; returns the Job. */
  private checker(o: {
    readonly store: KvStoreChart;
    readonly checkerName: string;
    readonly checkerLabels: Readonly<Record<string, string>>;
    readonly checkerMetricsPort: number;
    readonly chaosMeshNamespace: string;
    readonly selectorLabels: Readonly<Record<string, string>>;
  }): ApiObject {
    const { store, checkerName, checkerMetricsPort } = o;
    const labels = { ...o.checkerLabels };

    // Its own account, with no API token: the checker talks to the store only (the store's account
    // carries the backup role and API reads it must not have).
    const serviceAccount = new k8s.KubeServiceAccount(this, 'CheckerServiceAccount', { metadata: { name: checkerName, labels }, automountServiceAccountToken: false });

    // A TLS store gave the checker a client certificate of its own (constructs/k8s/kv-tls.ts).
    const checkerTls = store.tls && clientTlsParts(store.tls.clientSecretNames['chaos-checker']!);
    const job = new k8s.KubeJob(this, 'CheckerJob', {
      metadata: { name: checkerName, labels },
      spec: {
        // A retried checker would start counting again in the middle of the faults: its verdict
        // would not be the run's. A failed checker fails the run.
        backoffLimit: 0,
        activeDeadlineSeconds: this.checkerDurationS + CHECKER_START_BUDGET_S,
        ttlSecondsAfterFinished: CHECKER_TTL_S,
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: serviceAccount.name,
            automountServiceAccountToken: false,
            restartPolicy: 'Never',
            // As the store's pods: non-root, as the image's user.
            // fsGroup: the mounted certificate key (mode 0440) is readable by the pod's group.
            securityContext: { runAsNonRoot: true, runAsUser: RUN_AS_ID, runAsGroup: RUN_AS_ID, fsGroup: RUN_AS_ID, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'checker',
                image: store.image,
                imagePullPolicy: 'IfNotPresent',
                // The image's entrypoint is `kv`.
                args: [
                  'chaos',
                  'check',
                  '--endpoints',
                  store.clientEndpoint,
                  '--duration-s',
                  String(this.checkerDurationS),
                  '--metrics-port',
                  String(checkerMetricsPort),
                  // Every interface: the checker serves on localhost unless told, where neither the
                  // StatusCheck nor Prometheus can reach it.
                  '--metrics-host',
                  '0.0.0.0',
                  '--result-file',
                  CHECKER_RESULT_FILE,
                ],
                ports: [{ name: METRICS_PORT_NAME, containerPort: checkerMetricsPort, protocol: 'TCP' }],
                // Ready once it listens; /healthz is not the probe, since a 503 there (steady state
                // broken) must reach the StatusCheck rather than take the pod out of its Service.
                readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromNumber(checkerMetricsPort) }, periodSeconds: 5 },
                resources: {
                  requests: { cpu: k8s.Quantity.fromString(CHECKER_RESOURCES.requests.cpu), memory: k8s.Quantity.fromString(CHECKER_RESOURCES.requests.memory) },
                  limits: { cpu: k8s.Quantity.fromString(CHECKER_RESOURCES.limits.cpu), memory: k8s.Quantity.fromString(CHECKER_RESOURCES.limits.memory) },
                },
                securityContext: {
                  runAsNonRoot: true,
                  runAsUser: RUN_AS_ID,
                  runAsGroup: RUN_AS_ID,
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  privileged: false,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...(checkerTls?.volumeMounts ?? [])],
                env: checkerTls?.env,
              },
            ],
            volumes: [
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } },
              ...(checkerTls?.volumes ?? []),
            ],
          },
        },
      },
    });

    new k8s.KubeService(this, 'CheckerService', {
      metadata: { name: checkerName, labels },
      spec: { type: 'ClusterIP', selector: labels, ports: [{ name: METRICS_PORT_NAME, port: checkerMetricsPort, targetPort: k8s.IntOrString.fromNumber(checkerMetricsPort), protocol: 'TCP' }] },
    });

    new ApiObject(this, 'CheckerPodMonitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: checkerName, labels: { ...labels, ...o.selectorLabels } },
      spec: {
        selector: { matchLabels: labels },
        namespaceSelector: { matchNames: [store.namespaceName] },
        // Faults last tens of seconds: a coarser scrape would miss them.
        podMetricsEndpoints: [{ port: METRICS_PORT_NAME, path: '/metrics', interval: '10s', scrapeTimeout: '5s' }],
      },
    });

    // The store admits clients only from namespaces labelled as such (its own is not) and peers by the
    // store's pod labels: this policy adds the checker's pods, on the gRPC port only. Policies add
    // up, so the store's own stays as it is, and deleting the run takes this one away.
    new k8s.KubeNetworkPolicy(this, 'StoreAdmitsChecker', {
      metadata: { name: `${checkerName}-to-store`, labels },
      spec: {
        podSelector: { matchLabels: { ...store.podLabels } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: labels } }], ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(store.grpcPort) }] }],
      },
    });
    // The checker is reached on its metrics port only: by Chaos Mesh's controller (the StatusCheck)
    // and by Prometheus (namespaces with the store's metrics label).
    new k8s.KubeNetworkPolicy(this, 'CheckerIngress', {
      metadata: { name: checkerName, labels },
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': o.chaosMeshNamespace } } }, { namespaceSelector: { matchLabels: { [store.metricsNamespaceLabel]: 'true' } } }],
            ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(checkerMetricsPort) }],
          },
        ],
      },
    });
    return job;
  }
}

/** A suite's experiments, split into what Chaos Mesh runs and what it cannot. */
function planOf(suite: string, targets: StoreTargets): { steps: { experiment: Experiment; objects: readonly ChaosObjectSpec[] }[]; skipped: { experiment: string; reason: string }[] } {
  const steps: { experiment: Experiment; objects: readonly ChaosObjectSpec[] }[] = [];
  const skipped: { experiment: string; reason: string }[] = [];
  for (const e of experimentsOf(suite)) {
    // A definition that breaks its own rules is a programmer error in chaos/experiments.ts.
    const problems = validateExperiment(e);
    if (problems.length > 0) throw new Error(`KvChaosChart: experiment ${e.name} is invalid: ${problems.join('; ')}`);
    const fault = chaosMeshFault(e, targets);
    if (fault.ok) steps.push({ experiment: e, objects: fault.objects });
    else skipped.push({ experiment: e.name, reason: fault.reason });
  }
  if (steps.length === 0) fail('suite', suite, `Chaos Mesh can express none of its experiments (${skipped.map((s) => s.experiment).join(', ')}): run it locally with \`kv chaos ${suite}\``);
  return { steps, skipped };
}

/**
 * One experiment as Workflow templates lasting `deadlineS`: its chaos object, or a Parallel of its
 * objects when it has several (a zone cut off from each other zone). The first template is its entry.
 */
function experimentTemplates(e: Experiment, objects: readonly ChaosObjectSpec[], deadlineS: number): Template[] {
  const deadline = `${deadlineS}s`;
  const chaos = (o: ChaosObjectSpec): Template => ({ name: `${e.name}${o.suffix}`, templateType: o.kind, deadline, [SPEC_FIELD[o.kind]]: o.spec });
  if (objects.length === 1) return [chaos({ ...objects[0]!, suffix: '' })];
  return [{ name: e.name, templateType: 'Parallel', deadline, children: objects.map((o) => `${e.name}${o.suffix}`) }, ...objects.map(chaos)];
}

/** A StatusCheck that tells the checker a fault's start or end (a POST it answers 200). */
function mark(e: Experiment, edge: 'start' | 'end', checkerUrl: string): Template {
  return {
    name: `${e.name}-${edge}`,
    templateType: 'StatusCheck',
    deadline: `${MARK_DEADLINE_S}s`,
    // Not abortWithStatusCheck: a lost mark costs one window's figures, not the run.
    statusCheck: {
      mode: 'Synchronous',
      type: 'HTTP',
      intervalSeconds: 1,
      timeoutSeconds: STATUS_CHECK_TIMEOUT_S,
      successThreshold: 1,
      failureThreshold: MARK_TRIES,
      http: { url: `${checkerUrl}/faults/${edge}?label=${e.name}`, method: 'POST', criteria: { statusCode: '200' } },
    },
  };
}

/**
 * The faults in order, each followed by its recovery gap (a Suspend), and when `checkerUrl` is given
 * told to the checker as they start and end: the children of a Serial, their templates, their length.
 */
function faultSequence(steps: readonly { experiment: Experiment; objects: readonly ChaosObjectSpec[] }[], gapOf: (e: Experiment) => number, checkerUrl?: string): { children: string[]; templates: Template[]; durationS: number } {
  const children: string[] = [];
  const templates: Template[] = [];
  let durationS = 0;
  for (const { experiment: e, objects } of steps) {
    const gapS = gapOf(e);
    const recovery = `${e.name}-recovery`;
    const fault = experimentTemplates(e, objects, e.durationS);
    const gap: Template = { name: recovery, templateType: 'Suspend', deadline: `${gapS}s` };
    if (checkerUrl === undefined) {
      children.push(e.name, recovery);
      templates.push(...fault, gap);
    } else {
      children.push(`${e.name}-start`, e.name, `${e.name}-end`, recovery);
      templates.push(mark(e, 'start', checkerUrl), ...fault, mark(e, 'end', checkerUrl), gap);
      durationS += 2 * MARK_DEADLINE_S;
    }
    durationS += e.durationS + gapS;
  }
  return { children, templates, durationS };
}

/** A Schedule's spec, without its timing: one chaos object with its duration, or a Workflow. */
function scheduleSpec(name: string, targets: StoreTargets, gapOf: (e: Experiment) => number): { [key: string]: Json } {
  if (SUITES[name] !== undefined) {
    const plan = planOf(name, targets);
    const faults = faultSequence(plan.steps, gapOf);
    return { type: 'Workflow', workflow: { entry: 'faults', templates: [{ name: 'faults', templateType: 'Serial', deadline: `${faults.durationS + WORKFLOW_SLACK_S}s`, children: faults.children }, ...faults.templates] } };
  }
  const e = EXPERIMENTS.find((x) => x.name === name)!;
  const fault = chaosMeshFault(e, targets);
  if (!fault.ok) fail(`schedules["${name}"]`, name, `Chaos Mesh cannot express it (${fault.reason})`);
  if (fault.objects.length === 1) {
    const o = fault.objects[0]!;
    return { type: o.kind, [SPEC_FIELD[o.kind]]: { ...o.spec, duration: `${e.durationS}s` } };
  }
  const templates = experimentTemplates(e, fault.objects, e.durationS);
  return { type: 'Workflow', workflow: { entry: templates[0]!.name, templates } };
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Chaos Mesh parses a Schedule's cron with robfig/cron's standard parser: five fields, or a descriptor. */
const CRON = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every ([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+|[0-9A-Za-z*/,?-]+( [0-9A-Za-z*/,?-]+){4})$/;

function fail(prop: string, value: unknown, fix: string): never {
  throw new Error(`KvChaosChart: ${prop} is ${JSON.stringify(value)}; ${fix}.`);
}

function isInt(v: number, min: number, max: number): boolean {
  return Number.isInteger(v) && v >= min && v <= max;
}

function validate(p: {
  readonly suite: string;
  readonly schedules: Readonly<Record<string, string>>;
  readonly zones: readonly string[];
  readonly partitionZone: string | undefined;
  readonly targetOrdinal: number;
  readonly replicas: number;
  readonly warmupS: number;
  readonly recoveryGapS: number | undefined;
  readonly checkerName: string;
  readonly checkerMetricsPort: number;
  readonly statusCheckIntervalSeconds: number;
  readonly statusCheckFailureThreshold: number;
  readonly chaosMeshNamespace: string;
}): void {
  const names = [...Object.keys(SUITES), ...EXPERIMENTS.map((e) => e.name)];
  const known = (name: string) => names.includes(name);
  if (!known(p.suite)) fail('suite', p.suite, `use a suite (${Object.keys(SUITES).join(', ')}) or an experiment (${EXPERIMENTS.map((e) => e.name).join(', ')})`);
  for (const [name, cron] of Object.entries(p.schedules)) {
    if (!known(name)) fail('schedules', name, `key each cron by a suite (${Object.keys(SUITES).join(', ')}) or an experiment (${EXPERIMENTS.map((e) => e.name).join(', ')})`);
    if (!CRON.test(cron)) fail(`schedules["${name}"]`, cron, 'use a cron of five fields ("0 3 * * *": 03:00 UTC daily) or a descriptor such as @daily or @every 6h');
  }
  if (p.zones.length < 2 || new Set(p.zones).size !== p.zones.length || !p.zones.every((z) => DNS_LABEL.test(z))) {
    fail('zones', p.zones, 'give the cluster\'s zones, at least two distinct ones, as their topology.kubernetes.io/zone values (e.g. eu-west-1a, eu-west-1b, eu-west-1c)');
  }
  if (p.partitionZone === undefined || !p.zones.includes(p.partitionZone)) fail('partitionZone', p.partitionZone, `use one of zones (${p.zones.join(', ')})`);
  if (!isInt(p.targetOrdinal, 0, p.replicas - 1)) fail('targetOrdinal', p.targetOrdinal, `use a pod of the store, 0 to ${p.replicas - 1}`);
  if (!isInt(p.warmupS, 10, 1800)) fail('warmupS', p.warmupS, 'use 10 to 1800 seconds: long enough for the checker\'s pod to start and serve /healthz');
  if (p.recoveryGapS !== undefined && !isInt(p.recoveryGapS, 0, 3600)) fail('recoveryGapS', p.recoveryGapS, 'use 0 to 3600 seconds, or leave it out for each experiment\'s convergeWithinS');
  if (!DNS_LABEL.test(p.checkerName) || p.checkerName.length > 50) fail('checkerServiceName', p.checkerName, 'use a DNS label of at most 50 characters (the NetworkPolicy adds "-to-store")');
  // Below 1024 needs NET_BIND_SERVICE, which the checker's security context drops.
  if (!isInt(p.checkerMetricsPort, 1024, 65535)) fail('checkerMetricsPort', p.checkerMetricsPort, 'use a port from 1024 to 65535');
  if (!isInt(p.statusCheckIntervalSeconds, 1, 60)) fail('statusCheckIntervalSeconds', p.statusCheckIntervalSeconds, 'use 1 to 60 seconds');
  if (p.statusCheckIntervalSeconds <= STATUS_CHECK_TIMEOUT_S) fail('statusCheckIntervalSeconds', p.statusCheckIntervalSeconds, `use more than the request timeout (${STATUS_CHECK_TIMEOUT_S} s)`);
  if (!isInt(p.statusCheckFailureThreshold, 1, 20)) fail('statusCheckFailureThreshold', p.statusCheckFailureThreshold, 'use 1 to 20 failures in a row');
  if (!DNS_LABEL.test(p.chaosMeshNamespace)) fail('chaosMeshNamespace', p.chaosMeshNamespace, 'use a DNS label such as chaos-mesh');
}

/**
 * The store's Kubernetes chart: a StatefulSet of `kv node` pods with one EBS volume each, a headless
 * peer Service, a client Service, a PodDisruptionBudget, a ServiceAccount for EKS Pod Identity (and
 * the two narrow API reads the pods make: their node's zone, their StatefulSet's replica count),
 * a NetworkPolicy, and a Job that creates the context keys Secret when it is missing
 * (constructs/k8s/kv-context-keys.ts). The same class feeds `cdk8s synth` (bin/k8s.ts) and the cluster stack
 * (`cluster.addCdk8sChart`), each in its own cdk8s App, so what CI renders is what EKS receives.
 *
 * Membership (docs/operations.md): pods `<name>-0 .. <name>-(foundingMembers-1)` start the cluster;
 * every other pod joins it by itself (KV_JOIN=auto), so `replicas` is not in the pod template and
 * scaling restarts nothing. On a scale-in each removed pod's preStop hook hands its partitions to
 * the others before the pod stops (`kv k8s pre-stop`).
 */
import { ApiObject, Chart, ChartProps, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { enumSetting, intDefault, intSetting, IntSettingKey, NodeConfig, SettingKey, settingEnv } from '../../app/node/config';
import { ZONE_LABEL } from '../../app/k8s/kube-api';
import { CONTEXT_KEYS_ITEM } from '../../app/k8s/context-keys-secret';
import { LIVE_PATH, READY_PATH } from '../../observability/probe-paths';
import { isPowerOfTwo } from '../../app/ring/ring';
import { advertiseAddress, peerList } from './peer-list';
import { BACKUP_COMPONENT, KvBackupJobs } from './kv-backup-jobs';
import { KvContextKeys } from './kv-context-keys';
import { GATEWAY_COMPONENT, KvGateway, KvGatewayOptions } from './kv-gateway';
import { CLIENT_AUTH_DIR, clientTlsParts, KvClientGrant, KvTls, nodeTlsSettings, serverTlsParts, TLS_DIR, TLS_FILES } from './kv-tls';
import { CLIENT_SECURITY_ENV } from '../../app/cli/security';

const k8s = kplus.k8s;

/** Where backups go, and when the backup jobs run (constructs/k8s/kv-backup-jobs.ts). */
export interface KvBackupTarget {
  /** S3 bucket name (may be a CDK token when the chart is applied by the cluster stack). */
  readonly bucketName: string;
  /** Key prefix, without slashes; the pod-identity role may touch only `<prefix>/*`. */
  readonly prefix: string;
  /** @default '17 2 * * *' - a cluster backup every day at 02:17 UTC */
  readonly schedule?: string;
  /** @default '47 4 * * *' - retention applied every day at 04:47 UTC */
  readonly pruneSchedule?: string;
  /** @default 7 - the newest complete backups kept whatever their age */
  readonly keepLast?: number;
  /** @default 30 - every backup younger than this many days is kept */
  readonly keepDays?: number;
  /** @default - replicas × storageGiB: room for every node's copy */
  readonly spoolGiB?: number;
}

export type { KvGatewayOptions } from './kv-gateway';

/** Where the nodes send their traces, and how many. */
export interface KvTracing {
  /** Share of client operations traced, 0..1 (0: none). */
  readonly sampleRatio: number;
  /** OTLP/HTTP endpoint (the OpenTelemetry SDK's standard variable). */
  readonly otlpEndpoint: string;
}

/** The OpenTelemetry SDK's standard variable for the OTLP endpoint. */
export const OTLP_ENDPOINT_ENV = 'OTEL_EXPORTER_OTLP_ENDPOINT';

export interface KvStoreChartProps extends ChartProps {
  /** Node image, e.g. `<account>.dkr.ecr.<region>.amazonaws.com/kv-node:<git-sha>`. */
  readonly image: string;
  /**
   * Namespace for every object; the chart creates it.
   * @default 'kv'
   */
  readonly namespace?: string;
  /**
   * StatefulSet name, and prefix of pod names (`kv-0`, `kv-1`, ...) and of the Services.
   * @default 'kv'
   */
  readonly name?: string;
  /**
   * Number of store nodes. Changing it changes nothing in the pod template: new pods join the
   * cluster by themselves, and removed pods leave it first (see scaleInGracePeriodSeconds).
   * @default 3 - one per availability zone
   */
  readonly replicas?: number;
  /**
   * Pods that start the cluster, `<name>-0 .. <name>-(foundingMembers-1)` (KV_PEERS). Fixed for the
   * life of the cluster: every other pod joins through them. At least n, at most replicas.
   * @default - n: the smallest cluster that holds N replicas of every key
   */
  readonly foundingMembers?: number;
  /**
   * Replication factor, read quorum and write quorum (KV_N, KV_R, KV_W), within the node's bounds.
   * @default - the node's defaults (3, 2, 2), from its settings table (app/node/config.ts)
   */
  readonly n?: number;
  readonly r?: number;
  readonly w?: number;
  /**
   * Ring partitions (KV_PARTITIONS), a power of two fixed at cluster creation.
   * @default - the node's default (64)
   */
  readonly partitions?: number;
  /**
   * Write durability (KV_DURABILITY).
   * @default - the node's default, 'durable': fsync before acknowledging
   */
  readonly durability?: NodeConfig['durability'];
  /**
   * gRPC port for clients, peers, health and reflection (KV_PORT).
   * @default - the node's default (7001)
   */
  readonly grpcPort?: number;
  /**
   * Prometheus `/metrics` port (KV_METRICS_PORT).
   * @default - the node's default (9464)
   */
  readonly metricsPort?: number;
  /**
   * StorageClass of each node's data volume.
   * @default 'gp3' - the encrypted, WaitForFirstConsumer class of StorageClassChart
   */
  readonly storageClassName?: string;
  /**
   * Size of each node's data volume. Raising it on a running cluster grows the volumes, through
   * their claims (volumeClaimGiB says how); lowering it never shrinks one.
   * @default 20 GiB
   */
  readonly storageGiB?: number;
  /**
   * Size in the StatefulSet's volume claim template: what a new pod's claim starts with. A
   * StatefulSet's claim templates cannot change once it exists, so this is fixed at creation (the
   * first storageGiB) and every later growth is done on the claims themselves: the cluster stack
   * patches each claim `data-<name>-<i>` to storageGiB (docs/operations.md, "Grow the disks").
   * At most storageGiB.
   * @default - storageGiB
   */
  readonly volumeClaimGiB?: number;
  /**
   * CPU request and limit, millicores.
   * @default 500 request, 2000 limit
   */
  readonly cpuRequestMillis?: number;
  readonly cpuLimitMillis?: number;
  /**
   * Memory request and limit, MiB (equal, so the pod is never OOM-killed for using what it asked for).
   * @default 1024
   */
  readonly memoryMiB?: number;
  /**
   * Rolling-update partition: only pods with an ordinal >= partition are updated. Raise it to stage a
   * canary on the highest ordinals.
   * @default 0 - update every pod
   */
  readonly updatePartition?: number;
  /**
   * Name of the ServiceAccount the pods run as; the EKS Pod Identity association refers to it.
   * @default 'kv'
   */
  readonly serviceAccountName?: string;
  /**
   * Label that a namespace must carry (with value "true") for its pods to reach the client port.
   * @default 'dynamo-kv/client'
   */
  readonly clientNamespaceLabel?: string;
  /**
   * Label that a namespace must carry (with value "true") for its pods to scrape `/metrics`.
   * @default 'dynamo-kv/metrics'
   */
  readonly metricsNamespaceLabel?: string;
  /**
   * Backup destination (sets KV_BACKUP_BUCKET and KV_BACKUP_PREFIX).
   * @default - no backup env; the node runs without backups
   */
  readonly backup?: KvBackupTarget;
  /**
   * A stateless gateway tier (`kv node --role gateway`) in front of the store: a Deployment with a
   * Service `<name>-gateway` and an HPA on CPU and operations in flight (constructs/k8s/kv-gateway.ts).
   * @default - no gateways; clients reach the store's client Service
   */
  readonly gateway?: KvGatewayOptions;
  /**
   * Log level (KV_LOG_LEVEL).
   * @default - the node's default ('info')
   */
  readonly logLevel?: NodeConfig['logLevel'];
  /**
   * Tracing: the share of client operations traced (KV_TRACE_SAMPLE_RATIO, 0..1) and the OTLP/HTTP
   * endpoint the spans go to (OTEL_EXPORTER_OTLP_ENDPOINT, e.g. an OpenTelemetry Collector's
   * `http://otel-collector.observability:4318`).
   * @default - no tracing
   */
  readonly tracing?: KvTracing;
  /**
   * Seconds the preStop hook sleeps so that endpoints drop the pod before the node stops accepting.
   * @default 5
   */
  readonly preStopSleepSeconds?: number;
  /**
   * The pods' termination grace period, which must cover a scale-in: the preStop hook of a pod
   * being scaled in hands every partition it holds to the others, then the node drains (20 s).
   * A pod that only restarts pauses preStopSleepSeconds and stops at once, whatever this is.
   * Size it as data per node / transfer-keys-per-second-max (5,000 objects a second by default),
   * times the pods removed in one step, plus a margin (docs/operations.md has the arithmetic).
   * @default 3600 - an hour: about 9 million objects per node, removed one pod at a time, at the
   * default transfer rate with the margin of docs/operations.md
   */
  readonly scaleInGracePeriodSeconds?: number;
  /**
   * Cluster DNS domain used in peer addresses.
   * @default 'cluster.local'
   */
  readonly clusterDomain?: string;
  /**
   * The Secret holding the cluster's context keys (item `keys`: one hex key a line, the first
   * signs; see the node's --context-keys-file), mounted read-only into every pod. The chart never
   * holds a key: unless createContextKeys is false, its Job makes the Secret inside the cluster
   * when it is missing (a pod waits in ContainerCreating until then) and never changes an existing
   * one (rotation: docs/deploy.md).
   * @default - `<name>-context-keys`
   */
  readonly contextKeysSecretName?: string;
  /**
   * Whether the chart runs a Job (`kv k8s context-keys`, constructs/k8s/kv-context-keys.ts) that
   * creates the contextKeysSecretName Secret with one random key when it does not exist. Set it to
   * false when the Secret is managed elsewhere (External Secrets, a vault): then create it before
   * the pods start, e.g. `kubectl -n <namespace> create secret generic <secret>
   * --from-literal=keys=$(openssl rand -hex 32)`.
   * @default true - the chart's Job creates the Secret once; an existing Secret is left unchanged
   */
  readonly createContextKeys?: boolean;
  /**
   * TLS on the gRPC port and client authorization (constructs/k8s/kv-tls.ts): cert-manager issues a
   * cluster CA of the store's own, a node certificate every pod presents (peers talk mutual TLS and
   * serve kv.v1.Peer only to node certificates), and client certificates for the gateways, the
   * backup jobs and the chaos checker; the client auth file (a ConfigMap) lists those and `clients`.
   * Needs cert-manager in the cluster (the cluster stack installs it).
   * @default - plaintext, and every client may do everything (the NetworkPolicy is the only guard)
   */
  readonly tls?: KvStoreTls;
}

/** The store chart's TLS and client authorization. */
export interface KvStoreTls {
  /**
   * Applications allowed on the client port, by certificate common name or token hash, with a role
   * and optionally key prefixes.
   * @default - none besides the chart's own clients
   */
  readonly clients?: readonly KvClientGrant[];
  /**
   * Lifetime of node and client certificates, hours; renewed with a third left.
   * @default 2160 - 90 days
   */
  readonly certificateHours?: number;
}

/**
 * Variables for the backup jobs and `kv backup` run in a pod; the node itself does not read them, so
 * they are not in its settings table.
 */
export const BACKUP_ENV = { bucketName: 'KV_BACKUP_BUCKET', prefix: 'KV_BACKUP_PREFIX' } as const;

/** The volume claim template's name: pod `<name>-<i>`'s claim is `data-<name>-<i>`. */
export const DATA_CLAIM_TEMPLATE = 'data';
/** Where the data volume is mounted; the node's KV_DATA_DIR. */
export const DATA_DIR = '/var/lib/kv';
/** Where the init container writes the zone and the node reads it (KV_ZONE_FILE), on an emptyDir. */
export const ZONE_DIR = '/var/run/kv';
export const ZONE_FILE = `${ZONE_DIR}/zone`;
/** Where the context keys Secret is mounted; its item CONTEXT_KEYS_ITEM is the node's KV_CONTEXT_KEYS_FILE. */
export const CONTEXT_KEYS_DIR = '/etc/kv/context-keys';
/** The item of the context keys Secret the node reads (the one `kv k8s context-keys` creates). */
export { CONTEXT_KEYS_ITEM };
/**
 * The image's ENTRYPOINT (Dockerfile): an exec hook does not go through it, so the preStop
 * command names it in full.
 */
export const KV_COMMAND = ['node', '/app/dist/bin/kv.js'] as const;
/** Time the node needs after SIGTERM: shutdown-grace-ms (10 s), closing (2 s), the last resort (5 s), rounded up. */
export const NODE_DRAIN_SECONDS = 20;
/** Kept between the end of the preStop budget and the drain, for the hook's own exit and the kubelet. */
export const PRE_STOP_MARGIN_SECONDS = 10;
/** The smallest preStop budget that can hold a leave of a node with little data. */
const PRE_STOP_BUDGET_SECONDS_MIN = 60;
/** The metrics port's name, on the container and the peer Service. */
const METRICS_PORT_NAME = 'metrics';
/** UID/GID of the `node` user in the official Node images (the Dockerfile runs as it too). */
export const RUN_AS_ID = 1000;
/** The node's container in each pod (chaos experiments that act on one container name it). */
export const NODE_CONTAINER_NAME = 'kv';
/** The label the StatefulSet controller puts on each of its pods, with the pod's name. */
export const STATEFULSET_POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** The store's chart. Construct IDs below are part of the contract (they name the manifests). */
export class KvStoreChart extends Chart {
  /** StatefulSet name (also the pod name prefix). */
  public readonly setName: string;
  public readonly namespaceName: string;
  public readonly peerServiceName: string;
  public readonly clientServiceName: string;
  public readonly serviceAccountName: string;
  /** Labels on every pod; the Services, PDB, NetworkPolicy and the monitoring chart's PodMonitor select on these. */
  public readonly podLabels: Readonly<Record<string, string>>;
  /** Name of the container port (and peer Service port) that serves `/metrics`. */
  public readonly metricsPortName: string = METRICS_PORT_NAME;
  /** Label a namespace must carry (value "true") for its pods to scrape `/metrics` (the NetworkPolicy's rule). */
  public readonly metricsNamespaceLabel: string;
  /** Label a namespace must carry (value "true") for its pods to be the store's clients (the NetworkPolicy's rule). */
  public readonly clientNamespaceLabel: string;
  /** Ring partitions (KV_PARTITIONS). */
  public readonly partitions: number;
  /** The node image every pod runs (the chaos checker runs it too). */
  public readonly image: string;
  /** Store nodes (StatefulSet replicas): pods `<setName>-0 .. <setName>-(replicas-1)`. */
  public readonly replicas: number;
  /** gRPC port for clients and peers. */
  public readonly grpcPort: number;
  /** Cluster DNS domain of the addresses below. */
  public readonly clusterDomain: string;
  /** Where clients reach the store: the client Service, `host:port`. */
  public readonly clientEndpoint: string;
  /** The gateway tier, when the chart has one (props.gateway). */
  public readonly gateway?: KvGateway;
  /** Size every node's data volume should have, GiB. */
  public readonly storageGiB: number;
  /** Size in the StatefulSet's volume claim template (fixed at creation), GiB; at most storageGiB. */
  public readonly volumeClaimGiB: number;
  /** The data volume claims of pods `<setName>-0 .. <setName>-(replicas-1)`, in ordinal order. */
  public readonly dataClaimNames: readonly string[];
  /** The certificates and the client auth file, when the chart has TLS (props.tls). */
  public readonly tls?: KvTls;

  constructor(scope: Construct, id: string, props: KvStoreChartProps) {
    const namespace = props.namespace ?? 'kv';
    super(scope, id, { ...props, namespace });

    // Resolve every default once, then validate, then build. The node's settings take their
    // defaults from the node's own table, so a node started by hand and one in this chart agree.
    const name = props.name ?? 'kv';
    const replicas = props.replicas ?? 3;
    const n = props.n ?? intDefault('n');
    const foundingMembers = props.foundingMembers ?? n;
    const r = props.r ?? intDefault('r');
    const w = props.w ?? intDefault('w');
    const partitions = props.partitions ?? intDefault('partitions');
    const durability = props.durability ?? enumSetting('durability').default;
    const grpcPort = props.grpcPort ?? intDefault('port');
    const metricsPort = props.metricsPort ?? intDefault('metricsPort');
    const storageClassName = props.storageClassName ?? 'gp3';
    const storageGiB = props.storageGiB ?? 20;
    const volumeClaimGiB = props.volumeClaimGiB ?? storageGiB;
    const cpuRequestMillis = props.cpuRequestMillis ?? 500;
    const cpuLimitMillis = props.cpuLimitMillis ?? 2000;
    const memoryMiB = props.memoryMiB ?? 1024;
    const updatePartition = props.updatePartition ?? 0;
    const serviceAccountName = props.serviceAccountName ?? 'kv';
    const clientNamespaceLabel = props.clientNamespaceLabel ?? 'dynamo-kv/client';
    const metricsNamespaceLabel = props.metricsNamespaceLabel ?? 'dynamo-kv/metrics';
    const logLevel = props.logLevel ?? enumSetting('logLevel').default;
    const preStopSleepSeconds = props.preStopSleepSeconds ?? 5;
    const scaleInGracePeriodSeconds = props.scaleInGracePeriodSeconds ?? 3600;
    const clusterDomain = props.clusterDomain ?? 'cluster.local';
    const contextKeysSecretName = props.contextKeysSecretName ?? `${name}-context-keys`;
    const createContextKeys = props.createContextKeys ?? true;

    validate({ name, namespace, replicas, foundingMembers, n, r, w, partitions, durability, logLevel, grpcPort, metricsPort, storageGiB, volumeClaimGiB, cpuRequestMillis, cpuLimitMillis, memoryMiB, updatePartition, preStopSleepSeconds, scaleInGracePeriodSeconds, serviceAccountName, image: props.image });
    if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(contextKeysSecretName)) {
      throw new Error(`contextKeysSecretName: ${JSON.stringify(contextKeysSecretName)} is not a Secret name (1-253 of [a-z0-9.-], starting and ending with a letter or digit)`);
    }
    if (props.tracing) {
      const { sampleRatio, otlpEndpoint } = props.tracing;
      if (!(Number.isFinite(sampleRatio) && sampleRatio >= 0 && sampleRatio <= 1)) throw new Error(`tracing.sampleRatio: ${sampleRatio} is not within 0..1 (the share of operations traced; 0 turns tracing off)`);
      if (!/^https?:\/\/[^\s/]+(:\d+)?(\/\S*)?$/.test(otlpEndpoint)) throw new Error(`tracing.otlpEndpoint: ${JSON.stringify(otlpEndpoint)} is not an http(s) URL such as http://otel-collector.observability:4318`);
    }
    // What is left for the preStop hook once the node's drain and a margin are set aside.
    const preStopBudgetSeconds = scaleInGracePeriodSeconds - NODE_DRAIN_SECONDS - PRE_STOP_MARGIN_SECONDS;

    this.setName = name;
    this.namespaceName = namespace;
    this.peerServiceName = `${name}-peer`;
    this.clientServiceName = name;
    this.serviceAccountName = serviceAccountName;
    this.metricsNamespaceLabel = metricsNamespaceLabel;
    this.clientNamespaceLabel = clientNamespaceLabel;
    this.partitions = partitions;
    this.image = props.image;
    this.replicas = replicas;
    this.grpcPort = grpcPort;
    this.clusterDomain = clusterDomain;
    this.clientEndpoint = `${name}.${namespace}.svc.${clusterDomain}:${grpcPort}`;
    this.storageGiB = storageGiB;
    this.volumeClaimGiB = volumeClaimGiB;
    this.dataClaimNames = Array.from({ length: replicas }, (_, i) => `${DATA_CLAIM_TEMPLATE}-${name}-${i}`);
    this.podLabels = { 'app.kubernetes.io/name': 'dynamo-kv', 'app.kubernetes.io/instance': name, 'app.kubernetes.io/component': 'node' };
    const labels = { ...this.podLabels };

    // The namespace comes first so that a single `kubectl apply` of this chart creates it before its contents.
    const ns = new kplus.Namespace(this, 'Namespace', { metadata: { name: namespace } });
    // A Namespace is cluster-scoped; the chart-wide namespace must not be stamped on it.
    ApiObject.of(ns).addJsonPatch(JsonPatch.remove('/metadata/namespace'));

    const serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { name: serviceAccountName, labels },
      // Not by default: the store's pod spec asks for the token itself (its two API reads below), so
      // nothing else that runs as this account gets one unasked. EKS Pod Identity mounts its own
      // token for AWS access.
      automountToken: false,
    });

    // The pods' only Kubernetes API access, each rule as narrow as the API allows:
    // `get` on nodes, so a pod learns its zone from its node's label. Nodes are cluster-scoped, so
    // this is a ClusterRole; a pod cannot know its node's name before it is scheduled, so the rule
    // cannot name it (the verb is `get` only: no list or watch).
    const rbacName = `${namespace}-${name}-zone-reader`;
    const nodeReader = new k8s.KubeClusterRole(this, 'NodeReaderRole', {
      metadata: { name: rbacName, labels },
      rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }],
    });
    const nodeReaderBinding = new k8s.KubeClusterRoleBinding(this, 'NodeReaderBinding', {
      metadata: { name: rbacName, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: nodeReader.name },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccountName, namespace }],
    });
    // Cluster-scoped objects must not carry the chart-wide namespace.
    for (const o of [nodeReader, nodeReaderBinding]) o.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    // `get` on this one StatefulSet, so the preStop hook can tell a scale-in from a restart.
    const setReader = new k8s.KubeRole(this, 'StatefulSetReaderRole', {
      metadata: { name: `${name}-statefulset-reader`, labels },
      rules: [{ apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: [name], verbs: ['get'] }],
    });
    new k8s.KubeRoleBinding(this, 'StatefulSetReaderBinding', {
      metadata: { name: `${name}-statefulset-reader`, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: setReader.name },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccountName, namespace }],
    });

    // Headless Service: gives each pod a stable DNS name. publishNotReadyAddresses lets peers find each
    // other while starting (a node is not Ready until it has joined the ring, which needs its peers).
    const peerService = new kplus.Service(this, 'PeerService', {
      metadata: { name: this.peerServiceName, labels },
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      ports: [
        { name: 'grpc', port: grpcPort, targetPort: grpcPort },
        { name: METRICS_PORT_NAME, port: metricsPort, targetPort: metricsPort },
      ],
    });

    // Client Service: load-balances client gRPC over Ready pods only; any node can coordinate.
    const clientService = new kplus.Service(this, 'ClientService', {
      metadata: { name: this.clientServiceName, labels },
      type: kplus.ServiceType.CLUSTER_IP,
      ports: [{ name: 'grpc', port: grpcPort, targetPort: grpcPort }],
    });

    // The claim template is named "data"; the StatefulSet drops this placeholder volume from the pod
    // spec and mounts the per-pod claim in its place.
    const dataVolume = kplus.Volume.fromEmptyDir(this, 'DataVolume', DATA_CLAIM_TEMPLATE);
    // The root filesystem is read-only; Node and the gRPC libraries may still write temp files.
    const tmpVolume = kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', { sizeLimit: Size.mebibytes(64) });
    // The zone, from the init container to the node: a few bytes.
    const zoneVolume = kplus.Volume.fromEmptyDir(this, 'ZoneVolume', 'zone', { sizeLimit: Size.mebibytes(1) });
    // The cluster's context keys: a Secret made in the cluster by the Job below, or by the operator
    // (never generated here, so no key is in the YAML).
    const contextKeysVolume = kplus.Volume.fromSecret(this, 'ContextKeysVolume', kplus.Secret.fromSecretName(this, 'ContextKeysSecret', contextKeysSecretName), {
      name: 'context-keys',
      items: { [CONTEXT_KEYS_ITEM]: { path: CONTEXT_KEYS_ITEM } },
      defaultMode: 0o440,
    });
    // TLS: the certificates (cert-manager) and the client auth file, mounted as whole directories so
    // that a renewal reaches the running node (it re-reads them; see kv-tls.ts).
    const tls = props.tls
      ? new KvTls(this, 'Tls', {
          name,
          namespace,
          peerServiceName: this.peerServiceName,
          clientServiceName: this.clientServiceName,
          clusterDomain,
          labels,
          clientCertificates: {
            // The gateways forward every client method, Inspect and Admin included, for clients they authorize themselves.
            ...(props.gateway ? { gateway: 'admin' as const } : {}),
            // A snapshot or a restore covers every key.
            ...(props.backup ? { backup: 'admin' as const } : {}),
            // The chaos chart's checker (chaos/chaos-mesh-chart.ts) reads every replica of its keys (Inspect).
            'chaos-checker': 'admin' as const,
          },
          grants: props.tls.clients ?? [],
          certificateHours: props.tls.certificateHours,
        })
      : undefined;
    this.tls = tls;
    const tlsVolumes = tls
      ? [
          { path: TLS_DIR, volume: kplus.Volume.fromSecret(this, 'TlsVolume', kplus.Secret.fromSecretName(this, 'NodeTlsSecret', tls.nodeSecretName), { name: 'tls', defaultMode: 0o440 }) },
          { path: CLIENT_AUTH_DIR, volume: kplus.Volume.fromConfigMap(this, 'ClientAuthVolume', kplus.ConfigMap.fromConfigMapName(this, 'ClientAuthConfigMap', tls.clientAuthConfigMapName), { name: 'clients' }) },
        ]
      : [];
    // The containers' security context: non-root, read-only root, nothing to escalate.
    const containerSecurity: kplus.ContainerSecurityContextProps = {
      ensureNonRoot: true,
      user: RUN_AS_ID,
      group: RUN_AS_ID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: [kplus.Capability.ALL] },
      seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
    };

    const set = new kplus.StatefulSet(this, 'StatefulSet', {
      metadata: { name, labels },
      // Stable selector labels instead of the construct-path label: a StatefulSet selector is immutable.
      select: false,
      // The default anti-affinity "spread" is replaced by topology spread constraints below.
      spread: false,
      podMetadata: { labels },
      replicas,
      service: peerService,
      // Parallel: nodes start together and find each other; ordered start would wait on readiness that
      // needs the peers. Stable names and volumes are unaffected. Parallel also removes every pod of
      // a scale-in at once (OrderedReady would remove them one by one, each after the last had
      // stopped): their preStop hooks all ask to leave, the claimant commits one change at a time,
      // and each hook retries until its leave is done, within the grace period (docs/operations.md).
      // The policy cannot change on an existing StatefulSet, so it stays what the first deploy chose.
      podManagementPolicy: kplus.PodManagementPolicy.PARALLEL,
      strategy: kplus.StatefulSetUpdateStrategy.rollingUpdate({ partition: updatePartition }),
      serviceAccount,
      // The API token for the zone read (init container) and the preStop hook; the roles above limit it.
      automountServiceAccountToken: true,
      // One grace period for every stop, because the hook decides only after the pod is told to stop;
      // a pod that is not scaled in stops within seconds of it anyway.
      terminationGracePeriod: Duration.seconds(scaleInGracePeriodSeconds),
      securityContext: {
        ensureNonRoot: true,
        user: RUN_AS_ID,
        group: RUN_AS_ID,
        // fsGroup makes the EBS volume writable by the non-root user; OnRootMismatch avoids a full
        // recursive chown of a large data directory on every restart.
        fsGroup: RUN_AS_ID,
        fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
      },
      // Immutable once the set exists: it keeps the creation size, and growth goes through the claims.
      volumeClaimTemplates: [
        {
          name: DATA_CLAIM_TEMPLATE,
          storageClassName,
          storage: Size.gibibytes(volumeClaimGiB),
          accessModes: [kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
        },
      ],
      initContainers: [
        {
          // The node's zone comes from the Kubernetes node the pod landed on, which is known only
          // once the pod is scheduled; the node reads it from the file (KV_ZONE_FILE).
          name: 'zone',
          image: props.image,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          args: ['k8s', 'zone', '--node-name', `$(${NODE_NAME_ENV})`, '--out', ZONE_FILE],
          envVariables: { [NODE_NAME_ENV]: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.NODE_NAME) },
          volumeMounts: [{ path: ZONE_DIR, volume: zoneVolume }],
          resources: {
            cpu: { request: kplus.Cpu.millis(50), limit: kplus.Cpu.millis(500) },
            memory: { request: Size.mebibytes(256), limit: Size.mebibytes(256) },
          },
          securityContext: containerSecurity,
        },
      ],
      containers: [
        {
          name: NODE_CONTAINER_NAME,
          image: props.image,
          // Tags are immutable in ECR (git SHA), so a cached image is always the right one.
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          args: ['node'],
          ports: [
            { name: 'grpc', number: grpcPort },
            { name: METRICS_PORT_NAME, number: metricsPort },
          ],
          envVariables: {
            // Named by the node's settings table, so the chart cannot set a variable the node does not read.
            // Order matters: KV_ADVERTISE expands $(KV_NODE_ID), which must be defined before it.
            ...nodeEnv({
              nodeId: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
              host: kplus.EnvValue.fromValue('0.0.0.0'),
              port: kplus.EnvValue.fromValue(String(grpcPort)),
              advertise: kplus.EnvValue.fromValue(advertiseAddress({ headlessServiceName: this.peerServiceName, namespace, clusterDomain, port: grpcPort })),
              // The founding members, never the replica count (see peer-list.ts); any other pod joins.
              peers: kplus.EnvValue.fromValue(peerList({ setName: name, foundingMembers, headlessServiceName: this.peerServiceName, namespace, clusterDomain, port: grpcPort })),
              join: kplus.EnvValue.fromValue('auto'),
              zoneFile: kplus.EnvValue.fromValue(ZONE_FILE),
              contextKeysFile: kplus.EnvValue.fromValue(`${CONTEXT_KEYS_DIR}/${CONTEXT_KEYS_ITEM}`),
              dataDir: kplus.EnvValue.fromValue(DATA_DIR),
              n: kplus.EnvValue.fromValue(String(n)),
              r: kplus.EnvValue.fromValue(String(r)),
              w: kplus.EnvValue.fromValue(String(w)),
              partitions: kplus.EnvValue.fromValue(String(partitions)),
              durability: kplus.EnvValue.fromValue(durability),
              metricsPort: kplus.EnvValue.fromValue(String(metricsPort)),
              logLevel: kplus.EnvValue.fromValue(logLevel),
            }),
            ...(props.tracing
              ? {
                  [settingEnv('traceSampleRatio')]: kplus.EnvValue.fromValue(String(props.tracing.sampleRatio)),
                  [OTLP_ENDPOINT_ENV]: kplus.EnvValue.fromValue(props.tracing.otlpEndpoint),
                }
              : {}),
            ...(props.backup
              ? {
                  [BACKUP_ENV.bucketName]: kplus.EnvValue.fromValue(props.backup.bucketName),
                  [BACKUP_ENV.prefix]: kplus.EnvValue.fromValue(props.backup.prefix),
                }
              : {}),
            ...(tls
              ? {
                  ...Object.fromEntries(Object.entries(nodeTlsSettings()).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
                  // The preStop hook's `kv admin leave` and `kv backup` run in the pod present the
                  // node's own certificate, which the node takes as an admin.
                  [CLIENT_SECURITY_ENV['tls-ca']]: kplus.EnvValue.fromValue(TLS_FILES.ca),
                  [CLIENT_SECURITY_ENV['tls-cert']]: kplus.EnvValue.fromValue(TLS_FILES.cert),
                  [CLIENT_SECURITY_ENV['tls-key']]: kplus.EnvValue.fromValue(TLS_FILES.key),
                }
              : {}),
          },
          volumeMounts: [
            { path: DATA_DIR, volume: dataVolume },
            { path: '/tmp', volume: tmpVolume },
            { path: ZONE_DIR, volume: zoneVolume, readOnly: true },
            { path: CONTEXT_KEYS_DIR, volume: contextKeysVolume, readOnly: true },
            ...tlsVolumes.map((v) => ({ ...v, readOnly: true })),
          ],
          // Probed over plain HTTP on the metrics port (observability/metrics.ts serve): the kubelet's
          // gRPC probes cannot speak TLS, which the gRPC port has with props.tls.
          // Startup allows up to 5 minutes for LMDB to open a large environment before liveness applies.
          startup: kplus.Probe.fromHttpGet(LIVE_PATH, { port: metricsPort, periodSeconds: Duration.seconds(5), failureThreshold: 60, timeoutSeconds: Duration.seconds(2) }),
          // Readiness: the node serves clients (not while joining or draining).
          readiness: kplus.Probe.fromHttpGet(READY_PATH, { port: metricsPort, periodSeconds: Duration.seconds(5), failureThreshold: 2, timeoutSeconds: Duration.seconds(2) }),
          // Liveness: the process answers. A node that is joining or draining is alive and is not killed for it.
          liveness: kplus.Probe.fromHttpGet(LIVE_PATH, { port: metricsPort, periodSeconds: Duration.seconds(10), failureThreshold: 3, timeoutSeconds: Duration.seconds(2) }),
          // Scale-in or restart: the hook asks the API and either leaves the cluster (scale-in) or
          // only pauses so that endpoints drop the pod (app/k8s/pre-stop.ts has the rule).
          lifecycle: {
            preStop: kplus.Handler.fromCommand([
              ...KV_COMMAND,
              'k8s',
              'pre-stop',
              '--statefulset',
              name,
              '--namespace',
              namespace,
              '--sleep-s',
              String(preStopSleepSeconds),
              '--budget-s',
              String(preStopBudgetSeconds),
              // Its own node first; the client Service if that one no longer answers.
              '--endpoint',
              `127.0.0.1:${grpcPort},${this.clientEndpoint}`,
              // The node's stderr: a hook's own output is shown only when it fails.
              '--log-file',
              '/proc/1/fd/2',
            ]),
          },
          resources: {
            cpu: { request: kplus.Cpu.millis(cpuRequestMillis), limit: kplus.Cpu.millis(cpuLimitMillis) },
            memory: { request: Size.mebibytes(memoryMiB), limit: Size.mebibytes(memoryMiB) },
          },
          securityContext: containerSecurity,
        },
      ],
    });
    set.select(kplus.LabelSelector.of({ labels }));
    peerService.select(kplus.Pods.select(this, 'PeerPods', { labels }));
    clientService.select(kplus.Pods.select(this, 'ClientPods', { labels }));

    // Fields cdk8s-plus does not model yet, patched with typed values so that a misspelt field is a
    // compile error rather than something the API server silently drops.
    const setObject = ApiObject.of(set);
    setObject.addJsonPatch(
      JsonPatch.add(
        '/spec/persistentVolumeClaimRetentionPolicy',
        // Retain: scaling down or deleting the set must never delete a node's data.
        k8s.toJson_StatefulSetPersistentVolumeClaimRetentionPolicy({ whenDeleted: 'Retain', whenScaled: 'Retain' }),
      ),
      JsonPatch.add('/spec/template/spec/topologySpreadConstraints', [
        // Hard zone spread: with N=3 over 3 zones, losing a zone must leave a quorum. The volume is
        // created in the pod's zone (WaitForFirstConsumer), so the pod stays there afterwards.
        k8s.toJson_TopologySpreadConstraint({
          maxSkew: 1,
          topologyKey: ZONE_LABEL,
          whenUnsatisfiable: 'DoNotSchedule',
          labelSelector: { matchLabels: labels },
        }),
      ]),
      // Hard host anti-affinity: two store nodes on one host would be one failure taking two
      // replicas of the partitions they share. A pod that finds no free host stays Pending (and
      // joins nothing) until there is one: keep a host per zone spare for replacements.
      JsonPatch.add(
        '/spec/template/spec/affinity',
        k8s.toJson_Affinity({
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: labels } }],
          },
        }),
      ),
    );

    // At most one node down by choice (drain, upgrade): with N=3, R=W=2 a quorum survives it.
    new k8s.KubePodDisruptionBudget(this, 'PodDisruptionBudget', {
      metadata: { name, labels },
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: labels } },
    });

    if (createContextKeys) {
      new KvContextKeys(this, 'ContextKeys', { name, namespace, image: props.image, secretName: contextKeysSecretName, podLabels: this.podLabels, runAsId: RUN_AS_ID });
    }

    if (props.backup) {
      new KvBackupJobs(this, 'Backup', {
        name,
        image: props.image,
        serviceAccountName,
        clientEndpoint: this.clientEndpoint,
        bucketName: props.backup.bucketName,
        prefix: props.backup.prefix,
        podLabels: this.podLabels,
        storageClassName,
        runAsId: RUN_AS_ID,
        schedule: props.backup.schedule,
        pruneSchedule: props.backup.pruneSchedule,
        keepLast: props.backup.keepLast,
        keepDays: props.backup.keepDays,
        spoolGiB: props.backup.spoolGiB ?? replicas * storageGiB,
        tls: tls && clientTlsParts(tls.clientSecretNames.backup!),
      });
    }

    if (props.gateway) {
      this.gateway = new KvGateway(this, 'Gateway', {
        ...props.gateway,
        name,
        image: props.image,
        grpcPort,
        metricsPort,
        metricsPortName: METRICS_PORT_NAME,
        clientEndpoint: this.clientEndpoint,
        podLabels: this.podLabels,
        clientNamespaceLabel,
        metricsNamespaceLabel,
        runAsId: RUN_AS_ID,
        tls: tls && serverTlsParts(tls.clientSecretNames.gateway!, tls.clientAuthConfigMapName),
      });
    }

    // Ingress only; egress stays open (peers, S3 for backups, DNS).
    new k8s.KubeNetworkPolicy(this, 'NetworkPolicy', {
      metadata: { name, labels },
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ['Ingress'],
        ingress: [
          // Peer traffic: the store's own pods, on the gRPC port (replication, hints, handoff).
          { from: [{ podSelector: { matchLabels: labels } }], ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(grpcPort) }] },
          // Client traffic: any pod in a namespace labelled `<clientNamespaceLabel>=true`, and the backup jobs.
          {
            from: [
              { namespaceSelector: { matchLabels: { [clientNamespaceLabel]: 'true' } } },
              { podSelector: { matchLabels: { ...labels, 'app.kubernetes.io/component': BACKUP_COMPONENT } } },
              { podSelector: { matchLabels: { ...labels, 'app.kubernetes.io/component': GATEWAY_COMPONENT } } },
            ],
            ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(grpcPort) }],
          },
          // Metrics scraping from labelled (monitoring) namespaces.
          {
            from: [{ namespaceSelector: { matchLabels: { [metricsNamespaceLabel]: 'true' } } }],
            ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(metricsPort) }],
          },
        ],
      },
    });
  }
}

/** The downward-API variable that carries the Kubernetes node's name into the init container. */
const NODE_NAME_ENV = 'KV_K8S_NODE_NAME';

interface ResolvedForValidation {
  readonly name: string;
  readonly namespace: string;
  readonly replicas: number;
  readonly foundingMembers: number;
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly partitions: number;
  readonly durability: string;
  readonly logLevel: string;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly storageGiB: number;
  readonly volumeClaimGiB: number;
  readonly cpuRequestMillis: number;
  readonly cpuLimitMillis: number;
  readonly memoryMiB: number;
  readonly updatePartition: number;
  readonly preStopSleepSeconds: number;
  readonly scaleInGracePeriodSeconds: number;
  readonly serviceAccountName: string;
  readonly image: string;
}

function fail(prop: string, value: unknown, fix: string): never {
  throw new Error(`KvStoreChart: ${prop} is ${JSON.stringify(value)}; ${fix}.`);
}

function isInt(v: number, min: number, max: number): boolean {
  return Number.isInteger(v) && v >= min && v <= max;
}

/** The environment variables of the node's settings, named by its table, in the order given. */
function nodeEnv(values: { readonly [K in SettingKey]?: kplus.EnvValue }): Record<string, kplus.EnvValue> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [settingEnv(key as SettingKey), value]));
}

/** The node's own bounds of an integer setting, optionally narrowed by what this chart allows. */
function nodeBounds(key: IntSettingKey, narrow: { readonly min?: number; readonly max?: number } = {}): { readonly min: number; readonly max: number } {
  const s = intSetting(key);
  return { min: Math.max(s.min, narrow.min ?? s.min), max: Math.min(s.max, narrow.max ?? s.max) };
}

function validate(p: ResolvedForValidation): void {
  // The longest pod name is `<name>-<replicas-1>`; the node requires KV_NODE_ID <= 63 chars of [a-z0-9-].
  const longestPod = `${p.name}-${p.replicas - 1}`;
  if (!DNS_LABEL.test(p.name) || longestPod.length > 63 || `${p.name}-peer`.length > 63) {
    fail('name', p.name, 'use a DNS label ([a-z0-9-]) short enough that "<name>-peer" and every pod name fit in 63 characters');
  }
  if (!DNS_LABEL.test(p.namespace) || p.namespace.length > 63) fail('namespace', p.namespace, 'use a DNS label of at most 63 characters');
  if (!DNS_LABEL.test(p.serviceAccountName)) fail('serviceAccountName', p.serviceAccountName, 'use a DNS label');
  if (p.image.trim() === '') fail('image', p.image, 'give the node image reference');
  // The node's settings are checked against the node's own table (app/node/config.ts): a chart must
  // not accept what every node would refuse, nor refuse what a node accepts without a reason of its own.
  const nBounds = nodeBounds('n');
  if (!isInt(p.n, nBounds.min, nBounds.max)) fail('n', p.n, `use ${nBounds.min} to ${nBounds.max} replicas per key`);
  if (!isInt(p.replicas, p.n, 256)) fail('replicas', p.replicas, `use at least n (${p.n}) and at most 256`);
  if (!isInt(p.foundingMembers, p.n, p.replicas)) {
    fail('foundingMembers', p.foundingMembers, `use n (${p.n}) to replicas (${p.replicas}): the founding pods ${p.name}-0 .. ${p.name}-${p.foundingMembers - 1} must all exist, and hold N replicas of every key between them`);
  }
  for (const key of ['r', 'w'] as const) {
    const bounds = nodeBounds(key, { max: p.n });
    if (!isInt(p[key], bounds.min, bounds.max)) fail(key, p[key], `use ${bounds.min} to n (${p.n})`);
  }
  const partitionBounds = nodeBounds('partitions');
  if (!isPowerOfTwo(p.partitions) || !isInt(p.partitions, partitionBounds.min, partitionBounds.max)) {
    fail('partitions', p.partitions, `use a power of two up to ${partitionBounds.max}, such as ${intDefault('partitions')}`);
  }
  if (p.partitions < p.replicas) fail('partitions', p.partitions, `use at least one partition per node (replicas = ${p.replicas})`);
  for (const [key, setting, port] of [['grpcPort', 'port', p.grpcPort], ['metricsPort', 'metricsPort', p.metricsPort]] as const) {
    // Ports below 1024 need NET_BIND_SERVICE, which the security context drops (and the node's
    // metrics port 0, "off", would leave the Service and the probes without a port).
    const bounds = nodeBounds(setting, { min: 1024 });
    if (!isInt(port, bounds.min, bounds.max)) fail(key, port, `use a port from ${bounds.min} to ${bounds.max}`);
  }
  for (const [key, value] of [['durability', p.durability], ['logLevel', p.logLevel]] as const) {
    const allowed: readonly string[] = enumSetting(key).values;
    if (!allowed.includes(value)) fail(key, value, `use one of ${allowed.join(', ')}`);
  }
  if (p.grpcPort === p.metricsPort) fail('metricsPort', p.metricsPort, 'use a port different from grpcPort');
  if (!isInt(p.storageGiB, 1, 16384)) fail('storageGiB', p.storageGiB, 'use 1 to 16384 GiB');
  if (!isInt(p.volumeClaimGiB, 1, 16384)) fail('volumeClaimGiB', p.volumeClaimGiB, 'use 1 to 16384 GiB, the size the StatefulSet\'s volume claims were created with');
  if (p.storageGiB < p.volumeClaimGiB) {
    fail(
      'storageGiB',
      p.storageGiB,
      `use at least volumeClaimGiB (${p.volumeClaimGiB}), the size the volume claims were created with: a volume grows but never shrinks (for a new cluster with smaller volumes, set volumeClaimGiB to the same size)`,
    );
  }
  if (!isInt(p.cpuRequestMillis, 1, 64000)) fail('cpuRequestMillis', p.cpuRequestMillis, 'use 1 to 64000');
  if (!isInt(p.cpuLimitMillis, p.cpuRequestMillis, 64000)) fail('cpuLimitMillis', p.cpuLimitMillis, 'use at least cpuRequestMillis');
  if (!isInt(p.memoryMiB, 128, 1 << 20)) fail('memoryMiB', p.memoryMiB, 'use at least 128 MiB');
  if (!isInt(p.updatePartition, 0, p.replicas)) fail('updatePartition', p.updatePartition, `use 0 to replicas (${p.replicas})`);
  if (!isInt(p.preStopSleepSeconds, 0, 60)) fail('preStopSleepSeconds', p.preStopSleepSeconds, 'use 0 to 60');
  // The hook's budget is what the grace period leaves after the drain and a margin.
  const graceMin = Math.max(p.preStopSleepSeconds, PRE_STOP_BUDGET_SECONDS_MIN) + NODE_DRAIN_SECONDS + PRE_STOP_MARGIN_SECONDS;
  if (!isInt(p.scaleInGracePeriodSeconds, graceMin, 86_400)) {
    fail(
      'scaleInGracePeriodSeconds',
      p.scaleInGracePeriodSeconds,
      `use ${graceMin} to 86400 (a day): the leave's budget (at least ${PRE_STOP_BUDGET_SECONDS_MIN} s) + ${NODE_DRAIN_SECONDS} s of drain + ${PRE_STOP_MARGIN_SECONDS} s of margin; size it as data per node / transfer-keys-per-second-max (docs/operations.md)`,
    );
  }
}

/**
 * Deployment configuration: parsed once from CDK context (and a few environment variables read by
 * bin/infra.ts), validated, and frozen. Nothing else in lib/ or constructs/ reads context or env,
 * and no stack sees this object: lib/app.ts resolves each stack's flat props from it.
 *
 * Usage: `npx cdk synth -c profile=dev -c account=123456789012 -c region=eu-west-1`.
 * Every profile value can be overridden by a context key of the same name (listed in CONTEXT_KEYS).
 */
import { intDefault, intSetting, IntSettingKey } from '../app/node/config';
import { isPowerOfTwo } from '../app/ring/ring';
import { OBSERVABILITY_SIZING } from '../observability/sizing';

/** Profiles that exist; `-c profile=<name>` picks one. */
export const PROFILE_NAMES = ['dev', 'prod'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/**
 * The account used when none is given, so that `cdk synth` works offline in CI with no credentials.
 * It is not a real account: `cdk deploy` with it fails at the credentials check, which is the point.
 */
export const PLACEHOLDER_ACCOUNT = '000000000000';
/** The region used when none is given (synth only, like the placeholder account). */
export const PLACEHOLDER_REGION = 'eu-west-1';
/**
 * The image tag used when none is given with the placeholder account, so that synth in CI and tests
 * needs no tag. With a real account `imageTag` is required; the cluster stack checks at deploy time
 * that the tag is in the repository, so even this name could never reach running pods.
 */
export const PLACEHOLDER_IMAGE_TAG = 'synth-only-no-image';

/**
 * The Kubernetes minor version the cluster runs. It is pinned (not "latest") because three things
 * must move together: this value, the kubectl Lambda layer package (@aws-cdk/lambda-layer-kubectl-v34)
 * and the cdk8s-plus package (cdk8s-plus-34). See docs/dependencies.md.
 */
export const KUBERNETES_VERSION = '1.34';

/** EKS control-plane log types we always enable (cdk-nag cannot check aws-eks-v2 clusters; tests do). */
export const CONTROL_PLANE_LOG_TYPES = ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'] as const;

export interface NodeGroupConfig {
  /** EC2 instance types for every per-zone managed node group, e.g. ['m7i.large']. */
  readonly instanceTypes: readonly string[];
  /** Nodes per zone (each zone has its own node group because EBS volumes are zonal). */
  readonly minSizePerZone: number;
  readonly desiredSizePerZone: number;
  readonly maxSizePerZone: number;
  /** Root volume of each node, GiB. */
  readonly diskSizeGiB: number;
}

export interface StoreConfig {
  /** Kubernetes namespace the store runs in. */
  readonly namespace: string;
  /** StatefulSet replicas, i.e. store nodes. */
  readonly replicas: number;
  /** Replication factor N, read quorum R and write quorum W handed to every node (the node's bounds apply). */
  readonly n: number;
  readonly r: number;
  readonly w: number;
  /** Fixed number of ring partitions (power of two). */
  readonly partitions: number;
  /** Size of each node's data volume, GiB. Raising it grows the volumes (through their claims). */
  readonly storageGiB: number;
  /**
   * Size in the StatefulSet's volume claim template, GiB: fixed when the store's StatefulSet was
   * created (the API server refuses to change it), and at most storageGiB. docs/operations.md,
   * "Grow the disks".
   */
  readonly volumeClaimGiB: number;
  /**
   * Tag of the node image in the ECR repository (the deploy workflow passes the git SHA). Required
   * with a real account; PLACEHOLDER_IMAGE_TAG with the placeholder account (synth only).
   */
  readonly imageTag: string;
  /**
   * TLS on the store's gRPC port, mutual TLS between nodes and client authorization, with
   * certificates from cert-manager (which the cluster stack then installs).
   */
  readonly tls: boolean;
}

export interface BackupConfig {
  /** Key prefix under which the nodes write backups; the store's IAM role can touch only this. */
  readonly prefix: string;
  /** Days after which current backup objects move to S3 Glacier Instant Retrieval. */
  readonly transitionAfterDays: number;
  /** Days after which noncurrent (overwritten or deleted) versions expire. */
  readonly noncurrentExpireAfterDays: number;
}

/** How the store is watched (observability/monitoring-chart.ts): the scrape and the notifications. */
export interface MonitoringConfig {
  /** How often Prometheus scrapes each node's /metrics. */
  readonly scrapeIntervalSeconds: number;
  /** How often Alertmanager repeats a notification of an alert that still fires. */
  readonly alertRepeatIntervalHours: number;
}

/**
 * The monitoring stack's knobs (constructs/aws/kv-observability.ts); everything else about it,
 * replicas and container sizes, follows the profile (observability/sizing.ts).
 */
export interface ObservabilityConfig {
  /** Share of client operations the nodes trace (KV_TRACE_SAMPLE_RATIO), 0 (off) to 1. */
  readonly traceSampleRatio: number;
  /** Days of samples Prometheus keeps, and each Prometheus replica's volume, GiB. */
  readonly prometheusRetentionDays: number;
  readonly prometheusStorageGiB: number;
  /** Elasticsearch nodes (1, or 3 or more) and each one's volume, GiB. */
  readonly elasticsearchNodes: number;
  readonly elasticsearchStorageGiB: number;
  /** Days of traces, and of the store nodes' logs, kept in Elasticsearch. */
  readonly traceRetentionDays: number;
  readonly nodeLogRetentionDays: number;
}

export interface DeploymentConfig {
  readonly profile: ProfileName;
  readonly account: string;
  readonly region: string;
  /** Exactly three availability zones, named explicitly so that synth does no lookups. */
  readonly availabilityZones: readonly string[];
  readonly vpcCidr: string;
  /** 1 (dev: cheaper, one zone's NAT is a single point of egress failure) or 3 (prod: one per zone). */
  readonly natGateways: number;
  /** Days that VPC flow logs and EKS control-plane logs are kept. */
  readonly logRetentionDays: number;
  readonly kubernetesVersion: string;
  /** Public CIDRs allowed to reach the EKS API endpoint; empty means the endpoint is private only. */
  readonly endpointPublicCidrs: readonly string[];
  /** IAM role ARN given cluster-admin through an EKS access entry; empty means none. */
  readonly adminRoleArn: string;
  readonly nodeGroups: NodeGroupConfig;
  readonly store: StoreConfig;
  readonly backup: BackupConfig;
  readonly monitoring: MonitoringConfig;
  readonly observability: ObservabilityConfig;
  /**
   * Whether the cluster stack installs Chaos Mesh (constructs/aws/kv-chaos-mesh.ts) and the store's
   * chaos chart: a privileged daemon on every node, whose purpose is to break the store.
   */
  readonly chaosMesh: boolean;
  /** GitHub "owner/repo" whose workflows may assume the deploy role. */
  readonly githubRepository: string;
  /** GitHub environment the deploy job runs in (its name appears in the OIDC subject). */
  readonly githubEnvironment: string;
  /**
   * GitHub environment of the jobs that only read (`cdk diff` before a deploy, the rollout check
   * after it); by default `<githubEnvironment>-read`. Never the deploy environment.
   */
  readonly githubReadEnvironment: string;
  /** Whether this stack creates the account's GitHub OIDC provider (only one may exist per account). */
  readonly createGithubOidcProvider: boolean;
  /** Prefix of every stack name, e.g. "KvDev". */
  readonly stackPrefix: string;
}

/** Thrown for any bad configuration value; the message names the key, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(key: string, value: unknown, allowed: string) {
    super(`Invalid deployment config: "${key}" is ${JSON.stringify(value)}; ${allowed}.`);
    this.name = 'ConfigError';
  }
}

type ProfileDefaults = Omit<DeploymentConfig, 'profile' | 'account' | 'region' | 'availabilityZones' | 'githubReadEnvironment' | 'store'> & {
  readonly store: Omit<StoreConfig, 'imageTag'>;
};

// N, R, W and partitions are the node's own defaults (app/node/config.ts), so a deployment and a
// node started by hand agree unless a profile says otherwise.
const COMMON_STORE: ProfileDefaults['store'] = {
  namespace: 'kv',
  replicas: 3,
  n: intDefault('n'),
  r: intDefault('r'),
  w: intDefault('w'),
  partitions: intDefault('partitions'),
  storageGiB: 20,
  // The size the StatefulSet is created with (prod's is below); it never changes afterwards:
  // storageGiB grows the volumes through their claims.
  volumeClaimGiB: 20,
  // Off in dev: its chaos checker, load tests and kubectl port-forwards speak plaintext. prod turns it on.
  tls: false,
};

/** A profile's monitoring-stack knobs: the sizing table's values for that profile. */
function observabilityDefaults(profile: ProfileName): ObservabilityConfig {
  const s = OBSERVABILITY_SIZING[profile];
  return {
    traceSampleRatio: s.traceSampleRatio,
    prometheusRetentionDays: s.prometheus.retentionDays,
    prometheusStorageGiB: s.prometheus.storageGiB,
    elasticsearchNodes: s.elasticsearch.nodes,
    elasticsearchStorageGiB: s.elasticsearch.storageGiB,
    traceRetentionDays: s.traceRetentionDays,
    nodeLogRetentionDays: s.nodeLogRetentionDays,
  };
}

const COMMON_BACKUP: BackupConfig = { prefix: 'kv-backups', transitionAfterDays: 30, noncurrentExpireAfterDays: 90 };

/** Profile defaults. dev is the cheapest setup that still spans three zones; prod is sized for load. */
export const PROFILES: Readonly<Record<ProfileName, ProfileDefaults>> = {
  dev: {
    vpcCidr: '10.40.0.0/16',
    natGateways: 1,
    logRetentionDays: 14,
    kubernetesVersion: KUBERNETES_VERSION,
    endpointPublicCidrs: [],
    adminRoleArn: '',
    nodeGroups: { instanceTypes: ['t3.large'], minSizePerZone: 1, desiredSizePerZone: 1, maxSizePerZone: 2, diskSizeGiB: 30 },
    store: COMMON_STORE,
    backup: COMMON_BACKUP,
    // A coarser scrape and a daily reminder: nobody is paged for a development cluster.
    monitoring: { scrapeIntervalSeconds: 30, alertRepeatIntervalHours: 24 },
    // A tenth of the operations traced: enough to find one of each kind while developing.
    observability: observabilityDefaults('dev'),
    // Chaos experiments belong where breaking the store costs nothing.
    chaosMesh: true,
    githubRepository: 'example-org/dynamo-kv',
    githubEnvironment: 'dev',
    createGithubOidcProvider: true,
    stackPrefix: 'KvDev',
  },
  prod: {
    vpcCidr: '10.50.0.0/16',
    natGateways: 3,
    logRetentionDays: 90,
    kubernetesVersion: KUBERNETES_VERSION,
    endpointPublicCidrs: [],
    adminRoleArn: '',
    nodeGroups: { instanceTypes: ['m7i.xlarge'], minSizePerZone: 2, desiredSizePerZone: 2, maxSizePerZone: 4, diskSizeGiB: 50 },
    store: { ...COMMON_STORE, replicas: 6, storageGiB: 200, volumeClaimGiB: 200, tls: true },
    backup: { ...COMMON_BACKUP, noncurrentExpireAfterDays: 365 },
    monitoring: { scrapeIntervalSeconds: 15, alertRepeatIntervalHours: 4 },
    // One operation in a hundred: the spans' cost stays small at load, and slow ones still show.
    observability: observabilityDefaults('prod'),
    // Off: `-c chaosMesh=true` to run experiments against production on purpose.
    chaosMesh: false,
    githubRepository: 'example-org/dynamo-kv',
    githubEnvironment: 'prod',
    createGithubOidcProvider: true,
    stackPrefix: 'KvProd',
  },
};

/**
 * Context keys that override profile values. Flat names keep `-c key=value` usable from a shell;
 * lists are comma-separated.
 */
export const CONTEXT_KEYS = [
  'profile',
  'account',
  'region',
  'availabilityZones',
  'vpcCidr',
  'natGateways',
  'logRetentionDays',
  'endpointPublicCidrs',
  'adminRoleArn',
  'nodeInstanceTypes',
  'nodesPerZone',
  'nodesPerZoneMax',
  'replicas',
  'storageGiB',
  'volumeClaimGiB',
  'imageTag',
  'backupPrefix',
  'githubRepository',
  'githubEnvironment',
  'githubReadEnvironment',
  'createGithubOidcProvider',
  'traceSampleRatio',
  'prometheusRetentionDays',
  'prometheusStorageGiB',
  'elasticsearchNodes',
  'elasticsearchStorageGiB',
  'traceRetentionDays',
  'nodeLogRetentionDays',
  'chaosMesh',
  'tls',
] as const;

/** Where values come from: CDK context (`app.node.tryGetContext`) and the process environment. */
export interface ConfigSources {
  readonly context: (key: string) => unknown;
  readonly env: Readonly<Record<string, string | undefined>>;
}

// CloudWatch Logs accepts only these retention periods (days).
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Reads and validates the deployment config. Throws ConfigError on the first bad value. */
export function loadConfig(sources: ConfigSources): DeploymentConfig {
  const ctx = (key: string): unknown => sources.context(key);

  const profileValue = ctx('profile') ?? 'dev';
  if (typeof profileValue !== 'string' || !(PROFILE_NAMES as readonly string[]).includes(profileValue)) {
    throw new ConfigError('profile', profileValue, `allowed: ${PROFILE_NAMES.join(', ')} (pass -c profile=dev)`);
  }
  const profile = profileValue as ProfileName;
  const d = PROFILES[profile];

  const account = str('account', ctx('account') ?? sources.env.KV_AWS_ACCOUNT ?? sources.env.CDK_DEFAULT_ACCOUNT ?? PLACEHOLDER_ACCOUNT);
  if (!/^\d{12}$/.test(account)) throw new ConfigError('account', account, 'expected a 12-digit AWS account id');
  const region = str('region', ctx('region') ?? sources.env.KV_AWS_REGION ?? sources.env.CDK_DEFAULT_REGION ?? PLACEHOLDER_REGION);
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new ConfigError('region', region, 'expected an AWS region such as eu-west-1');

  const availabilityZones = list('availabilityZones', ctx('availabilityZones'), [`${region}a`, `${region}b`, `${region}c`]);
  if (availabilityZones.length !== 3 || new Set(availabilityZones).size !== 3) {
    throw new ConfigError('availabilityZones', availabilityZones.join(','), 'expected exactly three distinct zones');
  }
  for (const az of availabilityZones) {
    if (!az.startsWith(region) || !/^[a-z]$/.test(az.slice(region.length))) {
      throw new ConfigError('availabilityZones', az, `expected zones of ${region}, such as ${region}a`);
    }
  }

  const vpcCidr = str('vpcCidr', ctx('vpcCidr') ?? d.vpcCidr);
  const cidrMatch = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(vpcCidr);
  if (!cidrMatch || Number(cidrMatch[5]) < 16 || Number(cidrMatch[5]) > 20 || cidrMatch.slice(1, 5).some((o) => Number(o) > 255)) {
    throw new ConfigError('vpcCidr', vpcCidr, 'expected an IPv4 CIDR with a prefix between /16 and /20');
  }

  const natGateways = int('natGateways', ctx('natGateways') ?? d.natGateways);
  if (natGateways !== 1 && natGateways !== 3) {
    throw new ConfigError('natGateways', natGateways, 'allowed: 1 (one shared NAT gateway) or 3 (one per zone)');
  }

  const logRetentionDays = int('logRetentionDays', ctx('logRetentionDays') ?? d.logRetentionDays);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    throw new ConfigError('logRetentionDays', logRetentionDays, `allowed: ${LOG_RETENTION_DAYS.join(', ')}`);
  }

  const endpointPublicCidrs = list('endpointPublicCidrs', ctx('endpointPublicCidrs'), d.endpointPublicCidrs);
  for (const cidr of endpointPublicCidrs) {
    if (!/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidr) || cidr.endsWith('/0')) {
      throw new ConfigError('endpointPublicCidrs', cidr, 'expected specific IPv4 CIDRs (never /0); leave empty for a private endpoint');
    }
  }

  const adminRoleArn = str('adminRoleArn', ctx('adminRoleArn') ?? d.adminRoleArn);
  if (adminRoleArn !== '' && !/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(adminRoleArn)) {
    throw new ConfigError('adminRoleArn', adminRoleArn, 'expected an IAM role ARN such as arn:aws:iam::123456789012:role/Admin, or empty');
  }

  const instanceTypes = list('nodeInstanceTypes', ctx('nodeInstanceTypes'), d.nodeGroups.instanceTypes);
  for (const t of instanceTypes) {
    if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(t)) throw new ConfigError('nodeInstanceTypes', t, 'expected EC2 instance types such as m7i.large');
  }
  if (instanceTypes.length === 0) throw new ConfigError('nodeInstanceTypes', '', 'expected at least one instance type');
  const desiredSizePerZone = int('nodesPerZone', ctx('nodesPerZone') ?? d.nodeGroups.desiredSizePerZone);
  const maxSizePerZone = int('nodesPerZoneMax', ctx('nodesPerZoneMax') ?? Math.max(d.nodeGroups.maxSizePerZone, desiredSizePerZone));
  if (desiredSizePerZone < 1 || desiredSizePerZone > 20) {
    throw new ConfigError('nodesPerZone', desiredSizePerZone, 'expected 1 to 20 nodes per zone');
  }
  if (maxSizePerZone < desiredSizePerZone || maxSizePerZone > 50) {
    throw new ConfigError('nodesPerZoneMax', maxSizePerZone, `expected ${desiredSizePerZone} (nodesPerZone) to 50`);
  }

  checkStoreQuorum(d.store);
  const replicas = int('replicas', ctx('replicas') ?? d.store.replicas);
  if (replicas < d.store.n || replicas > 64) {
    throw new ConfigError('replicas', replicas, `expected ${d.store.n} (the replication factor N) to 64`);
  }
  // The store's chart keeps its pods on distinct hosts (hard anti-affinity): a pod beyond the hosts
  // would stay Pending. The zones are three, so there are 3 × nodesPerZone hosts.
  const hosts = 3 * desiredSizePerZone;
  if (replicas > hosts) {
    throw new ConfigError('replicas', replicas, `expected at most ${hosts}, the worker hosts (3 zones × nodesPerZone ${desiredSizePerZone}): the store runs one pod a host; raise nodesPerZone`);
  }
  const storageGiB = int('storageGiB', ctx('storageGiB') ?? d.store.storageGiB);
  if (storageGiB < 1 || storageGiB > 16384) throw new ConfigError('storageGiB', storageGiB, 'expected 1 to 16384 GiB (the gp3 limit)');
  const volumeClaimGiB = int('volumeClaimGiB', ctx('volumeClaimGiB') ?? d.store.volumeClaimGiB);
  if (volumeClaimGiB < 1 || volumeClaimGiB > 16384) {
    throw new ConfigError('volumeClaimGiB', volumeClaimGiB, 'expected 1 to 16384 GiB: the size the store\'s StatefulSet was created with (its volume claim template)');
  }
  if (storageGiB < volumeClaimGiB) {
    throw new ConfigError(
      'storageGiB',
      storageGiB,
      `expected at least ${volumeClaimGiB} (volumeClaimGiB, the size the volumes were created with): a volume grows but never shrinks; for a new cluster with smaller volumes set volumeClaimGiB to the same size`,
    );
  }
  // No default tag with a real account: a default such as "latest" in an immutable repository names
  // whatever was pushed first, or nothing at all.
  const imageTagValue = ctx('imageTag') ?? (account === PLACEHOLDER_ACCOUNT ? PLACEHOLDER_IMAGE_TAG : undefined);
  if (imageTagValue === undefined) {
    throw new ConfigError('imageTag', imageTagValue, `required with account ${account}: pass -c imageTag=<the git SHA of an image pushed to the registry> (the deploy workflow passes the commit's SHA)`);
  }
  const imageTag = str('imageTag', imageTagValue);
  if (!/^[\w][\w.-]{0,127}$/.test(imageTag)) throw new ConfigError('imageTag', imageTag, 'expected a Docker tag ([A-Za-z0-9_.-], at most 128), such as the git SHA the image was built from');
  if (imageTag === 'latest') {
    throw new ConfigError('imageTag', imageTag, 'expected the tag of one build, such as its git SHA: the repository\'s tags are immutable, so "latest" would name the first image ever pushed');
  }

  const backupPrefix = str('backupPrefix', ctx('backupPrefix') ?? d.backup.prefix);
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(backupPrefix)) {
    throw new ConfigError('backupPrefix', backupPrefix, 'expected [a-z0-9-], at most 63 characters, no slashes');
  }

  const githubRepository = str('githubRepository', ctx('githubRepository') ?? d.githubRepository);
  if (!/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(githubRepository)) {
    throw new ConfigError('githubRepository', githubRepository, 'expected "owner/repo" with no wildcards');
  }
  const githubEnvironment = str('githubEnvironment', ctx('githubEnvironment') ?? d.githubEnvironment);
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(githubEnvironment)) {
    throw new ConfigError('githubEnvironment', githubEnvironment, 'expected a GitHub environment name ([A-Za-z0-9_-])');
  }
  const githubReadEnvironment = str('githubReadEnvironment', ctx('githubReadEnvironment') ?? `${githubEnvironment}-read`);
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(githubReadEnvironment) || githubReadEnvironment === githubEnvironment) {
    throw new ConfigError(
      'githubReadEnvironment',
      githubReadEnvironment,
      `expected a GitHub environment name ([A-Za-z0-9_-]) other than githubEnvironment (${githubEnvironment}), such as ${githubEnvironment}-read: the read-only jobs must run without the deploy environment's approval`,
    );
  }
  const createGithubOidcProvider = bool('createGithubOidcProvider', ctx('createGithubOidcProvider') ?? d.createGithubOidcProvider);

  const o = d.observability;
  const traceSampleRatio = num('traceSampleRatio', ctx('traceSampleRatio') ?? o.traceSampleRatio);
  if (!(traceSampleRatio >= 0 && traceSampleRatio <= 1)) {
    throw new ConfigError('traceSampleRatio', traceSampleRatio, 'expected 0 (tracing off) to 1 (every operation), such as 0.01');
  }
  const days = (key: 'prometheusRetentionDays' | 'traceRetentionDays' | 'nodeLogRetentionDays'): number => {
    const value = int(key, ctx(key) ?? o[key]);
    if (value < 1 || value > 365) throw new ConfigError(key, value, 'expected 1 to 365 days');
    return value;
  };
  const gib = (key: 'prometheusStorageGiB' | 'elasticsearchStorageGiB'): number => {
    const value = int(key, ctx(key) ?? o[key]);
    if (value < 2 || value > 16384) throw new ConfigError(key, value, 'expected 2 to 16384 GiB (the gp3 limit)');
    return value;
  };
  const elasticsearchNodes = int('elasticsearchNodes', ctx('elasticsearchNodes') ?? o.elasticsearchNodes);
  // Two master-eligible nodes lose their quorum with either one: no better than one, at twice the cost.
  if (!(elasticsearchNodes === 1 || (elasticsearchNodes >= 3 && elasticsearchNodes <= 15))) {
    throw new ConfigError('elasticsearchNodes', elasticsearchNodes, 'expected 1 (no redundancy) or 3 to 15 (a master quorum survives the loss of a node or a zone)');
  }
  const chaosMesh = bool('chaosMesh', ctx('chaosMesh') ?? d.chaosMesh);
  const tls = bool('tls', ctx('tls') ?? d.store.tls);

  const observability: ObservabilityConfig = {
    traceSampleRatio,
    prometheusRetentionDays: days('prometheusRetentionDays'),
    prometheusStorageGiB: gib('prometheusStorageGiB'),
    elasticsearchNodes,
    elasticsearchStorageGiB: gib('elasticsearchStorageGiB'),
    traceRetentionDays: days('traceRetentionDays'),
    nodeLogRetentionDays: days('nodeLogRetentionDays'),
  };

  return deepFreeze({
    ...d,
    profile,
    account,
    region,
    availabilityZones,
    vpcCidr,
    natGateways,
    logRetentionDays,
    endpointPublicCidrs,
    adminRoleArn,
    nodeGroups: { ...d.nodeGroups, instanceTypes, desiredSizePerZone, maxSizePerZone, minSizePerZone: Math.min(d.nodeGroups.minSizePerZone, desiredSizePerZone) },
    store: { ...d.store, replicas, storageGiB, volumeClaimGiB, imageTag, tls },
    backup: { ...d.backup, prefix: backupPrefix },
    githubRepository,
    githubEnvironment,
    githubReadEnvironment,
    createGithubOidcProvider,
    observability,
    chaosMesh,
  });
}

/**
 * Checks a profile's N, R, W and partitions against the bounds every node applies (the node's
 * settings table), so that a profile cannot deploy pods that refuse to start. The store's chart
 * checks the same bounds again when it is built.
 */
export function checkStoreQuorum(store: Pick<StoreConfig, 'n' | 'r' | 'w' | 'partitions'>): void {
  const within = (key: IntSettingKey & keyof typeof store, max?: number): void => {
    const s = intSetting(key);
    const top = Math.min(s.max, max ?? s.max);
    const value = store[key];
    if (!Number.isInteger(value) || value < s.min || value > top) {
      throw new ConfigError(`store.${key}`, value, `expected ${s.min} to ${max === undefined ? top : `N (${store.n})`}, the bounds of the node's ${s.env}`);
    }
  };
  within('n');
  within('r', store.n);
  within('w', store.n);
  within('partitions');
  if (!isPowerOfTwo(store.partitions)) throw new ConfigError('store.partitions', store.partitions, `expected a power of two, such as ${intDefault('partitions')}`);
}

function str(key: string, value: unknown): string {
  if (typeof value !== 'string') throw new ConfigError(key, value, 'expected a string');
  return value;
}

// Context from `-c key=value` arrives as a string; from cdk.json it may be a number or boolean.
function int(key: string, value: unknown): number {
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new ConfigError(key, value, 'expected an integer');
  return n;
}

// A decimal such as 0.05, from `-c key=0.05` or a number in cdk.json.
function num(key: string, value: unknown): number {
  const n = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new ConfigError(key, value, 'expected a number such as 0.05');
  return n;
}

function bool(key: string, value: unknown): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ConfigError(key, value, 'expected true or false');
}

function list(key: string, value: unknown, fallback: readonly string[]): string[] {
  if (value === undefined) return [...fallback];
  if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return [...value];
  throw new ConfigError(key, value, 'expected a comma-separated string or a list of strings');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Traces and logs of the store, as code: what the operators installed by the cluster stack
 * (constructs/aws/kv-observability.ts) turn into running services.
 *
 * Traces. The store nodes send OTLP/HTTP to an OpenTelemetry Collector ("kv-otel", an
 * OpenTelemetryCollector of the OpenTelemetry operator), which limits its memory, batches, and
 * forwards over OTLP/gRPC to Jaeger v2. Jaeger stores the spans in Elasticsearch (daily indices, a
 * CronJob deletes those older than traceRetentionDays) and serves its UI on port 16686.
 *
 * Logs. Filebeat (a Beat of ECK, one pod per Kubernetes node) reads the store pods' container logs,
 * one ECS JSON object per line, and ships each line's fields at the top level of the document to
 * the same Elasticsearch, where an ILM policy deletes them after nodeLogRetentionDays. Kibana reads
 * that Elasticsearch.
 *
 * The custom resources are plain ApiObjects whose schemas are the operators' CRDs; the tests
 * validate each against its CRD (test/infra/telemetry-chart.test.ts), the standard objects against
 * the Kubernetes schema.
 */
import { createHash } from 'node:crypto';
import { ApiObject, Chart, ChartProps, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import type { KvStoreChart } from '../constructs/k8s/kv-store-chart';
import { MONITORING_NAMESPACE } from './monitoring-namespace-chart';
import { ContainerSize, OBSERVABILITY_PROFILE_NAMES, OBSERVABILITY_SIZING, ObservabilityProfileName, resourcesOf } from './sizing';
import { toYaml, YamlValue } from './yaml-text';

const k8s = kplus.k8s;

/** Elasticsearch, Kibana and Filebeat move together: ECK runs each at this version. */
export const ELASTIC_STACK_VERSION = '9.4.3';
/** Jaeger v2 (an OpenTelemetry Collector distribution) and its index cleaner, released together. */
export const JAEGER_VERSION = '2.20.0';
export const JAEGER_IMAGE = `jaegertracing/jaeger:${JAEGER_VERSION}`;
export const JAEGER_INDEX_CLEANER_IMAGE = `jaegertracing/jaeger-es-index-cleaner:${JAEGER_VERSION}`;

export const OTLP_GRPC_PORT = 4317;
export const OTLP_HTTP_PORT = 4318;
export const JAEGER_QUERY_PORT = 16686;
/** The health check extension's port (the collector's convention, Jaeger's too). */
const HEALTH_PORT = 13133;
/** Elasticsearch's HTTP port on the Service ECK creates. */
export const ELASTICSEARCH_PORT = 9200;

/** Names of what the chart creates; Services and Secrets derived from them follow the operators' conventions. */
export const COLLECTOR_NAME = 'kv-otel';
export const JAEGER_NAME = 'kv-jaeger';
export const ELASTICSEARCH_NAME = 'kv-elastic';
export const KIBANA_NAME = 'kv-kibana';
export const FILEBEAT_NAME = 'kv-filebeat';
/** Jaeger's indices are `<prefix>-jaeger-span-<date>` ...; the index cleaner deletes by the same prefix. */
export const TRACE_INDEX_PREFIX = 'kv';
/**
 * The user ECK creates for administration; Jaeger and the index cleaner sign in as it (a role of
 * their own would need ECK's file realm and a password kept somewhere: docs/observability.md).
 */
const ELASTIC_USER = 'elastic';
/** The ILM policy Filebeat installs for its data stream (its default name, whose content we replace). */
const FILEBEAT_ILM_POLICY_FILE = '/usr/share/filebeat/ilm/policy.json';

/** The Service the OpenTelemetry operator creates for a collector `name` (`<name>-collector`). */
export function collectorServiceName(name: string = COLLECTOR_NAME): string {
  return `${name}-collector`;
}

/**
 * The OTLP/HTTP endpoint of the collector this chart deploys into `namespace`: what the store
 * chart's `tracing.otlpEndpoint` takes (the SDK appends /v1/traces). A function of the namespace
 * alone, so that the store chart can be given it before this chart, which reads the store, exists.
 */
export function collectorOtlpHttpEndpoint(namespace: string = MONITORING_NAMESPACE, clusterDomain = 'cluster.local'): string {
  return `http://${collectorServiceName()}.${namespace}.svc.${clusterDomain}:${OTLP_HTTP_PORT}`;
}

export interface KvTelemetryChartProps extends ChartProps {
  /** The store whose pods' logs Filebeat ships (its namespace and pod labels select them). */
  readonly store: KvStoreChart;
  /**
   * Namespace of every object (MonitoringNamespaceChart creates it).
   * @default MONITORING_NAMESPACE ('monitoring')
   */
  readonly namespace?: string;
  /**
   * Sizes every container and sets the replicas (observability/sizing.ts).
   * @default 'dev' - one replica of everything, a single Elasticsearch node
   */
  readonly profile?: ObservabilityProfileName;
  /**
   * StorageClass of the Elasticsearch volumes.
   * @default 'gp3' - the class of StorageClassChart
   */
  readonly storageClassName?: string;
  /**
   * Elasticsearch nodes: 1, or 3 or more (spread over the zones).
   * @default - the profile's (1 for dev, 3 for prod)
   */
  readonly elasticsearchNodes?: number;
  /**
   * Each Elasticsearch node's volume, GiB.
   * @default - the profile's (10 for dev, 100 for prod)
   */
  readonly elasticsearchStorageGiB?: number;
  /**
   * Days of traces kept (older daily indices are deleted each night).
   * @default - the profile's (3 for dev, 14 for prod)
   */
  readonly traceRetentionDays?: number;
  /**
   * Days of the store nodes' logs kept (the ILM policy's delete phase).
   * @default - the profile's (3 for dev, 14 for prod)
   */
  readonly nodeLogRetentionDays?: number;
  /**
   * Cluster DNS domain, in the endpoints the chart writes.
   * @default 'cluster.local'
   */
  readonly clusterDomain?: string;
}

/** The telemetry chart. Construct IDs below are part of the contract (they name the manifests). */
export class KvTelemetryChart extends Chart {
  public readonly namespaceName: string;
  /** Where the store nodes send their spans (the collector's OTLP/HTTP Service). */
  public readonly otlpHttpEndpoint: string;
  /** Where the collector sends them (Jaeger's OTLP/gRPC Service), host:port. */
  public readonly jaegerOtlpGrpcEndpoint: string;
  /** Jaeger's Service: OTLP/gRPC in, the UI and API on JAEGER_QUERY_PORT. */
  public readonly jaegerServiceName: string;
  /** Jaeger's UI and API, for Grafana's data source. */
  public readonly jaegerQueryUrl: string;
  /** The Services ECK creates: Elasticsearch's HTTPS API and Kibana's UI. */
  public readonly elasticsearchServiceName: string;
  public readonly kibanaServiceName: string;
  /** The Secret (key `elastic`) holding the password of Elasticsearch's `elastic` user. */
  public readonly elasticUserSecretName: string;
  public readonly collector: ApiObject;
  public readonly jaeger: kplus.Deployment;
  public readonly indexCleaner: ApiObject;
  public readonly elasticsearch: ApiObject;
  public readonly kibana: ApiObject;
  public readonly filebeat: ApiObject;

  constructor(scope: Construct, id: string, props: KvTelemetryChartProps) {
    const namespace = props.namespace ?? MONITORING_NAMESPACE;
    super(scope, id, { ...props, namespace });

    // Resolve every default once, then validate, then build.
    const profile = props.profile ?? 'dev';
    if (!(OBSERVABILITY_PROFILE_NAMES as readonly string[]).includes(profile)) fail('profile', profile, `use one of ${OBSERVABILITY_PROFILE_NAMES.join(', ')}`);
    const sizing = OBSERVABILITY_SIZING[profile];
    const storageClassName = props.storageClassName ?? 'gp3';
    const elasticsearchNodes = props.elasticsearchNodes ?? sizing.elasticsearch.nodes;
    const elasticsearchStorageGiB = props.elasticsearchStorageGiB ?? sizing.elasticsearch.storageGiB;
    const traceRetentionDays = props.traceRetentionDays ?? sizing.traceRetentionDays;
    const nodeLogRetentionDays = props.nodeLogRetentionDays ?? sizing.nodeLogRetentionDays;
    const clusterDomain = props.clusterDomain ?? 'cluster.local';
    validate({ namespace, storageClassName, elasticsearchNodes, elasticsearchStorageGiB, traceRetentionDays, nodeLogRetentionDays });

    const store = props.store;
    const partOf = { 'app.kubernetes.io/part-of': 'dynamo-kv-monitoring' };
    const labelsOf = (name: string, component: string) => ({ 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': component, ...partOf });
    const svc = (name: string) => `${name}.${namespace}.svc.${clusterDomain}`;
    // One replica of each index on a single node would never be assigned (the cluster stays yellow).
    const indexReplicas = elasticsearchNodes > 1 ? 1 : 0;

    this.namespaceName = namespace;
    this.otlpHttpEndpoint = collectorOtlpHttpEndpoint(namespace, clusterDomain);
    this.jaegerServiceName = JAEGER_NAME;
    this.jaegerOtlpGrpcEndpoint = `${svc(JAEGER_NAME)}:${OTLP_GRPC_PORT}`;
    this.jaegerQueryUrl = `http://${svc(JAEGER_NAME)}:${JAEGER_QUERY_PORT}`;
    this.elasticsearchServiceName = `${ELASTICSEARCH_NAME}-es-http`;
    this.kibanaServiceName = `${KIBANA_NAME}-kb-http`;
    this.elasticUserSecretName = `${ELASTICSEARCH_NAME}-es-elastic-user`;
    // ECK's self-signed CA of the HTTP layer (key ca.crt), for clients that are not ECK's own.
    const elasticCaSecretName = `${ELASTICSEARCH_NAME}-es-http-certs-public`;
    const elasticsearchUrl = `https://${svc(this.elasticsearchServiceName)}:${ELASTICSEARCH_PORT}`;

    // ---- Elasticsearch, Kibana ----

    this.elasticsearch = new ApiObject(this, 'Elasticsearch', {
      apiVersion: 'elasticsearch.k8s.elastic.co/v1',
      kind: 'Elasticsearch',
      metadata: { name: ELASTICSEARCH_NAME, labels: labelsOf('elasticsearch', 'storage') },
      spec: {
        version: ELASTIC_STACK_VERSION,
        nodeSets: [
          {
            name: 'nodes',
            count: elasticsearchNodes,
            config: {
              // mmap needs vm.max_map_count raised on every Kubernetes node, i.e. a privileged init
              // container; at this volume (the store's logs and sampled spans) niofs is enough.
              'node.store.allow_mmap': false,
            },
            // Several nodes: one a zone, and replicas of each shard kept in another zone than its
            // primary (ECK sets the topology spread and shard allocation awareness).
            ...(elasticsearchNodes > 1 ? { zoneAwareness: {} } : {}),
            // The JVM heap is half of the memory limit: Elasticsearch sizes it from the container.
            resources: resourcesOf(sizing.elasticsearch.size),
            volumeClaimTemplates: [
              {
                // The claim ECK mounts as the data directory; the name is ECK's.
                metadata: { name: 'elasticsearch-data' },
                spec: { accessModes: ['ReadWriteOnce'], storageClassName, resources: { requests: { storage: `${elasticsearchStorageGiB}Gi` } } },
              },
            ],
          },
        ],
      },
    });

    this.kibana = new ApiObject(this, 'Kibana', {
      apiVersion: 'kibana.k8s.elastic.co/v1',
      kind: 'Kibana',
      metadata: { name: KIBANA_NAME, labels: labelsOf('kibana', 'ui') },
      spec: {
        version: ELASTIC_STACK_VERSION,
        count: sizing.kibana.replicas,
        elasticsearchRef: { name: ELASTICSEARCH_NAME },
        resources: resourcesOf(sizing.kibana.size),
      },
    });

    // ---- Traces: the collector, Jaeger, the index cleaner ----

    this.collector = new ApiObject(this, 'Collector', {
      apiVersion: 'opentelemetry.io/v1beta1',
      kind: 'OpenTelemetryCollector',
      metadata: { name: COLLECTOR_NAME, labels: labelsOf('opentelemetry-collector', 'tracing') },
      spec: {
        // No image: the operator's own, which the operator's chart version pins.
        mode: 'deployment',
        replicas: sizing.collector.replicas,
        resources: resourcesOf(sizing.collector.size),
        podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        podDisruptionBudget: { maxUnavailable: 1 },
        ...zoneSpread(sizing.collector.replicas, { 'app.kubernetes.io/instance': `${namespace}.${COLLECTOR_NAME}` }),
        config: {
          receivers: {
            // Every interface: the collector defaults to localhost, which no store pod can reach.
            otlp: { protocols: { grpc: { endpoint: `0.0.0.0:${OTLP_GRPC_PORT}` }, http: { endpoint: `0.0.0.0:${OTLP_HTTP_PORT}` } } },
          },
          processors: {
            // First in the pipeline: refuses data (the SDK retries) before the container's limit is reached.
            memory_limiter: { check_interval: '1s', limit_percentage: 80, spike_limit_percentage: 20 },
            // Bounded batches, sent at least every second.
            batch: { send_batch_size: 1024, send_batch_max_size: 2048, timeout: '1s' },
          },
          exporters: {
            // Plaintext inside the cluster: both ends are in this namespace, and TLS here would need
            // a certificate issuer (cert-manager) the cluster does not run.
            'otlp_grpc/jaeger': { endpoint: this.jaegerOtlpGrpcEndpoint, tls: { insecure: true } },
          },
          extensions: { health_check: { endpoint: `0.0.0.0:${HEALTH_PORT}` } },
          service: {
            extensions: ['health_check'],
            pipelines: { traces: { receivers: ['otlp'], processors: ['memory_limiter', 'batch'], exporters: ['otlp_grpc/jaeger'] } },
          },
        },
      },
    });

    // Jaeger v2 is an OpenTelemetry Collector distribution, and the OpenTelemetry operator could run
    // it from an OpenTelemetryCollector with Jaeger's image. A plain Deployment is the sounder
    // choice here: the operator derives probes only from the `health_check` extension, which Jaeger
    // does not ship (it has healthcheckv2), so a Jaeger it ran would have no readiness or liveness
    // probe; and the operator rewrites a collector's configuration when it upgrades itself, written
    // for the collector's components, not Jaeger's. Here the probes, the config and its rollout
    // (a hash of the config on the pod template) are ours.
    const jaegerLabels = { ...labelsOf('jaeger', 'tracing'), 'app.kubernetes.io/instance': JAEGER_NAME };
    const esIndex = { shards: 1, replicas: indexReplicas };
    const jaegerConfig: YamlValue = {
      receivers: { otlp: { protocols: { grpc: { endpoint: `0.0.0.0:${OTLP_GRPC_PORT}` } } } },
      processors: { batch: {} },
      exporters: { jaeger_storage_exporter: { trace_storage: 'elasticsearch' } },
      extensions: {
        healthcheckv2: { use_v2: true, http: { endpoint: `0.0.0.0:${HEALTH_PORT}`, status: { enabled: true, path: '/status' } } },
        jaeger_query: { storage: { traces: 'elasticsearch' }, http: { endpoint: `0.0.0.0:${JAEGER_QUERY_PORT}` } },
        jaeger_storage: {
          backends: {
            elasticsearch: {
              elasticsearch: {
                server_urls: [elasticsearchUrl],
                auth: { basic: { username: ELASTIC_USER, password_file: '/etc/jaeger/elastic/password' } },
                tls: { ca_file: '/etc/jaeger/elastic-ca/ca.crt' },
                // Daily indices (Jaeger's default rotation), one shard each: a day of sampled spans is small.
                indices: { index_prefix: TRACE_INDEX_PREFIX, spans: esIndex, services: esIndex, dependencies: esIndex, sampling: esIndex },
                // Searches look back as far as traces are kept (Jaeger's default is 72 hours).
                max_span_age: `${traceRetentionDays * HOURS_PER_DAY}h`,
              },
            },
          },
        },
      },
      service: {
        extensions: ['healthcheckv2', 'jaeger_storage', 'jaeger_query'],
        pipelines: { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['jaeger_storage_exporter'] } },
      },
    };
    const jaegerConfigText = toYaml(jaegerConfig);
    const jaegerConfigMap = new kplus.ConfigMap(this, 'JaegerConfig', { metadata: { name: `${JAEGER_NAME}-config`, labels: jaegerLabels }, data: { 'config.yaml': jaegerConfigText } });
    const elasticUser = kplus.Secret.fromSecretName(this, 'ElasticUser', this.elasticUserSecretName);
    const elasticCa = kplus.Secret.fromSecretName(this, 'ElasticCa', elasticCaSecretName);
    const jaegerHealth = kplus.Probe.fromHttpGet('/status', { port: HEALTH_PORT, periodSeconds: Duration.seconds(10), timeoutSeconds: Duration.seconds(2), failureThreshold: 3 });
    this.jaeger = new kplus.Deployment(this, 'Jaeger', {
      metadata: { name: JAEGER_NAME, labels: jaegerLabels },
      // Stable selector labels (a Deployment's selector is immutable), and our own spread below.
      select: false,
      spread: false,
      replicas: sizing.jaeger.replicas,
      // A new config is a new pod template, so a config change rolls the pods.
      podMetadata: { labels: jaegerLabels, annotations: { 'dynamo-kv/config-sha256': sha256(jaegerConfigText) } },
      automountServiceAccountToken: false,
      securityContext: { ensureNonRoot: true, user: JAEGER_UID, group: JAEGER_UID },
      containers: [
        {
          name: 'jaeger',
          image: JAEGER_IMAGE,
          imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
          args: ['--config', '/etc/jaeger/config/config.yaml'],
          ports: [
            { name: 'otlp-grpc', number: OTLP_GRPC_PORT },
            { name: 'query', number: JAEGER_QUERY_PORT },
            { name: 'health', number: HEALTH_PORT },
          ],
          readiness: jaegerHealth,
          liveness: jaegerHealth,
          resources: kplusResources(sizing.jaeger.size),
          volumeMounts: [
            { path: '/etc/jaeger/config', volume: kplus.Volume.fromConfigMap(this, 'JaegerConfigVolume', jaegerConfigMap, { name: 'config' }), readOnly: true },
            { path: '/etc/jaeger/elastic', volume: kplus.Volume.fromSecret(this, 'ElasticUserVolume', elasticUser, { name: 'elastic-user', items: { [ELASTIC_USER]: { path: 'password' } } }), readOnly: true },
            { path: '/etc/jaeger/elastic-ca', volume: kplus.Volume.fromSecret(this, 'ElasticCaVolume', elasticCa, { name: 'elastic-ca', items: { 'ca.crt': { path: 'ca.crt' } } }), readOnly: true },
            { path: '/tmp', volume: kplus.Volume.fromEmptyDir(this, 'JaegerTmp', 'tmp', { sizeLimit: Size.mebibytes(64) }) },
          ],
          securityContext: { ensureNonRoot: true, user: JAEGER_UID, group: JAEGER_UID, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: [kplus.Capability.ALL] } },
        },
      ],
    });
    this.jaeger.select(kplus.LabelSelector.of({ labels: jaegerLabels }));
    const spread = zoneSpread(sizing.jaeger.replicas, jaegerLabels).topologySpreadConstraints;
    if (spread !== undefined) ApiObject.of(this.jaeger).addJsonPatch(JsonPatch.add('/spec/template/spec/topologySpreadConstraints', spread));
    const jaegerService = new kplus.Service(this, 'JaegerService', {
      metadata: { name: JAEGER_NAME, labels: jaegerLabels },
      type: kplus.ServiceType.CLUSTER_IP,
      ports: [
        { name: 'otlp-grpc', port: OTLP_GRPC_PORT, targetPort: OTLP_GRPC_PORT },
        { name: 'query', port: JAEGER_QUERY_PORT, targetPort: JAEGER_QUERY_PORT },
      ],
    });
    jaegerService.select(kplus.Pods.select(this, 'JaegerPods', { labels: jaegerLabels }));

    // Jaeger writes one index a day and never deletes one: this does, each night.
    const cleanerLabels = { ...labelsOf('jaeger-es-index-cleaner', 'tracing'), 'app.kubernetes.io/instance': `${JAEGER_NAME}-index-cleaner` };
    this.indexCleaner = new k8s.KubeCronJob(this, 'IndexCleaner', {
      metadata: { name: `${JAEGER_NAME}-index-cleaner`, labels: cleanerLabels },
      spec: {
        schedule: '15 0 * * *',
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          spec: {
            backoffLimit: 2,
            activeDeadlineSeconds: INDEX_CLEANER_DEADLINE_SECONDS,
            template: {
              metadata: { labels: cleanerLabels },
              spec: {
                restartPolicy: 'OnFailure',
                automountServiceAccountToken: false,
                securityContext: { runAsNonRoot: true, runAsUser: JAEGER_UID, runAsGroup: JAEGER_UID, seccompProfile: { type: 'RuntimeDefault' } },
                containers: [
                  {
                    name: 'index-cleaner',
                    image: JAEGER_INDEX_CLEANER_IMAGE,
                    args: [
                      `--index-prefix=${TRACE_INDEX_PREFIX}`,
                      `--es.username=${ELASTIC_USER}`,
                      '--es.tls.enabled=true',
                      '--es.tls.ca=/etc/elastic-ca/ca.crt',
                      String(traceRetentionDays),
                      elasticsearchUrl,
                    ],
                    // The cleaner reads its password from ES_PASSWORD (a flag would show it in the pod spec).
                    env: [{ name: 'ES_PASSWORD', valueFrom: { secretKeyRef: { name: this.elasticUserSecretName, key: ELASTIC_USER } } }],
                    resources: quantities(sizing.indexCleaner),
                    volumeMounts: [{ name: 'elastic-ca', mountPath: '/etc/elastic-ca', readOnly: true }],
                    securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] } },
                  },
                ],
                volumes: [{ name: 'elastic-ca', secret: { secretName: elasticCaSecretName, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }],
              },
            },
          },
        },
      },
    });

    // ---- Logs: Filebeat ----

    const filebeatLabels = labelsOf('filebeat', 'logging');
    const serviceAccount = new k8s.KubeServiceAccount(this, 'FilebeatServiceAccount', { metadata: { name: FILEBEAT_NAME, labels: filebeatLabels } });
    // What autodiscovery reads to find the store's containers and label their lines: pods and
    // their namespaces and nodes (nodes are cluster-scoped, hence a ClusterRole). Read only.
    const role = new k8s.KubeClusterRole(this, 'FilebeatRole', {
      metadata: { name: `${namespace}-${FILEBEAT_NAME}`, labels: filebeatLabels },
      rules: [{ apiGroups: [''], resources: ['pods', 'namespaces', 'nodes'], verbs: ['get', 'list', 'watch'] }],
    });
    const binding = new k8s.KubeClusterRoleBinding(this, 'FilebeatRoleBinding', {
      metadata: { name: `${namespace}-${FILEBEAT_NAME}`, labels: filebeatLabels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.name },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount.name, namespace }],
    });
    // Cluster-scoped objects must not carry the chart-wide namespace.
    for (const o of [role, binding]) o.addJsonPatch(JsonPatch.remove('/metadata/namespace'));

    // Filebeat's default ILM policy never deletes: this one rolls the data stream over daily and
    // deletes backing indices nodeLogRetentionDays after their rollover.
    const ilmPolicy = new k8s.KubeConfigMap(this, 'FilebeatIlmPolicy', {
      metadata: { name: `${FILEBEAT_NAME}-ilm`, labels: filebeatLabels },
      data: {
        'policy.json': JSON.stringify({
          policy: {
            phases: {
              hot: { actions: { rollover: { max_age: '1d', max_primary_shard_size: '10gb' } } },
              delete: { min_age: `${nodeLogRetentionDays}d`, actions: { delete: {} } },
            },
          },
        }),
      },
    });

    // The store's pods, by their own labels, in their own namespace: nothing else is shipped.
    // Autodiscovery drops the dots of label keys (`app.kubernetes.io/name` -> `app_kubernetes_io/name`).
    const storePodConditions = Object.entries(store.podLabels).map(([key, value]) => ({ equals: { [`kubernetes.labels.${key.replaceAll('.', '_')}`]: value } }));
    this.filebeat = new ApiObject(this, 'Filebeat', {
      apiVersion: 'beat.k8s.elastic.co/v1beta1',
      kind: 'Beat',
      metadata: { name: FILEBEAT_NAME, labels: filebeatLabels },
      spec: {
        type: 'filebeat',
        version: ELASTIC_STACK_VERSION,
        // ECK writes the output: the Elasticsearch's URL, its CA and a user of its own for this Beat.
        elasticsearchRef: { name: ELASTICSEARCH_NAME },
        resources: resourcesOf(sizing.filebeat),
        config: {
          filebeat: {
            autodiscover: {
              providers: [
                {
                  type: 'kubernetes',
                  node: '${NODE_NAME}',
                  // Watch only the store's namespace, and no owner objects (the role does not grant them).
                  namespace: store.namespaceName,
                  add_resource_metadata: { deployment: false, cronjob: false },
                  templates: [
                    {
                      condition: { and: storePodConditions },
                      config: [
                        {
                          // filestream with the container parser: the container input is gone in 9.x.
                          type: 'filestream',
                          id: 'kv-${data.kubernetes.container.id}',
                          paths: ['/var/log/containers/*${data.kubernetes.container.id}.log'],
                          prospector: { scanner: { symlinks: true, fingerprint: { enabled: true } } },
                          file_identity: { fingerprint: {} },
                          parsers: [
                            // The container runtime's line ("<time> stderr F <line>") first, then the node's ECS JSON:
                            // its fields at the top level (target ""), dotted keys such as log.level
                            // expanded into objects, its @timestamp and message kept over Filebeat's,
                            // and a line that is not JSON kept whole with an error.message.
                            { container: { stream: 'all', format: 'auto' } },
                            { ndjson: { target: '', expand_keys: true, overwrite_keys: true, add_error_key: true } },
                          ],
                        },
                      ],
                    },
                  ],
                },
              ],
            },
          },
          setup: {
            ilm: { enabled: true, policy_file: FILEBEAT_ILM_POLICY_FILE, overwrite: true },
            template: { settings: { index: { number_of_shards: 1, number_of_replicas: indexReplicas } } },
          },
        },
        daemonSet: {
          podTemplate: {
            metadata: { labels: filebeatLabels },
            spec: {
              serviceAccountName: serviceAccount.name,
              automountServiceAccountToken: true,
              terminationGracePeriodSeconds: 30,
              containers: [
                {
                  name: 'filebeat',
                  // Root: the container logs on the node are root's, and ECK keeps Filebeat's registry
                  // (how far each file was read) in a hostPath it writes. Not privileged, and the
                  // node's log folders are mounted read only.
                  securityContext: { runAsUser: 0, allowPrivilegeEscalation: false, privileged: false },
                  env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
                  volumeMounts: [
                    { name: 'varlogcontainers', mountPath: '/var/log/containers', readOnly: true },
                    { name: 'varlogpods', mountPath: '/var/log/pods', readOnly: true },
                    { name: 'ilm-policy', mountPath: '/usr/share/filebeat/ilm', readOnly: true },
                  ],
                },
              ],
              volumes: [
                { name: 'varlogcontainers', hostPath: { path: '/var/log/containers', type: 'Directory' } },
                { name: 'varlogpods', hostPath: { path: '/var/log/pods', type: 'Directory' } },
                { name: 'ilm-policy', configMap: { name: ilmPolicy.name } },
              ],
            },
          },
        },
      },
    });
  }
}

const HOURS_PER_DAY = 24;
/** The UID the Jaeger images run as (their Dockerfiles' USER). */
const JAEGER_UID = 10001;
/** The index cleaner deletes a few indices; ten minutes is far more than it needs. */
const INDEX_CLEANER_DEADLINE_SECONDS = 600;

/** Spread across zones when there is more than one replica: best effort, so that a zone with no room does not block a rollout. */
function zoneSpread(replicas: number, matchLabels: Readonly<Record<string, string>>): { topologySpreadConstraints?: object[] } {
  if (replicas < 2) return {};
  return { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { ...matchLabels } } }] };
}

function kplusResources(s: ContainerSize): kplus.ContainerResources {
  return {
    cpu: { request: kplus.Cpu.millis(s.cpuRequestMillis), limit: kplus.Cpu.millis(s.cpuLimitMillis) },
    memory: { request: Size.mebibytes(s.memoryMiB), limit: Size.mebibytes(s.memoryMiB) },
  };
}

function quantities(s: ContainerSize): { requests: Record<string, kplus.k8s.Quantity>; limits: Record<string, kplus.k8s.Quantity> } {
  const r = resourcesOf(s);
  const q = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, k8s.Quantity.fromString(v)]));
  return { requests: q(r.requests), limits: q(r.limits) };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function fail(prop: string, value: unknown, fix: string): never {
  throw new Error(`KvTelemetryChart: ${prop} is ${JSON.stringify(value)}; ${fix}.`);
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Elasticsearch nodes beyond this are a different deployment than this chart sizes for. */
export const ELASTICSEARCH_NODES_MAX = 15;
/** Days of traces or logs kept, at most: a year. */
export const RETENTION_DAYS_MAX = 365;

function validate(p: {
  readonly namespace: string;
  readonly storageClassName: string;
  readonly elasticsearchNodes: number;
  readonly elasticsearchStorageGiB: number;
  readonly traceRetentionDays: number;
  readonly nodeLogRetentionDays: number;
}): void {
  const isInt = (v: number, min: number, max: number) => Number.isInteger(v) && v >= min && v <= max;
  if (!DNS_LABEL.test(p.namespace)) fail('namespace', p.namespace, 'use a DNS label ([a-z0-9-], at most 63 characters)');
  if (!DNS_LABEL.test(p.storageClassName)) fail('storageClassName', p.storageClassName, 'use the name of a StorageClass, such as gp3');
  // Two master-eligible nodes cannot elect a master once one is gone: no more available than one.
  if (!(p.elasticsearchNodes === 1 || isInt(p.elasticsearchNodes, 3, ELASTICSEARCH_NODES_MAX))) {
    fail('elasticsearchNodes', p.elasticsearchNodes, `use 1 (no redundancy) or 3 to ${ELASTICSEARCH_NODES_MAX} (a master quorum survives the loss of a node or a zone)`);
  }
  if (!isInt(p.elasticsearchStorageGiB, 2, 16384)) fail('elasticsearchStorageGiB', p.elasticsearchStorageGiB, 'use 2 to 16384 GiB (the gp3 limit)');
  for (const key of ['traceRetentionDays', 'nodeLogRetentionDays'] as const) {
    if (!isInt(p[key], 1, RETENTION_DAYS_MAX)) fail(key, p[key], `use 1 to ${RETENTION_DAYS_MAX} days`);
  }
}

import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { KvStoreChart, OTLP_ENDPOINT_ENV } from '../../constructs/k8s/kv-store-chart';
import { MonitoringNamespaceChart } from '../../observability/monitoring-namespace-chart';
import { OBSERVABILITY_PROFILE_NAMES, OBSERVABILITY_SIZING, ObservabilityProfileName, resourcesOf } from '../../observability/sizing';
import { collectorOtlpHttpEndpoint, ELASTIC_STACK_VERSION, JAEGER_IMAGE, KvTelemetryChart, KvTelemetryChartProps } from '../../observability/telemetry-chart';
import { describeWithCrds, validateCustomResource } from './crd-schema';
import { validateK8sObject } from './k8s-schema';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K8sObject = Record<string, any>;

const CUSTOM_KINDS = ['OpenTelemetryCollector', 'Elasticsearch', 'Kibana', 'Beat'];

function synth(props: Partial<KvTelemetryChartProps> = {}, storeProps: { namespace?: string; name?: string } = {}): { store: KvStoreChart; chart: KvTelemetryChart; objects: K8sObject[] } {
  const app = Testing.app();
  const store = new KvStoreChart(app, 'kv', { image: 'registry.example/kv-node:abc123', ...storeProps });
  const chart = new KvTelemetryChart(app, 'telemetry', { store, ...props });
  return { store, chart, objects: Testing.synth(chart) };
}

function only(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  expect(found).toHaveLength(1);
  return found[0];
}

/** Every container of a pod spec, init containers included. */
function containersOf(podSpec: K8sObject): K8sObject[] {
  return [...(podSpec.initContainers ?? []), ...podSpec.containers];
}

describeWithCrds()('telemetry chart against the OpenTelemetry operator and ECK CRDs', () => {
  test.each(OBSERVABILITY_PROFILE_NAMES)('every custom resource of profile %s passes its CRD schema, unknown fields refused', (profile) => {
    const { objects } = synth({ profile });
    const custom = objects.filter((o) => CUSTOM_KINDS.includes(o.kind));
    expect(custom.map((o) => o.kind).sort()).toEqual([...CUSTOM_KINDS].sort());
    for (const o of custom) expect(() => validateCustomResource(o)).not.toThrow();
  });

  test('rejects a misspelt field (the check is strict)', () => {
    const { objects } = synth();
    const es = structuredClone(only(objects, 'Elasticsearch'));
    es.spec.nodeSets[0].zoneAwarenes = {};
    expect(() => validateCustomResource(es)).toThrow(/zoneAwarenes|additional properties/);
    const beat = structuredClone(only(objects, 'Beat'));
    beat.spec.daemonSet.podTemplate.spec.containers[0].volumeMount = [];
    expect(() => validateCustomResource(beat)).toThrow(/volumeMount|additional properties/);
  });
});

describe('telemetry chart', () => {
  const { store, chart, objects } = synth();
  const collector = only(objects, 'OpenTelemetryCollector');
  const elasticsearch = only(objects, 'Elasticsearch');
  const kibana = only(objects, 'Kibana');
  const beat = only(objects, 'Beat');
  const deployment = only(objects, 'Deployment');
  const service = only(objects, 'Service');
  const cronJob = only(objects, 'CronJob');
  const jaegerConfigMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'kv-jaeger-config')!;
  const jaegerConfig = parse(jaegerConfigMap.data['config.yaml']);

  test.each(OBSERVABILITY_PROFILE_NAMES)('every standard object of profile %s passes the Kubernetes schema', (profile) => {
    const standard = synth({ profile }).objects.filter((o) => !CUSTOM_KINDS.includes(o.kind));
    expect(standard.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'ConfigMap', 'CronJob', 'Deployment', 'Service', 'ServiceAccount']);
    for (const o of standard) expect(() => validateK8sObject(o)).not.toThrow();
  });

  test('puts every namespaced object in the monitoring namespace, and the cluster-scoped ones in none', () => {
    for (const o of objects) {
      if (o.kind.startsWith('Cluster')) expect(o.metadata.namespace).toBeUndefined();
      else expect(o.metadata.namespace).toBe('monitoring');
    }
    expect(synth({ namespace: 'observability' }).objects.find((o) => o.kind === 'Beat')!.metadata.namespace).toBe('observability');
  });

  test('the collector receives OTLP over gRPC and HTTP on every interface, limits memory before batching, and exports to Jaeger\'s Service', () => {
    const config = collector.spec.config;
    expect(config.receivers.otlp.protocols).toEqual({ grpc: { endpoint: '0.0.0.0:4317' }, http: { endpoint: '0.0.0.0:4318' } });
    const pipeline = config.service.pipelines.traces;
    expect(pipeline.processors).toEqual(['memory_limiter', 'batch']);
    expect(pipeline.receivers).toEqual(['otlp']);
    const [exporterName] = pipeline.exporters as string[];
    const [host, port] = (config.exporters[exporterName!].endpoint as string).split(':');
    // The endpoint is the Jaeger Service of this chart, on its OTLP/gRPC port.
    expect(host).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`);
    expect(service.spec.ports).toContainEqual({ name: 'otlp-grpc', port: Number(port), targetPort: Number(port) });
    expect(exporterName).toMatch(/^otlp_grpc\//);
  });

  test('the store is given the collector\'s OTLP/HTTP Service, as the operator names it', () => {
    expect(chart.otlpHttpEndpoint).toBe('http://kv-otel-collector.monitoring.svc.cluster.local:4318');
    expect(chart.otlpHttpEndpoint).toBe(collectorOtlpHttpEndpoint('monitoring'));
    expect(chart.otlpHttpEndpoint).toContain(`${collector.metadata.name}-collector.${collector.metadata.namespace}.`);
    // The store chart accepts it as its tracing endpoint.
    const app = Testing.app();
    const traced = new KvStoreChart(app, 'kv', { image: 'kv:1', tracing: { sampleRatio: 0.1, otlpEndpoint: chart.otlpHttpEndpoint } });
    const env = Testing.synth(traced).find((o) => o.kind === 'StatefulSet')!.spec.template.spec.containers[0].env as K8sObject[];
    expect(env).toContainEqual({ name: OTLP_ENDPOINT_ENV, value: chart.otlpHttpEndpoint });
  });

  test('Jaeger stores in the chart\'s Elasticsearch, signed in with the elastic user\'s Secret and trusting ECK\'s CA', () => {
    const backend = jaegerConfig.extensions.jaeger_storage.backends[jaegerConfig.exporters.jaeger_storage_exporter.trace_storage].elasticsearch;
    expect(backend.server_urls).toEqual([`https://${elasticsearch.metadata.name}-es-http.monitoring.svc.cluster.local:9200`]);
    expect(jaegerConfig.extensions.jaeger_query.storage.traces).toBe(jaegerConfig.exporters.jaeger_storage_exporter.trace_storage);
    // Searches reach as far back as traces are kept.
    expect(backend.max_span_age).toBe(`${OBSERVABILITY_SIZING.dev.traceRetentionDays * 24}h`);
    const pod = deployment.spec.template.spec;
    const mountOf = (file: string) => pod.containers[0].volumeMounts.find((m: K8sObject) => file.startsWith(`${m.mountPath}/`));
    const volumeOf = (file: string) => pod.volumes.find((v: K8sObject) => v.name === mountOf(file).name);
    const password = volumeOf(backend.auth.basic.password_file);
    expect(password.secret).toEqual({ secretName: chart.elasticUserSecretName, items: [{ key: 'elastic', path: 'password' }] });
    expect(chart.elasticUserSecretName).toBe(`${elasticsearch.metadata.name}-es-elastic-user`);
    expect(volumeOf(backend.tls.ca_file).secret.secretName).toBe(`${elasticsearch.metadata.name}-es-http-certs-public`);
    expect(volumeOf('/etc/jaeger/config/config.yaml').configMap.name).toBe(jaegerConfigMap.metadata.name);
    expect(pod.containers[0].args).toEqual(['--config', '/etc/jaeger/config/config.yaml']);
  });

  test('Jaeger runs the pinned image, serves its UI on its Service, and is probed on its health check', () => {
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toBe(JAEGER_IMAGE);
    expect(JAEGER_IMAGE).toMatch(/^jaegertracing\/jaeger:2\.\d+\.\d+$/);
    expect(service.spec.ports).toContainEqual({ name: 'query', port: 16686, targetPort: 16686 });
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    const health = jaegerConfig.extensions.healthcheckv2.http;
    expect(container.readinessProbe.httpGet).toMatchObject({ path: health.status.path, port: Number(health.endpoint.split(':')[1]) });
    expect(container.livenessProbe.httpGet).toEqual(container.readinessProbe.httpGet);
    expect(jaegerConfig.service.extensions).toEqual(expect.arrayContaining(['healthcheckv2', 'jaeger_storage', 'jaeger_query']));
  });

  test('a change of Jaeger\'s config rolls its pods (the config hash is on the pod template)', () => {
    const hash = (o: K8sObject[]) => only(o, 'Deployment').spec.template.metadata.annotations['dynamo-kv/config-sha256'];
    expect(hash(objects)).toMatch(/^[0-9a-f]{64}$/);
    expect(hash(synth().objects)).toBe(hash(objects));
    expect(hash(synth({ elasticsearchNodes: 3 }).objects)).not.toBe(hash(objects));
  });

  test('the index cleaner deletes Jaeger\'s indices, by Jaeger\'s prefix, after the retention', () => {
    const container = cronJob.spec.jobTemplate.spec.template.spec.containers[0];
    const prefix = jaegerConfig.extensions.jaeger_storage.backends.elasticsearch.elasticsearch.indices.index_prefix;
    expect(container.args).toContain(`--index-prefix=${prefix}`);
    expect(container.args.slice(-2)).toEqual([String(OBSERVABILITY_SIZING.dev.traceRetentionDays), `https://${chart.elasticsearchServiceName}.monitoring.svc.cluster.local:9200`]);
    expect(container.env).toEqual([{ name: 'ES_PASSWORD', valueFrom: { secretKeyRef: { name: chart.elasticUserSecretName, key: 'elastic' } } }]);
    expect(cronJob.spec.concurrencyPolicy).toBe('Forbid');
    const longer = only(synth({ traceRetentionDays: 30 }).objects, 'CronJob').spec.jobTemplate.spec.template.spec.containers[0];
    expect(longer.args).toContain('30');
  });

  test('Kibana and Filebeat reference the chart\'s Elasticsearch, at the same pinned version', () => {
    expect(kibana.spec.elasticsearchRef).toEqual({ name: elasticsearch.metadata.name });
    expect(beat.spec.elasticsearchRef).toEqual({ name: elasticsearch.metadata.name });
    for (const o of [elasticsearch, kibana, beat]) expect(o.spec.version).toBe(ELASTIC_STACK_VERSION);
    expect(ELASTIC_STACK_VERSION).toMatch(/^(8|9)\.\d+\.\d+$/);
    expect(chart.kibanaServiceName).toBe(`${kibana.metadata.name}-kb-http`);
  });

  test('Filebeat reads only the store\'s pods, by their labels in their namespace, and lifts each ECS JSON line to the top level', () => {
    const provider = beat.spec.config.filebeat.autodiscover.providers[0];
    expect(provider).toMatchObject({ type: 'kubernetes', node: '${NODE_NAME}', namespace: store.namespaceName });
    const [template] = provider.templates;
    // Autodiscovery replaces the dots of label keys with underscores.
    expect(template.condition.and).toEqual(Object.entries(store.podLabels).map(([k, v]) => ({ equals: { [`kubernetes.labels.${k.replaceAll('.', '_')}`]: v } })));
    expect(template.condition.and).toContainEqual({ equals: { 'kubernetes.labels.app_kubernetes_io/name': 'dynamo-kv' } });
    const [input] = template.config;
    expect(input.type).toBe('filestream');
    expect(input.paths).toEqual(['/var/log/containers/*${data.kubernetes.container.id}.log']);
    expect(input.parsers[0]).toHaveProperty('container');
    expect(input.parsers[1]).toEqual({ ndjson: { target: '', expand_keys: true, overwrite_keys: true, add_error_key: true } });
    // Another store namespace is followed.
    const other = only(synth({}, { namespace: 'kv-blue', name: 'blue' }).objects, 'Beat').spec.config.filebeat.autodiscover.providers[0];
    expect(other.namespace).toBe('kv-blue');
    expect(other.templates[0].condition.and).toContainEqual({ equals: { 'kubernetes.labels.app_kubernetes_io/instance': 'blue' } });
  });

  test('Filebeat runs as a DaemonSet with read-only hostPath mounts of the node\'s container logs, under a read-only ClusterRole', () => {
    const pod = beat.spec.daemonSet.podTemplate.spec;
    const [container] = pod.containers;
    const hostPaths = Object.fromEntries(pod.volumes.filter((v: K8sObject) => v.hostPath).map((v: K8sObject) => [v.name, v.hostPath.path]));
    expect(Object.values(hostPaths).sort()).toEqual(['/var/log/containers', '/var/log/pods']);
    for (const name of Object.keys(hostPaths)) expect(container.volumeMounts).toContainEqual({ name, mountPath: hostPaths[name], readOnly: true });
    expect(container.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(container.securityContext).toMatchObject({ privileged: false, allowPrivilegeEscalation: false });
    const account = only(objects, 'ServiceAccount');
    expect(pod.serviceAccountName).toBe(account.metadata.name);
    const role = only(objects, 'ClusterRole');
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods', 'namespaces', 'nodes'], verbs: ['get', 'list', 'watch'] }]);
    const binding = only(objects, 'ClusterRoleBinding');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account.metadata.name, namespace: 'monitoring' }]);
  });

  test('the nodes\' logs are deleted after the retention (the ILM policy Filebeat loads)', () => {
    const policyMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'kv-filebeat-ilm')!;
    const policy = JSON.parse(policyMap.data['policy.json']);
    expect(policy.policy.phases.delete).toEqual({ min_age: `${OBSERVABILITY_SIZING.dev.nodeLogRetentionDays}d`, actions: { delete: {} } });
    const pod = beat.spec.daemonSet.podTemplate.spec;
    const volume = pod.volumes.find((v: K8sObject) => v.configMap?.name === policyMap.metadata.name);
    const mount = pod.containers[0].volumeMounts.find((m: K8sObject) => m.name === volume.name);
    expect(beat.spec.config.setup.ilm).toEqual({ enabled: true, overwrite: true, policy_file: `${mount.mountPath}/policy.json` });
    const kept = JSON.parse(synth({ nodeLogRetentionDays: 30 }).objects.find((o) => o.metadata.name === 'kv-filebeat-ilm')!.data['policy.json']);
    expect(kept.policy.phases.delete.min_age).toBe('30d');
  });

  describe.each(OBSERVABILITY_PROFILE_NAMES)('sizes for profile %s', (profile: ObservabilityProfileName) => {
    const sizing = OBSERVABILITY_SIZING[profile];
    const sized = synth({ profile }).objects;
    const kind = (k: string) => only(sized, k);

    test('every container has requests and limits, memory requested as limited, as the sizing table says', () => {
      expect(kind('OpenTelemetryCollector').spec.resources).toEqual(resourcesOf(sizing.collector.size));
      expect(kind('Elasticsearch').spec.nodeSets[0].resources).toEqual(resourcesOf(sizing.elasticsearch.size));
      expect(kind('Kibana').spec.resources).toEqual(resourcesOf(sizing.kibana.size));
      expect(kind('Beat').spec.resources).toEqual(resourcesOf(sizing.filebeat));
      const pods = [kind('Deployment').spec.template.spec, kind('CronJob').spec.jobTemplate.spec.template.spec];
      for (const pod of pods) {
        for (const c of containersOf(pod)) {
          expect(c.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
          expect(c.resources.limits.memory).toBe(c.resources.requests.memory);
        }
      }
      expect(kind('Deployment').spec.template.spec.containers[0].resources).toEqual(resourcesOf(sizing.jaeger.size));
    });

    test('replicas, nodes and volumes', () => {
      expect(kind('OpenTelemetryCollector').spec.replicas).toBe(sizing.collector.replicas);
      expect(kind('Deployment').spec.replicas).toBe(sizing.jaeger.replicas);
      expect(kind('Kibana').spec.count).toBe(sizing.kibana.replicas);
      const nodeSet = kind('Elasticsearch').spec.nodeSets[0];
      expect(nodeSet.count).toBe(sizing.elasticsearch.nodes);
      expect(nodeSet.volumeClaimTemplates[0].spec).toEqual({ accessModes: ['ReadWriteOnce'], storageClassName: 'gp3', resources: { requests: { storage: `${sizing.elasticsearch.storageGiB}Gi` } } });
    });
  });

  test('dev is a single Elasticsearch node with unreplicated indices; prod spreads three over the zones and replicates', () => {
    const dev = synth({ profile: 'dev' }).objects;
    const prod = synth({ profile: 'prod' }).objects;
    const replicasOf = (o: K8sObject[]) => parse(o.find((x) => x.metadata.name === 'kv-jaeger-config')!.data['config.yaml']).extensions.jaeger_storage.backends.elasticsearch.elasticsearch.indices.spans.replicas;
    expect(only(dev, 'Elasticsearch').spec.nodeSets[0].zoneAwareness).toBeUndefined();
    expect(replicasOf(dev)).toBe(0);
    expect(only(dev, 'Beat').spec.config.setup.template.settings.index.number_of_replicas).toBe(0);
    expect(only(prod, 'Elasticsearch').spec.nodeSets[0]).toMatchObject({ count: 3, zoneAwareness: {} });
    expect(replicasOf(prod)).toBe(1);
    expect(only(prod, 'Beat').spec.config.setup.template.settings.index.number_of_replicas).toBe(1);
    // Several replicas are spread over the zones.
    expect(only(prod, 'OpenTelemetryCollector').spec.topologySpreadConstraints[0]).toMatchObject({ topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchLabels: { 'app.kubernetes.io/instance': 'monitoring.kv-otel' } } });
    expect(only(prod, 'Deployment').spec.template.spec.topologySpreadConstraints[0].labelSelector.matchLabels).toEqual(only(prod, 'Deployment').spec.selector.matchLabels);
    expect(only(dev, 'OpenTelemetryCollector').spec.topologySpreadConstraints).toBeUndefined();
  });

  test.each([
    [{ elasticsearchNodes: 2 }, /elasticsearchNodes is 2; use 1 \(no redundancy\) or 3 to 15/],
    [{ elasticsearchNodes: 0 }, /elasticsearchNodes is 0/],
    [{ elasticsearchStorageGiB: 1 }, /elasticsearchStorageGiB is 1; use 2 to 16384 GiB/],
    [{ traceRetentionDays: 0 }, /traceRetentionDays is 0; use 1 to 365 days/],
    [{ nodeLogRetentionDays: 400 }, /nodeLogRetentionDays is 400; use 1 to 365 days/],
    [{ namespace: 'Monitoring' }, /namespace is "Monitoring"; use a DNS label/],
    [{ storageClassName: '' }, /storageClassName is ""; use the name of a StorageClass/],
    [{ profile: 'staging' as ObservabilityProfileName }, /profile is "staging"; use one of dev, prod/],
  ])('rejects %j, naming the prop, the value and the fix', (props, message) => {
    expect(() => synth(props)).toThrow(message);
  });
});

describe('monitoring namespace chart', () => {
  test('the namespace carries the store\'s metrics label, which the store\'s NetworkPolicy admits to the metrics port', () => {
    const app = Testing.app();
    const store = new KvStoreChart(app, 'kv', { image: 'kv:1' });
    const [ns] = Testing.synth(new MonitoringNamespaceChart(app, 'monitoring-namespace', { store }));
    expect(() => validateK8sObject(ns!)).not.toThrow();
    expect(ns!.metadata.name).toBe('monitoring');
    expect(ns!.metadata.namespace).toBeUndefined();
    const policy = Testing.synth(store).find((o) => o.kind === 'NetworkPolicy')!;
    const set = Testing.synth(store).find((o) => o.kind === 'StatefulSet')!;
    const metricsPort = set.spec.template.spec.containers[0].ports.find((p: K8sObject) => p.name === store.metricsPortName).containerPort;
    const admitting = (policy.spec.ingress as K8sObject[]).filter((rule) =>
      rule.from.some((f: K8sObject) => f.namespaceSelector && Object.entries(f.namespaceSelector.matchLabels).every(([k, v]) => ns!.metadata.labels[k] === v)),
    );
    expect(admitting.flatMap((r) => r.ports.map((p: K8sObject) => p.port))).toEqual([metricsPort]);
  });

  test('follows a store\'s own metrics label, and rejects a name that is not a DNS label', () => {
    const app = Testing.app();
    const store = new KvStoreChart(app, 'kv', { image: 'kv:1', metricsNamespaceLabel: 'example.com/scrapes-kv' });
    const [ns] = Testing.synth(new MonitoringNamespaceChart(app, 'ns', { store, name: 'observability' }));
    expect(ns!.metadata).toMatchObject({ name: 'observability', labels: { 'example.com/scrapes-kv': 'true' } });
    expect(() => new MonitoringNamespaceChart(Testing.app(), 'bad', { store, name: 'Monitoring' })).toThrow(/name is "Monitoring"; use a DNS label/);
  });
});

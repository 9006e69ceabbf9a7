import { Testing } from 'cdk8s';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KvStoreChart } from '../../constructs/k8s/kv-store-chart';
import { PROFILE_NAMES, PROFILES } from '../../lib/config';
import { GATEWAY_SCRAPE_JOB, GRAFANA_DASHBOARD_LABEL, KvMonitoringChart, KvMonitoringChartProps, MEMBERS_MAX, SAMPLES_PER_MEMBER } from '../../observability/monitoring-chart';
import { DASHBOARDS } from '../../observability/dashboards';
import { ALERTS, RECORDING_RULES, RUNBOOK_URL, runbookAnchor, SCRAPE_JOB } from '../../observability/rules';
import { crdSchema, describeWithCrds, validateAgainst, validateCustomResource } from './crd-schema';
import { REPO_ROOT } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K8sObject = Record<string, any>;

function synth(props: Partial<KvMonitoringChartProps> = {}, storeProps: { partitions?: number; gateway?: Record<string, never> } = {}): { store: KvStoreChart; objects: K8sObject[] } {
  const app = Testing.app();
  const store = new KvStoreChart(app, 'kv', { image: 'registry.example/kv-node:abc123', ...storeProps });
  const chart = new KvMonitoringChart(app, 'monitoring', { store, ...props });
  return { store, objects: Testing.synth(chart) };
}

function only(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  expect(found).toHaveLength(1);
  return found[0];
}

describeWithCrds()('monitoring chart against the prometheus-operator CRDs', () => {
  test.each(PROFILE_NAMES)('every object of profile %s passes its CRD schema, unknown fields refused', (profile) => {
    const { objects } = synth({ ...PROFILES[profile].monitoring, criticalWebhookUrlSecret: { name: 'kv-pager', key: 'url' }, warningWebhookUrlSecret: { name: 'kv-chat', key: 'url' } });
    expect(objects.map((o) => o.kind).sort()).toEqual(['AlertmanagerConfig', 'ConfigMap', 'ConfigMap', 'ConfigMap', 'ConfigMap', 'PodMonitor', 'PrometheusRule']);
    for (const o of objects.filter((x) => x.kind !== 'ConfigMap')) expect(() => validateCustomResource(o)).not.toThrow();
  });

  test('child routes, which the CRD leaves open, pass the route schema', () => {
    const route = structuredClone(crdSchema('monitoring.coreos.com/v1alpha1', 'AlertmanagerConfig').properties.spec.properties.route);
    const config = only(synth().objects, 'AlertmanagerConfig');
    expect(config.spec.route.routes.length).toBeGreaterThan(0);
    for (const child of config.spec.route.routes) validateAgainst(route, child, 'child route');
  });

  test('a store with gateways gets a second PodMonitor for them, under a job of its own, which passes the CRD schema', () => {
    const { store, objects } = synth({}, { gateway: {} });
    const monitors = objects.filter((o) => o.kind === 'PodMonitor');
    expect(monitors.map((m) => m.metadata.name).sort()).toEqual(['kv', 'kv-gateway']);
    const gatewayMonitor = monitors.find((m) => m.metadata.name === 'kv-gateway')!;
    expect(() => validateCustomResource(gatewayMonitor)).not.toThrow();
    expect(gatewayMonitor.spec.selector.matchLabels).toEqual(store.gateway!.labels);
    expect(gatewayMonitor.spec.podMetricsEndpoints[0].relabelings).toContainEqual({ action: 'replace', targetLabel: 'job', replacement: GATEWAY_SCRAPE_JOB });
    expect(GATEWAY_SCRAPE_JOB).not.toBe(SCRAPE_JOB);
    // The store's own PodMonitor does not select gateway pods: the store's alerts stay about data nodes.
    const storeMonitor = monitors.find((m) => m.metadata.name === 'kv')!;
    expect(Object.entries(storeMonitor.spec.selector.matchLabels).every(([k, v]) => store.gateway!.labels[k] === v)).toBe(false);
  });

  test('rejects a misspelt field (the check is strict)', () => {
    const monitor = only(synth().objects, 'PodMonitor');
    monitor.spec.podMetricsEndpoints[0].intervall = '30s';
    expect(() => validateCustomResource(monitor)).toThrow(/intervall|additional properties/);
  });
});

describe('monitoring chart', () => {
  const { store, objects } = synth();
  const monitor = only(objects, 'PodMonitor');
  const rule = only(objects, 'PrometheusRule');
  const config = only(objects, 'AlertmanagerConfig');

  test('scrapes the store pods on their metrics port, in the store namespace', () => {
    const storeObjects = Testing.synth(store);
    const set = storeObjects.find((o) => o.kind === 'StatefulSet')!;
    const ports = set.spec.template.spec.containers[0].ports as K8sObject[];
    expect(monitor.metadata.namespace).toBe(store.namespaceName);
    expect(monitor.spec.selector.matchLabels).toEqual(set.spec.selector.matchLabels);
    expect(ports.map((p) => p.name)).toContain(monitor.spec.podMetricsEndpoints[0].port);
    expect(monitor.spec.namespaceSelector.matchNames).toEqual([store.namespaceName]);
  });

  test('labels every target with its node and the job the rules select', () => {
    const relabelings = monitor.spec.podMetricsEndpoints[0].relabelings as K8sObject[];
    expect(relabelings).toContainEqual({ action: 'replace', sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'node' });
    expect(relabelings).toContainEqual({ action: 'replace', targetLabel: 'job', replacement: SCRAPE_JOB });
    expect(monitor.spec.podMetricsEndpoints[0].honorLabels).toBe(true);
  });

  test('sizes the scrape per profile, and its sample limit by partitions', () => {
    const dev = only(synth(PROFILES.dev.monitoring).objects, 'PodMonitor');
    const prod = only(synth(PROFILES.prod.monitoring).objects, 'PodMonitor');
    expect(dev.spec.podMetricsEndpoints[0].interval).toBe(`${PROFILES.dev.monitoring.scrapeIntervalSeconds}s`);
    expect(prod.spec.podMetricsEndpoints[0].interval).toBe(`${PROFILES.prod.monitoring.scrapeIntervalSeconds}s`);
    expect(PROFILES.prod.monitoring.scrapeIntervalSeconds).toBeLessThan(PROFILES.dev.monitoring.scrapeIntervalSeconds);
    expect(PROFILES.prod.monitoring.alertRepeatIntervalHours).toBeLessThan(PROFILES.dev.monitoring.alertRepeatIntervalHours);
    const big = only(synth({}, { partitions: 4096 }).objects, 'PodMonitor');
    expect(big.spec.sampleLimit - monitor.spec.sampleLimit).toBe(2 * (4096 - 64));
    expect(monitor.spec.sampleLimit).toBeGreaterThan(SAMPLES_PER_MEMBER * MEMBERS_MAX);
  });

  test('the PrometheusRule holds every recording rule and alert, each alert with a severity and a runbook section', () => {
    const rules = (rule.spec.groups as K8sObject[]).flatMap((g) => g.rules as K8sObject[]);
    expect(rules.filter((r) => r.record !== undefined).map((r) => r.record)).toEqual(RECORDING_RULES.map((r) => r.record));
    const alerts = rules.filter((r) => r.alert !== undefined);
    expect(alerts.map((a) => a.alert)).toEqual(ALERTS.map((a) => a.alert));
    for (const a of alerts) {
      expect(['critical', 'warning']).toContain(a.labels.severity);
      expect(a.annotations.summary).not.toBe('');
      expect(a.annotations.description).not.toBe('');
      expect(a.annotations.runbook_url).toBe(`${RUNBOOK_URL}#${runbookAnchor(a.alert)}`);
    }
  });

  test('groups by alertname and cluster, pages critical alerts, and repeats per profile', () => {
    expect(config.spec.route.groupBy).toEqual(['alertname', 'cluster']);
    expect(config.spec.route.routes).toContainEqual(expect.objectContaining({ receiver: 'kv-critical', matchers: [{ name: 'severity', value: 'critical', matchType: '=' }] }));
    expect(only(synth(PROFILES.prod.monitoring).objects, 'AlertmanagerConfig').spec.route.repeatInterval).toBe(`${PROFILES.prod.monitoring.alertRepeatIntervalHours}h`);
    const receivers = new Set((config.spec.receivers as K8sObject[]).map((r) => r.name));
    for (const r of [config.spec.route, ...config.spec.route.routes]) expect(receivers).toContain(r.receiver);
  });

  test('a node down inhibits the other alerts about the same node', () => {
    expect(config.spec.inhibitRules).toContainEqual({
      sourceMatch: [{ name: 'alertname', value: 'KvNodeDown', matchType: '=' }],
      targetMatch: [{ name: 'alertname', value: 'KvNodeDown', matchType: '!=' }],
      equal: ['cluster', 'node'],
    });
  });

  test('sends to webhooks only when given, reading their URLs from Secrets', () => {
    expect((config.spec.receivers as K8sObject[]).every((r) => r.webhookConfigs === undefined)).toBe(true);
    const paged = only(synth({ criticalWebhookUrlSecret: { name: 'kv-pager', key: 'url' } }).objects, 'AlertmanagerConfig');
    expect(paged.spec.receivers[0]).toEqual({ name: 'kv-critical', webhookConfigs: [{ urlSecret: { name: 'kv-pager', key: 'url' }, sendResolved: true }] });
  });

  test('rejects a scrape interval out of range, saying what to use', () => {
    expect(() => synth({ scrapeIntervalSeconds: 1 })).toThrow(/scrapeIntervalSeconds is 1; use 5 to 300 seconds/);
    expect(() => synth({ alertRepeatIntervalHours: 0 })).toThrow(/alertRepeatIntervalHours is 0; use 1 to 168 hours/);
  });
});

describe('dashboards', () => {
  test('one ConfigMap a dashboard, labelled for the Grafana sidecar, holding the dashboard JSON with every panel and query', () => {
    const { objects } = synth();
    const maps = objects.filter((o) => o.kind === 'ConfigMap');
    expect(maps.map((m) => m.metadata.labels[GRAFANA_DASHBOARD_LABEL])).toEqual(DASHBOARDS.map(() => '1'));
    for (const [i, spec] of DASHBOARDS.entries()) {
      const json = JSON.parse(Object.values(maps[i].data as Record<string, string>)[0]!);
      expect(json.uid).toBe(spec.uid);
      expect(json.title).toBe(spec.title);
      expect(json.panels.map((p: K8sObject) => p.title)).toEqual(spec.panels.map((p) => p.title));
      expect(json.panels.flatMap((p: K8sObject) => p.targets.map((t: K8sObject) => t.expr))).toEqual(spec.panels.flatMap((p) => p.queries.map((q) => q.expr)));
      // Laid out without overlap: two panels a row.
      const cells = new Set(json.panels.map((p: K8sObject) => `${p.gridPos.x},${p.gridPos.y}`));
      expect(cells.size).toBe(spec.panels.length);
    }
  });
});

describe('runbooks', () => {
  const runbooks = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'runbooks.md'), 'utf8');
  const headings = [...runbooks.matchAll(/^## (.+)$/gm)].map((m) => m[1]!.trim());

  test('every alert has a runbook section, and every section is an alert', () => {
    const alerts = ALERTS.map((a) => a.alert);
    expect(headings.filter((h) => /^Kv[A-Z]/.test(h)).sort()).toEqual([...alerts].sort());
    for (const a of alerts) expect(runbookAnchor(a)).toBe(a.toLowerCase().replace(/[^a-z0-9-]/g, ''));
  });

  test('the README links the runbooks', () => {
    expect(fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')).toContain('(docs/runbooks.md)');
  });
});

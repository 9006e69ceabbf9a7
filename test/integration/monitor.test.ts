/**
 * The local monitor with real parts: Debian's Prometheus and Alertmanager (what `kv cluster
 * --monitor` starts) scrape a real 3-node cluster with the rules the chart ships. A SIGKILLed node
 * raises KvNodeDown through Prometheus' API and reaches the Alertmanager; every recording rule
 * and every dashboard panel's query finds data once the cluster has served reads and writes, a node is down and a quorum failed.
 * Without the binaries the test is skipped with a line saying so; in CI (CI=true) it fails.
 */
import { spawnSync } from 'node:child_process';
import { LocalMonitor } from '../../app/local/monitor';
import { RECORDING_RULES } from '../../observability/rules';
import { panelQueries } from '../../observability/dashboards';
import { waitFor } from '../support/wait-for';
import { Fixture, startCluster } from './cluster-fixture';

const BASE_PORT = 18301; // 18301-18304
const METRICS_BASE_PORT = 18311; // 18311-18314
const PROMETHEUS_PORT = 18321;
const ALERTMANAGER_PORT = 18322;

function describeWithMonitor(): jest.Describe {
  const missing = ['prometheus', 'prometheus-alertmanager'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  if (missing.length === 0) return describe;
  const why = `${missing.join(' and ')} not installed: apt-get install -y prometheus prometheus-alertmanager (Debian; .ci/run does)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${why}`);
  process.stderr.write(`monitor.test.ts: skipped: ${why}\n`);
  return describe.skip;
}

let f: Fixture;
let monitor: LocalMonitor;

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return ((await res.json()) as { data: T }).data;
}

describeWithMonitor()('a real Prometheus and Alertmanager watching a local cluster', () => {
  beforeAll(async () => {
    f = await startCluster({ basePort: BASE_PORT, metricsBasePort: METRICS_BASE_PORT, nodes: 4 });
    monitor = await LocalMonitor.start({
      dataDir: f.dataDir,
      targets: f.cluster.nodes.map((n) => ({ node: n.id, metricsPort: n.metricsPort })),
      prometheusPort: PROMETHEUS_PORT,
      alertmanagerPort: ALERTMANAGER_PORT,
      alertFor: '4s',
    });
  }, 60_000);

  afterAll(async () => {
    await monitor?.stop();
    await f?.teardown();
  }, 60_000);

  test('a killed node raises KvNodeDown through Prometheus and reaches the Alertmanager; every recording rule finds data', async () => {
    const prom = monitor.prometheusUrl;
    await waitFor(async () => {
      const up = await api<{ result: Array<{ value: [number, string] }> }>(`${prom}/api/v1/query?query=up`);
      return (up.result.length === 4 && up.result.every((r) => r.value[1] === '1')) || `up: ${JSON.stringify(up.result.map((r) => r.value[1]))}`;
    }, { timeoutMs: 30_000, what: 'Prometheus to scrape all four nodes' });
    const client = f.client({ endpoints: f.cluster.endpoints });
    for (let i = 0; i < 50; i++) {
      await client.put(`mon-${i}`, `v${i}`);
      await client.get(`mon-${i}`);
    }
    // No alert while everything is up.
    const quiet = await api<{ alerts: Array<{ labels: { alertname: string } }> }>(`${prom}/api/v1/alerts`);
    expect(quiet.alerts.filter((a) => a.labels.alertname === 'KvNodeDown')).toEqual([]);

    await f.cluster.kill('kv-3', 'SIGKILL');
    await waitFor(async () => {
      const views = await Promise.all(['kv-1', 'kv-2', 'kv-4'].map((id) => f.statusOf(id)));
      return views.every((v) => v.members.find((m) => m.id === 'kv-3')?.reachable === false) || 'kv-3 still counted reachable';
    }, { timeoutMs: 20_000, what: 'the survivors to see kv-3 down' });
    // Writes while it is down leave hints for it; a read that needs all three primaries fails its quorum.
    const survivors = f.client({ endpoints: f.endpointsExcept('kv-3') });
    // W=3 with kv-3 down: the fourth node takes its copy as a hint (sloppy quorum).
    for (let i = 0; i < 30; i++) await survivors.put(`down-${i}`, `d${i}`, { w: 3 });
    const key = Array.from({ length: 100 }, (_, i) => `down-${i}`).find((k) => f.primariesOf(k).includes('kv-3') && f.primariesOf(k)[0] !== 'kv-3')!;
    await expect(survivors.get(key, { r: 3, pr: 3 })).rejects.toThrow();

    await waitFor(async () => {
      const alerts = await api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>(`${prom}/api/v1/alerts`);
      const down = alerts.alerts.filter((a) => a.labels.alertname === 'KvNodeDown');
      return down.some((a) => a.state === 'firing' && a.labels.node === 'kv-3') || `KvNodeDown: ${JSON.stringify(down.map((a) => `${a.labels.node}:${a.state}`))}`;
    }, { timeoutMs: 60_000, what: 'KvNodeDown to fire for kv-3' });
    // Only the node that is down.
    const firing = await api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>(`${prom}/api/v1/alerts`);
    expect(firing.alerts.filter((a) => a.labels.alertname === 'KvNodeDown' && a.state === 'firing').map((a) => a.labels.node)).toEqual(['kv-3']);
    await waitFor(async () => {
      const res = await fetch(`${monitor.alertmanagerUrl}/api/v2/alerts`, { signal: AbortSignal.timeout(5000) });
      const alerts = (await res.json()) as Array<{ labels: Record<string, string> }>;
      return alerts.some((a) => a.labels.alertname === 'KvNodeDown' && a.labels.node === 'kv-3') || 'not in the Alertmanager yet';
    }, { timeoutMs: 30_000, what: 'the Alertmanager to hold KvNodeDown for kv-3' });

    // Every recording rule has data (the rates need two scrapes of the new series).
    await waitFor(async () => {
      const empty: string[] = [];
      for (const r of RECORDING_RULES) {
        const d = await api<{ result: unknown[] }>(`${prom}/api/v1/query?query=${encodeURIComponent(r.record)}`);
        if (d.result.length === 0) empty.push(r.record);
      }
      return empty.length === 0 || `no data yet: ${empty.join(', ')}`;
    }, { timeoutMs: 60_000, what: 'every recording rule to find data' });
    // ... and every dashboard panel's query (observability/dashboards.ts), as Grafana would run it.
    await waitFor(async () => {
      const empty: string[] = [];
      for (const p of panelQueries('30s')) {
        const d = await api<{ result: unknown[] }>(`${prom}/api/v1/query?query=${encodeURIComponent(p.expr)}`);
        if (d.result.length === 0) empty.push(`${p.dashboard} / ${p.panel}: ${p.expr}`);
      }
      return empty.length === 0 || `no data yet: ${empty.join('; ')}`;
    }, { timeoutMs: 60_000, what: 'every dashboard panel query to find data' });
  }, 240_000);
});

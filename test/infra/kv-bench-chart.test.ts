/**
 * The load-test chart: kv bench as an Indexed Job whose pods the store admits and Prometheus
 * scrapes, and recording rules that sum the pods into one report, checked by promtool on series
 * of two pods.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { BENCH_METRICS_PORT, KvBenchChart, KvBenchChartProps } from '../../constructs/k8s/kv-bench-chart';
import { KvStoreChart } from '../../constructs/k8s/kv-store-chart';
import { describeWithCrds, validateCustomResource } from './crd-schema';
import { validateK8sObject } from './k8s-schema';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K8sObject = Record<string, any>;

function synth(props: Partial<KvBenchChartProps> = {}): K8sObject[] {
  const app = Testing.app();
  const store = new KvStoreChart(app, 'kv', { image: 'registry.example/kv-node:abc', gateway: {} });
  const chart = new KvBenchChart(app, 'bench', { image: 'registry.example/kv-node:abc', endpoint: 'kv-gateway.kv.svc.cluster.local:7001', clientNamespaceLabel: store.clientNamespaceLabel, metricsNamespaceLabel: store.metricsNamespaceLabel, ...props });
  return Testing.synth(chart);
}

const objects = synth();
const job = objects.find((o) => o.kind === 'Job')!;
const container = job.spec.template.spec.containers[0];
const rules = objects.find((o) => o.kind === 'PrometheusRule')!;

describe('load-test chart', () => {
  test('an Indexed Job of 4 pods at once, in a namespace the store admits as a client and the monitoring stack scrapes', () => {
    for (const o of objects.filter((x) => ['Namespace', 'Job'].includes(x.kind))) expect(() => validateK8sObject(o)).not.toThrow();
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 4, parallelism: 4, backoffLimit: 0 });
    const ns = objects.find((o) => o.kind === 'Namespace')!;
    expect(ns.metadata.labels).toEqual({ 'dynamo-kv/client': 'true', 'dynamo-kv/metrics': 'true' });
    expect(job.metadata.namespace).toBe('kv-bench');
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: BENCH_METRICS_PORT }]);
  });

  test('each pod runs kv bench with flags the CLI takes, and a rate split over the pods', async () => {
    expect(container.args.slice(0, 3)).toEqual(['bench', '--endpoint', 'kv-gateway.kv.svc.cluster.local:7001']);
    expect(container.args).toEqual(expect.arrayContaining(['--json', '--metrics-port', String(BENCH_METRICS_PORT), '--linger-s', '70']));
    const paced = synth({ pods: 8, rate: 20_000 }).find((o) => o.kind === 'Job')!.spec.template.spec.containers[0].args as string[];
    expect(paced.slice(paced.indexOf('--rate'), paced.indexOf('--rate') + 2)).toEqual(['--rate', '2500']);
    const { benchCommand } = await import('../../app/cli/bench');
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await benchCommand([...paced.slice(1), '--help']);
      expect(out).toHaveBeenCalledTimes(1);
    } finally {
      out.mockRestore();
    }
  });

  test.each<[Partial<KvBenchChartProps>, RegExp]>([
    [{ pods: 0 }, /pods is 0; use 1 to 1000/],
    [{ pods: 10, rate: 5 }, /rate is 5; use 0 or at least one operation a second per pod \(10\)/],
    [{ durationS: 0 }, /durationS is 0/],
  ])('rejects %j', (props, message) => {
    expect(() => synth(props)).toThrow(message);
  });
});

describeWithCrds()('load-test chart against the prometheus-operator CRDs', () => {
  test('the PodMonitor and the PrometheusRule pass their schemas', () => {
    for (const o of objects.filter((x) => x.apiVersion === 'monitoring.coreos.com/v1')) expect(() => validateCustomResource(o)).not.toThrow();
  });
});

function promtoolPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

(promtoolPath() !== undefined || process.env.CI === 'true' ? describe : describe.skip)('the report, by promtool', () => {
  test('the recording rules sum two pods into one rate and one p99', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-bench-rules-'));
    try {
      // JSON is YAML: promtool reads both files as they are.
      fs.writeFileSync(path.join(dir, 'rules.yaml'), JSON.stringify({ groups: rules.spec.groups }));
      const series = (pod: string, kind: string, perMinute: number) => ({ series: `kv_bench_operations_total{job="kv-bench",bench="${pod}",workload="a",kind="${kind}",outcome="ok"}`, values: `0+${perMinute}x10` });
      // Both pods: every operation under 10 ms, so p99 sits in the (5 ms, 10 ms] bucket.
      const bucket = (pod: string, le: string, perMinute: number) => ({ series: `kv_bench_latency_seconds_bucket{job="kv-bench",bench="${pod}",workload="a",kind="get",le="${le}"}`, values: `0+${perMinute}x10` });
      const tests = {
        rule_files: ['rules.yaml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [series('p0', 'get', 600), series('p1', 'get', 1200), series('p0', 'put', 60), bucket('p0', '0.005', 0), bucket('p0', '0.01', 600), bucket('p0', '+Inf', 600), bucket('p1', '0.005', 0), bucket('p1', '0.01', 1200), bucket('p1', '+Inf', 1200)],
            promql_expr_test: [
              { expr: 'kv_bench:operations:rate1m{kind="get"}', eval_time: '5m', exp_samples: [{ labels: 'kv_bench:operations:rate1m{kind="get",workload="a"}', value: 30 }] },
              { expr: 'kv_bench:operations:rate1m{kind="put"}', eval_time: '5m', exp_samples: [{ labels: 'kv_bench:operations:rate1m{kind="put",workload="a"}', value: 1 }] },
              { expr: 'kv_bench:latency_seconds:p99', eval_time: '5m', exp_samples: [{ labels: 'kv_bench:latency_seconds:p99{workload="a"}', value: 0.00995 }] },
            ],
          },
        ],
      };
      fs.writeFileSync(path.join(dir, 'tests.yaml'), JSON.stringify(tests));
      const r = spawnSync(promtoolPath() ?? 'promtool', ['test', 'rules', 'tests.yaml'], { cwd: dir, encoding: 'utf8' });
      expect({ status: r.status, output: `${r.stdout}${r.stderr}` }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

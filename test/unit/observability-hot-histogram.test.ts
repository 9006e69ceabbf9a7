/** The fast path of HotHistogram writes what prom-client's own observe would have. */
import { Histogram, Registry } from 'prom-client';
import { HotHistogram } from '../../observability/hot-histogram';

const BUCKETS = [0.001, 0.01, 0.1, 1];
/** Values on, between, below and above the bounds. */
const VALUES = [0, 0.0005, 0.001, 0.0011, 0.01, 0.05, 0.1, 0.99, 1, 1.5, 42];
const LABELS = [
  { op: 'get', outcome: 'ok' },
  { op: 'put', outcome: 'ok' },
  { op: 'put', outcome: 'InsufficientReplicas' },
];

function pair(): { plain: Histogram<'op' | 'outcome'>; hot: HotHistogram<'op' | 'outcome'>; plainRegistry: Registry; hotRegistry: Registry } {
  const plainRegistry = new Registry();
  const hotRegistry = new Registry();
  for (const r of [plainRegistry, hotRegistry]) r.setDefaultLabels({ node: 'kv-1' });
  const config = { name: 'kv_test_seconds', help: 'A test histogram.', labelNames: ['op', 'outcome'] as const, buckets: BUCKETS };
  return {
    plain: new Histogram({ ...config, labelNames: [...config.labelNames], registers: [plainRegistry] }),
    hot: new HotHistogram({ ...config, labelNames: [...config.labelNames], registers: [hotRegistry] }),
    plainRegistry,
    hotRegistry,
  };
}

test('a cell observes exactly what observe() does: the exposition text is identical', async () => {
  const { plain, hot, plainRegistry, hotRegistry } = pair();
  for (const [i, labels] of LABELS.entries()) {
    for (const v of VALUES.slice(i)) {
      plain.observe(labels, v);
      hot.cell(labels.op, labels.outcome).observe(v);
    }
  }
  const text = await hotRegistry.metrics();
  expect(text).toBe(await plainRegistry.metrics());
  // Not vacuous: every label set has its count.
  expect(text).toContain('kv_test_seconds_count{node="kv-1",op="get",outcome="ok"} 11');
  expect(text).toContain('kv_test_seconds_bucket{le="+Inf",node="kv-1",op="put",outcome="InsufficientReplicas"} 9');
});

test('a cell and observe() on the same labels add to one series; a cell is made once per key', async () => {
  const { plain, hot, plainRegistry, hotRegistry } = pair();
  const labels = LABELS[1]!;
  const cell = hot.cell(labels.op, labels.outcome);
  expect(hot.cell(labels.op, labels.outcome)).toBe(cell);
  for (const v of VALUES) {
    plain.observe(labels, v);
    plain.observe(labels, v * 2);
    hot.observe(labels, v);
    cell.observe(v * 2);
  }
  expect(await hotRegistry.metrics()).toBe(await plainRegistry.metrics());
});

test('a cell made before a reset observes into the series after it', async () => {
  const { plain, hot, plainRegistry, hotRegistry } = pair();
  const cell = hot.cell(LABELS[0]!.op, LABELS[0]!.outcome);
  cell.observe(0.5);
  plainRegistry.resetMetrics();
  hotRegistry.resetMetrics();
  plain.observe(LABELS[0]!, 0.05);
  cell.observe(0.05);
  const text = await hotRegistry.metrics();
  expect(text).toBe(await plainRegistry.metrics());
  expect(text).toContain('kv_test_seconds_count{node="kv-1",op="get",outcome="ok"} 1');
});

test('a value that is not a finite number is refused, as observe() refuses it', () => {
  const { hot } = pair();
  const cell = hot.cell(LABELS[0]!.op, LABELS[0]!.outcome);
  expect(() => cell.observe(Number.NaN)).toThrow(TypeError);
  expect(() => cell.observe(Number.POSITIVE_INFINITY)).toThrow(TypeError);
});

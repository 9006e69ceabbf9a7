/** What one client operation adds to the node's metrics, and the replica transport observed. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { err, KvError, ok, Result } from '../../app/errors';
import { ReplicaTransport } from '../../app/replication/transport';
import { encodeContext } from '../../app/versioning/codec';
import { NodeMetrics } from '../../observability/metrics';

/** The value of one series, whatever the order of its labels; undefined when absent. */
function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

const put = { kind: 'put' as const, key: Buffer.from('k'), value: Buffer.alloc(300), context: new Uint8Array(0), w: 0 };
const get = { kind: 'get' as const, key: Buffer.from('k'), r: 0 };

test('counts quorum failures by op and reason, and the sizes of what reads return and writes carry', async () => {
  const m = new NodeMetrics('kv-1');
  m.operationDone(put, err(new KvError('InsufficientReplicas', 'put: 1 of W=2')), performance.now());
  m.operationDone(put, ok({ kind: 'put', context: new Uint8Array(0), siblings: 1 }), performance.now());
  const context = encodeContext(new Map([['a.e1', 1], ['b.e1', 2], ['c.e1', 1]]));
  m.operationDone(get, ok({ kind: 'get', found: true, values: [Buffer.from('x'), Buffer.from('y')], context, deleted: false }), performance.now());
  m.operationDone(get, err(new KvError('InvalidArgument', 'key too long')), performance.now());
  const text = await m.registry.metrics();
  expect(series(text, 'kv_quorum_failures_total', { op: 'put', reason: 'InsufficientReplicas' })).toBe(1);
  // A bad request is not a quorum failure.
  expect(series(text, 'kv_quorum_failures_total', { op: 'get' })).toBeUndefined();
  expect(series(text, 'kv_operation_duration_seconds_count', { op: 'put', outcome: 'InsufficientReplicas' })).toBe(1);
  expect(series(text, 'kv_operation_duration_seconds_count', { op: 'get', outcome: 'ok' })).toBe(1);
  expect(series(text, 'kv_object_bytes_sum', {})).toBe(300);
  expect(series(text, 'kv_siblings_per_read_sum', {})).toBe(2);
  expect(series(text, 'kv_clock_entries_sum', {})).toBe(3);
});

test('times each request to a peer by kind and counts its failures by condition', async () => {
  const m = new NodeMetrics('kv-1');
  const inner = {
    fetch: async (): Promise<Result<Uint8Array | undefined>> => ok(undefined),
    replicate: async (): Promise<Result<void>> => err(new KvError('PeerUnreachable', 'down')),
    forward: async () => err(new KvError('DeadlineExceeded', 'late')),
    isUp: () => true,
  } as unknown as ReplicaTransport;
  const t = m.observeTransport(inner);
  await t.fetch('kv-2', 0, Buffer.from('k'), 100);
  await t.replicate('kv-3', 0, Buffer.from('k'), Buffer.from('o'), 100);
  const text = await m.registry.metrics();
  expect(series(text, 'kv_replica_request_duration_seconds_count', { peer: 'kv-2', kind: 'fetch' })).toBe(1);
  expect(series(text, 'kv_replica_request_errors_total', { peer: 'kv-3', kind: 'replicate', condition: 'PeerUnreachable' })).toBe(1);
  expect(series(text, 'kv_replica_request_errors_total', { peer: 'kv-2' })).toBeUndefined();
});

test('peer gauges list the current members only: a removed peer\'s series goes away', async () => {
  const m = new NodeMetrics('kv-1');
  let peers: Array<[string, boolean]> = [['kv-2', true], ['kv-3', false]];
  m.peerSource = () => peers;
  m.suspicionSource = () => peers.map(([p]) => [p, false]);
  expect(series(await m.registry.metrics(), 'kv_peer_up', { peer: 'kv-3' })).toBe(0);
  peers = [['kv-2', true]];
  const text = await m.registry.metrics();
  expect(series(text, 'kv_peer_up', { peer: 'kv-3' })).toBeUndefined();
  expect(series(text, 'kv_peer_suspected', { peer: 'kv-3' })).toBeUndefined();
  expect(series(text, 'kv_peer_up', { peer: 'kv-2' })).toBe(1);
});

test('every kv_ metric is documented in the README and named by the Prometheus conventions, with no unbounded label', async () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const registry = new NodeMetrics('kv-1').registry;
  const metrics = (await registry.getMetricsAsJSON()).filter((m) => m.name.startsWith('kv_'));
  expect(metrics.length).toBeGreaterThan(40);
  expect(metrics.filter((m) => !readme.includes(`\`${m.name}\``)).map((m) => m.name)).toEqual([]);
  // Counters end in _total; nothing else does; a unit, when there is one, is the base unit, last.
  expect(metrics.filter((m) => (String(m.type) === 'counter') !== m.name.endsWith('_total')).map((m) => m.name)).toEqual([]);
  expect(metrics.filter((m) => /_(ms|milliseconds|kb|mb|minutes|hours)(_|$)/.test(m.name)).map((m) => m.name)).toEqual([]);
  expect(metrics.filter((m) => m.help.length < 20).map((m) => m.name)).toEqual([]);
  // Labels whose values are bounded by the cluster's size or by fixed lists; never a key or a request id.
  const labels = new Set(registry.getMetricsAsArray().flatMap((m) => (m as unknown as { labelNames: string[] }).labelNames));
  expect([...labels].sort()).toEqual(expect.arrayContaining(['op', 'outcome', 'peer', 'method', 'code']));
  expect([...labels].filter((l) => /key|request|trace|id$/i.test(l))).toEqual([]);
});

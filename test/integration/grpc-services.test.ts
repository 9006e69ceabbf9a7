/** The standard services: server reflection lists the client services (never kv.v1.Peer); health says SERVING. */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  f = await startCluster({ basePort: 17501, nodes: 3, metricsBasePort: 17511 });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function clientFor(protoFile: string, includeDirs: string[], servicePath: string[], address: string): AnyClient {
  const def = protoLoader.loadSync(protoFile, { includeDirs, keepCase: true, defaults: true, oneofs: true, enums: String });
  let ctor: unknown = grpc.loadPackageDefinition(def);
  for (const part of servicePath) ctor = (ctor as Record<string, unknown>)[part];
  return new (ctor as typeof grpc.Client)(address, grpc.credentials.createInsecure()) as AnyClient;
}

test('a server-reflection client lists the client services and the health service, not the peer service', async () => {
  const reflectionDir = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  const client = clientFor('grpc/reflection/v1/reflection.proto', [reflectionDir], ['grpc', 'reflection', 'v1', 'ServerReflection'], f.cluster.nodes[0]!.endpoint);
  const services = await new Promise<string[]>((resolve, reject) => {
    const call = (client.ServerReflectionInfo as () => grpc.ClientDuplexStream<unknown, { list_services_response?: { service: { name: string }[] } }>)();
    call.on('data', (msg: { list_services_response?: { service: { name: string }[] } }) => {
      resolve((msg.list_services_response?.service ?? []).map((s) => s.name));
      call.end();
    });
    call.on('error', reject);
    call.write({ list_services: '' });
  });
  client.close();
  expect(services.sort()).toEqual(['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'kv.v1.Backup', 'kv.v1.KV']);
});

test('the health service answers SERVING for the server and for kv.v1.KV', async () => {
  const client = clientFor(healthProtoPath, [], ['grpc', 'health', 'v1', 'Health'], f.cluster.nodes[1]!.endpoint);
  const check = (service: string) =>
    new Promise<string>((resolve, reject) =>
      (client.Check as (req: unknown, cb: (e: grpc.ServiceError | null, r: { status: string }) => void) => void)({ service }, (e, r) => (e ? reject(e) : resolve(r.status))),
    );
  expect(await check('')).toBe('SERVING');
  expect(await check('kv.v1.KV')).toBe('SERVING');
  client.close();
});

test('each node serves Prometheus metrics that count the operations it coordinated', async () => {
  const node = f.cluster.nodes[0]!;
  await f.waitConnected();
  const client = f.client({ endpoints: [node.endpoint] });
  // A key this node is a primary of: it coordinates the put, commits it and sends it to peers.
  const key = Array.from({ length: 100 }, (_, i) => `metered-${i}`).find((k) => f.primariesOf(k).includes(node.id))!;
  await client.put(key, 'x');
  await client.get(key);
  const res = await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/plain/);
  const text = await res.text();
  const count = (op: string) => Number(new RegExp(`^kv_operations_total\\{[^}]*op="${op}"[^}]*outcome="ok"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  expect(count('put')).toBeGreaterThanOrEqual(1);
  expect(count('get')).toBeGreaterThanOrEqual(1);
  expect(text).toMatch(/^kv_operation_duration_seconds_bucket\{/m);
  expect(text).toMatch(new RegExp(`^kv_peer_up\\{[^}]*peer="kv-2"[^}]*\\} 1`, 'm'));
  const sample = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)`, 'm').exec(text)?.[1] ?? -1);
  expect(sample('kv_store_commit_updates_count')).toBeGreaterThanOrEqual(1);
  expect(sample('kv_store_commit_duration_seconds_count')).toBeGreaterThanOrEqual(1);
  expect(sample('kv_peer_message_requests_count')).toBeGreaterThanOrEqual(1);
  expect(sample('kv_store_corrupt_records_total')).toBe(0);
  // Operation latency by outcome; replica requests by peer and kind; sizes of what was read and written.
  expect(text).toMatch(/^kv_operation_duration_seconds_bucket\{[^}]*op="put"[^}]*outcome="ok"/m);
  expect(text).toMatch(/^kv_replica_request_duration_seconds_count\{[^}]*peer="kv-\d"[^}]*kind="replicate"\} [1-9]/m);
  expect(sample('kv_siblings_per_read_count')).toBeGreaterThanOrEqual(1);
  expect(sample('kv_siblings_per_read_sum')).toBeGreaterThanOrEqual(1);
  expect(sample('kv_object_bytes_sum')).toBeGreaterThanOrEqual(1);
  expect(sample('kv_clock_entries_sum')).toBeGreaterThanOrEqual(1);
  // Storage, read at scrape time.
  expect(sample('kv_store_used_bytes')).toBeGreaterThan(0);
  expect(sample('kv_store_map_size_bytes')).toBeGreaterThan(0);
  expect(sample('kv_disk_free_bytes')).toBeGreaterThan(0);
  expect(text).toMatch(/^kv_disk_free_bytes_min(\{[^}]*\})? \d+/m);
  expect(sample('kv_partitions_under_replicated')).toBe(0);
  // 64 partitions, N=3 over 3 nodes: each node is a primary of every partition and the owner of about a third.
  const role = (r: string) => Number(new RegExp(`^kv_partitions\\{[^}]*role="${r}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? -1);
  expect(role('primary')).toBe(64);
  expect(role('owner')).toBeGreaterThan(10);
  expect(role('owner')).toBeLessThan(32);
  expect(text).toMatch(/^nodejs_eventloop_lag_seconds(\{[^}]*\})? \d/m);
  const missing = await fetch(`http://127.0.0.1:${node.metricsPort}/other`);
  expect(missing.status).toBe(404);
  // The probes the charts point the kubelet at (plain HTTP: it cannot probe gRPC over TLS).
  expect((await fetch(`http://127.0.0.1:${node.metricsPort}/livez`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${node.metricsPort}/readyz`)).status).toBe(200);
});

test('each client call is counted by method and gRPC status code, a refused one with its code', async () => {
  const node = f.cluster.nodes[1]!;
  const client = f.client({ endpoints: [node.endpoint] });
  const handled = async (method: string, code: string) => {
    const text = await (await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`)).text();
    return Number(new RegExp(`^kv_grpc_server_handled_total\\{[^}]*method="${method}"[^}]*code="${code}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };
  const before = { ok: await handled('Status', 'OK'), invalid: await handled('Get', 'INVALID_ARGUMENT') };
  await client.status();
  await expect(client.get('x'.repeat(2000))).rejects.toThrow(/INVALID_ARGUMENT/);
  expect(await handled('Status', 'OK')).toBe(before.ok + 1);
  expect(await handled('Get', 'INVALID_ARGUMENT')).toBe(before.invalid + 1);
});

test('a node logs ECS JSON lines: timestamp, level, message, its id as service.node.name', () => {
  const node = f.cluster.nodes[0]!;
  const lines = fs.readFileSync(path.join(node.dataDir, 'node.log'), 'utf8').split('\n').filter((l) => l.startsWith('{'));
  const serving = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'node serving');
  expect(serving).toMatchObject({ 'log.level': 'info', 'service.name': 'kv', 'service.node.name': node.id, 'event.dataset': 'kv.node', kv: { port: node.port } });
  expect(typeof serving!['@timestamp']).toBe('string');
  expect(typeof serving!['ecs.version']).toBe('string');
});

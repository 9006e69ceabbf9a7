/**
 * Tracing end to end, in one process: three real nodes (LMDB, gRPC peer streams) trace every
 * operation and export over OTLP/HTTP (JSON) to a real receiver in the test, found through the
 * standard OTEL_EXPORTER_OTLP_ENDPOINT variable. The test rebuilds each trace's tree from what
 * arrived: one client operation span, a child span per replica request, and on the replica's
 * node a server span continuing the trace from the traceparent carried in the peer request.
 * Ports: the receiver's is chosen by the system; the nodes' are free ones found just before.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { KvClient } from '../../app/client/client';
import { protos } from '../../app/rpc/proto-definition';
import { parseNodeConfig } from '../../app/node/config';
import { newContextKeysText } from '../../app/node/context-keys';
import { KvNode } from '../../app/node/node';
import { routingForMembers } from '../../app/ring/placement';
import { partitionOf } from '../../app/ring/ring';
import { silentLogger } from '../../observability/log';

interface ExportedSpan {
  readonly node: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, string | number | boolean>;
  readonly failed: boolean;
}

/** OTLP span kinds (the JSON protocol sends the enum's number). */
const SERVER = 2;
const CLIENT = 3;

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
function valueOf(v: AnyValue): string | number | boolean {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  return v.doubleValue ?? '';
}
const attributesOf = (list: Array<{ key: string; value: AnyValue }> = []) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/** A minimal OTLP/HTTP receiver: takes JSON export requests at /v1/traces and keeps their spans. */
async function otlpReceiver(): Promise<{ url: string; spans: ExportedSpan[]; contentTypes: Set<string>; close(): Promise<void> }> {
  const spans: ExportedSpan[] = [];
  const contentTypes = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
      contentTypes.add(String(req.headers['content-type']));
      const raw = Buffer.concat(chunks);
      const body = JSON.parse((req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw).toString('utf8'));
      for (const rs of body.resourceSpans ?? []) {
        const node = String(attributesOf(rs.resource?.attributes)['service.instance.id']);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({ node, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind, attributes: attributesOf(s.attributes), failed: s.status?.code === 2 });
          }
        }
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, contentTypes, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** A span and its children, rebuilt from parent ids. */
interface Tree {
  readonly span: ExportedSpan;
  readonly children: Tree[];
}

function treeOf(spans: readonly ExportedSpan[], root: ExportedSpan): Tree {
  const inTrace = spans.filter((s) => s.traceId === root.traceId);
  const build = (span: ExportedSpan): Tree => ({ span, children: inTrace.filter((s) => s.parentSpanId === span.spanId).map(build).sort((a, b) => `${a.span.name} ${a.span.attributes['kv.peer']}`.localeCompare(`${b.span.name} ${b.span.attributes['kv.peer']}`)) });
  return build(root);
}

/** The tree as text lines, `name@node (peer)`, indented by depth: what the assertions compare. */
function shape(t: Tree, depth = 0): string[] {
  const peer = t.span.attributes['kv.peer'] === undefined ? '' : ` -> ${t.span.attributes['kv.peer']}`;
  return [`${'  '.repeat(depth)}${t.span.name}@${t.span.node}${peer}`, ...t.children.flatMap((c) => shape(c, depth + 1))];
}

const CLIENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';
const CLIENT_SAMPLED = `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`;
const CLIENT_UNSAMPLED_TRACE_ID = '5bf92f3577b34da6a3ce929d0e0e4737';
const CLIENT_NOT_SAMPLED = `00-${CLIENT_UNSAMPLED_TRACE_ID}-${CLIENT_SPAN_ID}-00`;

/** A Put sent with a `traceparent` in its gRPC metadata, as an instrumented client sends it. */
async function putWithMetadata(address: string, key: string, traceparent: string): Promise<void> {
  const client = new (protos().kv.KV)(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('traceparent', traceparent);
  try {
    await new Promise<void>((resolve, reject) => client.Put({ key: Buffer.from(key), value: Buffer.from('t') }, metadata, (e: grpc.ServiceError | null) => (e ? reject(e) : resolve())));
  } finally {
    client.close();
  }
}

const IDS = ['kv-1', 'kv-2', 'kv-3'];
const PARTITIONS = 64;
const N = 2;

describe('tracing across nodes (OTLP/HTTP export)', () => {
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let nodes: KvNode[] = [];
  let dirs: string[] = [];
  const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;

  beforeAll(async () => {
    receiver = await otlpReceiver();
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    const ports = await freePorts(IDS.length);
    const peers = IDS.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
    dirs = IDS.map((id) => fs.mkdtempSync(path.join(os.tmpdir(), `kv-trace-${id}-`)));
    // One context key file for the three nodes, as kv cluster gives its nodes.
    const contextKeysFile = path.join(dirs[0]!, 'cluster-context-keys');
    fs.writeFileSync(contextKeysFile, newContextKeysText());
    nodes = await Promise.all(
      IDS.map((id, i) =>
        KvNode.start(
          parseNodeConfig(
            ['--node-id', id, '--port', String(ports[i]), '--peers', peers, '--data-dir', dirs[i]!, '--context-keys-file', contextKeysFile, '--n', String(N), '--partitions', String(PARTITIONS), '--metrics-port', '0', '--trace-sample-ratio', '1', '--durability', 'relaxed', '--disk-free-bytes-min', '0', '--anti-entropy-interval-ms', '0', '--gossip-interval-ms', '0', '--tombstone-reap-interval-ms', '0', '--shutdown-grace-ms', '500'],
            {},
          ),
          silentLogger,
        ),
      ),
    );
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await receiver?.close();
    if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('a put and a get, coordinated and forwarded, each export one tree: the operation, a span per replica, the replica side continuing it', async () => {
    const routing = routingForMembers(IDS, PARTITIONS, N);
    const primariesOf = (key: string) => routing.replicas(partitionOf(Buffer.from(key), PARTITIONS)).primaries;
    // Keys by where they fall: one kv-1 is a primary of (it coordinates), one it is not (it forwards).
    const keys = Array.from({ length: 200 }, (_, i) => `trace-key-${i}`);
    const local = keys.find((k) => primariesOf(k).includes('kv-1'))!;
    const remote = keys.find((k) => !primariesOf(k).includes('kv-1'))!;
    const usedPartitions = new Set([local, remote].map((k) => partitionOf(Buffer.from(k), PARTITIONS)));
    const freshKeys = keys.filter((k) => primariesOf(k).includes('kv-1') && !usedPartitions.has(partitionOf(Buffer.from(k), PARTITIONS)) && (usedPartitions.add(partitionOf(Buffer.from(k), PARTITIONS)), true));
    const [sampledKey, unsampledKey, malformedKey] = freshKeys.slice(1) as [string, string, string];
    const client = new KvClient({ endpoints: [nodes[0]!.config.advertise], routing: 'any', timeoutMs: 5000 });
    try {
      // Until every node has its peer streams up, a write may go to a fallback; the warm-up key
      // falls in another partition, so its traces are told apart by kv.partition.
      const warm = freshKeys[0]!;
      for (let i = 0; ; i++) {
        const s = await client.status();
        if (s.members.every((m) => m.reachable)) break;
        if (i > 100) throw new Error('peers did not connect');
        await new Promise((r) => setTimeout(r, 50));
      }
      await client.put(warm, 'w');
      await client.put(local, 'v1');
      expect((await client.get(local)).values.map(String)).toEqual(['v1']);
      await client.put(remote, 'v2');
      expect((await client.get(remote)).values.map(String)).toEqual(['v2']);
      // A client's own trace context (gRPC metadata): sampled joins its trace, not sampled is not
      // traced, malformed is ignored (the node's sampler decides: ratio 1 here).
      for (const [key, traceparent] of [
        [sampledKey, CLIENT_SAMPLED],
        [unsampledKey, CLIENT_NOT_SAMPLED],
        [malformedKey, '00-not-a-trace-context-01'],
      ] as const) {
        await putWithMetadata(nodes[0]!.config.advertise, key, traceparent);
      }
    } finally {
      client.close();
    }
    // Stopping flushes each node's spans to the receiver.
    await Promise.all(nodes.map((n) => n.stop()));
    const spans = receiver.spans;
    expect([...receiver.contentTypes]).toEqual(['application/json']);
    const rootOf = (name: string, key: string) => {
      const partition = partitionOf(Buffer.from(key), PARTITIONS);
      const roots = spans.filter((s) => s.name === name && s.node === 'kv-1' && s.parentSpanId === '' && s.attributes['kv.partition'] === partition);
      expect(roots).toHaveLength(1);
      return roots[0]!;
    };

    // Coordinated at kv-1: the local write and one replicate; the other primary serves it in the same trace.
    const other = primariesOf(local).find((p) => p !== 'kv-1')!;
    const put = treeOf(spans, rootOf('kv.put', local));
    expect(shape(put)).toEqual(['kv.put@kv-1', '  kv.replica.replicate@kv-1 -> ' + other, `    kv.peer.replicate@${other}`, '  kv.replica.write@kv-1 -> kv-1']);
    expect(put.span.kind).toBe(SERVER);
    expect(put.children.every((c) => c.span.kind === CLIENT)).toBe(true);
    expect(put.span.attributes).toMatchObject({ 'kv.quorum': N, 'kv.quorum.reached': true, 'kv.replicas.asked': 1, 'kv.replicas.answered': 1, 'kv.fallbacks': 0, 'kv.hinted': 0, 'kv.forwarded': false });

    // A get asks every primary (N child spans); the remote one answers under a server span.
    const get = treeOf(spans, rootOf('kv.get', local));
    expect(shape(get)).toEqual(['kv.get@kv-1', ...['kv-1', other].sort().flatMap((p) => [`  kv.replica.fetch@kv-1 -> ${p}`, ...(p === 'kv-1' ? [] : [`    kv.peer.fetch@${p}`])])]);
    expect(get.span.attributes).toMatchObject({ 'kv.quorum': N, 'kv.quorum.reached': true, 'kv.replicas.asked': N, 'kv.replicas.answered': N });

    // Forwarded: kv-1's span has one kv.forward child, under which a primary coordinates it.
    for (const [name, replicaSpan] of [
      ['kv.put', 'kv.replica.replicate'],
      ['kv.get', 'kv.replica.fetch'],
    ] as const) {
      const tree = treeOf(spans, rootOf(name, remote));
      expect(tree.span.attributes).toMatchObject({ 'kv.forwarded': true, 'kv.replicas.asked': 0 });
      expect(tree.children.map((c) => c.span.name)).toEqual(['kv.forward']);
      const coordinator = tree.children[0]!.span.attributes['kv.peer'] as string;
      expect(primariesOf(remote)).toContain(coordinator);
      const there = tree.children[0]!.children;
      expect(there.map((c) => `${c.span.name}@${c.span.node}`)).toEqual([`${name}@${coordinator}`]);
      expect(there[0]!.span.attributes).toMatchObject({ 'kv.forward.received': true, 'kv.quorum.reached': true });
      const replicaRequests = there[0]!.children.filter((c) => c.span.name === replicaSpan);
      // A put's own write is its Nth replica; a get fetches from all N.
      expect(replicaRequests).toHaveLength(name === 'kv.put' ? N - 1 : N);
      for (const r of replicaRequests.filter((c) => c.span.attributes['kv.peer'] !== coordinator)) {
        expect(r.children.map((c) => `${c.span.name}@${c.span.node}`)).toEqual([`${replicaSpan.replace('kv.replica', 'kv.peer')}@${r.span.attributes['kv.peer']}`]);
      }
    }

    // The client's sampled trace: kv-1's operation span is a child of the client's span.
    const joined = spans.filter((s) => s.traceId === CLIENT_TRACE_ID && s.node === 'kv-1' && s.name === 'kv.put');
    expect(joined.map((s) => s.parentSpanId)).toEqual([CLIENT_SPAN_ID]);
    expect(joined[0]!.attributes['kv.partition']).toBe(partitionOf(Buffer.from(sampledKey), PARTITIONS));
    expect(shape(treeOf(spans, joined[0]!))).toEqual(['kv.put@kv-1', expect.stringMatching(/^ {2}kv.replica.replicate@kv-1 -> kv-\d$/), expect.stringMatching(/^ {4}kv.peer.replicate@kv-\d$/), '  kv.replica.write@kv-1 -> kv-1']);
    // Not sampled by the client: no span of that operation anywhere.
    expect(spans.filter((s) => s.traceId === CLIENT_UNSAMPLED_TRACE_ID || s.attributes['kv.partition'] === partitionOf(Buffer.from(unsampledKey), PARTITIONS))).toEqual([]);
    // Malformed: ignored, so the operation is a root of its own trace.
    rootOf('kv.put', malformedKey);
    expect(spans.filter((s) => s.failed)).toEqual([]);
  });
});

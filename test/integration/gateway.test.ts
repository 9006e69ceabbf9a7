/**
 * Gateways (`kv node --role gateway`): real processes in front of a real 3-node store. A
 * partition-aware client that reaches a gateway sends it everything; operations, siblings and
 * errors come through as the store answers them; a storage node down changes nothing for the
 * client; the gateway serves no peer traffic, waits for the store before it is ready, bounds
 * what it has in flight, and stops cleanly.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { KvClient, KvClientError } from '../../app/client/client';
import { protos } from '../../app/rpc/proto-definition';
import { waitFor } from '../support/wait-for';
import { Fixture, KV_SCRIPT, kv, startCluster, statusAt } from './cluster-fixture';

const BASE_PORT = 18831; // 18831-18833: the store
const GATEWAY_PORT = 18841;
const GATEWAY_METRICS_PORT = 18842;
const LONELY_GATEWAY_PORT = 18843; // a gateway whose store is not there
const TIGHT_GATEWAY_PORT = 18844; // in-flight-max 1
const LONELY_GATEWAY_METRICS_PORT = 18845;

let store: Fixture;
const gateways: ChildProcess[] = [];

function startGateway(port: number, upstream: string, ...more: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [KV_SCRIPT, 'node', '--role', 'gateway', '--node-id', `gw-${port}`, '--port', String(port), '--metrics-port', '0', '--upstream', upstream, ...more], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  gateways.push(child);
  return { child, output: () => output };
}

const gatewayAddress = `127.0.0.1:${GATEWAY_PORT}`;

beforeAll(async () => {
  store = await startCluster({ basePort: BASE_PORT, nodes: 3 });
  startGateway(GATEWAY_PORT, store.cluster.nodes[0]!.endpoint, '--metrics-port', String(GATEWAY_METRICS_PORT));
  await waitFor(async () => (await statusAt(gatewayAddress))?.role === 'gateway', { timeoutMs: 20_000, what: 'the gateway answering Status' });
}, 60_000);

afterAll(async () => {
  for (const g of gateways) if (g.exitCode === null) g.kill('SIGKILL');
  await store?.teardown();
}, 60_000);

test('a partition-aware client that reaches a gateway sends it every operation, and reads what the store holds', async () => {
  const attempts: string[] = [];
  const client = new KvClient({ endpoints: [gatewayAddress], routing: 'primary', onAttempt: (address) => attempts.push(address) });
  try {
    for (let i = 0; i < 50; i++) await client.put(`gw-${i}`, `v${i}`);
    await client.put('gw-0', 'concurrent');
    const got = await client.get('gw-0');
    expect(got.values.map(String).sort()).toEqual(['concurrent', 'v0']);
    const del = await client.get('gw-1');
    await client.delete('gw-1', { context: del.context });
    expect(new Set(attempts)).toEqual(new Set([gatewayAddress]));
  } finally {
    client.close();
  }
  // The store holds what went through the gateway.
  const direct = store.client();
  expect((await direct.get('gw-0')).values.map(String).sort()).toEqual(['concurrent', 'v0']);
  expect((await direct.get('gw-1')).found).toBe(false);
  expect((await direct.get('gw-49')).values.map(String)).toEqual(['v49']);
  const s = await statusAt(gatewayAddress);
  expect(s).toMatchObject({ role: 'gateway', nodeId: `gw-${GATEWAY_PORT}`, partitions: 64, n: 3, r: 2, w: 2 });
  expect(s!.members.map((m) => m.id)).toEqual([`gw-${GATEWAY_PORT}`]);
  expect(new Set(s!.placement.flatMap((p) => p.members))).toEqual(new Set([`gw-${GATEWAY_PORT}`]));
  const status = await kv(['status', '--endpoint', gatewayAddress]);
  expect(status.stdout).toMatch(new RegExp(`^gateway gw-${GATEWAY_PORT}: holds no data; forwards each operation to a primary of its key in a store of Q=64 partitions, N=3 R=2 W=2`));
  const metrics = await (await fetch(`http://127.0.0.1:${GATEWAY_METRICS_PORT}/metrics`)).text();
  expect(metrics).toMatch(/kv_operations_total\{op="put",outcome="ok",node="gw-18841"\} (5\d|[6-9]\d|\d{3,})/);
  expect(metrics).toMatch(/kv_operations_in_flight\{node="gw-18841"\} 0/);
}, 60_000);

test('the store\'s errors come through the gateway with their status and message', async () => {
  const client = new KvClient({ endpoints: [gatewayAddress], attemptsMax: 1 });
  try {
    await expect(client.put('', 'v')).rejects.toMatchObject({ codeName: 'INVALID_ARGUMENT', message: expect.stringMatching(/^INVALID_ARGUMENT: key: 0 bytes/) });
    await expect(client.put('k', 'v', { w: 4 })).rejects.toMatchObject({ codeName: 'INVALID_ARGUMENT', message: expect.stringContaining('w: 4') });
  } finally {
    client.close();
  }
});

test('with a storage node down, operations through the gateway still succeed', async () => {
  await store.withDown(['kv-2'], async () => {
    const client = new KvClient({ endpoints: [gatewayAddress] });
    try {
      for (let i = 0; i < 30; i++) await client.put(`down-${i}`, `v${i}`);
      for (let i = 0; i < 30; i++) expect((await client.get(`down-${i}`)).values.map(String)).toEqual([`v${i}`]);
    } finally {
      client.close();
    }
  });
}, 90_000);

test('a gateway serves no peer traffic', async () => {
  const peer = new (protos().peer.Peer)(gatewayAddress, grpc.credentials.createInsecure());
  try {
    const code = await new Promise<number>((resolve) => {
      const call = peer.Exchange();
      call.on('error', (e: grpc.ServiceError) => resolve(e.code));
      call.on('data', () => {});
      call.end();
    });
    expect(grpc.status[code]).toBe('UNIMPLEMENTED');
  } finally {
    peer.close();
  }
});

test('a gateway whose store does not answer is not ready, says so, and serves once the store is there', async () => {
  const lonely = startGateway(LONELY_GATEWAY_PORT, '127.0.0.1:18849', '--metrics-port', String(LONELY_GATEWAY_METRICS_PORT));
  await waitFor(async () => (await statusAt(`127.0.0.1:${LONELY_GATEWAY_PORT}`)) !== undefined, { timeoutMs: 20_000, what: 'the lonely gateway listening' });
  // The kubelet's HTTP probes: alive, not ready.
  expect((await fetch(`http://127.0.0.1:${LONELY_GATEWAY_METRICS_PORT}/livez`)).status).toBe(200);
  const notReady = await fetch(`http://127.0.0.1:${LONELY_GATEWAY_METRICS_PORT}/readyz`);
  expect(notReady.status).toBe(503);
  expect(await notReady.text()).toMatch(/not serving clients/);
  expect((await fetch(`http://127.0.0.1:${GATEWAY_METRICS_PORT}/readyz`)).status).toBe(200);
  const client = new KvClient({ endpoints: [`127.0.0.1:${LONELY_GATEWAY_PORT}`], attemptsMax: 1, routing: 'any' });
  try {
    await expect(client.put('k', 'v')).rejects.toMatchObject({ codeName: 'UNAVAILABLE', message: expect.stringContaining('is a gateway that has not reached the store yet (--upstream 127.0.0.1:18849)') });
  } finally {
    client.close();
  }
  lonely.child.kill('SIGTERM');
  await waitFor(() => lonely.child.exitCode !== null, { timeoutMs: 10_000, what: 'the lonely gateway stopping on SIGTERM' });
  expect(lonely.child.exitCode).toBe(0);
  expect(lonely.output()).toContain('"message":"stopped"');
}, 60_000);

test('a gateway bounds its operations in flight: beyond in-flight-max it answers RESOURCE_EXHAUSTED', async () => {
  startGateway(TIGHT_GATEWAY_PORT, store.cluster.nodes[1]!.endpoint, '--in-flight-max', '1');
  const address = `127.0.0.1:${TIGHT_GATEWAY_PORT}`;
  await waitFor(async () => (await statusAt(address))?.partitions === 64, { timeoutMs: 20_000, what: 'the tight gateway ready' });
  const client = new KvClient({ endpoints: [address], attemptsMax: 1, batch: true });
  try {
    const results = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => client.put(`tight-${i}`, 'v')));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as KvClientError);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => e.codeName === 'RESOURCE_EXHAUSTED' && /has 1 operations in flight \(in-flight-max 1\)/.test(e.message))).toBe(true);
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
  } finally {
    client.close();
  }
}, 60_000);

test('kv node refuses a gateway without --upstream, and --upstream on a storage node, with one line', async () => {
  const noUpstream = await kv(['node', '--role', 'gateway', '--node-id', 'gw-x']);
  expect(noUpstream.code).toBe(2);
  expect(noUpstream.stderr.trim()).toBe('kv node: --role: a gateway needs --upstream (KV_UPSTREAM): the store nodes it forwards to, host:port comma-separated');
  const onStorage = await kv(['node', '--node-id', 'kv-x', '--upstream', '127.0.0.1:1']);
  expect(onStorage.stderr.trim()).toBe('kv node: --upstream: --upstream is for --role gateway; a storage node finds its peers through --peers');
});

/**
 * The server side of the peer service: the bound on the requests of one peer stream worked on at
 * once (peerStreamInFlightMax), and timeout_ms (a request that waited past it is not run). A raw
 * Exchange stream stands in for the peer transport, so each request's id and timeout are the
 * test's. Ports: chosen by the system.
 */
import * as grpc from '@grpc/grpc-js';
import { ok } from '../../app/errors';
import { ClientOp } from '../../app/api/ops';
import { KvServer, NodeHandlers } from '../../app/rpc/server';
import { protos } from '../../app/rpc/proto-definition';
import type { PeerRequest } from '../../app/rpc/generated/kv/v1/PeerRequest';
import type { PeerRequests } from '../../app/rpc/generated/kv/v1/PeerRequests';
import type { PeerResponse__Output } from '../../app/rpc/generated/kv/v1/PeerResponse';
import type { PeerResponses__Output } from '../../app/rpc/generated/kv/v1/PeerResponses';
import type { StatusResponse } from '../../app/rpc/generated/kv/v1/StatusResponse';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Handlers whose replicate, fetch and execute wait until released; they count what ran. */
function heldNode() {
  const held: Array<() => void> = [];
  const ran: string[] = [];
  let running = 0;
  let runningMax = 0;
  const executed: Array<{ op: ClientOp; timeoutMs?: number }> = [];
  const hold = <T>(what: string, value: T) =>
    new Promise<T>((resolve) => {
      ran.push(what);
      runningMax = Math.max(runningMax, ++running);
      held.push(() => {
        running--;
        resolve(value);
      });
    });
  const handlers: NodeHandlers = {
    execute: (op, options) => {
      executed.push({ op, timeoutMs: options.timeoutMs });
      return hold('execute', ok({ kind: 'put', context: Buffer.alloc(0), siblings: 1 }));
    },
    fetch: (_p, key) => hold(`fetch ${Buffer.from(key).toString()}`, ok(undefined)),
    replicate: (_p, key) => hold(`replicate ${Buffer.from(key).toString()}`, ok(undefined)),
    ping: () => ({ dataId: 'callee', knewDataId: '' }),
    status: () => ({}) as StatusResponse,
  };
  return {
    handlers,
    ran,
    executed,
    get runningMax() {
      return runningMax;
    },
    /** Lets the oldest `n` held requests finish (all when n is undefined). */
    release: (n?: number) => held.splice(0, n ?? held.length).forEach((finish) => finish()),
    get heldCount() {
      return held.length;
    },
  };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(peerStreamInFlightMax: number) {
  const node = heldNode();
  const server = await KvServer.start(node.handlers, { host: '127.0.0.1', port: 0, messageBytesMax: 1 << 20, batchOpsMax: 64, streamInFlightMax: 64, peerStreamInFlightMax });
  cleanups.push(() => server.shutdown(0));
  const client = new (protos().peer.Peer)(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  const meta = new grpc.Metadata();
  meta.set('kv-from', 'caller');
  const stream: grpc.ClientDuplexStream<PeerRequests, PeerResponses__Output> = client.Exchange(meta);
  stream.on('error', () => {});
  cleanups.push(() => stream.cancel());
  const answers = new Map<number, PeerResponse__Output>();
  stream.on('data', (m: PeerResponses__Output) => {
    for (const r of m.responses) answers.set(Number(r.id), r);
  });
  const send = (...requests: PeerRequest[]) => stream.write({ requests });
  return { node, send, answers };
}

const replicate = (id: number, key: string, timeoutMs: number): PeerRequest => ({ id, timeoutMs, replicate: { partition: 0, key: Buffer.from(key), object: Buffer.from('o') } });
const fetch = (id: number, key: string, timeoutMs: number): PeerRequest => ({ id, timeoutMs, fetch: { partition: 0, key: Buffer.from(key) } });

async function until(what: string, condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(5);
  }
}

test('works on at most peerStreamInFlightMax requests of one stream at once; the others wait, in order, and all are answered', async () => {
  const { node, send, answers } = await setUp(3);
  send(...Array.from({ length: 10 }, (_, i) => fetch(i + 1, `k${i + 1}`, 10_000)));
  send(...Array.from({ length: 10 }, (_, i) => fetch(i + 11, `k${i + 11}`, 10_000)));
  await until('three requests run', () => node.heldCount === 3);
  await sleep(50);
  expect(node.heldCount).toBe(3);
  while (answers.size < 20) {
    node.release(1);
    await sleep(2);
  }
  expect(node.runningMax).toBe(3);
  expect(node.ran).toEqual(Array.from({ length: 20 }, (_, i) => `fetch k${i + 1}`));
  expect([...answers.values()].every((r) => r.fetched)).toBe(true);
});

test('rejects a request that waited for a slot past its timeout: answered DEADLINE_EXCEEDED, nothing applied, never run', async () => {
  const { node, send, answers } = await setUp(1);
  send(replicate(1, 'first', 10_000), replicate(2, 'late', 100), replicate(3, 'patient', 10_000));
  await until('the first replicate runs', () => node.heldCount === 1);
  await sleep(250);
  node.release();
  await until('the first two are answered', () => answers.has(1) && answers.has(2));
  const late = answers.get(2)!;
  expect(late.result).toBe('error');
  expect(late.error).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED, condition: 'DeadlineExceeded', writeMayHaveApplied: false });
  expect(late.error!.message).toContain('not started');
  // The request behind it had time left, so it runs.
  await until('the patient replicate runs', () => node.heldCount === 1);
  node.release();
  await until('all are answered', () => answers.size === 3);
  expect(node.ran).toEqual(['replicate first', 'replicate patient']);
  expect(answers.get(3)!.replicated).toBeTruthy();
});

test('a forwarded operation that waited for a slot gets the time left as its timeout', async () => {
  const { node, send, answers } = await setUp(1);
  const forward: PeerRequest = { id: 2, timeoutMs: 5000, forward: { id: 7, put: { key: Buffer.from('k'), value: Buffer.from('v'), context: Buffer.alloc(0), timeoutMs: 5000 } } };
  send(fetch(1, 'first', 10_000), forward);
  await until('the fetch runs', () => node.heldCount === 1);
  await sleep(300);
  node.release();
  await until('the forward runs', () => node.executed.length === 1);
  const timeoutMs = node.executed[0]!.timeoutMs!;
  expect(timeoutMs).toBeGreaterThan(0);
  expect(timeoutMs).toBeLessThanOrEqual(4700);
  node.release();
  await until('the forward is answered', () => answers.has(2));
  expect(answers.get(2)!.forwarded).toMatchObject({ id: 7, result: 'put' });
});

test('a heartbeat never waits for a slot; one sent while the stream is held is read when a request finishes', async () => {
  const { node, send, answers } = await setUp(1);
  send(fetch(1, 'a', 10_000), fetch(2, 'b', 10_000), { id: 3, timeoutMs: 1000, ping: { dataId: 'caller-data' } });
  await until('the ping read with the waiting fetch is answered', () => answers.has(3));
  expect(answers.get(3)!.pong).toMatchObject({ dataId: 'callee' });
  expect(node.heldCount).toBe(1);
  // The stream is held (fetch b waits): the next message is not read until a slot frees.
  send({ id: 4, timeoutMs: 1000, ping: { dataId: 'caller-data' } });
  await sleep(100);
  expect(answers.has(4)).toBe(false);
  node.release();
  await until('the second ping is answered once fetch b has started', () => answers.has(4));
  expect(answers.has(1)).toBe(true);
  node.release();
  await until('both fetches are answered', () => answers.has(2));
});

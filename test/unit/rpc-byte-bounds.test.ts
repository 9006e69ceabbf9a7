/**
 * The server's bounds on what callers make it hold (app/rpc/byte-budget.ts, app/rpc/server.ts):
 * bytes per Batch stream, per connection and per node, bytes of unsent answers per peer stream,
 * requests per message counted before decoding, connections per node, and keepalive closing
 * connections that never speak HTTP/2. A real server over loopback with handlers of the test's;
 * a TCP proxy that stops reading (test/support/exhaustion.ts) plays the client that never reads.
 * Ports: 19422..19429.
 */
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ok } from '../../app/errors';
import { ByteBudget, ConnectionBudgets, ResourceLimits, StreamBytes } from '../../app/rpc/byte-budget';
import { countField } from '../../app/rpc/field-count';
import { protos } from '../../app/rpc/proto-definition';
import { KvServer, NodeHandlers } from '../../app/rpc/server';
import type { StatusResponse } from '../../app/rpc/generated/kv/v1/StatusResponse';
import { deafProxy } from '../support/exhaustion';
import { waitFor } from '../support/wait-for';

const KIB = 1024;
const SERVER_PORT = 19422;
const PROXY_PORT = 19423;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('countField', () => {
  const { peer } = protos();
  const encode = (n: number) => peer.Peer.service.Exchange.requestSerialize({ requests: Array.from({ length: n }, (_, i) => ({ id: i + 1, fetch: { partition: 1, key: Buffer.from(`k${i}`) } })) }) as Buffer;

  test('counts the occurrences of a repeated message field at the top level', () => {
    expect(countField(encode(0), 1, 100)).toBe(0);
    expect(countField(encode(7), 1, 100)).toBe(7);
  });

  test('stops counting one past the limit', () => {
    expect(countField(encode(50), 1, 10)).toBe(11);
  });

  test('counts the field in every wire type: protobufjs decodes `08 00` (a varint) as one operation', () => {
    expect(countField(Buffer.from([0x08, 0x00, 0x08, 0x00, 0x0a, 0x00, 0x10, 0x05]), 1, 100)).toBe(3);
    expect(countField(Buffer.concat(Array.from({ length: 50 }, () => Buffer.from([0x08, 0x00]))), 1, 10)).toBe(11);
    // Fixed-width encodings of field 1 count too.
    expect(countField(Buffer.from([0x0d, 1, 2, 3, 4, 0x09, 1, 2, 3, 4, 5, 6, 7, 8]), 1, 100)).toBe(2);
  });

  test('answers undefined for bytes that are not a message, or whose top level it cannot walk (a group), which the server then refuses', () => {
    expect(countField(Buffer.from([0x0b, 0x00, 0x0a, 0x00]), 1, 100)).toBeUndefined();
    const bytes = encode(3);
    expect(countField(bytes.subarray(0, bytes.length - 1), 1, 100)).toBeUndefined();
    expect(countField(Buffer.from([0x0f]), 1, 100)).toBeUndefined();
  });
});

describe('ByteBudget', () => {
  test('calls a waiter once it goes below its bound, and names itself in what it says', () => {
    const budget = new ByteBudget('streamBytesMax', 'this stream', 100);
    budget.take(150);
    expect(budget.full).toBe(true);
    let woken = 0;
    budget.whenFree(() => woken++);
    budget.give(20);
    expect(woken).toBe(0);
    budget.give(50);
    expect(woken).toBe(1);
    expect(budget.describe()).toBe('this stream holds 80 bytes of requests and unsent answers, the limit (streamBytesMax) is 100');
  });

  test('a closed stream gives back to its connection and the node what it still held', () => {
    const connections = new ConnectionBudgets(1000);
    const node = new ByteBudget('nodeBytesMax', 'this node', 1000);
    const connection = connections.acquire('127.0.0.1:1');
    const stream = new StreamBytes(new ByteBudget('streamBytesMax', 'this stream', 100), [connection, node]);
    stream.take(300);
    expect(stream.full()?.setting).toBe('streamBytesMax');
    expect([connection.used, node.used]).toEqual([300, 300]);
    stream.close();
    stream.give(300);
    expect([connection.used, node.used]).toEqual([0, 0]);
    connections.release('127.0.0.1:1');
    expect(connections.size).toBe(0);
  });

  test('counts estimates for reading (full) but not for refusing (held), and gives them back on close', () => {
    const node = new ByteBudget('nodeBytesMax', 'this node', 1000);
    const stream = new StreamBytes(new ByteBudget('streamBytesMax', 'this stream', 100), [node]);
    stream.take(150, 140);
    expect(stream.full()?.setting).toBe('streamBytesMax');
    expect(stream.own.held).toBe(10);
    expect(stream.wouldHold(90)).toBeUndefined();
    expect(stream.wouldHold(91)?.setting).toBe('streamBytesMax');
    expect(stream.own.describe()).toBe('this stream holds 10 bytes of requests and unsent answers, the limit (streamBytesMax) is 100');
    stream.close();
    expect([node.used, node.held]).toEqual([0, 0]);
  });

  test('fails loudly when more is given back than was taken', () => {
    const budget = new ByteBudget('nodeBytesMax', 'this node', 10);
    budget.take(5);
    expect(() => budget.give(6)).toThrow(/gave back more than it took/);
  });
});

describe('the server', () => {
  let server: KvServer | undefined;
  afterEach(async () => {
    await server?.shutdown(0);
    server = undefined;
  });

  const start = async (handlers: NodeHandlers, limits: Partial<ResourceLimits>) => {
    server = await KvServer.start(handlers, { host: '127.0.0.1', port: SERVER_PORT, messageBytesMax: 4 << 20, batchOpsMax: 64, streamInFlightMax: 10_000, peerStreamInFlightMax: 10_000, limits });
    return server;
  };

  /** Handlers whose gets answer one value of `valueBytes` and whose fetches an object of as many, counting each. */
  const bigAnswers = (valueBytes: number) => {
    const counts = { executed: 0, fetched: 0 };
    const value = Buffer.alloc(valueBytes, 1);
    const handlers: NodeHandlers = {
      execute: async (op) => {
        counts.executed++;
        return ok(op.kind === 'get' ? { kind: 'get', found: true, values: [value], context: Buffer.alloc(0), deleted: false } : { kind: 'put', context: Buffer.alloc(0), siblings: 1 });
      },
      fetch: async () => {
        counts.fetched++;
        return ok(value);
      },
      replicate: async () => ok(undefined),
      status: () => ({}) as StatusResponse,
    };
    return { handlers, counts };
  };

  const kvClient = (port: number) => {
    const { kv } = protos();
    return new kv.KV(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  };

  test('stops reading a Batch stream whose client does not read, at streamBytesMax', async () => {
    const { handlers, counts } = bigAnswers(256 * KIB);
    await start(handlers, { streamBytesMax: 1024 * KIB });
    const proxy = await deafProxy(SERVER_PORT, PROXY_PORT, 16 * KIB);
    const client = kvClient(PROXY_PORT);
    try {
      const call = client.Batch();
      call.on('error', () => {});
      let id = 0;
      for (let m = 0; m < 200; m++) call.write({ ops: Array.from({ length: 10 }, () => ({ id: ++id, get: { key: Buffer.from('k') } })) });
      // Time passes on purpose: what is shown is that the node does not go on reading.
      await sleep(1500);
      // 2000 gets sent; each answer is 256 KiB, so a 1 MiB stream runs a few messages of them
      // (30 here; 120, until the transport's own buffer is full, without the byte bounds).
      expect(counts.executed).toBeLessThanOrEqual(60);
      call.cancel();
    } finally {
      client.close();
      await proxy.close();
    }
  });

  test('answers a get RESOURCE_EXHAUSTED naming streamBytesMax when its answer would pass it while earlier answers are unread', async () => {
    const { handlers } = bigAnswers(256 * KIB);
    await start(handlers, { streamBytesMax: 1024 * KIB });
    const proxy = await deafProxy(SERVER_PORT, PROXY_PORT, 16 * KIB);
    const client = kvClient(PROXY_PORT);
    try {
      const call = client.Batch();
      const errors: string[] = [];
      let answered = 0;
      call.on('data', (msg: { results: Array<{ error?: { code: number; message: string } }> }) => {
        for (const r of msg.results) {
          answered++;
          if (r.error) errors.push(`${r.error.code} ${r.error.message}`);
        }
      });
      call.on('error', () => {});
      call.write({ ops: Array.from({ length: 20 }, (_, i) => ({ id: i + 1, get: { key: Buffer.from('k') } })) });
      // Time passes on purpose: the node answers while the proxy passes nothing.
      await sleep(500);
      proxy.hear();
      await waitFor(() => answered === 20 || `${answered} of 20 answered`, { timeoutMs: 10_000, what: 'every get answered' });
      expect(errors.length).toBeGreaterThan(0);
      expect(errors[0]).toMatch(/^8 get answer of \d+ bytes not sent: this stream holds \d+ bytes of requests and unsent answers, the limit \(streamBytesMax\) is 1048576/);
      call.cancel();
    } finally {
      client.close();
      await proxy.close();
    }
  });

  test("a fresh stream's first message of many gets is answered in full, and the estimates charged for them refuse no other call", async () => {
    // Until its first answer a stream charges each get streamBytesMax / 64 for its answer: 300 gets
    // are 75 MiB of estimates, past the stream's, the connection's and this node's bounds.
    let release: () => void = () => {};
    const released = new Promise<void>((r) => (release = r));
    const value = Buffer.from('small');
    const handlers: NodeHandlers = {
      execute: async (op) => {
        if (op.kind !== 'get') return ok({ kind: 'put', context: Buffer.alloc(0), siblings: 1 });
        await released;
        return ok({ kind: 'get', found: true, values: [value], context: Buffer.alloc(0), deleted: false });
      },
      fetch: async () => ok(undefined),
      replicate: async () => ok(undefined),
      status: () => ({}) as StatusResponse,
    };
    await start(handlers, { nodeBytesMax: 32 << 20 });
    const batchClient = kvClient(SERVER_PORT);
    const unaryClient = kvClient(SERVER_PORT) as unknown as { Put(req: unknown, cb: (e: grpc.ServiceError | null) => void): void; close(): void };
    try {
      const call = batchClient.Batch();
      const results: Array<{ error?: { code: number; message: string } }> = [];
      call.on('data', (msg: { results: Array<{ error?: { code: number; message: string } }> }) => results.push(...msg.results));
      call.on('error', () => {});
      let id = 0;
      for (let m = 0; m < 5; m++) call.write({ ops: Array.from({ length: 60 }, () => ({ id: ++id, get: { key: Buffer.from('k') } })) });
      // Time passes on purpose: the gets are read and wait in their handler.
      await sleep(300);
      const unary = await new Promise<grpc.ServiceError | null>((resolve) => unaryClient.Put({ key: Buffer.from('b'), value: Buffer.alloc(10) }, resolve));
      expect(unary).toBeNull();
      release();
      await waitFor(() => results.length === 300 || `${results.length} of 300 answered`, { timeoutMs: 10_000, what: 'every get answered' });
      expect(results.filter((r) => r.error).map((r) => r.error!.message)).toEqual([]);
      call.cancel();
    } finally {
      batchClient.close();
      unaryClient.close();
    }
  });

  test('rejects a unary call RESOURCE_EXHAUSTED naming nodeBytesMax while the node holds that much', async () => {
    let release: () => void = () => {};
    const handlers: NodeHandlers = {
      execute: () => new Promise((resolve) => (release = () => resolve(ok({ kind: 'put', context: Buffer.alloc(0), siblings: 1 })))),
      fetch: async () => ok(undefined),
      replicate: async () => ok(undefined),
      status: () => ({}) as StatusResponse,
    };
    await start(handlers, { nodeBytesMax: 1000 });
    const client = kvClient(SERVER_PORT) as unknown as { Put(req: unknown, cb: (e: grpc.ServiceError | null) => void): void; close(): void };
    try {
      const first = new Promise<grpc.ServiceError | null>((resolve) => client.Put({ key: Buffer.from('a'), value: Buffer.alloc(2000) }, resolve));
      await sleep(100);
      const second = await new Promise<grpc.ServiceError | null>((resolve) => client.Put({ key: Buffer.from('b'), value: Buffer.alloc(10) }, resolve));
      expect(second?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(second?.details).toMatch(/this node holds 2\d{3} bytes of requests and unsent answers, the limit \(nodeBytesMax\) is 1000/);
      release();
      expect(await first).toBeNull();
    } finally {
      client.close();
    }
  });

  test('rejects a PeerRequests message over peerMessageRequestsMax before decoding it; nothing runs', async () => {
    const { handlers, counts } = bigAnswers(10);
    await start(handlers, { peerMessageRequestsMax: 4 });
    const { peer } = protos();
    const client = new peer.Peer(`127.0.0.1:${SERVER_PORT}`, grpc.credentials.createInsecure());
    try {
      const exchange = (n: number) =>
        new Promise<{ answers: number; status: grpc.StatusObject }>((resolve) => {
          const call = client.Exchange();
          let answers = 0;
          call.on('data', (msg: { responses: unknown[] }) => {
            answers += msg.responses.length;
            if (answers === n) call.end();
          });
          call.on('error', () => {});
          call.on('status', (status: grpc.StatusObject) => resolve({ answers, status }));
          call.write({ requests: Array.from({ length: n }, (_, i) => ({ id: i + 1, fetch: { partition: 0, key: Buffer.from('k') } })) });
        });
      const refused = await exchange(5);
      expect(refused.status.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(refused.status.details).toMatch(/more than 4 requests in one PeerRequests message .*the limit \(peerMessageRequestsMax\) is 4/);
      expect(counts.fetched).toBe(0);
      const taken = await exchange(4);
      expect(taken.answers).toBe(4);
      expect(counts.fetched).toBe(4);
    } finally {
      client.close();
    }
  });

  test('starts no further requests of a peer that does not read, once its unsent answers hold peerStreamBytesMax', async () => {
    const { handlers, counts } = bigAnswers(256 * KIB);
    await start(handlers, { peerStreamBytesMax: 1024 * KIB });
    const proxy = await deafProxy(SERVER_PORT, PROXY_PORT, 16 * KIB);
    const { peer } = protos();
    const client = new peer.Peer(`127.0.0.1:${PROXY_PORT}`, grpc.credentials.createInsecure());
    try {
      const call = client.Exchange();
      call.on('error', () => {});
      let id = 0;
      for (let m = 0; m < 100; m++) call.write({ requests: Array.from({ length: 10 }, () => ({ id: ++id, fetch: { partition: 0, key: Buffer.from('k') } })) });
      // Time passes on purpose: what is shown is that the node starts no more fetches.
      await sleep(1500);
      // 1000 fetches sent; answers of 256 KiB fill 1 MiB after one message of them (10 here; 50,
      // until the transport's own buffer is full, without the bound).
      expect(counts.fetched).toBeLessThanOrEqual(25);
      call.cancel();
    } finally {
      client.close();
      await proxy.close();
    }
  });

  test('closes a connection beyond connectionsMax as soon as it is accepted', async () => {
    const { handlers } = bigAnswers(10);
    await start(handlers, { connectionsMax: 1 });
    const first = net.connect(SERVER_PORT, '127.0.0.1');
    first.on('error', () => {});
    await new Promise((resolve) => first.once('connect', resolve));
    await sleep(50);
    const second = net.connect(SERVER_PORT, '127.0.0.1');
    second.on('error', () => {});
    await new Promise((resolve) => second.once('close', resolve));
    expect(first.destroyed).toBe(false);
    first.destroy();
  });

  test('closes a slow-loris connection that never completes its HTTP/2 preface, while a client that answers pings stays', async () => {
    const { handlers } = bigAnswers(10);
    await start(handlers, { keepaliveMs: 200, keepaliveTimeoutMs: 200 });
    const loris = net.connect(SERVER_PORT, '127.0.0.1');
    loris.on('error', () => {});
    loris.on('data', () => {});
    let closed = false;
    loris.once('close', () => (closed = true));
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    let sent = 0;
    const drip = setInterval(() => sent < preface.length - 1 && !closed && loris.write(preface.subarray(sent, ++sent)), 50);
    const client = kvClient(SERVER_PORT) as unknown as { Status(req: unknown, cb: (e: grpc.ServiceError | null) => void): void; close(): void };
    try {
      expect(await new Promise((resolve) => client.Status({}, resolve))).toBeNull();
      await waitFor(() => closed, { timeoutMs: 10_000, what: 'the node closing the slow-loris connection' });
      // The grpc-js client answered the node's pings all along: its connection still serves.
      expect(await new Promise((resolve) => client.Status({}, resolve))).toBeNull();
    } finally {
      clearInterval(drip);
      loris.destroy();
      client.close();
    }
  });
});

/**
 * Requests that do not decode are INVALID_ARGUMENT naming the method, the message type and what
 * failed (never INTERNAL, which is for bugs), on every method of every service the node serves,
 * unary and streaming; the handlers never see them, and the server keeps serving. A timeout_ms
 * beyond the longest timer Node keeps is INVALID_ARGUMENT too. Requests are written byte by byte
 * over HTTP/2 (test/support/raw-grpc.ts). Port: 19400.
 */
import { ok } from '../../app/errors';
import { TIMEOUT_MS_MAX } from '../../app/api/ops';
import { KvServer, NodeHandlers } from '../../app/rpc/server';
import { protos } from '../../app/rpc/proto-definition';
import type { StatusResponse } from '../../app/rpc/generated/kv/v1/StatusResponse';
import { frame, messagesOf, RawGrpc } from '../support/raw-grpc';

const PORT = 19400;
const INVALID_ARGUMENT = 3;
const RESOURCE_EXHAUSTED = 8;
const MESSAGE_BYTES_MAX = 64 * 1024;

/**
 * Field 100 (no request type has it, so every decoder skips it by its wire type), length-delimited,
 * claiming 16 bytes where 1 follows. (protobufjs reads a known field by its declared type whatever
 * the wire type says, and reads a truncated string without complaint: a known field would not
 * fail every type.)
 */
const TRUNCATED_FIELD = Buffer.from([0xa2, 0x06, 0x10, 0x01]);
/** Field 100 with wire type 7, which protobuf does not have. */
const BAD_WIRE_TYPE = Buffer.from([0xa7, 0x06, 0x01]);

const calls: string[] = [];
const handlers: NodeHandlers = {
  execute: async (op, options) => {
    calls.push(`execute ${op.kind} ${options.timeoutMs ?? ''}`);
    return ok({ kind: 'put', context: Buffer.alloc(0), siblings: 1 });
  },
  fetch: async () => {
    calls.push('fetch');
    return ok(undefined);
  },
  replicate: async () => {
    calls.push('replicate');
    return ok(undefined);
  },
  status: () => ({ nodeId: 'kv-1', actor: 'kv-1.0', partitions: 1, n: 1, r: 1, w: 1, members: [] }) as StatusResponse,
  inspect: async () => {
    calls.push('inspect');
    return ok({ partition: 0, replicas: [] });
  },
  admin: async () => {
    calls.push('admin');
    return ok({});
  },
  backup: {
    snapshot: async () => {
      calls.push('snapshot');
      throw new Error('not in this test');
    },
    restore: async () => {
      calls.push('restore');
      return ok({ merged: 0, failed: [] });
    },
  },
};

let server: KvServer;
let raw: RawGrpc;
const address = `127.0.0.1:${PORT}`;
const statuses: string[] = [];

beforeAll(async () => {
  server = await KvServer.start(handlers, {
    host: '127.0.0.1',
    port: PORT,
    messageBytesMax: MESSAGE_BYTES_MAX,
    batchOpsMax: 64,
    streamInFlightMax: 64,
    peerStreamInFlightMax: 16,
    onStatus: (method, code) => statuses.push(`${method} ${code}`),
  });
  server.setServing(true);
  raw = new RawGrpc(address);
});

afterAll(async () => {
  raw?.close();
  await server?.shutdown(0);
});

beforeEach(() => {
  calls.length = 0;
  statuses.length = 0;
});

const METHODS: ReadonlyArray<[string, string]> = [
  ['/kv.v1.KV/Get', 'kv.v1.GetRequest'],
  ['/kv.v1.KV/Put', 'kv.v1.PutRequest'],
  ['/kv.v1.KV/Delete', 'kv.v1.DeleteRequest'],
  ['/kv.v1.KV/Batch', 'kv.v1.BatchRequest'],
  ['/kv.v1.KV/Status', 'kv.v1.StatusRequest'],
  ['/kv.v1.KV/Inspect', 'kv.v1.InspectRequest'],
  ['/kv.v1.KV/Admin', 'kv.v1.AdminRequest'],
  ['/kv.v1.Backup/Snapshot', 'kv.v1.SnapshotRequest'],
  ['/kv.v1.Backup/Restore', 'kv.v1.RestoreRequest'],
  ['/kv.v1.Peer/Exchange', 'kv.v1.PeerRequests'],
  ['/grpc.health.v1.Health/Check', 'grpc.health.v1.HealthCheckRequest'],
  ['/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', 'grpc.reflection.v1.ServerReflectionRequest'],
];

describe.each(METHODS)('%s', (path, typeName) => {
  test.each([
    ['a truncated field', TRUNCATED_FIELD],
    ['an invalid wire type', BAD_WIRE_TYPE],
  ])('rejects a request with %s as INVALID_ARGUMENT naming the type, and runs nothing', async (_what, bytes) => {
    const answer = await raw.call(path, frame(bytes));
    expect(answer.code).toBe(INVALID_ARGUMENT);
    expect(answer.message).toContain(`${path}: the request (${bytes.length} bytes) does not decode as a ${typeName} protobuf message: `);
    expect(calls).toEqual([]);
  });
});

test('rejects a bad message on an open Batch stream after answering the good one before it', async () => {
  const { kv } = protos();
  const good = kv.KV.service.Batch.requestSerialize({ ops: [{ id: 7, put: { key: Buffer.from('k'), value: Buffer.from('v') } }] });
  const answer = await raw.call('/kv.v1.KV/Batch', Buffer.concat([frame(good), frame(TRUNCATED_FIELD)]));
  expect(answer.code).toBe(INVALID_ARGUMENT);
  expect(answer.message).toContain('does not decode as a kv.v1.BatchRequest');
  expect(calls).toEqual(['execute put 0']);
});

test('counts an undecodable client request in the status metric as INVALID_ARGUMENT', async () => {
  await raw.call('/kv.v1.KV/Put', frame(TRUNCATED_FIELD));
  expect(statuses).toEqual(['Put INVALID_ARGUMENT']);
});

test('rejects a frame over the message size limit with RESOURCE_EXHAUSTED', async () => {
  const answer = await raw.call('/kv.v1.KV/Put', frame(Buffer.alloc(MESSAGE_BYTES_MAX + 1)));
  expect(answer.code).toBe(RESOURCE_EXHAUSTED);
  expect(calls).toEqual([]);
});

test('keeps serving after every kind of malformed request', async () => {
  const { kv } = protos();
  const answer = await raw.call('/kv.v1.KV/Put', frame(kv.KV.service.Put.requestSerialize({ key: Buffer.from('k'), value: Buffer.from('v') })));
  expect(answer.code).toBe(0);
  expect(messagesOf(answer.body)).toHaveLength(1);
});

describe('timeout_ms', () => {
  test.each([
    ['Put', { key: Buffer.from('k'), value: Buffer.from('v'), timeoutMs: 2 ** 31 }],
    ['Get', { key: Buffer.from('k'), timeoutMs: 2 ** 32 - 1 }],
    ['Delete', { key: Buffer.from('k'), timeoutMs: 2 ** 31 }],
    ['Inspect', { key: Buffer.from('k'), timeoutMs: 2 ** 31 }],
  ] as const)('rejects a %s with timeout_ms beyond TIMEOUT_MS_MAX naming the field, the value and the limit', async (method, request) => {
    const { kv } = protos();
    const bytes = (kv.KV.service as unknown as Record<string, { requestSerialize: (r: unknown) => Buffer }>)[method]!.requestSerialize(request);
    const answer = await raw.call(`/kv.v1.KV/${method}`, frame(bytes));
    expect(answer.code).toBe(INVALID_ARGUMENT);
    expect(answer.message).toBe(`timeout_ms: ${request.timeoutMs} is out of range: timeout_ms must be within 0..${TIMEOUT_MS_MAX} ms (TIMEOUT_MS_MAX, the longest timer Node keeps), or 0 for the node's request timeout`);
    expect(calls).toEqual([]);
  });

  test('fails a Put whose gRPC deadline is 30 days away with DEADLINE_EXCEEDED and runs nothing (grpc-js reads it as past)', async () => {
    const { kv } = protos();
    const body = frame(kv.KV.service.Put.requestSerialize({ key: Buffer.from('k'), value: Buffer.from('v') }));
    const answer = await raw.call('/kv.v1.KV/Put', body, { metadata: { 'grpc-timeout': '2592000S' } });
    expect(answer.code).toBe(4);
    // Whichever answers first, grpc-js's own timer or the handler, the put never ran.
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toEqual([]);
  });

  test('rejects a Batch operation with timeout_ms beyond TIMEOUT_MS_MAX before it runs (a gateway has no coordinator to do it)', async () => {
    const { kv } = protos();
    const method = kv.KV.service.Batch;
    const body = frame(method.requestSerialize({ ops: [{ id: 1, put: { key: Buffer.from('k'), value: Buffer.from('v'), timeoutMs: 2 ** 31 } }] }));
    let error: { code: number; message: string } | undefined;
    await raw.call('/kv.v1.KV/Batch', body, {
      end: false,
      until: (messages) => {
        for (const m of messages) error = (method.responseDeserialize(m) as { results: Array<{ error?: { code: number; message: string } }> }).results[0]?.error;
        return messages.length > 0;
      },
    });
    expect(error).toEqual(expect.objectContaining({ code: INVALID_ARGUMENT, message: expect.stringMatching(/^timeout_ms: 2147483648 is out of range/) }));
    expect(calls).toEqual([]);
  });

  test('takes a Put with timeout_ms of exactly TIMEOUT_MS_MAX', async () => {
    const { kv } = protos();
    const answer = await raw.call('/kv.v1.KV/Put', frame(kv.KV.service.Put.requestSerialize({ key: Buffer.from('k'), value: Buffer.from('v'), timeoutMs: TIMEOUT_MS_MAX })));
    expect(answer.code).toBe(0);
    expect(calls).toEqual([`execute put ${TIMEOUT_MS_MAX}`]);
  });
});

describe('frames', () => {
  test.each([
    ['an empty request', Buffer.alloc(0)],
    ['a frame cut short (its length says 100, 10 bytes come)', frame(Buffer.alloc(10), { length: 100 })],
    ['half a frame header', Buffer.from([0, 0, 0])],
  ])('rejects %s to a unary method as INVALID_ARGUMENT (not UNIMPLEMENTED)', async (_what, body) => {
    const answer = await raw.call('/kv.v1.KV/Put', body);
    expect(answer.code).toBe(INVALID_ARGUMENT);
    expect(answer.message).toBe('/kv.v1.KV/Put: the request ended without a whole message (it was empty, or its frame was cut short); the method takes exactly one; nothing was changed');
    expect(calls).toEqual([]);
  });

  test('rejects a second message to a unary method as INVALID_ARGUMENT and runs neither', async () => {
    const { kv } = protos();
    const put = frame(kv.KV.service.Put.requestSerialize({ key: Buffer.from('k'), value: Buffer.from('v') }));
    const answer = await raw.call('/kv.v1.KV/Put', Buffer.concat([put, put]));
    expect(answer.code).toBe(INVALID_ARGUMENT);
    expect(answer.message).toContain('the request brought a second message; the method takes exactly one');
    expect(calls).toEqual([]);
  });

  test('rejects a length prefix beyond the message size limit with RESOURCE_EXHAUSTED, however large', async () => {
    const answer = await raw.call('/kv.v1.Peer/Exchange', frame(Buffer.alloc(10), { length: 0xffffffff }));
    expect(answer.code).toBe(RESOURCE_EXHAUSTED);
    expect(answer.message).toBe(`Received message larger than max (4294967295 vs ${MESSAGE_BYTES_MAX})`);
  });
});

describe('requests counted before decoding, whatever the wire type of their tags', () => {
  // protobufjs decodes a repeated message field from a tag of any wire type: `08 00` (field 1 as
  // a varint 0) is one empty operation. Counting only length-delimited tags let a message of
  // 100,000 such tags through the batchOpsMax / peerMessageRequestsMax bound, decoded in full.
  const varintOps = (n: number) => Buffer.concat(Array.from({ length: n }, () => Buffer.from([0x08, 0x00])));

  test.each([
    ['/kv.v1.KV/Batch', /more than 64 operations in one BatchRequest/],
    ['/kv.v1.Peer/Exchange', /in one PeerRequests message/],
  ])('%s: 2,000 requests written as varint tags are refused INVALID_ARGUMENT before decoding, and nothing runs', async (path, message) => {
    const answer = await raw.call(path, frame(varintOps(2000)));
    expect(answer.code).toBe(INVALID_ARGUMENT);
    expect(answer.message).toMatch(message);
    expect(calls).toEqual([]);
  });

  test.each(['/kv.v1.KV/Batch', '/kv.v1.Peer/Exchange'])('%s: a top level the counter cannot walk (a group before 1,000 requests) is INVALID_ARGUMENT, never decoded', async (path) => {
    const bytes = Buffer.concat([Buffer.from([0x0b, 0x00]), Buffer.concat(Array.from({ length: 1000 }, () => Buffer.from([0x0a, 0x00])))]);
    const answer = await raw.call(path, frame(bytes));
    expect(answer.code).toBe(INVALID_ARGUMENT);
    expect(answer.message).toContain('its top level is not well-formed protobuf');
    expect(calls).toEqual([]);
  });
});

/**
 * KvChannel's failures, against the installed grpc-js: which ones may have applied a write (never
 * resend it) and which provably never left the client (send it to the next node). The statuses
 * grpc-js produces are matched by their details (app/rpc/delivery.ts), so the tests that make
 * grpc-js produce them fail when an upgrade changes the wording.
 *
 * In-process servers and a TCP proxy stand in for nodes: cutting the proxy's sockets is a node
 * dying with the request delivered. Ports 17880..17899.
 */
import * as net from 'node:net';
import { status } from '@grpc/grpc-js';
import { KvClient, KvClientError } from '../../app/client/client';
import { KvError, Result, err, ok } from '../../app/errors';
import { ClientOp, OpResult } from '../../app/api/ops';
import { deliveryOf } from '../../app/rpc/delivery';
import { KvChannel, streamFailure, unaryFailure } from '../../app/rpc/kv-channel';
import { KvServer, NodeHandlers } from '../../app/rpc/server';
import type { StatusResponse } from '../../app/rpc/generated/kv/v1/StatusResponse';
import { waitFor } from '../support/wait-for';
import { startProxy } from '../support/tcp-proxy';

const REFUSED_PORT = 17899;
const SILENT_PORT = 17898;
const NODE_PORT = 17897;
const PROXY_PORT = 17896;
const NEXT_NODE_PORT = 17895;

const put: ClientOp = { kind: 'put', key: Buffer.from('k'), value: Buffer.from('v'), context: Buffer.alloc(0), w: 0 };

describe('classifying a failed call', () => {
  test('a status the node chose is decided by its trailer, whatever the code', () => {
    expect(unaryFailure(true, status.UNAVAILABLE, 'node kv-1 is shutting down', 'false')).toMatchObject({ writeMayHaveApplied: false, connectionFailed: false });
    expect(unaryFailure(true, status.UNAVAILABLE, 'put: acknowledged by 1 of 2', 'true')).toMatchObject({ writeMayHaveApplied: true, connectionFailed: false });
    expect(unaryFailure(false, status.UNAVAILABLE, 'get: 1 of 2 required replicas answered', 'false')).toMatchObject({ writeMayHaveApplied: false, connectionFailed: false });
  });

  test("gRPC's own UNAVAILABLE, CANCELLED, INTERNAL or DEADLINE_EXCEEDED after the request may have left means a write may have applied", () => {
    for (const [code, details] of [
      [status.UNAVAILABLE, 'Connection dropped'],
      [status.UNAVAILABLE, 'read ECONNRESET'],
      [status.CANCELLED, 'Call cancelled'],
      [status.INTERNAL, 'Received RST_STREAM with code 2 (Internal server error)'],
      [status.DEADLINE_EXCEEDED, 'Deadline exceeded after 5.001s,LB pick: 0.001s,remote_addr=127.0.0.1:17801'],
    ] as const) {
      expect(unaryFailure(true, code, details, undefined).writeMayHaveApplied).toBe(true);
      expect(unaryFailure(false, code, details, undefined).writeMayHaveApplied).toBe(false);
    }
    expect(unaryFailure(false, status.UNAVAILABLE, 'Connection dropped', undefined).connectionFailed).toBe(true);
    expect(unaryFailure(false, status.DEADLINE_EXCEEDED, 'Deadline exceeded after 5.001s', undefined).connectionFailed).toBe(false);
  });

  test('a failed pick (no connection to send on) never left the client', () => {
    expect(deliveryOf(status.UNAVAILABLE, 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:17801. Resolution note: ')).toBe('not-sent');
    expect(deliveryOf(status.UNAVAILABLE, 'round_robin: No connection established. Last error: x')).toBe('not-sent');
    expect(deliveryOf(status.DEADLINE_EXCEEDED, 'Deadline exceeded after 0.500s,name resolution: 0.001s,Waiting for LB pick')).toBe('not-sent');
    // A deadline that passed before any connection came up (a frozen node that accepts
    // connections): the operation never left, so the client fails it over to the next node.
    expect(unaryFailure(true, status.DEADLINE_EXCEEDED, 'Deadline exceeded after 5.004s,name resolution: 0.011s,Waiting for LB pick', undefined)).toMatchObject({ writeMayHaveApplied: false, connectionFailed: true });
    // The words inside a message that is not the picker's do not count.
    expect(deliveryOf(status.UNAVAILABLE, 'peer kv-2 said: No connection established')).toBe('maybe-sent');
    expect(deliveryOf(status.CANCELLED, 'No connection established')).toBe('maybe-sent');
  });

  test('a cut Batch stream fails every pending operation as a connection failure; only writes may have applied', () => {
    expect(streamFailure(true, status.CANCELLED, 'Call cancelled', 'n:1')).toMatchObject({ writeMayHaveApplied: true, connectionFailed: true, message: 'batch stream to n:1 failed: Call cancelled' });
    expect(streamFailure(false, status.CANCELLED, 'Call cancelled', 'n:1')).toMatchObject({ writeMayHaveApplied: false, connectionFailed: true });
    expect(streamFailure(true, status.UNAVAILABLE, 'No connection established. Last error: x', 'n:1')).toMatchObject({ writeMayHaveApplied: false, connectionFailed: true });
  });
});

/** Node handlers that count operations; `answer` decides each one (pending forever by default). */
function fakeNode(answer: (op: ClientOp) => Promise<Result<OpResult, KvError>> = () => new Promise(() => {})) {
  const seen: ClientOp[] = [];
  const handlers: NodeHandlers = {
    execute: (op) => {
      seen.push(op);
      return answer(op);
    },
    fetch: async () => ({ ok: true, value: undefined }),
    replicate: async () => ({ ok: true, value: undefined }),
    status: () => ({}) as StatusResponse,
  };
  return { seen, handlers };
}

function startServer(port: number, handlers: NodeHandlers): Promise<KvServer> {
  return KvServer.start(handlers, { host: '127.0.0.1', port, messageBytesMax: 1 << 20, batchOpsMax: 64, streamInFlightMax: 64, peerStreamInFlightMax: 64 });
}



describe('against the installed grpc-js', () => {
  const channels: KvChannel[] = [];
  const channel = (port: number) => {
    const c = new KvChannel(`127.0.0.1:${port}`);
    channels.push(c);
    return c;
  };
  afterEach(() => {
    for (const c of channels.splice(0)) c.close();
  });

  test.each([
    ['unary', (c: KvChannel) => c.call(put, 2000)],
    ['batch', (c: KvChannel) => c.submit(put, 2000)],
  ])('fails a %s put to a port nobody listens on as never sent', async (_mode, send) => {
    const r = await send(channel(REFUSED_PORT));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.codeName).toBe('UNAVAILABLE');
    expect(r.error).toMatchObject({ writeMayHaveApplied: false, connectionFailed: true });
  });

  test('fails a unary put whose deadline passes before any connection is up as never sent', async () => {
    // Accepts TCP but never speaks HTTP/2: the call waits for a pick until its deadline.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(SILENT_PORT, '127.0.0.1', resolve));
    try {
      const r = await channel(SILENT_PORT).call(put, 300);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.codeName).toBe('DEADLINE_EXCEEDED');
      expect(r.error.writeMayHaveApplied).toBe(false);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test.each([
    ['unary', (c: KvChannel) => c.call(put, 2000)],
    ['batch', (c: KvChannel) => c.submit(put, 2000)],
  ])("fails a %s put with the node's own UNAVAILABLE as the node says: not applied, or maybe applied", async (_mode, send) => {
    let mayHaveApplied = false;
    const { handlers } = fakeNode(async () => err(mayHaveApplied ? new KvError('InsufficientReplicas', 'put: acknowledged by 1 of 2', true) : new KvError('ShuttingDown', 'node n is shutting down')));
    const server = await startServer(NODE_PORT, handlers);
    try {
      const c = channel(NODE_PORT);
      const refused = await send(c);
      expect(refused.ok ? undefined : refused.error).toMatchObject({ codeName: 'UNAVAILABLE', writeMayHaveApplied: false, connectionFailed: false });
      mayHaveApplied = true;
      const partial = await send(c);
      expect(partial.ok ? undefined : partial.error).toMatchObject({ codeName: 'UNAVAILABLE', writeMayHaveApplied: true, connectionFailed: false });
    } finally {
      for (const c of channels.splice(0)) c.close();
      await server.shutdown(0);
    }
  });
});

describe('KvClient when the node dies with the operation delivered', () => {
  let dying: { seen: ClientOp[]; server: KvServer };
  let next: { seen: ClientOp[]; server: KvServer };
  let proxy: Awaited<ReturnType<typeof startProxy>>;

  beforeEach(async () => {
    const d = fakeNode();
    dying = { seen: d.seen, server: await startServer(NODE_PORT, d.handlers) };
    const n = fakeNode(async (op) => ok(op.kind === 'get' ? { kind: 'get', found: false, values: [], context: Buffer.alloc(0), deleted: false } : { kind: op.kind, context: Buffer.alloc(0), siblings: 1 }));
    next = { seen: n.seen, server: await startServer(NEXT_NODE_PORT, n.handlers) };
    proxy = await startProxy(NODE_PORT, PROXY_PORT);
  });

  afterEach(async () => {
    await proxy.close();
    await dying.server.shutdown(0);
    await next.server.shutdown(0);
  });

  /** Starts `op` on the dying node, cuts its connections once the node has it, returns the outcome. */
  async function cutMidway(client: KvClient, run: (c: KvClient) => Promise<unknown>): Promise<unknown> {
    // Connect first, so the operation is written at once rather than after a connection attempt.
    await client.status().catch(() => undefined);
    const before = dying.seen.length;
    const outcome = run(client).then(
      (v) => v,
      (e: unknown) => e,
    );
    await waitFor(() => dying.seen.length > before, { timeoutMs: 1000, intervalMs: 10, what: 'the dying node receiving the operation' });
    expect(dying.seen.length).toBe(before + 1);
    proxy.cut();
    return outcome;
  }

  test.each([false, true])('rejects a put the dying node received with writeMayHaveApplied and does not send it to the next node (batch: %s)', async (batch) => {
    const client = new KvClient({ endpoints: [`127.0.0.1:${PROXY_PORT}`, `127.0.0.1:${NEXT_NODE_PORT}`], attemptsMax: 2, timeoutMs: 5000, batch, routing: 'any' });
    try {
      const e = await cutMidway(client, (c) => c.put('k', 'v'));
      expect(e).toBeInstanceOf(KvClientError);
      expect((e as KvClientError).writeMayHaveApplied).toBe(true);
      expect((e as KvClientError).message).toMatch(/may or may not have been applied.*read the key/);
      expect(next.seen).toEqual([]);
    } finally {
      client.close();
    }
  });

  test.each([false, true])('a get the dying node received fails over to the next node (batch: %s)', async (batch) => {
    const client = new KvClient({ endpoints: [`127.0.0.1:${PROXY_PORT}`, `127.0.0.1:${NEXT_NODE_PORT}`], attemptsMax: 2, timeoutMs: 5000, batch, routing: 'any' });
    try {
      const got = await cutMidway(client, (c) => c.get('k'));
      expect(got).toMatchObject({ found: false });
      expect(next.seen.map((op) => op.kind)).toEqual(['get']);
    } finally {
      client.close();
    }
  });
});

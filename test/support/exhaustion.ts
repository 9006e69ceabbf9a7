/**
 * Resource-exhaustion attacks on a real node process, for the exhaustion tests
 * (test/integration/exhaustion.test.ts) and the figures program (test/bench/exhaustion.ts): a
 * Batch client that never reads its answers, one peer (or Batch) message of millions of tiny
 * requests, thousands of streams opened and abandoned, and slow-loris connections. Each attack is
 * bounded in time and count and sends only to the loopback address it is given.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { LocalCluster } from '../../app/local/local-cluster';
import { KvClient } from '../../app/client/client';
import { protos } from '../../app/rpc/proto-definition';

const MIB = 1024 * 1024;

/** The resident set of a process, in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s*(\d+)\s*kB/.exec(status);
  if (!kib) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kib[1]) * 1024;
}

export function mib(bytes: number): string {
  return (bytes / MIB).toFixed(0);
}

export interface NodeUnderAttack {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** The node still serves: a put and a get of a small value go through. */
  serves(): Promise<boolean>;
  stop(): Promise<void>;
}

/** Starts one node (N=R=W=1) from `kvScript` on 127.0.0.1:`port`, with `extraArgs`. */
export async function startNode(kvScript: string, port: number, extraArgs: readonly string[] = []): Promise<NodeUnderAttack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-exhaustion-'));
  const cluster = new LocalCluster({ nodes: 1, basePort: port, metricsBasePort: 0, dataDir, n: 1, r: 1, w: 1, partitions: 8, kvScript, logs: 'file', extraArgs });
  await cluster.start();
  const node = cluster.nodes[0]!;
  let probes = 0;
  return {
    endpoint: node.endpoint,
    port: node.port,
    pid: node.process!.pid!,
    async serves() {
      const client = new KvClient({ endpoints: [node.endpoint], timeoutMs: 10_000, attemptsMax: 3 });
      // A key of its own each time: a second put without a context would add a sibling.
      const key = `alive-${++probes}`;
      try {
        await client.put(key, 'yes');
        const got = await client.get(key);
        return got.values.length === 1 && Buffer.from(got.values[0]!).toString() === 'yes';
      } catch {
        return false;
      } finally {
        client.close();
      }
    },
    async stop() {
      await cluster.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Samples a process's RSS every `everyMs` until stopped; answers the largest seen. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // The process is gone: the caller sees it when it asks the node to serve.
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Options every attack client takes: its own connection (no subchannel shared with another client), large messages. */
function channelOptions(): grpc.ChannelOptions {
  return { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_send_message_length': 256 * MIB, 'grpc.max_receive_message_length': 256 * MIB };
}

type KvStub = grpc.Client & { Batch(): grpc.ClientDuplexStream<unknown, unknown> };

function kvStub(endpoint: string): KvStub {
  const { kv } = protos();
  return new kv.KV(endpoint, grpc.credentials.createInsecure(), channelOptions()) as unknown as KvStub;
}

/** Writes, waiting (at most until `deadline`) while the stream's buffer is full. Resolves false when time ran out. */
async function writeOrWait(call: grpc.ClientWritableStream<unknown>, message: unknown, deadline: number): Promise<boolean> {
  if (call.write(message)) return true;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
    call.once('drain', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * A TCP proxy on 127.0.0.1:`listenPort` to the node on `target` that passes everything to the
 * node but stops reading the node's side after `passBytes` of it (the connection's preface and
 * the first answers): a client that never reads, as the node's socket sees it. (A grpc-js client
 * that never reads a stream still takes the bytes off the socket and buffers them itself.)
 * `hear()` makes it read and pass everything again, what it held first.
 */
export async function deafProxy(target: number, listenPort: number, passBytes: number): Promise<{ port: number; hear(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const hearers: Array<() => void> = [];
  let limit = passBytes;
  const server = net.createServer((down) => {
    const up = net.connect(target, '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up);
    let passed = 0;
    const held: Buffer[] = [];
    up.on('data', (chunk: Buffer) => {
      const room = Math.max(0, limit - passed);
      if (room >= chunk.length) {
        down.write(chunk);
      } else {
        if (room > 0) down.write(chunk.subarray(0, room));
        held.push(chunk.subarray(room));
        up.pause();
      }
      passed += Math.min(room, chunk.length);
    });
    hearers.push(() => {
      for (const chunk of held.splice(0)) down.write(chunk);
      up.resume();
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(listenPort, '127.0.0.1', () => resolve()));
  return {
    port: listenPort,
    hear() {
      limit = Infinity;
      for (const h of hearers) h();
    },
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      return closed;
    },
  };
}

/** Attacks started by this process (each gets keys of its own). */
let attacks = 0;

/**
 * Batch clients that never read their answers: `streams` streams, each on its own connection,
 * each sending messages of `putsPerMessage` puts and `getsPerMessage` gets of `valueBytes`
 * values (over `keys` keys written first) for `seconds`, as fast as the node reads them.
 * `via`: the endpoint the streams connect to (a deafProxy), the node's by default. Answers the
 * operations the client wrote (some may still sit in its buffers, unread by the node).
 */
export async function neverReadingBatch(endpoint: string, o: { streams: number; valueBytes: number; seconds: number; keys?: number; putsPerMessage?: number; getsPerMessage?: number; via?: string }): Promise<{ opsSent: number; close(): void }> {
  const keys = o.keys ?? 32;
  const value = Buffer.alloc(o.valueBytes, 7);
  // Keys of this attack's own: its puts (without a context) add siblings to them, and another
  // attack on the same node must not find them already at objectBytesMax.
  const prefix = `big-${++attacks}-`;
  const writer = new KvClient({ endpoints: [endpoint], timeoutMs: 30_000 });
  try {
    for (let k = 0; k < keys; k++) await writer.put(`${prefix}${k}`, value);
  } finally {
    writer.close();
  }
  const stubs = Array.from({ length: o.streams }, () => kvStub(o.via ?? endpoint));
  const calls = stubs.map((s) => {
    const call = s.Batch();
    call.on('error', () => {});
    // No 'data' listener: the stream is never read, so the node's answers queue up.
    return call;
  });
  let opsSent = 0;
  let id = 1;
  const deadline = Date.now() + o.seconds * 1000;
  await Promise.all(
    calls.map(async (call) => {
      while (Date.now() < deadline) {
        const ops = [];
        for (let i = 0; i < (o.putsPerMessage ?? 4); i++) ops.push({ id: id++, put: { key: Buffer.from(`${prefix}${id % keys}`), value } });
        for (let i = 0; i < (o.getsPerMessage ?? 60); i++) ops.push({ id: id++, get: { key: Buffer.from(`${prefix}${id % keys}`) } });
        if (!(await writeOrWait(call, { ops }, deadline))) break;
        opsSent += ops.length;
        // Let the event loop breathe between messages (the sampler runs in this process).
        await sleep(1);
      }
    }),
  );
  return {
    opsSent,
    close() {
      for (const c of calls) c.cancel();
      for (const s of stubs) s.close();
    },
  };
}

/**
 * One stream message of `count` tiny requests, sent raw: a PeerRequests of fetches (peer service)
 * or a BatchRequest of gets (client service). The message is built by repeating one encoded
 * request (repeated fields concatenate), so the sender stays small. Resolves with the status the
 * stream ended with, or 'open' when it had not ended after `waitMs`.
 */
export async function hugeMessage(endpoint: string, service: 'peer' | 'batch', count: number, waitMs: number): Promise<{ code: number | 'open'; details: string; bytes: number }> {
  const { kv, peer } = protos();
  const one: Buffer =
    service === 'peer'
      ? (peer.Peer.service.Exchange.requestSerialize({ requests: [{ id: 1, fetch: { partition: 0, key: Buffer.from('key-00000001') } }] }) as Buffer)
      : (kv.KV.service.Batch.requestSerialize({ ops: [{ id: 1, get: { key: Buffer.from('key-00000001') } }] }) as Buffer);
  const message = Buffer.alloc(one.length * count);
  for (let i = 0; i < count; i++) one.copy(message, i * one.length);
  const methodPath = service === 'peer' ? '/kv.v1.Peer/Exchange' : '/kv.v1.KV/Batch';
  const Stub = grpc.makeGenericClientConstructor(
    { call: { path: methodPath, requestStream: true, responseStream: true, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
    'Raw',
  );
  const stub = new Stub(endpoint, grpc.credentials.createInsecure(), channelOptions()) as unknown as grpc.Client & { call(meta: grpc.Metadata): grpc.ClientDuplexStream<Buffer, Buffer> };
  const meta = new grpc.Metadata();
  meta.set('kv-from', 'attacker');
  const call = stub.call(meta);
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ code: 'open', details: '', bytes: message.length }), waitMs);
      call.on('data', () => {});
      call.on('error', () => {});
      call.on('status', (s: grpc.StatusObject) => {
        clearTimeout(timer);
        resolve({ code: s.code, details: s.details, bytes: message.length });
      });
      call.write(message);
    });
  } finally {
    call.cancel();
    stub.close();
  }
}

/**
 * Opens `streams` Batch streams over `connections` connections, each sending one get of a key
 * with a `valueBytes` value, none ever read or ended; answers a function that abandons them all
 * (resets every stream, as a client that goes away does).
 */
export async function abandonedStreams(endpoint: string, o: { connections: number; streams: number; valueBytes: number }): Promise<{ close(): void }> {
  const key = `abandoned-${++attacks}`;
  const writer = new KvClient({ endpoints: [endpoint], timeoutMs: 30_000 });
  try {
    await writer.put(key, Buffer.alloc(o.valueBytes, 3));
  } finally {
    writer.close();
  }
  const stubs = Array.from({ length: o.connections }, () => kvStub(endpoint));
  const calls: grpc.ClientDuplexStream<unknown, unknown>[] = [];
  for (let i = 0; i < o.streams; i++) {
    const call = stubs[i % stubs.length]!.Batch();
    calls.push(call);
    call.on('error', () => {});
    call.write({ ops: [{ id: 1, get: { key: Buffer.from(key) } }] });
    if (i % 100 === 99) await sleep(5);
  }
  return {
    close() {
      for (const c of calls) c.cancel();
      for (const s of stubs) s.close();
    },
  };
}

/**
 * Slow-loris connections: each sends the HTTP/2 client preface one byte every `byteEveryMs`
 * and never completes it (it stops one byte short). Answers how many the node has closed so far.
 */
export async function slowLoris(port: number, o: { connections: number; byteEveryMs: number }): Promise<{ closed(): number; open(): number; close(): void }> {
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  let closed = 0;
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < o.connections; i++) {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    socket.once('close', () => closed++);
    socket.on('data', () => {});
    sockets.push(socket);
    let sent = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || sent >= preface.length - 1) return;
      socket.write(preface.subarray(sent, ++sent));
    }, o.byteEveryMs);
    timers.push(timer);
    if (i % 50 === 49) await sleep(5);
  }
  return {
    closed: () => closed,
    open: () => o.connections - closed,
    close() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
    },
  };
}

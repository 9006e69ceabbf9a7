/**
 * The transport floor: the message pattern of one quorum operation, and nothing else. A client
 * sends an operation to a coordinator, the coordinator sends it to two replicas, answers the
 * client after the first replica answers (W or R = 2 counting itself), and the replicas answer at
 * once. It uses the same multiplexed grpc-js bidirectional streams and per-turn batching as the
 * store (./multiplexed-stream.ts), but raw bytes instead of protobuf, and no storage, versioning,
 * routing or bookkeeping.
 *
 * What an operation costs here is the least it can cost in a store built on grpc-js on the same
 * machine; `kv floor` measures it next to `kv bench` (see README, Performance).
 */
import * as grpc from '@grpc/grpc-js';
import { GRPC_COMMON_OPTIONS } from './grpc-options';
import { Result } from '../errors';
import { Batcher, BATCH_LIMITS_DEFAULT } from './batcher';
import { MultiplexedStream, StreamFailure } from './multiplexed-stream';

export const FLOOR_PUT = 0;
export const FLOOR_GET = 1;
export type FloorKind = typeof FLOOR_PUT | typeof FLOOR_GET;

/** How many replicas a coordinator sends each operation to. */
export const FLOOR_REPLICAS = 2;
/** The largest value a floor operation carries; messages may be twice that. */
export const FLOOR_VALUE_BYTES_MAX = 16 * 1024 * 1024;
const FLOOR_MESSAGE_BYTES_MAX = 2 * FLOOR_VALUE_BYTES_MAX + 1024 * 1024;
const CHANNEL_OPTIONS = { ...GRPC_COMMON_OPTIONS, 'grpc.max_send_message_length': FLOOR_MESSAGE_BYTES_MAX, 'grpc.max_receive_message_length': FLOOR_MESSAGE_BYTES_MAX };

interface FloorRecord {
  readonly id: number;
  readonly kind: FloorKind;
  readonly payload: Uint8Array;
}

const RECORD_HEADER_BYTES = 9;
const EMPTY = new Uint8Array(0);
/** What a put answers with, about the size of an encoded context. */
const PUT_ANSWER = new Uint8Array(24);

const identity = (b: Buffer): Buffer => b;
const bidi = (path: string) => ({
  path,
  requestStream: true,
  responseStream: true,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

/** Batch: client to coordinator. Exchange: coordinator to replica. Messages are record lists. */
const FLOOR_SERVICE = { Batch: bidi('/kv.floor.Floor/Batch'), Exchange: bidi('/kv.floor.Floor/Exchange') };
const FloorStub = grpc.makeGenericClientConstructor(FLOOR_SERVICE, 'Floor');

/** [u32 id][u8 kind][u32 length][payload] records, little-endian, back to back. */
export function encodeRecords(records: readonly FloorRecord[]): Buffer {
  let size = 0;
  for (const r of records) size += RECORD_HEADER_BYTES + r.payload.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const r of records) {
    out.writeUInt32LE(r.id, at);
    out[at + 4] = r.kind;
    out.writeUInt32LE(r.payload.length, at + 5);
    out.set(r.payload, at + RECORD_HEADER_BYTES);
    at += RECORD_HEADER_BYTES + r.payload.length;
  }
  return out;
}

export function decodeRecords(message: Buffer, onRecord: (id: number, kind: FloorKind, payload: Buffer) => void): void {
  let at = 0;
  while (at < message.length) {
    if (message.length - at < RECORD_HEADER_BYTES) throw new Error(`floor: a record header is cut short at byte ${at} of ${message.length}`);
    const length = message.readUInt32LE(at + 5);
    const end = at + RECORD_HEADER_BYTES + length;
    if (end > message.length) throw new Error(`floor: a record of ${length} bytes at byte ${at} runs past the message (${message.length} bytes)`);
    const kind = message[at + 4];
    if (kind !== FLOOR_PUT && kind !== FLOOR_GET) throw new Error(`floor: record kind ${kind} at byte ${at} is neither put (${FLOOR_PUT}) nor get (${FLOOR_GET})`);
    onRecord(message.readUInt32LE(at), kind, message.subarray(at + RECORD_HEADER_BYTES, end));
    at = end;
  }
}

const recordBytes = (r: FloorRecord) => RECORD_HEADER_BYTES + r.payload.length;
/** The answering side's outbox: records queued in one turn go back in one message. */
const outbox = (write: (message: Buffer) => void) => new Batcher<FloorRecord>((records) => write(encodeRecords(records)), recordBytes);

/**
 * Operations in flight on one floor stream at most. The open loop of `kv floor` bounds them
 * itself (its --concurrency, at most 1,000,000), so this bound is never the one that binds.
 */
const FLOOR_IN_FLIGHT_MAX = 1_000_000;

type FloorStream = MultiplexedStream<FloorRecord, void, Buffer, Buffer>;
/** Floor operations wait as long as the run lasts: a node that fails ends it. */
const NO_TIMEOUT = {};

/** A multiplexed stream of floor records; a record's answer is only that it came. No timeouts. */
function floorStream(stub: grpc.Client, path: string, onEnded?: (why: string) => void): FloorStream {
  return new MultiplexedStream<FloorRecord, void, Buffer, Buffer>({
    codec: {
      open: () => stub.makeBidiStreamRequest(path, identity, identity) as grpc.ClientDuplexStream<Buffer, Buffer>,
      encode: encodeRecords,
      decode: (message, answer) => decodeRecords(message, (id) => answer(id, undefined)),
      sizeOf: recordBytes,
    },
    inFlightMax: FLOOR_IN_FLIGHT_MAX,
    batch: BATCH_LIMITS_DEFAULT,
    onEnded: onEnded && ((end) => onEnded(`${end.code} ${grpc.status[end.code]}: ${end.details}`)),
  });
}

export interface FloorServerOptions {
  /** This server's index in 0..nodes-1; it listens on basePort + index. */
  readonly index: number;
  readonly nodes: number;
  readonly basePort: number;
  /** Bytes a replica answers a get with. */
  readonly valueBytes: number;
}

/**
 * One floor node: coordinator for client operations, replica for its peers. What it waits for
 * on its replica streams is bounded by the operations the client keeps in flight (its open
 * loop's concurrency), times FLOOR_REPLICAS.
 */
export async function serveFloor(options: FloorServerOptions): Promise<grpc.Server> {
  const { index, nodes, basePort } = options;
  const value = Buffer.alloc(options.valueBytes, 'v');
  const replicaStreams = new Map<number, FloorStream>();
  const replica = (peer: number): FloorStream => {
    let stream = replicaStreams.get(peer);
    if (!stream) {
      // A replica that fails has exited; the parent sees that (`kv floor` watches its children)
      // and ends the run, so the operations waiting on it need no failure path here.
      stream = floorStream(new FloorStub(`127.0.0.1:${basePort + peer}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS), FLOOR_SERVICE.Exchange.path);
      replicaStreams.set(peer, stream);
    }
    return stream;
  };
  const server = new grpc.Server(CHANNEL_OPTIONS);
  server.addService(FLOOR_SERVICE, {
    Batch: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const answers = outbox((m) => call.write(m));
      call.on('data', (message: Buffer) =>
        decodeRecords(message, (id, kind, payload) => {
          let replies = 0;
          const onReply = () => {
            if (++replies === 1) answers.push({ id, kind, payload: kind === FLOOR_GET ? value : PUT_ANSWER });
          };
          for (let k = 1; k <= FLOOR_REPLICAS; k++) {
            replica((index + k) % nodes).dispatch((ref) => ({ id: ref, kind, payload: kind === FLOOR_PUT ? payload : EMPTY }), NO_TIMEOUT, (r) => r.ok && onReply());
          }
        }),
      );
      call.on('end', () => call.end());
    },
    Exchange: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const answers = outbox((m) => call.write(m));
      call.on('data', (message: Buffer) => decodeRecords(message, (ref, kind) => answers.push({ id: ref, kind, payload: kind === FLOOR_GET ? value : EMPTY })));
      call.on('end', () => call.end());
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${basePort + index}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
  );
  return server;
}

/** Sends operations to the floor nodes over one Batch stream each. */
export class FloorClient {
  private readonly streams: FloorStream[] = [];
  private readonly stubs: grpc.Client[] = [];
  private failure: ((error: Error) => void) | undefined;
  private broken = false;
  /** Rejects when a stream to a node fails (the run cannot go on). */
  readonly failed = new Promise<never>((_, reject) => (this.failure = reject));

  constructor(
    private readonly nodes: number,
    private readonly basePort: number,
  ) {
    this.failed.catch(() => {});
  }

  /** Waits until every node accepts connections; the streams open with the first operation. */
  async connect(timeoutMs: number): Promise<void> {
    for (let i = 0; i < this.nodes; i++) this.stubs.push(new FloorStub(`127.0.0.1:${this.basePort + i}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS));
    await Promise.all(
      this.stubs.map((stub) => new Promise<void>((resolve, reject) => stub.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolve())))),
    );
    for (const [i, stub] of this.stubs.entries()) {
      this.streams.push(floorStream(stub, FLOOR_SERVICE.Batch.path, (why) => this.fail(new Error(`the stream to floor node ${i} failed: ${why}`))));
    }
  }

  /**
   * Resolves when the coordinator `node` answers; once a stream has failed, every operation
   * resolves at once, as failed (the run is over: `failed` has rejected).
   */
  send(node: number, kind: FloorKind, payload: Uint8Array): Promise<Result<void, StreamFailure>> {
    if (this.broken) return Promise.resolve({ ok: false, error: { kind: 'given-up', reason: 'the run failed' } });
    return this.streams[node]!.send((id) => ({ id, kind, payload }));
  }

  private fail(error: Error): void {
    if (this.broken) return;
    this.broken = true;
    this.failure?.(error);
    for (const stream of this.streams) stream.failAll({ kind: 'given-up', reason: error.message });
  }

  close(): void {
    this.broken = true; // the streams' cancellation that follows is not a failure
    for (const stream of this.streams) stream.close();
    for (const stub of this.stubs) stub.close();
  }
}

/**
 * The client side of kv.v1.KV for one node address: promise-returning unary calls, and a
 * multiplexed Batch stream (operations queued in one event-loop turn travel in one message,
 * with a bounded number in flight). Failures are values carrying the gRPC status code, whether
 * a failed write may have been applied, and whether the connection (not the node) failed.
 */
import * as grpc from '@grpc/grpc-js';
import { KvError, Result, ok, err } from '../errors';
import { ClientOp, OpResult } from '../api/ops';
import { Batcher } from './batcher';
import type { BatchRequest } from './generated/kv/v1/BatchRequest';
import type { BatchResponse__Output } from './generated/kv/v1/BatchResponse';
import type { KVClient } from './generated/kv/v1/KV';
import type { Operation } from './generated/kv/v1/Operation';
import type { GetResponse__Output } from './generated/kv/v1/GetResponse';
import type { PutResponse__Output } from './generated/kv/v1/PutResponse';
import type { DeleteResponse__Output } from './generated/kv/v1/DeleteResponse';
import type { InspectResponse__Output } from './generated/kv/v1/InspectResponse';
import type { StatusResponse__Output } from './generated/kv/v1/StatusResponse';
import { protos } from './proto-definition';
import { deliveryOf, isAmbiguousForWrites, isConnectionFailure } from './delivery';
import { codeOf, statusName, WRITE_MAY_HAVE_APPLIED_TRAILER } from './status-map';
import { deleteResult, getResult, opToMessage, putResult, resultFromMessage, sizeOfOperation } from './wire';

/** A failed call: the gRPC status code and the server's message. */
export interface RpcFailure {
  readonly code: number;
  readonly codeName: string;
  readonly message: string;
  /**
   * A failed put or delete that may still have reached some replicas: do not resend it elsewhere.
   * Always false for a get.
   */
  readonly writeMayHaveApplied: boolean;
  /**
   * The connection failed (none could be made, it dropped, the Batch stream was cut) rather than
   * the node answering with a status: another node may serve the operation, if resending it is
   * safe (a get, or a write that provably was not sent).
   */
  readonly connectionFailed: boolean;
}

export interface ChannelOptions {
  /** Operations in flight on the Batch stream at most; beyond it submit fails with RESOURCE_EXHAUSTED. */
  readonly batchInFlightMax?: number;
  /** Operations in one BatchRequest at most (the server's batch_ops_max). */
  readonly batchOpsMax?: number;
  readonly messageBytesMax?: number;
}

type BatchStream = grpc.ClientDuplexStream<BatchRequest, BatchResponse__Output>;

type Pending = {
  readonly resolve: (r: Result<OpResult, RpcFailure>) => void;
  readonly isWrite: boolean;
  /** The stream the operation was written to; undefined while it waits in the outbox. */
  stream: BatchStream | undefined;
};

function failure(code: number, message: string, writeMayHaveApplied = false, connectionFailed = false): RpcFailure {
  return { code, codeName: statusName(code), message, writeMayHaveApplied, connectionFailed };
}

/** An operation the node failed inside the Batch stream: its flag decides (never set for a get). */
export function failureFromError(e: KvError, isWrite: boolean): RpcFailure {
  return failure(codeOf(e), e.message, isWrite && e.writeMayHaveApplied);
}

/**
 * A failed unary call. The node marks every status it chooses with the may-have-applied trailer,
 * and its flag decides. Without the trailer the status is gRPC's own: a write whose request may
 * have left the client may have been applied, whatever the code says.
 */
export function unaryFailure(isWrite: boolean, code: number, details: string, trailer: string | undefined): RpcFailure {
  if (trailer !== undefined) return failure(code, details, isWrite && trailer === 'true');
  const mayHaveApplied = isWrite && isAmbiguousForWrites(code) && deliveryOf(code, details) === 'maybe-sent';
  return failure(code, details, mayHaveApplied, isConnectionFailure(code));
}

/**
 * An operation written to a Batch stream that ended before its result came. The stream's status
 * is gRPC's own (the node answers each operation inside the stream), so a write may have been
 * applied unless the stream never had a connection.
 */
export function streamFailure(isWrite: boolean, code: number, details: string, address: string): RpcFailure {
  const mayHaveApplied = isWrite && deliveryOf(code, details) === 'maybe-sent';
  return failure(code, `batch stream to ${address} failed: ${details}`, mayHaveApplied, true);
}

function trailerOf(e: grpc.ServiceError): string | undefined {
  const v = e.metadata?.get(WRITE_MAY_HAVE_APPLIED_TRAILER)[0];
  return v === undefined ? undefined : String(v);
}

export class KvChannel {
  private readonly client: KVClient;
  private stream: BatchStream | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly outbox: Batcher<Operation>;
  private readonly inFlightMax: number;

  constructor(
    readonly address: string,
    options: ChannelOptions = {},
  ) {
    const messageBytesMax = options.messageBytesMax ?? 64 * 1024 * 1024;
    this.client = new (protos().kv.KV)(address, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': messageBytesMax,
      'grpc.max_receive_message_length': messageBytesMax,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
    });
    this.inFlightMax = options.batchInFlightMax ?? 4096;
    this.outbox = new Batcher<Operation>(
      (ops) => this.writeBatch(ops),
      sizeOfOperation,
      { itemsMax: options.batchOpsMax ?? 1024, bytesMax: Math.floor(messageBytesMax / 2) },
    );
  }

  private deadline(timeoutMs: number): grpc.CallOptions {
    return { deadline: Date.now() + timeoutMs };
  }

  private unary<Res>(isWrite: boolean, invoke: (options: grpc.CallOptions, cb: grpc.requestCallback<Res>) => void, timeoutMs: number): Promise<Result<Res, RpcFailure>> {
    return new Promise((resolve) => {
      invoke(this.deadline(timeoutMs), (e, res) => {
        if (e) resolve(err(unaryFailure(isWrite, e.code, e.details || e.message, trailerOf(e))));
        else resolve(ok(res!));
      });
    });
  }

  /** One operation as a unary call. */
  async call(op: ClientOp, timeoutMs: number): Promise<Result<OpResult, RpcFailure>> {
    const c = this.client;
    switch (op.kind) {
      case 'get': {
        const r = await this.unary<GetResponse__Output>(false, (o, cb) => c.Get({ key: op.key, r: op.r, pr: op.pr }, o, cb), timeoutMs);
        return r.ok ? ok(getResult(r.value)) : r;
      }
      case 'put': {
        const r = await this.unary<PutResponse__Output>(true, (o, cb) => c.Put({ key: op.key, value: op.value, context: op.context, w: op.w, pw: op.pw }, o, cb), timeoutMs);
        return r.ok ? ok(putResult(r.value)) : r;
      }
      case 'delete': {
        const r = await this.unary<DeleteResponse__Output>(true, (o, cb) => c.Delete({ key: op.key, context: op.context, w: op.w, pw: op.pw }, o, cb), timeoutMs);
        return r.ok ? ok(deleteResult(r.value)) : r;
      }
    }
  }

  status(timeoutMs: number): Promise<Result<StatusResponse__Output, RpcFailure>> {
    return this.unary<StatusResponse__Output>(false, (o, cb) => this.client.Status({}, o, cb), timeoutMs);
  }

  inspect(key: Uint8Array, timeoutMs: number): Promise<Result<InspectResponse__Output, RpcFailure>> {
    return this.unary<InspectResponse__Output>(false, (o, cb) => this.client.Inspect({ key, timeoutMs }, o, cb), timeoutMs);
  }

  /** One operation through the shared Batch stream. */
  submit(op: ClientOp, timeoutMs: number): Promise<Result<OpResult, RpcFailure>> {
    if (this.pending.size >= this.inFlightMax) {
      return Promise.resolve(err(failure(grpc.status.RESOURCE_EXHAUSTED, `client: ${this.pending.size} operations in flight to ${this.address}, the limit (batchInFlightMax) is ${this.inFlightMax}`)));
    }
    const id = this.nextId++;
    const isWrite = op.kind !== 'get';
    return new Promise((resolve) => {
      // A write still waiting here was written to the stream, or is queued and will be: the node
      // may yet apply it.
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) resolve(err(failure(grpc.status.DEADLINE_EXCEEDED, `no answer from ${this.address} within ${timeoutMs} ms`, isWrite)));
      }, timeoutMs + 1000);
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        isWrite,
        stream: undefined,
      });
      this.outbox.push(opToMessage(id, op, timeoutMs));
    });
  }

  private writeBatch(ops: Operation[]): void {
    const stream = (this.stream ??= this.openStream());
    for (const m of ops) {
      const p = this.pending.get(Number(m.id));
      if (p) p.stream = stream;
    }
    stream.write({ ops });
  }

  private openStream(): BatchStream {
    const stream = this.client.Batch();
    stream.on('data', (msg: BatchResponse__Output) => {
      for (const r of msg.results) {
        const p = this.pending.get(r.id);
        if (!p) continue;
        this.pending.delete(r.id);
        const result = resultFromMessage(r);
        p.resolve(result.ok ? result : err(failureFromError(result.error, p.isWrite)));
      }
    });
    // The status arrives before the last results are read ('end' follows those). On the status,
    // new operations start going to a new stream; on 'end' (or one turn later, should 'end' not
    // come), what is still pending on this stream fails.
    let end = { code: grpc.status.UNAVAILABLE as number, details: 'the node ended the stream' };
    stream.on('status', (s: grpc.StatusObject) => {
      if (s.code !== grpc.status.OK) end = { code: s.code, details: s.details };
      if (this.stream === stream) this.stream = undefined;
      setImmediate(() => this.failStream(stream, end));
    });
    stream.on('error', () => {
      // Handled by the 'status' event, which follows every error with the same code and details.
    });
    stream.on('end', () => this.failStream(stream, end));
    return stream;
  }

  /**
   * Fails the operations written to a stream that ended: each get, and each write that provably
   * never left, may go to another node; other writes may have been applied. Operations still in
   * the outbox were never written to it: they go out on the next stream.
   */
  private failStream(stream: BatchStream, end: { code: number; details: string }): void {
    if (this.stream === stream) this.stream = undefined;
    for (const [id, p] of this.pending) {
      if (p.stream !== stream) continue;
      this.pending.delete(id);
      p.resolve(err(streamFailure(p.isWrite, end.code, end.details, this.address)));
    }
  }

  close(): void {
    this.stream?.end();
    this.stream = undefined;
    this.client.close();
  }
}


/**
 * The client side of kv.v1.KV for one node address: promise-returning unary calls, and the
 * Batch stream as a multiplexed stream (./multiplexed-stream.ts: operations queued in one
 * event-loop turn travel in one message, with a bounded number in flight). Failures are values
 * carrying the gRPC status code, whether a failed write may have been applied, and whether the
 * connection (not the node) failed.
 */
import * as grpc from '@grpc/grpc-js';
import { GRPC_COMMON_OPTIONS } from './grpc-options';
import { KvError, Result, ok, err } from '../errors';
import { ClientOp, OpResult } from '../api/ops';
import { MultiplexedStream, StreamFailure } from './multiplexed-stream';
import type { BatchRequest } from './generated/kv/v1/BatchRequest';
import type { BatchResponse__Output } from './generated/kv/v1/BatchResponse';
import type { KVClient } from './generated/kv/v1/KV';
import type { Operation } from './generated/kv/v1/Operation';
import type { OperationResult__Output } from './generated/kv/v1/OperationResult';
import type { GetResponse__Output } from './generated/kv/v1/GetResponse';
import type { PutResponse__Output } from './generated/kv/v1/PutResponse';
import type { AdminRequest } from './generated/kv/v1/AdminRequest';
import type { AdminResponse__Output } from './generated/kv/v1/AdminResponse';
import type { DeleteResponse__Output } from './generated/kv/v1/DeleteResponse';
import type { InspectResponse__Output } from './generated/kv/v1/InspectResponse';
import type { StatusResponse__Output } from './generated/kv/v1/StatusResponse';
import { protos } from './proto-definition';
import { channelSecurity, ClientSecurity } from './tls';
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
  /** TLS files and a bearer token. @default - plaintext, no token */
  readonly security?: ClientSecurity;
}

/**
 * How long past an operation's own timeout the channel still waits for its answer: the node
 * answers DEADLINE_EXCEEDED itself when the timeout passes there, which says more than silence.
 */
export const ANSWER_GRACE_MS = 1000;
/** Operations in flight on the Batch stream at most, unless batchInFlightMax says otherwise. */
export const BATCH_IN_FLIGHT_MAX_DEFAULT = 4096;
/** Operations in one BatchRequest at most, unless batchOpsMax says otherwise (the server's default). */
export const BATCH_OPS_MAX_DEFAULT = 1024;
export const MESSAGE_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

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
  const delivery = deliveryOf(code, details);
  const mayHaveApplied = isWrite && isAmbiguousForWrites(code) && delivery === 'maybe-sent';
  // A deadline that passed while the call still waited for a connection (a node that accepts
  // connections but never answers: frozen, overloaded) is a failed connection too: the request
  // never left, and another node may serve it.
  return failure(code, details, mayHaveApplied, isConnectionFailure(code) || delivery === 'not-sent');
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

/**
 * A failure of the Batch stream, as the operation's. A write that was sent, or queued to be, may
 * have been applied; one refused by the window was not sent at all.
 */
function batchFailure(f: StreamFailure, isWrite: boolean, address: string, timeoutMs: number): RpcFailure {
  switch (f.kind) {
    case 'window-full':
      return failure(grpc.status.RESOURCE_EXHAUSTED, `client: ${f.inFlight} operations in flight to ${address}, the limit (batchInFlightMax) is ${f.inFlightMax}`);
    case 'timed-out':
      return failure(grpc.status.DEADLINE_EXCEEDED, `no answer from ${address} within ${timeoutMs} ms`, isWrite);
    case 'stream-ended':
      return streamFailure(isWrite, f.code, f.details, address);
    case 'given-up':
      return failure(grpc.status.CANCELLED, `batch stream to ${address}: ${f.reason}`, isWrite, true);
  }
}

export class KvChannel {
  private readonly client: KVClient;
  private readonly batch: MultiplexedStream<Operation, OperationResult__Output, BatchRequest, BatchResponse__Output>;

  constructor(
    readonly address: string,
    options: ChannelOptions = {},
  ) {
    const messageBytesMax = options.messageBytesMax ?? MESSAGE_BYTES_MAX_DEFAULT;
    const { credentials, clientOptions } = channelSecurity(options.security, { address });
    const client = new (protos().kv.KV)(address, credentials, {
      ...clientOptions,
      ...GRPC_COMMON_OPTIONS,
      'grpc.max_send_message_length': messageBytesMax,
      'grpc.max_receive_message_length': messageBytesMax,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
    });
    this.client = client;
    this.batch = new MultiplexedStream<Operation, OperationResult__Output, BatchRequest, BatchResponse__Output>({
      codec: {
        open: () => client.Batch(),
        encode: (ops) => ({ ops }),
        decode: (message, answer) => {
          for (const r of message.results) answer(Number(r.id), r);
        },
        sizeOf: sizeOfOperation,
      },
      inFlightMax: options.batchInFlightMax ?? BATCH_IN_FLIGHT_MAX_DEFAULT,
      batch: { itemsMax: options.batchOpsMax ?? BATCH_OPS_MAX_DEFAULT, bytesMax: Math.floor(messageBytesMax / 2) },
    });
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

  /** A membership change (kv admin): only the claimant takes it. A commit is not resent. */
  admin(request: AdminRequest, timeoutMs: number): Promise<Result<AdminResponse__Output, RpcFailure>> {
    return this.unary<AdminResponse__Output>(request.commit !== undefined, (o, cb) => this.client.Admin(request, o, cb), timeoutMs);
  }

  /** One operation through the shared Batch stream. */
  submit(op: ClientOp, timeoutMs: number): Promise<Result<OpResult, RpcFailure>> {
    const isWrite = op.kind !== 'get';
    return new Promise((resolve) =>
      this.batch.dispatch((id) => opToMessage(id, op, timeoutMs), { timeoutMs: timeoutMs + ANSWER_GRACE_MS }, (r) => {
        if (!r.ok) return resolve(err(batchFailure(r.error, isWrite, this.address, timeoutMs)));
        const result = resultFromMessage(r.value);
        resolve(result.ok ? result : err(failureFromError(result.error, isWrite)));
      }),
    );
  }

  close(): void {
    this.batch.close();
    this.client.close();
  }
}

/**
 * The client side of kv.v1.KV for one node address: promise-returning unary calls, and a
 * multiplexed Batch stream (operations queued in one event-loop turn travel in one message,
 * with a bounded number in flight). Failures are values carrying the gRPC status code.
 */
import * as grpc from '@grpc/grpc-js';
import { KvError, Result, ok, err } from '../errors';
import { ClientOp, OpResult } from '../replication/ops';
import { Batcher } from './batcher';
import type { BatchRequest } from './generated/kv/v1/BatchRequest';
import type { BatchResponse__Output } from './generated/kv/v1/BatchResponse';
import type { KVClient } from './generated/kv/v1/KV';
import type { Operation } from './generated/kv/v1/Operation';
import type { GetResponse__Output } from './generated/kv/v1/GetResponse';
import type { PutResponse__Output } from './generated/kv/v1/PutResponse';
import type { DeleteResponse__Output } from './generated/kv/v1/DeleteResponse';
import type { StatusResponse__Output } from './generated/kv/v1/StatusResponse';
import { protos } from './proto-definition';
import { codeOf, statusName, WRITE_MAY_HAVE_APPLIED_TRAILER } from './status-map';
import { deleteResult, getResult, opToMessage, putResult, resultFromMessage, sizeOfOperation } from './wire';

/** A failed call: the gRPC status code and the server's message. */
export interface RpcFailure {
  readonly code: number;
  readonly codeName: string;
  readonly message: string;
  /** A failed write that may still have reached some replicas: do not resend it elsewhere. */
  readonly writeMayHaveApplied: boolean;
}

export interface ChannelOptions {
  /** Operations in flight on the Batch stream at most; beyond it submit fails with RESOURCE_EXHAUSTED. */
  readonly batchInFlightMax?: number;
  /** Operations in one BatchRequest at most (the server's batch_ops_max). */
  readonly batchOpsMax?: number;
  readonly messageBytesMax?: number;
}

type Pending = { resolve: (r: Result<OpResult, RpcFailure>) => void };

function failure(code: number, message: string, writeMayHaveApplied = false): RpcFailure {
  return { code, codeName: statusName(code), message, writeMayHaveApplied };
}

export function failureFromError(e: KvError): RpcFailure {
  return failure(codeOf(e), e.message, e.writeMayHaveApplied);
}

export class KvChannel {
  private readonly client: KVClient;
  private stream: grpc.ClientDuplexStream<BatchRequest, BatchResponse__Output> | undefined;
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

  private unary<Res>(invoke: (options: grpc.CallOptions, cb: grpc.requestCallback<Res>) => void, timeoutMs: number): Promise<Result<Res, RpcFailure>> {
    return new Promise((resolve) => {
      invoke(this.deadline(timeoutMs), (e, res) => {
        if (e) resolve(err(failure(e.code, e.details || e.message, e.metadata?.get(WRITE_MAY_HAVE_APPLIED_TRAILER)[0] === 'true')));
        else resolve(ok(res!));
      });
    });
  }

  /** One operation as a unary call. */
  async call(op: ClientOp, timeoutMs: number): Promise<Result<OpResult, RpcFailure>> {
    const c = this.client;
    switch (op.kind) {
      case 'get': {
        const r = await this.unary<GetResponse__Output>((o, cb) => c.Get({ key: op.key, r: op.r, pr: op.pr }, o, cb), timeoutMs);
        return r.ok ? ok(getResult(r.value)) : r;
      }
      case 'put': {
        const r = await this.unary<PutResponse__Output>((o, cb) => c.Put({ key: op.key, value: op.value, context: op.context, w: op.w, pw: op.pw }, o, cb), timeoutMs);
        return r.ok ? ok(putResult(r.value)) : r;
      }
      case 'delete': {
        const r = await this.unary<DeleteResponse__Output>((o, cb) => c.Delete({ key: op.key, context: op.context, w: op.w, pw: op.pw }, o, cb), timeoutMs);
        return r.ok ? ok(deleteResult(r.value)) : r;
      }
    }
  }

  status(timeoutMs: number): Promise<Result<StatusResponse__Output, RpcFailure>> {
    return this.unary<StatusResponse__Output>((o, cb) => this.client.Status({}, o, cb), timeoutMs);
  }

  /** One operation through the shared Batch stream. */
  submit(op: ClientOp, timeoutMs: number): Promise<Result<OpResult, RpcFailure>> {
    if (this.pending.size >= this.inFlightMax) {
      return Promise.resolve(err(failure(grpc.status.RESOURCE_EXHAUSTED, `client: ${this.pending.size} operations in flight to ${this.address}, the limit (batchInFlightMax) is ${this.inFlightMax}`)));
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) resolve(err(failure(grpc.status.DEADLINE_EXCEEDED, `no answer from ${this.address} within ${timeoutMs} ms`)));
      }, timeoutMs + 1000);
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      this.outbox.push(opToMessage(id, op, timeoutMs));
    });
  }

  private writeBatch(ops: Operation[]): void {
    if (!this.stream) this.stream = this.openStream();
    this.stream.write({ ops });
  }

  private openStream(): grpc.ClientDuplexStream<BatchRequest, BatchResponse__Output> {
    const stream = this.client.Batch();
    stream.on('data', (msg: BatchResponse__Output) => {
      for (const r of msg.results) {
        const p = this.pending.get(r.id);
        if (!p) continue;
        this.pending.delete(r.id);
        const result = resultFromMessage(r);
        p.resolve(result.ok ? result : err(failureFromError(result.error)));
      }
    });
    const fail = (code: number, why: string) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      const failed = [...this.pending.values()];
      this.pending.clear();
      for (const p of failed) p.resolve(err(failure(code, `batch stream to ${this.address} failed: ${why}`)));
    };
    stream.on('error', (e: grpc.ServiceError) => fail(e.code ?? grpc.status.UNAVAILABLE, e.details || e.message));
    stream.on('end', () => fail(grpc.status.UNAVAILABLE, 'stream ended'));
    return stream;
  }

  close(): void {
    this.stream?.end();
    this.stream = undefined;
    this.client.close();
  }
}


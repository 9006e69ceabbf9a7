/** Conversions between the coordinator's operations and results and the kv.v1 messages. */
import { KvError, Result, ok, err } from '../errors';
import { ClientOp, GetResult, OpResult, WriteResult } from '../api/ops';
import type { DeleteRequest__Output } from './generated/kv/v1/DeleteRequest';
import type { DeleteResponse__Output } from './generated/kv/v1/DeleteResponse';
import type { GetRequest__Output } from './generated/kv/v1/GetRequest';
import type { GetResponse, GetResponse__Output } from './generated/kv/v1/GetResponse';
import type { OpError } from './generated/kv/v1/OpError';
import type { Operation, Operation__Output } from './generated/kv/v1/Operation';
import type { OperationResult, OperationResult__Output } from './generated/kv/v1/OperationResult';
import type { PutRequest__Output } from './generated/kv/v1/PutRequest';
import type { PutResponse__Output } from './generated/kv/v1/PutResponse';
import { codeOf, errorFromCode } from './status-map';

export const getOp = (q: GetRequest__Output): ClientOp => ({ kind: 'get', key: q.key, r: q.r, pr: q.pr });
export const putOp = (q: PutRequest__Output): ClientOp => ({ kind: 'put', key: q.key, value: q.value, context: q.context, w: q.w, pw: q.pw });
export const deleteOp = (q: DeleteRequest__Output): ClientOp => ({ kind: 'delete', key: q.key, context: q.context, w: q.w, pw: q.pw });

/** A KvError as the wire carries it: status code, message, the may-have-applied flag and the condition. */
export function errorToMessage(e: KvError): OpError {
  return { code: codeOf(e), message: e.message, writeMayHaveApplied: e.writeMayHaveApplied, condition: e.condition };
}

export function opFromMessage(m: Operation__Output): ClientOp | undefined {
  switch (m.op) {
    case 'get':
      return getOp(m.get!);
    case 'put':
      return putOp(m.put!);
    case 'delete':
      return deleteOp(m.delete!);
    default:
      return undefined;
  }
}

export const getResult = (m: GetResponse__Output): GetResult => ({ kind: 'get', found: m.found, values: m.values, context: m.context, deleted: m.deleted });
export const putResult = (m: PutResponse__Output): WriteResult => ({ kind: 'put', context: m.context, siblings: m.siblings });
export const deleteResult = (m: DeleteResponse__Output): WriteResult => ({ kind: 'delete', context: m.context, siblings: m.siblings });

/** An OperationResult from the wire, back into the coordinator's terms. */
export function resultFromMessage(m: OperationResult__Output): Result<OpResult> {
  switch (m.result) {
    case 'get':
      return ok(getResult(m.get!));
    case 'put':
      return ok(putResult(m.put!));
    case 'delete':
      return ok(deleteResult(m.delete!));
    case 'error':
      return err(errorFromCode(m.error!.code, m.error!.message, m.error!.writeMayHaveApplied, m.error!.condition));
    default:
      return err(new KvError('Internal', 'empty operation result'));
  }
}

/** Per-operation time budget carried in the message (0 = node default). */
export function opTimeoutMs(m: Operation__Output): number {
  return (m.get ?? m.put ?? m.delete)?.timeoutMs ?? 0;
}

export function opToMessage(id: number, op: ClientOp, timeoutMs: number) {
  switch (op.kind) {
    case 'get':
      return { id, get: { key: op.key, r: op.r, pr: op.pr, timeoutMs } };
    case 'put':
      return { id, put: { key: op.key, value: op.value, context: op.context, w: op.w, pw: op.pw, timeoutMs } };
    case 'delete':
      return { id, delete: { key: op.key, context: op.context, w: op.w, pw: op.pw, timeoutMs } };
  }
}

export function getResponse(r: OpResult & { kind: 'get' }): GetResponse {
  return { found: r.found, values: r.values.map((v) => Buffer.from(v.buffer, v.byteOffset, v.length)), context: r.context, deleted: r.deleted };
}

export function resultToMessage(id: number, result: Result<OpResult, KvError>): OperationResult {
  if (!result.ok) return { id, error: errorToMessage(result.error) };
  const r = result.value;
  switch (r.kind) {
    case 'get':
      return { id, get: getResponse(r) };
    case 'put':
      return { id, put: { context: r.context, siblings: r.siblings } };
    case 'delete':
      return { id, delete: { context: r.context, siblings: r.siblings } };
  }
}

/** Approximate wire size of an Operation message, for batch byte bounds. */
export function sizeOfOperation(m: Operation): number {
  const body = m.get ?? m.put ?? m.delete;
  const len = (b: unknown) => (b as Uint8Array | undefined)?.length ?? 0;
  return 32 + len(body?.key) + len(m.put?.value) + len(m.put?.context ?? m.delete?.context);
}

export function sizeOfResult(r: OperationResult): number {
  const values = r.get?.values?.reduce((n, v) => n + (v as Uint8Array).length, 0) ?? 0;
  return values + 64;
}


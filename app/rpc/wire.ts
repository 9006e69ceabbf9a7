/** Conversions between the coordinator's operations and results and the kv.v1 messages. */
import { KvError, Result } from '../errors';
import { ClientOp, OpResult } from '../replication/ops';
import type { Operation, Operation__Output } from './generated/kv/v1/Operation';
import type { OperationResult } from './generated/kv/v1/OperationResult';
import type { GetResponse } from './generated/kv/v1/GetResponse';
import { codeOf } from './status-map';

export function opFromMessage(m: Operation__Output): ClientOp | undefined {
  switch (m.op) {
    case 'get':
      return { kind: 'get', key: m.get!.key, r: m.get!.r };
    case 'put':
      return { kind: 'put', key: m.put!.key, value: m.put!.value, context: m.put!.context, w: m.put!.w };
    case 'delete':
      return { kind: 'delete', key: m.delete!.key, context: m.delete!.context, w: m.delete!.w };
    default:
      return undefined;
  }
}

/** Per-operation time budget carried in the message (0 = node default). */
export function opTimeoutMs(m: Operation__Output): number {
  return (m.get ?? m.put ?? m.delete)?.timeoutMs ?? 0;
}

export function opToMessage(id: number, op: ClientOp, timeoutMs: number) {
  switch (op.kind) {
    case 'get':
      return { id, get: { key: op.key, r: op.r, timeoutMs } };
    case 'put':
      return { id, put: { key: op.key, value: op.value, context: op.context, w: op.w, timeoutMs } };
    case 'delete':
      return { id, delete: { key: op.key, context: op.context, w: op.w, timeoutMs } };
  }
}

export function getResponse(r: OpResult & { kind: 'get' }): GetResponse {
  return { found: r.found, values: r.values.map((v) => Buffer.from(v.buffer, v.byteOffset, v.length)), context: r.context, deleted: r.deleted };
}

export function resultToMessage(id: number, result: Result<OpResult, KvError>): OperationResult {
  if (!result.ok) return { id, error: { code: codeOf(result.error), message: result.error.message, writeMayHaveApplied: result.error.writeMayHaveApplied } };
  const r = result.value;
  switch (r.kind) {
    case 'get':
      return { id, get: getResponse(r) };
    case 'put':
      return { id, put: { context: r.context, siblings: r.siblings } };
    case 'delete':
      return { id, delete: { context: r.context } };
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


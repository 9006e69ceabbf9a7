/** The one table between the store's error kinds and gRPC status codes, both ways. */
import { status } from '@grpc/grpc-js';
import { KvCondition, KvError, KvErrorKind } from '../errors';

const CODE_OF: Readonly<Record<KvErrorKind, status>> = {
  'invalid-argument': status.INVALID_ARGUMENT,
  unavailable: status.UNAVAILABLE,
  'deadline-exceeded': status.DEADLINE_EXCEEDED,
  'failed-precondition': status.FAILED_PRECONDITION,
  'resource-exhausted': status.RESOURCE_EXHAUSTED,
  'data-loss': status.DATA_LOSS,
  internal: status.INTERNAL,
};

/** For errors that come back from another node: the condition a status code stands for. */
const CONDITION_OF: Readonly<Partial<Record<status, KvCondition>>> = {
  [status.INVALID_ARGUMENT]: 'InvalidArgument',
  [status.UNAVAILABLE]: 'InsufficientReplicas',
  [status.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
  [status.FAILED_PRECONDITION]: 'TooManySiblings',
  [status.RESOURCE_EXHAUSTED]: 'Overloaded',
  [status.DATA_LOSS]: 'CorruptRecord',
};

export function codeOf(error: KvError): status {
  return CODE_OF[error.kind];
}

export function errorFromCode(code: number, message: string, writeMayHaveApplied = false): KvError {
  return new KvError(CONDITION_OF[code as status] ?? 'Internal', message, writeMayHaveApplied);
}

/** The trailer that carries KvError.writeMayHaveApplied on unary calls. */
export const WRITE_MAY_HAVE_APPLIED_TRAILER = 'kv-write-may-have-applied';

export function statusName(code: number): string {
  return status[code] ?? `CODE_${code}`;
}

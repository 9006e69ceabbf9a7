/** The one table between the store's error kinds and gRPC status codes, both ways. */
import { status } from '@grpc/grpc-js';
import { conditionNamed, KvCondition, KvError, KvErrorKind } from '../errors';

const CODE_OF: Readonly<Record<KvErrorKind, status>> = {
  'invalid-argument': status.INVALID_ARGUMENT,
  unavailable: status.UNAVAILABLE,
  'deadline-exceeded': status.DEADLINE_EXCEEDED,
  'failed-precondition': status.FAILED_PRECONDITION,
  'resource-exhausted': status.RESOURCE_EXHAUSTED,
  'data-loss': status.DATA_LOSS,
  unauthenticated: status.UNAUTHENTICATED,
  'permission-denied': status.PERMISSION_DENIED,
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
  [status.UNAUTHENTICATED]: 'Unauthenticated',
  [status.PERMISSION_DENIED]: 'PermissionDenied',
};

export function codeOf(error: KvError): status {
  return CODE_OF[error.kind];
}

/**
 * An error that came back from another node. The condition name it carried wins when it agrees
 * with the status code (another build may name conditions this one does not know).
 */
export function errorFromCode(code: number, message: string, writeMayHaveApplied = false, conditionName?: string): KvError {
  const named = conditionNamed(conditionName);
  const condition = named !== undefined && CODE_OF[new KvError(named, '').kind] === code ? named : (CONDITION_OF[code as status] ?? 'Internal');
  return new KvError(condition, message, writeMayHaveApplied);
}

/**
 * The trailer that carries KvError.writeMayHaveApplied on unary calls: 'true' or 'false' on every
 * status the node chooses, absent on statuses gRPC produces itself (see app/rpc/delivery.ts).
 */
export const WRITE_MAY_HAVE_APPLIED_TRAILER = 'kv-write-may-have-applied';

export function statusName(code: number): string {
  return status[code] ?? `CODE_${code}`;
}

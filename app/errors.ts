/**
 * Errors a user can see, named after the condition (Voldemort's cut). Each carries a kind that
 * the RPC layer maps to a gRPC status in one table (app/rpc/status-map.ts). Messages say what was
 * wrong, with the value and the limit, and what to do.
 */
export type KvErrorKind =
  | 'invalid-argument'
  | 'unavailable'
  | 'deadline-exceeded'
  | 'failed-precondition'
  | 'resource-exhausted'
  | 'data-loss'
  | 'unauthenticated'
  | 'permission-denied'
  | 'internal';

export type KvCondition =
  | 'InvalidArgument'
  | 'InsufficientReplicas'
  | 'PeerUnreachable'
  | 'DeadlineExceeded'
  | 'TooManySiblings'
  | 'ClockTooLarge'
  | 'ObjectTooLarge'
  | 'Overloaded'
  | 'ShuttingDown'
  | 'CorruptRecord'
  | 'StorageFull'
  | 'StorageFailed'
  | 'HintBacklogFull'
  | 'ReplicaSyncing'
  | 'NotMember'
  | 'NotPrimary'
  | 'MembershipRefused'
  | 'BackupRefused'
  | 'Unauthenticated'
  | 'PermissionDenied'
  | 'Internal';

const KIND_OF: Readonly<Record<KvCondition, KvErrorKind>> = {
  InvalidArgument: 'invalid-argument',
  InsufficientReplicas: 'unavailable',
  PeerUnreachable: 'unavailable',
  DeadlineExceeded: 'deadline-exceeded',
  TooManySiblings: 'failed-precondition',
  ClockTooLarge: 'failed-precondition',
  ObjectTooLarge: 'failed-precondition',
  Overloaded: 'resource-exhausted',
  ShuttingDown: 'unavailable',
  NotMember: 'unavailable',
  NotPrimary: 'unavailable',
  MembershipRefused: 'failed-precondition',
  // A snapshot of a node that keeps no files, or of one outside any cluster.
  BackupRefused: 'failed-precondition',
  CorruptRecord: 'data-loss',
  StorageFull: 'resource-exhausted',
  // The disk failed this node's write (EIO): the client tries another node, as for a node that is down.
  StorageFailed: 'unavailable',
  HintBacklogFull: 'resource-exhausted',
  ReplicaSyncing: 'unavailable',
  // Client authorization (app/rpc/access.ts): no or unknown credentials; a role or prefix rule that refuses.
  Unauthenticated: 'unauthenticated',
  PermissionDenied: 'permission-denied',
  Internal: 'internal',
};

/** A condition name read from the wire, when it is one this build knows. */
export function conditionNamed(name: string | undefined): KvCondition | undefined {
  return name !== undefined && Object.prototype.hasOwnProperty.call(KIND_OF, name) ? (name as KvCondition) : undefined;
}

/**
 * Failures of the local store that callers must see as themselves rather than as Internal, by
 * error name (the classes live in storage/local-store.ts, which this module does not import).
 */
const STORE_FAILURES: ReadonlyMap<string, KvCondition> = new Map<string, KvCondition>([
  ['CorruptRecordError', 'CorruptRecord'],
  ['StorageFullError', 'StorageFull'],
  ['StorageIoError', 'StorageFailed'],
  ['RecordTooLargeError', 'ObjectTooLarge'],
]);

/** The condition a store failure stands for, or undefined when `e` is no known store failure. */
export function storeFailureCondition(e: unknown): KvCondition | undefined {
  return e instanceof Error ? STORE_FAILURES.get(e.name) : undefined;
}

export class KvError extends Error {
  readonly kind: KvErrorKind;
  constructor(
    readonly condition: KvCondition,
    message: string,
    /** A failed write that may still have reached some replicas (never resend it blindly). */
    readonly writeMayHaveApplied = false,
  ) {
    super(message);
    this.name = condition;
    this.kind = KIND_OF[condition];
  }
}

/** A bad request field: names the field, shows the value, states the limit. */
export function invalidArgument(field: string, value: unknown, limit: string): KvError {
  return new KvError('InvalidArgument', `${field}: ${describeValue(value)} ${limit}`);
}

function describeValue(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
  return String(value);
}

/** Expected outcomes are values, not exceptions. */
export type Result<T, E = KvError> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });

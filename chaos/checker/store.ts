/**
 * What the checker drives: a client's view of the store (get, put and delete with a context) and
 * each replica's own state of a key. Narrow on purpose: the checker runs against the real client
 * (kv-client-store.ts) and, in tests, against in-memory stores broken on purpose.
 *
 * Failures are values, classified once here so that every workload retries the same way: a
 * failure is retryable (another attempt may succeed), and a failed write may have applied
 * (it must not be resent: the checker counts it as indeterminate).
 */

export interface ReadReply {
  /** Every live sibling's value, as text ([] for a key never written or deleted). */
  readonly values: readonly string[];
  /** Opaque: pass it to the put or delete based on this read. */
  readonly context: string;
}

export interface WriteReply {
  /** The context of the write itself (covers it and what its context covered). */
  readonly context: string;
}

/** What one replica holds for a key, as Inspect reports it. */
export interface ReplicaState {
  readonly node: string;
  /** A primary of the key (holds it in its data); else a fallback (may hold it as hints). */
  readonly primary: boolean;
  /** False when the node did not answer. */
  readonly answered: boolean;
  /** A primary: holds an object for the key; a fallback: holds hints for it. */
  readonly holds: boolean;
  /** What it holds, as an identity: two replicas that hold the same history have equal versions. */
  readonly version: string;
  /** The live sibling values it holds. */
  readonly values: readonly string[];
}

export interface StoreError {
  /** The condition, as the client names it (gRPC status names: UNAVAILABLE, DEADLINE_EXCEEDED ...). */
  readonly code: string;
  /** Another attempt may succeed (a node down, a timeout, overload). */
  readonly retryable: boolean;
  /** A put or delete that may have reached replicas: resending it could apply it twice. */
  readonly mayHaveApplied: boolean;
  readonly message: string;
}

export type StoreOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: StoreError };

export interface GetOptions {
  /** Read quorum; the store's R when absent. The verdict reads at R=N. */
  readonly r?: number;
}

export interface CheckedStore {
  get(key: string, options?: GetOptions): Promise<StoreOutcome<ReadReply>>;
  /** Writes `value`; with a context it replaces what that read returned, without one it is a sibling. */
  put(key: string, value: string, context: string | undefined): Promise<StoreOutcome<WriteReply>>;
  /** Deletes what the read whose context is given returned. */
  delete(key: string, context: string): Promise<StoreOutcome<WriteReply>>;
  /** Every replica's own state of the key (no quorum, no merge, no repair). */
  replicas(key: string): Promise<StoreOutcome<readonly ReplicaState[]>>;
}

/** How the checker counts one logical operation. */
export type Outcome = 'ok' | 'failed' | 'indeterminate';

export function outcomeOf(r: StoreOutcome<unknown>): Outcome {
  if (r.ok) return 'ok';
  return r.error.mayHaveApplied ? 'indeterminate' : 'failed';
}

/**
 * A read-back after a write that may have applied: reads `key` (at the store's R) and says
 * whether its values show that write. A failed read stays a failure (the write stays in doubt).
 */
export async function readBack(store: CheckedStore, key: string, shows: (read: ReadReply) => boolean): Promise<StoreOutcome<boolean>> {
  const read = await store.get(key);
  return read.ok ? { ok: true, value: shows(read.value) } : read;
}

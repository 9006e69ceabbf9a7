/**
 * The one storage interface every engine implements (Voldemort's cut: one small interface,
 * behaviour added by wrapping it). Keys are grouped by partition so that one partition's
 * objects can be folded in key order (handoff, anti-entropy and backup work per partition).
 *
 * Values are opaque bytes to the store: the versioning codec owns their meaning. The store owns
 * their integrity: each record is framed with a checksum, checked right before it is written and
 * right after it is read, and a record that fails the check is reported, never returned.
 */

/** Largest partition number a store accepts (partitions are 0 .. PARTITION_MAX). */
export const PARTITION_MAX = 65535;

/** How a store makes a write durable before it acknowledges it. */
export type Durability =
  /** Each commit is on disk (fsync) before the write resolves. The default. */
  | 'durable'
  /** Commits resolve before they are synced; a crash may lose the last moments of writes. Opt-in. */
  | 'relaxed';

/** One record of a fold, in key order within its partition. */
export interface StoredEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** What an `update` callback decides for a key. */
export interface UpdateDecision<T> {
  /** New bytes for the key; `null` removes the key; `undefined` leaves it unchanged. */
  readonly write?: Uint8Array | null;
  /** What `update` resolves with once the decision is committed. */
  readonly result: T;
}

export interface FoldOptions {
  /** Start after this key (exclusive); from the partition's first key when absent. */
  readonly startAfter?: Uint8Array;
  /** Most entries to return in this batch (background work runs in bounded batches). */
  readonly limit: number;
}

export interface StoreStats {
  readonly entries: number;
  readonly bytesUsed: number;
}

/** The record failed its integrity check: the bytes on disk are not what was written. */
export class CorruptRecordError extends Error {
  constructor(
    readonly partition: number,
    readonly key: Uint8Array,
    readonly reason: string,
  ) {
    super(`corrupt record in partition ${partition}, key ${Buffer.from(key).toString('hex')}: ${reason}`);
    this.name = 'CorruptRecordError';
  }
}

export interface LocalStore {
  /** The engine's name, for logs and metrics ("lmdb", "memory"). */
  readonly engine: string;

  /** The bytes stored for a key, or undefined. Throws CorruptRecordError on a failed check. */
  get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined>;

  /**
   * Atomic read-modify-write of one key. `decide` sees the current bytes (or undefined) and
   * returns what to write; no other write to the key runs between the read and the write.
   * Resolves after the write is committed with the store's durability. `decide` must be
   * synchronous and must not throw for expected outcomes (return `write: undefined` instead).
   */
  update<T>(partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>): Promise<T>;

  /** Up to `limit` entries of one partition, in key order, after `startAfter`. */
  fold(partition: number, options: FoldOptions): Promise<StoredEntry[]>;

  /** Small named metadata values that live with the data (node identity, epoch). */
  getMeta(name: string): Promise<string | undefined>;
  setMeta(name: string, value: string): Promise<void>;

  stats(): Promise<StoreStats>;

  /** Waits for pending writes, then releases the files. Further calls reject. */
  close(): Promise<void>;
}

/**
 * The one storage interface every engine implements (Voldemort's cut: one small interface,
 * behaviour added by wrapping it). Keys are grouped by partition so that one partition's
 * objects can be folded in key order (handoff and anti-entropy walk a partition this way).
 *
 * Values are opaque bytes to the store: the versioning codec owns their meaning. The store owns
 * their integrity: each record is framed with a checksum, checked right before it is written and
 * right after it is read, and a record that fails the check is reported, never returned.
 */

/** Largest partition number a store accepts (partitions are 0 .. PARTITION_MAX). */
export const PARTITION_MAX = 65535;

/**
 * Longest key a store accepts, in bytes (keys are 1 .. KEY_BYTES_MAX bytes). The node enforces its
 * own, smaller limit first; this bound keeps every key, with its 2-byte partition prefix, inside
 * LMDB's 1978-byte key limit with room to spare.
 */
export const KEY_BYTES_MAX = 1024;

/**
 * Longest key in the hints key space: a data key with the hint's target node id in front
 * (one length byte and up to 63 bytes of id).
 */
export const HINT_KEY_BYTES_MAX = KEY_BYTES_MAX + 64;

/** Most entries one `fold` call may ask for: folds run in bounded batches. */
export const FOLD_LIMIT_MAX = 10_000;

/** Largest value a store accepts when `maxRecordBytes` is not given: 1 MiB. */
export const MAX_RECORD_BYTES_DEFAULT = 1024 * 1024;

/** Upper bound on the `maxRecordBytes` option itself: 65 MiB (the largest object, 64 MiB, plus its key and framing). */
export const MAX_RECORD_BYTES_LIMIT = 65 * 1024 * 1024;

/**
 * Checks the node hands to every engine. Returns an error message when a payload is not a
 * well-formed object, undefined when it is. Called right before a write and right after a read.
 */
export type PayloadValidator = (value: Uint8Array) => string | undefined;

/** Options every engine takes, resolved once when the store is created. */
export interface StoreOptions {
  /**
   * Largest value, in bytes, that `update` will write; larger writes reject with RecordTooLargeError.
   * @default - MAX_RECORD_BYTES_DEFAULT (1 MiB)
   */
  readonly maxRecordBytes?: number;
  /**
   * Checks a payload's shape before it is written and after it is read.
   * @default - no shape check; the frame's checksum is still verified
   */
  readonly validate?: PayloadValidator;
  /**
   * Told what happens inside the store, for metrics.
   * @default - nobody is told
   */
  readonly observer?: StoreObserver;
}

/** What a store reports as it works (the node turns it into metrics). Every hook is optional. */
export interface StoreObserver {
  /** A commit (a log append, or a write transaction) stored `updates` updates in `seconds`, its sync included. */
  commit?(updates: number, seconds: number): void;
  /** A checkpoint copied `writes` logged writes into the engine's pages in `seconds`, its sync included. */
  checkpoint?(writes: number, seconds: number): void;
  /** A read found a record that failed its checksum or its payload check. */
  corruptRecord?(): void;
  /**
   * The disk failed a commit with an I/O error (StorageIoError), or a commit failed after some
   * of its updates had announced their decisions (`onDecided`: their bytes may be on other nodes
   * already, so this incarnation must not decide on that key again). Called before the commit's
   * updates are rejected, so a caller that must stop (fail-stop: the engine's state after a
   * failed write is not to be trusted, and the next start takes a new actor epoch) can stop
   * before anything else touches the store.
   */
  diskFailed?(error: Error): void;
}

/** How a store makes a write durable before it acknowledges it. */
export type Durability =
  /** Each commit is on disk (fsync) before the write resolves. The default. */
  | 'durable'
  /** Commits resolve before they are synced; a crash may lose the last moments of writes. Opt-in. */
  | 'relaxed';

/** A copy written by `LocalStore.snapshot`. */
export interface SnapshotFile {
  /** The copy's one file. */
  readonly path: string;
  readonly bytes: number;
}

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

export interface UpdateOptions<T = unknown> {
  /**
   * What an update does with a stored record that fails its integrity check.
   * @default 'reject' - the update rejects with CorruptRecordError and nothing changes
   */
  readonly corrupt?: 'reject' | 'replace';
  /**
   * Told the decision's result as soon as it is final, before the commit's sync: the bytes it
   * wrote will be committed, or the commit fails and the store calls `StoreObserver.diskFailed`
   * (the node stops). A coordinator sends a new write to the other replicas from here, so a put
   * waits for one flush (the replicas' and its own at once), not two in sequence. Not called
   * when `decide` throws or the record is corrupt.
   * @default - nobody is told before the commit
   */
  readonly onDecided?: (result: T) => void;
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
  /** Address space mapped for the data file, where the engine maps one (LMDB). */
  readonly mapSizeBytes?: number;
  /** Free bytes on the file system that holds the data, where there is one. */
  readonly diskFreeBytes?: number;
  /**
   * Pages the engine's commits wrote since the store opened, meta pages aside, and their size:
   * with the updates committed, the store's write amplification. Engines without pages leave it out.
   */
  readonly pagesWritten?: number;
  readonly pageBytes?: number;
  /**
   * Bytes appended to the engine's write-ahead log since it opened (its commits in 'durable'
   * mode); with pagesWritten, the write amplification. Engines without a log leave it out.
   */
  readonly logBytesWritten?: number;
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

/** A write was larger than the store's `maxRecordBytes`; nothing was written. */
export class RecordTooLargeError extends Error {
  constructor(
    readonly sizeBytes: number,
    readonly limitBytes: number,
  ) {
    super(`record of ${sizeBytes} bytes exceeds maxRecordBytes (${limitBytes} bytes); store a smaller value or raise maxRecordBytes`);
    this.name = 'RecordTooLargeError';
  }
}

/**
 * The disk failed a commit with an I/O error (EIO) while it had room: nothing of the commit was
 * stored (LMDB writes the new meta page only after the data pages, so the last commit stays the
 * state). The node answers UNAVAILABLE and a client tries another node.
 */
export class StorageIoError extends Error {
  constructor(
    readonly path: string,
    /** The engine's own words, for logs. */
    readonly detail: string,
  ) {
    super(`the disk holding ${path} failed a write with an I/O error (EIO); nothing of it was stored: check the volume (dmesg, the cloud provider's volume status); the client tries another replica`);
    this.name = 'StorageIoError';
  }
}

/** The disk under the store is full: the commit failed and nothing of it was stored. */
export class StorageFullError extends Error {
  constructor(
    readonly path: string,
    /** The engine's own words, for logs (not in the message: it can hold engine internals). */
    readonly detail: string,
    /** Set when the write was refused to keep a reserve of free space, not failed by the disk. */
    readonly reserve?: { readonly freeBytes: number; readonly reserveBytes: number },
  ) {
    const why = reserve ? ` (${reserve.freeBytes} bytes free, ${reserve.reserveBytes} kept in reserve by diskFreeBytesMin)` : '';
    super(`the disk holding ${path} is full${why}; free space or grow the volume`);
    this.name = 'StorageFullError';
  }
}

/** Keys and records grouped by partition: the node's own data, and the hints it holds for others. */
export interface KeySpace {
  /** The bytes stored for a key, or undefined. Throws CorruptRecordError on a failed check. */
  get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined>;

  /**
   * Atomic read-modify-write of one key. `decide` sees the current bytes (or undefined) and
   * returns what to write; no other write to the key runs between the read and the write. It
   * sees the decisions of earlier updates of the key even before they commit (updates of one key
   * are serialized in call order), while `get` and `fold` see committed state only.
   * Resolves after the write is committed with the store's durability. `decide` must be
   * synchronous and must not throw for expected outcomes (return `write: undefined` instead).
   * A stored record that fails its integrity check rejects with CorruptRecordError, unless
   * `options.corrupt` is 'replace': then `decide` sees undefined and may overwrite it (repair).
   */
  update<T>(partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>, options?: UpdateOptions<T>): Promise<T>;

  /** Up to `limit` entries of one partition, in key order, after `startAfter`. */
  fold(partition: number, options: FoldOptions): Promise<StoredEntry[]>;
}

/** The store itself is the data key space; `hints` is a second one in the same engine. */
export interface LocalStore extends KeySpace {
  /** The engine's name, for logs and metrics ("lmdb", "memory"). */
  readonly engine: string;

  /**
   * Records this node holds as a fallback for other nodes (hints), apart from its own data: the
   * same checks, the same commits (an update here and one in the data space queued in the same
   * turn share one transaction) and the same durability. Keys are up to HINT_KEY_BYTES_MAX bytes.
   */
  readonly hints: KeySpace;

  /** Small named metadata values that live with the data (node identity, epoch). */
  getMeta(name: string): Promise<string | undefined>;
  setMeta(name: string, value: string): Promise<void>;

  stats(): Promise<StoreStats>;

  /**
   * Writes a consistent copy of the whole store (data, hints and meta, as one transaction sees
   * them) into the directory `toDir`, while the store keeps serving reads and writes. The copy is
   * a store of the same engine: open it to read it. Fails with StorageFullError, and writes
   * nothing, when the disk would keep less than the store's free-space reserve. Engines without
   * files (memory) leave it out.
   */
  snapshot?(toDir: string): Promise<SnapshotFile>;

  /** Waits for pending writes, then releases the files. Further calls reject. */
  close(): Promise<void>;
}

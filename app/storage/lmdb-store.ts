/**
 * The LocalStore engine on LMDB (lmdb-js). The only file in the project that imports `lmdb`.
 *
 * One LMDB environment per node, in `path`, with three named sub-databases:
 * - `data`: binary keys [2-byte big-endian partition][key] -> framed values (see record-frame.ts),
 *   so one partition is the contiguous key range [p] .. [p + 1] and folds in key order;
 * - `hints`: the same layout, for the records this node holds as a fallback for others;
 * - `meta`: UTF-8 names -> framed UTF-8 values (node identity, epoch).
 *
 * An update decides at once, when it is called: its `decide` sees the committed record, or the
 * decision of an earlier update of the key that has not committed yet (the pending writes, one
 * per key), and its `onDecided` hears the result there and then. The pending writes are then
 * committed together in one synchronous write transaction (`transactionSync`) on the main thread,
 * in the next turn of the event loop (group commit: every update decided meanwhile shares the
 * commit and its fsync), and the updates resolve. When an update announced its decision, the
 * commit waits one turn more: the replication messages a coordinator sends from `onDecided`
 * leave the process before the commit blocks the event loop for its fsync (about 0.1 to 0.5 ms
 * here, longer under contention), so the replicas write while this node flushes, and a put waits
 * for one flush rather than two in sequence. Reads (`get`, `fold`) see committed state only,
 * never a pending write.
 *
 * A commit that fails after its updates announced their decisions calls the observer's
 * `diskFailed`: their bytes may be on other nodes, so the node stops and its next start takes a
 * new actor epoch (app/node/identity.ts) rather than decide a second time with the same dots.
 *
 * lmdb-js's asynchronous `transaction` avoids blocking the event loop but hands every batch
 * between the main thread and a writer thread four times: on the 5-node bench at 3,500 ops/s it
 * cost 0.50 node CPU-ms per operation against 0.44 with this (see README, Performance).
 */
import { statfsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { open } from 'lmdb';
import {
  CorruptRecordError,
  Durability,
  FoldOptions,
  HINT_KEY_BYTES_MAX,
  KEY_BYTES_MAX,
  KeySpace,
  StorageFullError,
  StorageIoError,
  StoreObserver,
  LocalStore,
  PARTITION_MAX,
  SnapshotFile,
  StoreOptions,
  StoreStats,
  StoredEntry,
  UpdateDecision,
  UpdateOptions,
} from './local-store';
import {
  PARTITION_PREFIX_BYTES,
  RecordChecks,
  assertFoldOptions,
  assertKey,
  assertMetaName,
  assertPartition,
  copyBytes,
  frameForWrite,
  metaFrameForWrite,
  metaValueFromRead,
  partitionPrefix,
  payloadFromRead,
  recordKey,
  resolveRecordChecks,
} from './record-frame';

/**
 * The files that hold a store's data in its directory: data.mdb. Not lock.mdb, which holds only
 * the reader table, is rewritten at every open and is recreated if missing. (The node
 * fingerprints these at a clean stop: app/node/identity.ts.)
 */
export function lmdbDataFiles(dir: string): string[] {
  return [path.join(path.resolve(dir), 'data.mdb')];
}

/** Address space reserved for the data file: 8 GiB. The file is sparse and grows as it fills. */
export const MAP_SIZE_BYTES_DEFAULT = 8 * 1024 ** 3;

/** The largest map we accept: 1 TiB, well inside a 64-bit address space. */
const MAP_SIZE_BYTES_MAX = 1024 ** 4;

export interface LmdbStoreOptions extends StoreOptions {
  /** The node's data directory; created if missing. Holds one LMDB environment. */
  readonly path: string;
  /**
   * When a write resolves.
   * @default 'durable' - after the commit is fsynced
   */
  readonly durability?: Durability;
  /**
   * Address space mapped for the data file at open. lmdb-js grows the map when a commit needs
   * more, so this bounds nothing; the disk does (a full disk fails writes with StorageFullError).
   * @default - MAP_SIZE_BYTES_DEFAULT (8 GiB of address space, not of disk)
   */
  readonly mapSizeBytes?: number;
  /**
   * Free space kept on the disk: an update whose write would leave less fails alone with
   * StorageFullError, and nothing of it is stored. The store then never runs the disk out, which
   * lmdb-js does not reliably survive (on ENOSPC it can abort the process). 0 turns it off.
   * @default - DISK_FREE_BYTES_MIN_DEFAULT (128 MiB)
   */
  readonly diskFreeBytesMin?: number;
}

export const DISK_FREE_BYTES_MIN_DEFAULT = 128 * 1024 * 1024;
/** The largest reserve we accept: 1 TiB. */
const DISK_FREE_BYTES_MIN_MAX = 1024 ** 4;
/**
 * What a write is taken to cost on disk: its frame twice (LMDB copies on write, and the old page
 * is freed only after the commit) plus a page for the branch pages it touches.
 */
const diskCostOf = (frameBytes: number): number => 2 * frameBytes + 4096;

/**
 * lmdb-js's `trackMetrics` (not in its typings): counts the pages commits write (stats():
 * pagesWritten, for write amplification), at the cost of reading the clock a few times per commit.
 */
const TRACK_METRICS = { trackMetrics: true } as object;

/** lmdb-js's Database, narrowed to the calls this file makes with binary keys and values. */
type BinaryDb = ReturnType<ReturnType<typeof open>['openDB']>;

/** `sync` exists on lmdb-js's root database (mdb_env_sync, forced) but is not in its typings. */
interface Syncable {
  sync(callback: (error?: Error) => void): void;
}

interface DbStats {
  readonly entryCount: number;
  readonly pageSize: number;
  readonly treeBranchPageCount: number;
  readonly treeLeafPageCount: number;
  readonly overflowPages: number;
}

/**
 * lmdb-js shares one environment per path within a process; two stores on one path would close
 * each other's environment. A node has one store, so a second open is a bug.
 */
const openPaths = new Set<string>();

/** Updates in one write transaction at most; a longer queue flushes in several. */
export const UPDATES_PER_TRANSACTION_MAX = 1000;

/** An update decided and waiting for its commit. */
interface WaitingUpdate {
  readonly result: unknown;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** The last decided state of a key, to be committed: its frame, or null to remove it. */
interface PendingWrite {
  readonly db: BinaryDb;
  readonly engineKey: Buffer;
  readonly frame: Buffer | null;
  /** What a later update of the key sees (the payload inside `frame`). */
  readonly payload: Uint8Array | undefined;
}

/** A key space of the store: its sub-database, its key bound, and a tag for pending writes. */
interface Space {
  readonly db: BinaryDb;
  readonly keyBytesMax: number;
  readonly tag: string;
}

export class LmdbStore implements LocalStore {
  readonly engine = 'lmdb';
  readonly hints: KeySpace;
  private readonly dataSpace: Space;
  /** Updates decided since the last commit, in call order. */
  private waiting: WaitingUpdate[] = [];
  /** The decided state of every key written since the last commit, by space tag and key. */
  private pending = new Map<string, PendingWrite>();
  /** Disk bytes the writes decided since the last commit may still take (measured at the first). */
  private spendable: number | undefined;
  private flushScheduled = false;
  /**
   * Whether an update decided since the last commit told its decision (onDecided) and wrote: its
   * bytes may be on other nodes already.
   */
  private announcedPending = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly dataPath: string,
    private readonly durability: Durability,
    private readonly checks: RecordChecks,
    private readonly root: ReturnType<typeof open>,
    private readonly data: BinaryDb,
    hints: BinaryDb,
    private readonly meta: BinaryDb,
    private readonly observer: StoreObserver | undefined,
    private readonly diskFreeBytesMin: number,
  ) {
    this.dataSpace = { db: data, keyBytesMax: KEY_BYTES_MAX, tag: 'd' };
    const hintSpace: Space = { db: hints, keyBytesMax: HINT_KEY_BYTES_MAX, tag: 'h' };
    this.hints = {
      get: (partition, key) => this.getIn(hintSpace, partition, key),
      update: (partition, key, decide, options) => this.updateIn(hintSpace, partition, key, decide, options),
      fold: (partition, options) => this.foldIn(hintSpace, partition, options),
    };
  }

  static async open(options: LmdbStoreOptions): Promise<LmdbStore> {
    const checks = resolveRecordChecks(options);
    const durability = options.durability ?? 'durable';
    if (durability !== 'durable' && durability !== 'relaxed') {
      throw new Error(`durability must be 'durable' or 'relaxed', got ${JSON.stringify(durability)}`);
    }
    const mapSize = options.mapSizeBytes ?? MAP_SIZE_BYTES_DEFAULT;
    if (!Number.isInteger(mapSize) || mapSize < 1024 * 1024 || mapSize > MAP_SIZE_BYTES_MAX) {
      throw new Error(`mapSizeBytes must be an integer in ${1024 * 1024}..${MAP_SIZE_BYTES_MAX}, got ${String(mapSize)}`);
    }
    const diskFreeBytesMin = options.diskFreeBytesMin ?? DISK_FREE_BYTES_MIN_DEFAULT;
    if (!Number.isInteger(diskFreeBytesMin) || diskFreeBytesMin < 0 || diskFreeBytesMin > DISK_FREE_BYTES_MIN_MAX) {
      throw new Error(`diskFreeBytesMin must be an integer in 0..${DISK_FREE_BYTES_MIN_MAX}, got ${String(diskFreeBytesMin)}`);
    }
    if (typeof options.path !== 'string' || options.path === '') {
      throw new Error(`path must be the node's data directory, got ${JSON.stringify(options.path)}`);
    }
    const dataPath = path.resolve(options.path);
    if (openPaths.has(dataPath)) {
      throw new Error(`an LmdbStore is already open on ${dataPath}; close it before opening another`);
    }
    await fs.mkdir(dataPath, { recursive: true });

    const root = open({
      path: dataPath,
      maxDbs: 3,
      mapSize,
      ...TRACK_METRICS,
      // 'durable': LMDB's own sync-on-commit. mdb_txn_commit fdatasyncs the data pages and then
      // writes the meta page through its O_DSYNC descriptor before it returns, so an update whose
      // promise resolved is on disk. overlappingSync (lmdb-js's default on Linux) is turned off: it
      // is for the asynchronous writer, and a synchronous commit with it still syncs inline.
      // noMetaSync stays off: without the meta page synced, a crash can roll back a commit we
      // acknowledged.
      // 'relaxed': noSync; a crash of the machine may lose the last writes, a crash of the process
      // does not (the OS has the pages). close() syncs.
      ...(durability === 'durable' ? { overlappingSync: false, noSync: false, noMetaSync: false } : { noSync: true }),
    });
    try {
      const data = root.openDB({ name: 'data', encoding: 'binary', keyEncoding: 'binary' });
      const hints = root.openDB({ name: 'hints', encoding: 'binary', keyEncoding: 'binary' });
      const meta = root.openDB({ name: 'meta', encoding: 'binary', keyEncoding: 'binary' });
      openPaths.add(dataPath);
      return new LmdbStore(dataPath, durability, checks, root, data, hints, meta, options.observer, diskFreeBytesMin);
    } catch (error) {
      await root.close();
      throw error;
    }
  }

  get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.getIn(this.dataSpace, partition, key);
  }

  update<T>(partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>, options: UpdateOptions<T> = {}): Promise<T> {
    return this.updateIn(this.dataSpace, partition, key, decide, options);
  }

  fold(partition: number, options: FoldOptions): Promise<StoredEntry[]> {
    return this.foldIn(this.dataSpace, partition, options);
  }

  private async getIn(space: Space, partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.assertOpen();
    assertPartition(partition);
    assertKey(key, space.keyBytesMax);
    // getBinary returns a copy, so the view into it that read() returns owns its bytes.
    return this.read(space.db, partition, key, recordKey(partition, key));
  }

  private updateIn<T>(space: Space, partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>, options: UpdateOptions<T> = {}): Promise<T> {
    let decision: UpdateDecision<T>;
    try {
      this.assertOpen();
      assertPartition(partition);
      assertKey(key, space.keyBytesMax);
      const engineKey = recordKey(partition, key);
      const id = space.tag + engineKey.toString('latin1');
      const pending = this.pending.get(id);
      // Every check of an update (decode, decide, size, validate, space) runs before its write is
      // pending; an update that fails one rejects alone and changes nothing.
      decision = decide(pending !== undefined ? pending.payload : this.readForUpdate(space.db, partition, key, engineKey, options.corrupt === 'replace'));
      if (decision.write === null) {
        this.pending.set(id, { db: space.db, engineKey, frame: null, payload: undefined });
      } else if (decision.write !== undefined) {
        const frame = frameForWrite(this.checks, decision.write);
        this.spend(diskCostOf(frame.length));
        this.pending.set(id, { db: space.db, engineKey, frame, payload: decision.write });
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (options.onDecided !== undefined && decision.write !== undefined) this.announcedPending = true;
    const settled = new Promise<T>((resolve, reject) => {
      this.waiting.push({ result: decision.result, resolve: resolve as (r: unknown) => void, reject });
    });
    if (this.waiting.length >= UPDATES_PER_TRANSACTION_MAX) this.flushUpdates();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        // A second turn only when a decision was announced: what its caller sent from onDecided
        // in this turn (queued for the next, as the peer Batcher does) leaves before the fsync.
        if (this.announcedPending) setImmediate(() => this.flushUpdates());
        else this.flushUpdates();
      });
    }
    options.onDecided?.(decision.result);
    return settled;
  }

  /** Takes `cost` bytes from what the disk may still give before its reserve, or throws StorageFullError. */
  private spend(cost: number): void {
    if (this.diskFreeBytesMin === 0) return;
    if (this.spendable === undefined) this.spendable = freeBytes(this.dataPath) - this.diskFreeBytesMin;
    if (cost > this.spendable) {
      throw new StorageFullError(this.dataPath, `a write of about ${cost} bytes`, { freeBytes: this.spendable + this.diskFreeBytesMin, reserveBytes: this.diskFreeBytesMin });
    }
    this.spendable -= cost;
  }

  /**
   * Commits every pending write in one write transaction and settles the updates decided since
   * the last commit. A put or remove that fails in the engine aborts the whole transaction (LMDB
   * marks it failed anyway), and every update of the batch rejects with that error.
   */
  private flushUpdates(): void {
    this.flushScheduled = false;
    const batch = this.waiting;
    if (batch.length === 0) return;
    const writes = this.pending;
    const announced = this.announcedPending;
    this.waiting = [];
    this.pending = new Map();
    this.spendable = undefined;
    this.announcedPending = false;
    const startedNs = process.hrtime.bigint();
    try {
      if (writes.size > 0) {
        this.data.transactionSync(() => {
          for (const w of writes.values()) {
            if (w.frame === null) w.db.removeSync(w.engineKey);
            else w.db.putSync(w.engineKey, w.frame);
          }
        });
      }
    } catch (error) {
      // Nothing of this batch is stored.
      const failure = this.storageError(error);
      if (failure instanceof StorageIoError || announced) this.observer?.diskFailed?.(failure instanceof Error ? failure : new Error(String(failure)));
      for (const u of batch) u.reject(failure);
      return;
    }
    for (const u of batch) u.resolve(u.result);
    try {
      this.observer?.commit?.(batch.length, Number(process.hrtime.bigint() - startedNs) / 1e9);
    } catch {
      // An observer that fails must not fail the store.
    }
  }

  private storageError(error: unknown): unknown {
    return storageErrorOf(error, this.dataPath, freeBytes);
  }

  private async foldIn(space: Space, partition: number, options: FoldOptions): Promise<StoredEntry[]> {
    this.assertOpen();
    assertPartition(partition);
    assertFoldOptions(options, space.keyBytesMax);
    // Start right after startAfter: appending a 0 byte gives the smallest key greater than it.
    const start = options.startAfter === undefined ? partitionPrefix(partition) : Buffer.concat([recordKey(partition, options.startAfter), ZERO_BYTE]);
    // Every key of PARTITION_MAX is the last in the database, so that range has no end.
    const range = partition < PARTITION_MAX ? { start, end: partitionPrefix(partition + 1) } : { start };
    const entries: StoredEntry[] = [];
    for (const { key: engineKey, value } of space.db.getRange({ ...range, limit: options.limit })) {
      const bytes = engineKey as Uint8Array;
      const key = copyBytes(bytes.subarray(PARTITION_PREFIX_BYTES));
      entries.push({ key, value: copyBytes(payloadFromRead(this.checks, partition, key, value as Uint8Array)) });
    }
    return entries;
  }

  async getMeta(name: string): Promise<string | undefined> {
    this.assertOpen();
    assertMetaName(name);
    const frame = this.meta.get(Buffer.from(name, 'utf8')) as Uint8Array | undefined;
    return frame === undefined ? undefined : metaValueFromRead(name, frame);
  }

  async setMeta(name: string, value: string): Promise<void> {
    this.assertOpen();
    assertMetaName(name);
    const frame = metaFrameForWrite(name, value);
    try {
      this.meta.transactionSync(() => this.meta.putSync(Buffer.from(name, 'utf8'), frame));
    } catch (error) {
      throw this.storageError(error);
    }
  }

  /** Entries in the data database, and the bytes of the pages that hold them. */
  async stats(): Promise<StoreStats> {
    this.assertOpen();
    const s = this.data.getStats() as DbStats;
    const env = this.root.getStats() as { mapSize?: number; pagesWritten?: number };
    return {
      entries: s.entryCount,
      bytesUsed: (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages) * s.pageSize,
      mapSizeBytes: env.mapSize ?? 0,
      diskFreeBytes: freeBytes(this.dataPath),
      pagesWritten: env.pagesWritten ?? 0,
      pageBytes: s.pageSize,
    };
  }

  /** Idempotent: later calls return the first call's promise. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    // Updates accepted before close still run (they passed assertOpen).
    this.flushUpdates();
    try {
      if (this.durability === 'relaxed') {
        const root = this.root as unknown as Syncable;
        await new Promise<void>((resolve, reject) => root.sync((error) => (error ? reject(error) : resolve())));
      }
      await this.root.close();
    } finally {
      openPaths.delete(this.dataPath);
    }
  }

  async snapshot(toDir: string): Promise<SnapshotFile> {
    this.assertOpen();
    const dir = path.resolve(toDir);
    const file = lmdbDataFiles(dir)[0]!;
    if (dir === this.dataPath) throw new Error(`snapshot: ${dir} is the store's own directory; copy into another`);
    await fs.mkdir(dir, { recursive: true });
    if (await fs.stat(file).then(() => true, () => false)) throw new Error(`snapshot: ${file} exists already; copy into an empty directory`);
    // The copy is the data file's pages up to the last one in use (free pages included).
    const needed = (await fs.stat(lmdbDataFiles(this.dataPath)[0]!)).size;
    const free = freeBytes(dir);
    if (free - needed < this.diskFreeBytesMin) throw new StorageFullError(dir, `a copy of up to ${needed} bytes`, { freeBytes: free, reserveBytes: this.diskFreeBytesMin });
    // mdb_env_copy2 on lmdb-js's worker thread: it copies one read transaction's snapshot, so
    // writers go on meanwhile (it holds the writer lock only to start that transaction) and the
    // copy is one committed state. Not MDB_CP_COMPACT: compacting walks the whole B-tree and, on
    // the bench machine, took 2.3 times as long and more CPU for a copy 1 % smaller.
    try {
      await this.root.backup(dir, false);
    } catch (error) {
      await fs.rm(file, { force: true });
      throw storageErrorOf(error, dir, freeBytes);
    }
    return { path: file, bytes: (await fs.stat(file)).size };
  }

  /** The checked payload stored under `engineKey`, or undefined. Throws CorruptRecordError unless told to replace it. */
  private readForUpdate(db: BinaryDb, partition: number, key: Uint8Array, engineKey: Buffer, replaceCorrupt: boolean): Uint8Array | undefined {
    try {
      return this.read(db, partition, key, engineKey);
    } catch (error) {
      if (replaceCorrupt && error instanceof CorruptRecordError) return undefined;
      throw error;
    }
  }

  private read(db: BinaryDb, partition: number, key: Uint8Array, engineKey: Buffer): Uint8Array | undefined {
    const frame = db.get(engineKey) as Uint8Array | undefined;
    return frame === undefined ? undefined : payloadFromRead(this.checks, partition, key, frame);
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new Error(`LmdbStore at ${this.dataPath} is closed; open a new store`);
  }
}

const ZERO_BYTE = Buffer.from([0]);

/** lmdb-js reports a failed page write with the errno as `code`: ENOSPC 28, EDQUOT 122, EIO 5. */
const DISK_FULL_CODES = new Set<unknown>([28, 122, 'ENOSPC', 'EDQUOT']);
const EIO = 5;

/** Below this much free space, an EIO from a commit is taken for a full disk. */
export const DISK_FULL_FREE_BYTES_MAX = 64 * 1024 * 1024;

/**
 * An engine failure, named when the disk is full or failed. LMDB reports a full disk as ENOSPC,
 * or as EIO when a write of several pages came up short, so EIO counts as full when the disk has
 * almost no space left, and as a failed disk otherwise. Exported for its unit test.
 */
export function storageErrorOf(error: unknown, dataPath: string, freeBytesOf: (dir: string) => number): unknown {
  const code = (error as { code?: unknown } | undefined)?.code;
  const io = code === EIO || code === 'EIO';
  const full = DISK_FULL_CODES.has(code) || (io && freeBytesOf(dataPath) < DISK_FULL_FREE_BYTES_MAX);
  const detail = error instanceof Error ? error.message : String(error);
  if (full) return new StorageFullError(dataPath, detail);
  return io ? new StorageIoError(dataPath, detail) : error;
}

function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * The LocalStore engine on LMDB (lmdb-js). The only file in the project that imports `lmdb`
 * (./checkpoint-worker.ts loads it in its worker thread).
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
 * committed together on the main thread in the next turn of the event loop (group commit: every
 * update decided meanwhile shares the commit and its fsync), and the updates resolve:
 * - 'durable': the commit is one record appended to the write-ahead log (write-ahead-log.ts) and
 *   synced (O_DSYNC). The writes stay in memory (`logged`), where reads and later updates see them,
 *   until a checkpoint copies them into LMDB in one synced commit, on a worker thread while the
 *   event loop goes on (checkpoint-worker.ts), and drops the log segments it covered. A
 *   checkpoint starts when the logged writes reach checkpointBytes or checkpointIntervalMs after
 *   the first; commits wait for it only when the log holds LOGGED_BYTES_MAX_FACTOR times
 *   checkpointBytes. A start replays what the log holds first.
 * - 'relaxed': the commit is one LMDB write transaction (`transactionSync`), not synced.
 * When an update announced its decision, the commit waits one turn more: the replication
 * messages a coordinator sends from `onDecided` leave the process before the commit blocks the
 * event loop for its fsync, so the replicas write while this node flushes, and a put waits for
 * one flush rather than two in sequence. Reads (`get`, `fold`) see committed state only (LMDB's
 * and the logged writes), never a pending write.
 *
 * Why a log: an LMDB commit that syncs writes every page it touched (a leaf per key, branches,
 * free-list pages) and syncs twice (data, then the meta page); at saturation that was 1.5 pages
 * per update and the largest item of a put's CPU. The log appends the writes' own bytes and syncs
 * once, and a checkpoint writes a page once however many commits changed it meanwhile.
 *
 * A commit that fails after its updates announced their decisions calls the observer's
 * `diskFailed`: their bytes may be on other nodes, so the node stops and its next start takes a
 * new actor epoch (app/node/identity.ts) rather than decide a second time with the same dots. A
 * checkpoint that fails calls it too: the writes are safe in the log, but LMDB is not to be
 * trusted.
 *
 * Commits stay on the main thread: lmdb-js's asynchronous writer hands every batch between the
 * main thread and a writer thread four times, which on the 5-node bench at 3,500 ops/s cost 0.50
 * node CPU-ms per operation against 0.44 (see README, Performance), and a process.exit while its
 * transaction was open hung the process. Checkpoints moved to a worker thread of our own, which
 * commits with lmdb-js's synchronous transaction and is never inside one when the process exits
 * (checkpoint-worker.ts): on the main thread a checkpoint's commit had stopped the node for 10 to
 * 250 ms each second under load.
 */
import { statfsSync } from 'node:fs';
import { CheckpointWorker } from './checkpoint-worker';
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
  FRAME_HEADER_BYTES,
  frameForWrite,
  metaFrameForWrite,
  metaValueFromRead,
  partitionPrefix,
  payloadFromRead,
  recordKey,
  resolveRecordChecks,
} from './record-frame';
import { LogWrite, RecoveredSegment, WriteAheadLog } from './write-ahead-log';

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
  /**
   * 'durable' only: a checkpoint (copying the logged writes into LMDB, one synced LMDB commit,
   * then dropping the log segments it covered) starts when the writes logged since the last one
   * take this many bytes. Commits wait while the log holds LOGGED_BYTES_MAX_FACTOR times this
   * much not yet in LMDB, which bounds the memory logged writes take.
   * @default - CHECKPOINT_BYTES_DEFAULT (16 MiB)
   */
  readonly checkpointBytes?: number;
  /**
   * 'durable' only: a checkpoint also starts this long after a write was logged, so that the log
   * (and the replay at the next start) stays short when writes are few.
   * @default - CHECKPOINT_INTERVAL_MS_DEFAULT (1 s)
   */
  readonly checkpointIntervalMs?: number;
}

export const DISK_FREE_BYTES_MIN_DEFAULT = 128 * 1024 * 1024;
/** Checkpoint when the log holds this many bytes of writes LMDB does not have yet: 16 MiB. */
export const CHECKPOINT_BYTES_DEFAULT = 16 * 1024 * 1024;
/** ... or when the oldest of them is this old: 1 s. */
export const CHECKPOINT_INTERVAL_MS_DEFAULT = 1000;
/**
 * Commits wait (held back, their updates with them) while a checkpoint runs and the log holds
 * this many times checkpointBytes not yet in LMDB: the bound on the memory of logged writes when
 * writes come faster than checkpoints store them.
 */
export const LOGGED_BYTES_MAX_FACTOR = 4;
const CHECKPOINT_BYTES_MAX = 1024 ** 3;
const CHECKPOINT_INTERVAL_MS_MAX = 60_000;
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

/**
 * The last decided state of a key: pending (decided, to be committed), then, in 'durable' mode,
 * logged (in the write-ahead log, not yet in LMDB) until a checkpoint has copied it.
 */
interface PendingWrite {
  readonly space: Space;
  readonly partition: number;
  /** The key's id in `pending` and `logged`: space tag + engine key. */
  readonly id: string;
  readonly engineKey: Buffer;
  /** The framed bytes, or null to remove the key. */
  readonly frame: Buffer | null;
  /** What a later update of the key sees: the payload inside `frame`. */
  readonly payload: Uint8Array | undefined;
}

/** A key space of the store: its sub-database, its key bound, and tags for pending writes and the log. */
interface Space {
  readonly db: BinaryDb;
  readonly keyBytesMax: number;
  readonly tag: string;
  /** Its number in the write-ahead log. */
  readonly logIndex: number;
}

/** What the write-ahead log held at open, replayed into LMDB before the store served anything. */
export interface LogRecovery {
  readonly segments: number;
  readonly records: number;
  readonly writes: number;
  /** Bytes of torn tails ignored (a crash in the middle of an append that was never acknowledged). */
  readonly ignoredBytes: number;
}

export class LmdbStore implements LocalStore {
  readonly engine = 'lmdb';
  readonly hints: KeySpace;
  private readonly dataSpace: Space;
  /** Updates decided since the last commit, in call order. */
  private waiting: WaitingUpdate[] = [];
  /** The decided state of every key written since the last commit, by id. */
  private pending = new Map<string, PendingWrite>();
  /**
   * 'durable': the state of every key logged and not yet checkpointed, by id. Reads and updates
   * look here before LMDB.
   */
  private readonly logged = new Map<string, PendingWrite>();
  /** `logged` by space and partition (logIndex * 65536 + partition), for folds. */
  private readonly loggedByPartition = new Map<number, Map<string, PendingWrite>>();
  /** Bytes of the frames in `logged`. */
  private loggedBytes = 0;
  /** What the writes in `logged` will take on disk when a checkpoint copies them into LMDB. */
  private loggedDiskCost = 0;
  /** 'durable' only: the checkpoint worker, once the first checkpoint has started it. */
  private checkpointer: CheckpointWorker | undefined;
  /** The checkpoint running, if one is. */
  private checkpointing: Promise<void> | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  /** Set while commits wait for the running checkpoint (the log holds too much). */
  private flushDeferred = false;
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
    /** 'durable' only: where commits go. */
    private readonly log: WriteAheadLog | undefined,
    /** Starts the worker that commits checkpoints into LMDB off the event loop ('durable' only). */
    private readonly startCheckpointer: () => CheckpointWorker,
    private readonly checkpointBytes: number,
    private readonly checkpointIntervalMs: number,
    /** What the log held at open. */
    readonly recovery: LogRecovery,
  ) {
    this.dataSpace = { db: data, keyBytesMax: KEY_BYTES_MAX, tag: 'd', logIndex: 0 };
    const hintSpace: Space = { db: hints, keyBytesMax: HINT_KEY_BYTES_MAX, tag: 'h', logIndex: 1 };
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
    const checkpointBytes = options.checkpointBytes ?? CHECKPOINT_BYTES_DEFAULT;
    if (!Number.isInteger(checkpointBytes) || checkpointBytes < 1 || checkpointBytes > CHECKPOINT_BYTES_MAX) {
      throw new Error(`checkpointBytes must be an integer in 1..${CHECKPOINT_BYTES_MAX}, got ${String(checkpointBytes)}`);
    }
    const checkpointIntervalMs = options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS_DEFAULT;
    if (!Number.isInteger(checkpointIntervalMs) || checkpointIntervalMs < 1 || checkpointIntervalMs > CHECKPOINT_INTERVAL_MS_MAX) {
      throw new Error(`checkpointIntervalMs must be an integer in 1..${CHECKPOINT_INTERVAL_MS_MAX}, got ${String(checkpointIntervalMs)}`);
    }
    if (typeof options.path !== 'string' || options.path === '') {
      throw new Error(`path must be the node's data directory, got ${JSON.stringify(options.path)}`);
    }
    const dataPath = path.resolve(options.path);
    if (openPaths.has(dataPath)) {
      throw new Error(`an LmdbStore is already open on ${dataPath}; close it before opening another`);
    }
    await fs.mkdir(dataPath, { recursive: true });

    const openOptions = {
      path: dataPath,
      maxDbs: 3,
      mapSize,
      ...TRACK_METRICS,
      // Checkpoints and setMeta commit with LMDB's own sync-on-commit: mdb_txn_commit fdatasyncs
      // the data pages and then writes the meta page through its O_DSYNC descriptor before it
      // returns. overlappingSync (lmdb-js's default on Linux) is off: a checkpoint's commit must
      // be on disk before the log segments it covers go. noMetaSync stays off: without the meta
      // page synced, a crash can roll back a commit.
      // 'relaxed': noSync, and no log; a crash of the machine may lose the last writes, a crash of
      // the process does not (the OS has the pages). close() syncs.
      ...(durability === 'durable' ? { overlappingSync: false, noSync: false, noMetaSync: false } : { noSync: true }),
    };
    const root = open(openOptions);
    let log: WriteAheadLog | undefined;
    try {
      const data = root.openDB({ name: 'data', encoding: 'binary', keyEncoding: 'binary' });
      const hints = root.openDB({ name: 'hints', encoding: 'binary', keyEncoding: 'binary' });
      const meta = root.openDB({ name: 'meta', encoding: 'binary', keyEncoding: 'binary' });
      // Whatever the mode, a log left by a 'durable' run is replayed before anything is served.
      const opened = WriteAheadLog.open(dataPath);
      log = opened.log;
      const recovery = replayLog(root, [data, hints], opened.recovered, dataPath);
      log.dropBefore(log.activeSeq);
      if (durability === 'relaxed') {
        log.close(true);
        log = undefined;
      }
      // Started at the first checkpoint: a store that never checkpoints (a node that fails to
      // start, a short test) pays nothing for it. The sub-databases a logged write's space number
      // (logIndex) names, in order.
      const startCheckpointer = () => new CheckpointWorker(openOptions, ['data', 'hints']);
      openPaths.add(dataPath);
      return new LmdbStore(dataPath, durability, checks, root, data, hints, meta, options.observer, diskFreeBytesMin, log, startCheckpointer, checkpointBytes, checkpointIntervalMs, recovery);
    } catch (error) {
      log?.close(false);
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
    const engineKey = recordKey(partition, key);
    if (this.logged.size > 0) {
      const logged = this.logged.get(space.tag + engineKey.toString('latin1'));
      if (logged !== undefined) return logged.frame === null ? undefined : copyBytes(payloadFromRead(this.checks, partition, key, logged.frame));
    }
    // getBinary returns a copy, so the view into it that read() returns owns its bytes.
    return this.read(space.db, partition, key, engineKey);
  }

  private updateIn<T>(space: Space, partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>, options: UpdateOptions<T> = {}): Promise<T> {
    let decision: UpdateDecision<T>;
    try {
      this.assertOpen();
      assertPartition(partition);
      assertKey(key, space.keyBytesMax);
      const engineKey = recordKey(partition, key);
      const id = space.tag + engineKey.toString('latin1');
      // Every check of an update (decode, decide, size, validate, space) runs before its write is
      // pending; an update that fails one rejects alone and changes nothing.
      decision = decide(this.currentForUpdate(space, partition, key, engineKey, id, options.corrupt === 'replace'));
      if (decision.write === null) {
        this.pending.set(id, { space, partition, id, engineKey, frame: null, payload: undefined });
      } else if (decision.write !== undefined) {
        const frame = frameForWrite(this.checks, decision.write);
        // In 'durable' mode the frame goes to the log first, and to LMDB at the next checkpoint.
        this.spend(diskCostOf(frame.length) + (this.log === undefined ? 0 : frame.length));
        this.pending.set(id, { space, partition, id, engineKey, frame, payload: frame.subarray(FRAME_HEADER_BYTES) });
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

  /** What an update of the key decides on: its pending write, else its logged one, else LMDB's record. */
  private currentForUpdate(space: Space, partition: number, key: Uint8Array, engineKey: Buffer, id: string, replaceCorrupt: boolean): Uint8Array | undefined {
    const decided = this.pending.get(id) ?? (this.logged.size > 0 ? this.logged.get(id) : undefined);
    if (decided !== undefined) return decided.payload;
    return this.readForUpdate(space.db, partition, key, engineKey, replaceCorrupt);
  }

  /** Takes `cost` bytes from what the disk may still give before its reserve, or throws StorageFullError. */
  private spend(cost: number): void {
    if (this.diskFreeBytesMin === 0) return;
    // The logged writes' own log bytes are on the disk already; their pages in LMDB are to come.
    if (this.spendable === undefined) this.spendable = freeBytes(this.dataPath) - this.diskFreeBytesMin - this.loggedDiskCost;
    if (cost > this.spendable) {
      throw new StorageFullError(this.dataPath, `a write of about ${cost} bytes`, { freeBytes: this.spendable + this.diskFreeBytesMin, reserveBytes: this.diskFreeBytesMin });
    }
    this.spendable -= cost;
  }

  /**
   * Commits every pending write at once and settles the updates decided since the last commit:
   * in 'durable' mode one record appended to the write-ahead log and synced, in 'relaxed' mode
   * one LMDB write transaction. A failure fails every update of the batch with that error, and
   * nothing of the batch is stored.
   */
  private flushUpdates(force = false): void {
    this.flushScheduled = false;
    if (this.waiting.length === 0) return;
    if (!force && this.holdForCheckpoint()) return;
    const batch = this.waiting;
    const writes = this.pending;
    const announced = this.announcedPending;
    this.waiting = [];
    this.pending = new Map();
    this.spendable = undefined;
    this.announcedPending = false;
    const startedNs = process.hrtime.bigint();
    try {
      if (writes.size > 0) {
        if (this.log !== undefined) this.log.append(logWritesOf(writes.values()));
        else this.commitToLmdb(writes.values());
      }
    } catch (error) {
      // Nothing of this batch is stored.
      const failure = this.storageError(error);
      if (failure instanceof StorageIoError || announced) this.observer?.diskFailed?.(failure instanceof Error ? failure : new Error(String(failure)));
      for (const u of batch) u.reject(failure);
      return;
    }
    if (this.log !== undefined) {
      for (const w of writes.values()) this.addLogged(w);
    }
    for (const u of batch) u.resolve(u.result);
    try {
      this.observer?.commit?.(batch.length, Number(process.hrtime.bigint() - startedNs) / 1e9);
    } catch {
      // An observer that fails must not fail the store.
    }
    if (this.log !== undefined && writes.size > 0) this.scheduleCheckpoint();
  }

  /** 'relaxed': one synchronous LMDB write transaction. */
  private commitToLmdb(writes: Iterable<PendingWrite>): void {
    this.data.transactionSync(() => {
      for (const w of writes) {
        if (w.frame === null) w.space.db.removeSync(w.engineKey);
        else w.space.db.putSync(w.engineKey, w.frame);
      }
    });
  }

  /**
   * Whether the commit must wait: the log holds LOGGED_BYTES_MAX_FACTOR times checkpointBytes not
   * yet in LMDB (writes come faster than checkpoints store them). It then waits for the running
   * checkpoint, and commits after it; the updates of the batch wait meanwhile.
   */
  private holdForCheckpoint(): boolean {
    if (this.log === undefined || this.loggedBytes < LOGGED_BYTES_MAX_FACTOR * this.checkpointBytes) return false;
    if (!this.flushDeferred) {
      this.flushDeferred = true;
      const resume = (force: boolean) => () => {
        this.flushDeferred = false;
        this.flushUpdates(force);
      };
      // After a failed checkpoint the node is told (diskFailed) and stops; commit what waits
      // rather than leave it hanging.
      this.startCheckpoint().then(resume(false), resume(true));
    }
    return true;
  }

  private addLogged(w: PendingWrite): void {
    const slot = w.space.logIndex * 65536 + w.partition;
    let byKey = this.loggedByPartition.get(slot);
    if (byKey === undefined) {
      byKey = new Map();
      this.loggedByPartition.set(slot, byKey);
    }
    const before = this.logged.get(w.id);
    if (before !== undefined) {
      this.loggedBytes -= loggedBytesOf(before);
      this.loggedDiskCost -= diskCostOf(before.frame?.length ?? 0);
    }
    this.logged.set(w.id, w);
    byKey.set(w.id, w);
    this.loggedBytes += loggedBytesOf(w);
    this.loggedDiskCost += diskCostOf(w.frame?.length ?? 0);
  }

  /** Forgets a logged write a checkpoint stored in LMDB, unless a later write replaced it meanwhile. */
  private dropLogged(w: PendingWrite): void {
    if (this.logged.get(w.id) !== w) return;
    this.logged.delete(w.id);
    this.loggedBytes -= loggedBytesOf(w);
    this.loggedDiskCost -= diskCostOf(w.frame?.length ?? 0);
    const slot = w.space.logIndex * 65536 + w.partition;
    const byKey = this.loggedByPartition.get(slot);
    if (byKey === undefined) return;
    byKey.delete(w.id);
    if (byKey.size === 0) this.loggedByPartition.delete(slot);
  }

  /** After a commit: a checkpoint now if the log holds checkpointBytes, else one within checkpointIntervalMs. */
  private scheduleCheckpoint(): void {
    if (this.checkpointing !== undefined || this.closing !== undefined) return;
    if (this.loggedBytes >= this.checkpointBytes) {
      void this.startCheckpoint().catch(() => undefined);
      return;
    }
    if (this.checkpointTimer === undefined && this.logged.size > 0) {
      this.checkpointTimer = setTimeout(() => {
        this.checkpointTimer = undefined;
        void this.startCheckpoint().catch(() => undefined);
      }, this.checkpointIntervalMs);
      this.checkpointTimer.unref();
    }
  }

  /** Writes logged and not yet checkpointed into LMDB, and the bytes they hold in memory. */
  logBacklog(): { readonly writes: number; readonly bytes: number } {
    return { writes: this.logged.size, bytes: this.loggedBytes };
  }

  /**
   * Copies every write logged so far into LMDB, in one synced LMDB commit, and then drops the log
   * segments that held them. Resolves when they are in LMDB; joins a checkpoint that is already
   * running, then runs another if writes were logged since that one started. A failure is a disk
   * failure (diskFailed): the writes are still in the log, which the next start replays.
   */
  checkpoint(): Promise<void> {
    if (this.log === undefined) return Promise.resolve();
    if (this.checkpointing !== undefined) return this.checkpointing.then(() => this.checkpoint());
    return this.startCheckpoint();
  }

  private startCheckpoint(): Promise<void> {
    if (this.checkpointing !== undefined) return this.checkpointing;
    if (this.checkpointTimer !== undefined) {
      clearTimeout(this.checkpointTimer);
      this.checkpointTimer = undefined;
    }
    const log = this.log;
    if (log === undefined || this.logged.size === 0) return Promise.resolve();
    let checkpointer: CheckpointWorker;
    try {
      checkpointer = this.checkpointer ??= this.startCheckpointer();
    } catch (error) {
      return Promise.reject(this.checkpointFailed(error));
    }
    const writes = [...this.logged.values()];
    const startedNs = process.hrtime.bigint();
    // Appends from now on go to a new segment; the segments before it hold exactly `writes`.
    let covered: number;
    try {
      log.roll();
      covered = log.activeSeq;
    } catch (error) {
      return Promise.reject(this.checkpointFailed(error));
    }
    // Committed and synced on the checkpoint worker's thread while the event loop goes on
    // (./checkpoint-worker.ts); writes logged meanwhile stay in `logged` and in the new segment.
    const running = checkpointer
      .commit(logWritesOf(writes))
      .then(
        () => {
          // Reads must see the commit before the writes leave `logged`; a write of the same key
          // logged since stays (dropLogged keeps it).
          this.root.resetReadTxn();
          for (const w of writes) this.dropLogged(w);
          log.dropBefore(covered);
          try {
            this.observer?.checkpoint?.(writes.length, Number(process.hrtime.bigint() - startedNs) / 1e9);
          } catch {
            // An observer that fails must not fail the store.
          }
        },
        (error: unknown) => {
          throw this.checkpointFailed(error);
        },
      )
      .finally(() => {
        this.checkpointing = undefined;
        if (this.closing === undefined && this.logged.size > 0) this.scheduleCheckpoint();
      });
    this.checkpointing = running;
    return running;
  }

  private checkpointFailed(error: unknown): unknown {
    const failure = this.storageError(error);
    this.observer?.diskFailed?.(failure instanceof Error ? failure : new Error(String(failure)));
    return failure;
  }

  private storageError(error: unknown): unknown {
    return storageErrorOf(error, this.dataPath, freeBytes);
  }

  private async foldIn(space: Space, partition: number, options: FoldOptions): Promise<StoredEntry[]> {
    this.assertOpen();
    assertPartition(partition);
    assertFoldOptions(options, space.keyBytesMax);
    // Writes logged and not yet in LMDB, in this fold's range: they replace LMDB's records.
    const logged = this.loggedInRange(space, partition, options.startAfter);
    let removed = 0;
    for (const w of logged.values()) if (w.frame === null) removed++;
    // Start right after startAfter: appending a 0 byte gives the smallest key greater than it.
    const start = options.startAfter === undefined ? partitionPrefix(partition) : Buffer.concat([recordKey(partition, options.startAfter), ZERO_BYTE]);
    // Every key of PARTITION_MAX is the last in the database, so that range has no end.
    const range = partition < PARTITION_MAX ? { start, end: partitionPrefix(partition + 1) } : { start };
    // Each logged removal may hide one of LMDB's records: read that many more.
    const merged: { engineKey: Buffer; frame: Uint8Array }[] = [];
    for (const { key: engineKey, value } of space.db.getRange({ ...range, limit: options.limit + removed })) {
      const bytes = engineKey as Buffer;
      if (logged.size > 0 && logged.has(space.tag + bytes.toString('latin1'))) continue;
      merged.push({ engineKey: bytes, frame: value as Uint8Array });
    }
    for (const w of logged.values()) if (w.frame !== null) merged.push({ engineKey: w.engineKey, frame: w.frame });
    if (logged.size > 0) merged.sort((a, b) => Buffer.compare(a.engineKey, b.engineKey));
    const entries: StoredEntry[] = [];
    for (const { engineKey, frame } of merged.slice(0, options.limit)) {
      const key = copyBytes(engineKey.subarray(PARTITION_PREFIX_BYTES));
      entries.push({ key, value: copyBytes(payloadFromRead(this.checks, partition, key, frame)) });
    }
    return entries;
  }

  /** The logged writes of a partition with keys after `startAfter`, by id. */
  private loggedInRange(space: Space, partition: number, startAfter: Uint8Array | undefined): ReadonlyMap<string, PendingWrite> {
    const byKey = this.loggedByPartition.get(space.logIndex * 65536 + partition);
    if (byKey === undefined) return EMPTY_LOGGED;
    if (startAfter === undefined) return byKey;
    const after = recordKey(partition, startAfter);
    const out = new Map<string, PendingWrite>();
    for (const [id, w] of byKey) if (Buffer.compare(w.engineKey, after) > 0) out.set(id, w);
    return out;
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

  /** Entries in the data database, and the bytes of the pages that hold them (after a checkpoint, so every write counts). */
  async stats(): Promise<StoreStats> {
    this.assertOpen();
    await this.checkpoint();
    const s = this.data.getStats() as DbStats;
    const env = this.root.getStats() as { mapSize?: number; pagesWritten?: number };
    return {
      entries: s.entryCount,
      bytesUsed: (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages) * s.pageSize,
      mapSizeBytes: env.mapSize ?? 0,
      diskFreeBytes: freeBytes(this.dataPath),
      pagesWritten: env.pagesWritten ?? 0,
      pageBytes: s.pageSize,
      logBytesWritten: this.log?.bytesWritten ?? 0,
    };
  }

  /** Idempotent: later calls return the first call's promise. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    // Updates accepted before close still run (they passed assertOpen).
    this.flushUpdates(true);
    if (this.checkpointTimer !== undefined) clearTimeout(this.checkpointTimer);
    try {
      if (this.log !== undefined) {
        let checkpointed = false;
        try {
          while (this.logged.size > 0 || this.checkpointing !== undefined) await this.checkpoint();
          checkpointed = true;
        } finally {
          await this.checkpointer?.stop();
          // Everything logged is in LMDB: no log is left for the next start (nor for the clean
          // stop's fingerprint of data.mdb to miss). After a failure the log stays, to be replayed.
          this.log.close(checkpointed);
        }
      }
      if (this.durability === 'relaxed') {
        const root = this.root as unknown as Syncable;
        await new Promise<void>((resolve, reject) => root.sync((error) => (error ? reject(error) : resolve())));
      }
    } finally {
      openPaths.delete(this.dataPath);
      await this.root.close();
    }
  }

  async snapshot(toDir: string): Promise<SnapshotFile> {
    this.assertOpen();
    const dir = path.resolve(toDir);
    const file = lmdbDataFiles(dir)[0]!;
    if (dir === this.dataPath) throw new Error(`snapshot: ${dir} is the store's own directory; copy into another`);
    await fs.mkdir(dir, { recursive: true });
    if (await fs.stat(file).then(() => true, () => false)) throw new Error(`snapshot: ${file} exists already; copy into an empty directory`);
    // The copy is of LMDB's file: every write acknowledged before this call must be in it.
    await this.checkpoint();
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

const EMPTY_LOGGED: ReadonlyMap<string, PendingWrite> = new Map();

/** What a logged write holds in memory until its checkpoint: its frame and key. */
function loggedBytesOf(w: PendingWrite): number {
  return (w.frame?.length ?? 0) + w.engineKey.length;
}

function logWritesOf(writes: Iterable<PendingWrite>): LogWrite[] {
  const out: LogWrite[] = [];
  for (const w of writes) out.push({ space: w.space.logIndex, engineKey: w.engineKey, frame: w.frame });
  return out;
}

/**
 * Replays the log's recovered segments into LMDB in one synced commit, oldest write first (each
 * is the key's whole state, so the last one of a key wins), before the store serves anything.
 */
function replayLog(root: ReturnType<typeof open>, dbs: readonly BinaryDb[], segments: readonly RecoveredSegment[], dataPath: string): LogRecovery {
  let records = 0;
  let writes = 0;
  let ignoredBytes = 0;
  for (const segment of segments) {
    records += segment.records;
    writes += segment.writes.length;
    ignoredBytes += segment.ignoredBytes;
  }
  if (writes > 0) {
    try {
      root.transactionSync(() => {
        for (const segment of segments) {
          for (const w of segment.writes) {
            const db = dbs[w.space];
            if (db === undefined) throw new Error(`write-ahead log ${segment.file}: a write names key space ${w.space}, which this store does not have`);
            if (w.frame === null) db.removeSync(Buffer.from(w.engineKey));
            else db.putSync(Buffer.from(w.engineKey), w.frame);
          }
        }
      });
    } catch (error) {
      throw storageErrorOf(error, dataPath, freeBytes);
    }
  }
  return { segments: segments.length, records, writes, ignoredBytes };
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

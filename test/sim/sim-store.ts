/**
 * A node's store as the LMDB engine behaves, over the MemoryStore that stands for its disk.
 *
 * LmdbStore decides each update when it is called (against the committed record, or the pending
 * decision of an earlier update of the key), tells `onDecided` at once, and commits the pending
 * writes together later (group commit), then resolves the updates in order. So reads in between
 * see the old state; a coordinator's write is on its way to the other replicas before it is
 * durable here; and when a caller's continuation runs, the later updates of its batch are
 * already applied. MemoryStore applies and resolves each update at once, which would hide every
 * one of these interleavings from the simulator. Here the pending writes are applied in an event
 * of their own on the node's clock, after a seeded commit delay: a crash before it loses them,
 * none of their updates had answered, and the coordinator's may already be on other nodes (the
 * node restarts with a new actor epoch, so their dots are never decided again).
 *
 * Reads (get, fold) are immediate, as LMDB reads are synchronous.
 */
import { Clock } from '../../app/replication/clock';
import { FoldOptions, KeySpace, LocalStore, StoreStats, StoredEntry, UpdateDecision, UpdateOptions } from '../../app/storage/local-store';
import { MemoryStore } from '../../app/storage/memory-store';

interface PendingWrite {
  readonly space: KeySpace;
  readonly partition: number;
  readonly key: Uint8Array;
  readonly write: Uint8Array | null;
}

export class GroupCommitStore implements LocalStore {
  readonly engine = 'simulated-lmdb';
  readonly hints: KeySpace;
  private pendingWrites = new Map<string, PendingWrite>();
  private waiting: Array<() => void> = [];
  private flushScheduled = false;
  /** Write transactions committed (for the figures). */
  commits = 0;
  /** Pending writes whose decision was announced (a coordinator sent them on): a crash now loses them here. */
  private announced = 0;

  /** Writes this node decided and sent on (onDecided) that are not committed yet. */
  get announcedPending(): number {
    return this.announced;
  }

  /** Updates waiting for the next commit. */
  get pending(): number {
    return this.waiting.length;
  }

  constructor(
    private readonly disk: MemoryStore,
    private readonly clock: Clock,
    /** Virtual time from the first queued update to the commit. */
    private readonly commitDelayMs: () => number,
    /** Told of every write whose decision was announced (a write the node coordinated), with its bytes. */
    private readonly announcedWrite: (key: Uint8Array, bytes: Uint8Array) => void = () => {},
  ) {
    this.hints = {
      get: (partition, key) => disk.hints.get(partition, key),
      update: (partition, key, decide, options) => this.decide(disk.hints, 'h', partition, key, decide, options),
      fold: (partition, options) => disk.hints.fold(partition, options),
    };
  }

  get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.disk.get(partition, key);
  }

  update<T>(partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>, options?: UpdateOptions<T>): Promise<T> {
    return this.decide(this.disk, 'd', partition, key, decide, options);
  }

  fold(partition: number, options: FoldOptions): Promise<StoredEntry[]> {
    return this.disk.fold(partition, options);
  }

  getMeta(name: string): Promise<string | undefined> {
    return this.disk.getMeta(name);
  }

  setMeta(name: string, value: string): Promise<void> {
    return this.disk.setMeta(name, value);
  }

  stats(): Promise<StoreStats> {
    return this.disk.stats();
  }

  /** The disk outlives the node: closing the node's view of it leaves it open for the next start. */
  async close(): Promise<void> {}

  private decide<T>(space: KeySpace, tag: string, partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>, options?: UpdateOptions<T>): Promise<T> {
    const id = `${tag}${partition}:${Buffer.from(key).toString('hex')}`;
    const pending = this.pendingWrites.get(id);
    let decision: UpdateDecision<T> | undefined;
    if (pending !== undefined) {
      try {
        decision = decide(pending.write ?? undefined);
      } catch (error) {
        return Promise.reject(error);
      }
    } else {
      // MemoryKeySpace.update runs `decide` before it returns; writing nothing, it only reads (and
      // checks the record, rejecting a corrupt one unless told to replace it).
      const read: Promise<T> = space
        .update(partition, key, (current) => {
          decision = decide(current);
          return { result: undefined };
        }, { corrupt: options?.corrupt })
        .then(() => undefined as never);
      // No decision: decide threw, or the record is corrupt; the read rejected with it.
      if (decision === undefined) return read;
      read.catch(() => {});
    }
    if (decision.write !== undefined) {
      this.pendingWrites.set(id, { space, partition, key, write: decision.write });
      if (options?.onDecided !== undefined && decision.write !== null) {
        this.announced++;
        this.announcedWrite(key, decision.write);
      }
    }
    const result = decision.result;
    const settled = new Promise<T>((resolve) => this.waiting.push(() => resolve(result)));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.clock.after(this.commitDelayMs(), () => this.commitNow());
    }
    options?.onDecided?.(result);
    return settled;
  }

  /** Commits what is pending: at the commit event, or at once (as LmdbStore.close does). */
  commitNow(): void {
    this.flushScheduled = false;
    if (this.waiting.length === 0) return;
    const writes = this.pendingWrites;
    const waiting = this.waiting;
    this.pendingWrites = new Map();
    this.waiting = [];
    this.announced = 0;
    this.commits++;
    // MemoryKeySpace.update applies before it returns.
    for (const w of writes.values()) void w.space.update(w.partition, w.key, () => ({ write: w.write, result: undefined }), { corrupt: 'replace' });
    for (const settle of waiting) settle();
  }
}

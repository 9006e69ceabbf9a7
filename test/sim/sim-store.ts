/**
 * A node's store as the LMDB engine behaves, over the MemoryStore that stands for its disk.
 *
 * LmdbStore queues updates and applies the whole queue in one write transaction in a later turn
 * of the event loop (group commit), then resolves them, in order. So an update is not applied
 * when it is called; reads in between see the old state; and when a caller's continuation runs,
 * the later updates of its batch are already applied. MemoryStore applies and resolves each
 * update at once, which would hide every one of these interleavings from the simulator. Here the
 * queue is applied in an event of its own on the node's clock, after a seeded commit delay: a
 * crash before it loses the queued updates, none of which had answered (they were not durable).
 *
 * Reads (get, fold) are immediate, as LMDB reads are synchronous.
 */
import { Clock } from '../../app/replication/clock';
import { FoldOptions, KeySpace, LocalStore, StoreStats, StoredEntry, UpdateDecision, UpdateOptions } from '../../app/storage/local-store';
import { MemoryStore } from '../../app/storage/memory-store';

export class GroupCommitStore implements LocalStore {
  readonly engine = 'simulated-lmdb';
  readonly hints: KeySpace;
  private queue: Array<() => void> = [];
  private flushScheduled = false;
  /** Write transactions committed (for the figures). */
  commits = 0;

  /** Updates queued for the next commit. */
  get pending(): number {
    return this.queue.length;
  }

  constructor(
    private readonly disk: MemoryStore,
    private readonly clock: Clock,
    /** Virtual time from the first queued update to the commit. */
    private readonly commitDelayMs: () => number,
  ) {
    this.hints = {
      get: (partition, key) => disk.hints.get(partition, key),
      update: (partition, key, decide, options) => this.enqueue(disk.hints, partition, key, decide, options),
      fold: (partition, options) => disk.hints.fold(partition, options),
    };
  }

  get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.disk.get(partition, key);
  }

  update<T>(partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>, options?: UpdateOptions): Promise<T> {
    return this.enqueue(this.disk, partition, key, decide, options);
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

  private enqueue<T>(space: KeySpace, partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>, options?: UpdateOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // MemoryKeySpace.update decides and writes before it returns, so calling it is applying it;
      // its promise settles later, after the whole batch is applied.
      this.queue.push(() => void space.update(partition, key, decide, options).then(resolve, reject));
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      this.clock.after(this.commitDelayMs(), () => this.flush());
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    this.commits++;
    for (const apply of batch) apply();
  }
}

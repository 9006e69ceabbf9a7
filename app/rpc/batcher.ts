/**
 * Coalesces messages queued in one turn of the event loop into batches, so a stream pays its
 * per-message cost once for many operations. Flushes on the next turn, or at once when a batch
 * reaches its count or byte bound.
 */
export interface BatcherLimits {
  /** Items in one batch at most. */
  readonly itemsMax: number;
  /** Approximate payload bytes in one batch at most (a single larger item goes alone). */
  readonly bytesMax: number;
}

export const BATCH_LIMITS_DEFAULT: BatcherLimits = { itemsMax: 512, bytesMax: 1 << 20 };

export class Batcher<T> {
  private items: T[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(
    private readonly flushBatch: (items: T[]) => void,
    private readonly sizeOf: (item: T) => number,
    private readonly limits: BatcherLimits = BATCH_LIMITS_DEFAULT,
  ) {}

  push(item: T): void {
    const size = this.sizeOf(item);
    if (this.items.length > 0 && (this.items.length >= this.limits.itemsMax || this.bytes + size > this.limits.bytesMax)) this.flush();
    this.items.push(item);
    this.bytes += size;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.items.length === 0) return;
    const batch = this.items;
    this.items = [];
    this.bytes = 0;
    this.flushBatch(batch);
  }

  /** Drops what is queued (the stream it feeds has gone). */
  clear(): T[] {
    const dropped = this.items;
    this.items = [];
    this.bytes = 0;
    return dropped;
  }
}

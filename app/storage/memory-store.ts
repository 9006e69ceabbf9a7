/**
 * A LocalStore held in memory, for unit tests and the simulated cluster. Same semantics as the LMDB
 * engine: keys ordered by partition then bytewise, the same argument checks, and values kept as
 * checked frames so that a test can corrupt one (`mutateFrameForTest`) and see it reported.
 */
import {
  CorruptRecordError,
  FoldOptions,
  HINT_KEY_BYTES_MAX,
  KEY_BYTES_MAX,
  KeySpace,
  LocalStore,
  StoreOptions,
  StoreStats,
  StoredEntry,
  UpdateDecision,
  UpdateOptions,
} from './local-store';
import {
  RecordChecks,
  assertFoldOptions,
  assertKey,
  assertMetaName,
  assertPartition,
  copyBytes,
  frameForWrite,
  metaFrameForWrite,
  metaValueFromRead,
  payloadFromRead,
  resolveRecordChecks,
} from './record-frame';

/**
 * One partition's records, keyed by the key's lowercase hex. Hex preserves bytewise order
 * (fixed two characters a byte, '0'-'9' < 'a'-'f', a prefix sorts first), so sorting the hex
 * strings sorts the keys.
 */
interface PartitionRecords {
  readonly frames: Map<string, Uint8Array>;
  /** The keys in order; dropped when a key is added or removed, rebuilt by the next fold. */
  sorted: string[] | undefined;
}

/** One key space held in memory: the data of a MemoryStore, or its hints. */
class MemoryKeySpace implements KeySpace {
  private readonly partitions = new Map<number, PartitionRecords>();

  constructor(
    private readonly checks: RecordChecks,
    private readonly keyBytesMax: number,
    private readonly assertOpen: () => void,
  ) {}

  async get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.assertOpen();
    assertPartition(partition);
    assertKey(key, this.keyBytesMax);
    const current = this.read(partition, key);
    return current === undefined ? undefined : copyBytes(current);
  }

  /** Atomic because `decide` is synchronous and nothing else runs between the read and the write. */
  async update<T>(partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>, options: UpdateOptions<T> = {}): Promise<T> {
    this.assertOpen();
    assertPartition(partition);
    assertKey(key, this.keyBytesMax);
    let current: Uint8Array | undefined;
    try {
      current = this.read(partition, key);
    } catch (error) {
      if (!(options.corrupt === 'replace' && error instanceof CorruptRecordError)) throw error;
    }
    const decision = decide(current === undefined ? undefined : copyBytes(current));
    if (decision.write === null) {
      this.remove(partition, key);
    } else if (decision.write !== undefined) {
      // frameForWrite copies the payload, so the caller may reuse its buffer afterwards.
      this.put(partition, key, frameForWrite(this.checks, decision.write));
    }
    options.onDecided?.(decision.result);
    return decision.result;
  }

  async fold(partition: number, options: FoldOptions): Promise<StoredEntry[]> {
    this.assertOpen();
    assertPartition(partition);
    assertFoldOptions(options, this.keyBytesMax);
    const records = this.partitions.get(partition);
    if (records === undefined) return [];
    records.sorted ??= [...records.frames.keys()].sort();
    const sorted = records.sorted;
    const from = options.startAfter === undefined ? 0 : firstIndexAfter(sorted, toHex(options.startAfter));
    const entries: StoredEntry[] = [];
    for (let i = from; i < sorted.length && entries.length < options.limit; i++) {
      const key = Buffer.from(sorted[i], 'hex');
      const frame = records.frames.get(sorted[i]) as Uint8Array;
      entries.push({ key: copyBytes(key), value: copyBytes(payloadFromRead(this.checks, partition, key, frame)) });
    }
    return entries;
  }

  /** The checked payload as a view into the stored frame (callers copy before handing it out). */
  private read(partition: number, key: Uint8Array): Uint8Array | undefined {
    const frame = this.partitions.get(partition)?.frames.get(toHex(key));
    return frame === undefined ? undefined : payloadFromRead(this.checks, partition, key, frame);
  }

  private put(partition: number, key: Uint8Array, frame: Uint8Array): void {
    let records = this.partitions.get(partition);
    if (records === undefined) {
      records = { frames: new Map(), sorted: undefined };
      this.partitions.set(partition, records);
    }
    const hex = toHex(key);
    if (!records.frames.has(hex)) records.sorted = undefined;
    records.frames.set(hex, frame);
  }

  private remove(partition: number, key: Uint8Array): void {
    const records = this.partitions.get(partition);
    if (records?.frames.delete(toHex(key))) records.sorted = undefined;
  }

  stats(): StoreStats {
    let entries = 0;
    let bytesUsed = 0;
    for (const records of this.partitions.values()) {
      entries += records.frames.size;
      for (const [hex, frame] of records.frames) bytesUsed += hex.length / 2 + frame.length;
    }
    return { entries, bytesUsed };
  }

  mutateFrameForTest(partition: number, key: Uint8Array, mutate: (frame: Uint8Array) => void): void {
    const frame = this.partitions.get(partition)?.frames.get(toHex(key));
    if (frame === undefined) throw new Error(`mutateFrameForTest: no record for partition ${partition}, key ${toHex(key)}`);
    mutate(frame);
  }
}

export class MemoryStore implements LocalStore {
  readonly engine = 'memory';
  private readonly meta = new Map<string, Uint8Array>();
  private closed = false;
  private readonly data: MemoryKeySpace;
  readonly hints: KeySpace;

  constructor(options: StoreOptions = {}) {
    const checks = resolveRecordChecks(options);
    const assertOpen = () => this.assertOpen();
    this.data = new MemoryKeySpace(checks, KEY_BYTES_MAX, assertOpen);
    this.hints = new MemoryKeySpace(checks, HINT_KEY_BYTES_MAX, assertOpen);
  }

  get(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.data.get(partition, key);
  }

  update<T>(partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>, options?: UpdateOptions<T>): Promise<T> {
    return this.data.update(partition, key, decide, options);
  }

  fold(partition: number, options: FoldOptions): Promise<StoredEntry[]> {
    return this.data.fold(partition, options);
  }

  async getMeta(name: string): Promise<string | undefined> {
    this.assertOpen();
    assertMetaName(name);
    const frame = this.meta.get(name);
    return frame === undefined ? undefined : metaValueFromRead(name, frame);
  }

  async setMeta(name: string, value: string): Promise<void> {
    this.assertOpen();
    assertMetaName(name);
    this.meta.set(name, metaFrameForWrite(name, value));
  }

  async stats(): Promise<StoreStats> {
    this.assertOpen();
    return this.data.stats();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /**
   * Test-only: changes a stored frame in place, bypassing every check, to simulate bytes that
   * rotted on disk. Throws if the key is not stored.
   */
  mutateFrameForTest(partition: number, key: Uint8Array, mutate: (frame: Uint8Array) => void): void {
    this.data.mutateFrameForTest(partition, key, mutate);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryStore is closed; create a new store');
  }
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Index of the first element of `sorted` that is strictly greater than `after`. */
function firstIndexAfter(sorted: readonly string[], after: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

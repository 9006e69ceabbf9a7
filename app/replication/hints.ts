/**
 * Hints: the writes this node holds as a fallback for primaries that were down (sloppy quorum,
 * Dynamo section 4.6). A hint lives in the store's hints key space, apart from the node's own
 * data, committed with the same durability as any write, so it survives a restart. Two writes to
 * the same key for the same primary merge into one hint (never overwrite).
 *
 * Record layout: key = [target id length][target id][data key]; value = [created at, ms, float64
 * big-endian][encoded object]. An index in memory (rebuilt from the key space at start) gives the
 * backlog per target without reading the disk: count, bytes and the oldest hint.
 *
 * Bounds (HintLimits): hints per target and bytes over all targets. A hint that would cross one
 * is refused with HintBacklogFull (RESOURCE_EXHAUSTED), naming the bound; nothing is dropped
 * silently. Hints older than hintAgeMaxMs (when set) are expired by the handoff worker, counted,
 * and left to read repair and anti-entropy.
 */
import { KvError, Result, err, ok } from '../errors';
import { KeySpace } from '../storage/local-store';
import { decodeObject, encodeObject } from '../versioning/codec';
import { merge } from '../versioning/dvv';
import { mergeIncoming } from '../versioning/merge-incoming';
import { decodeIncoming } from './incoming-object';

export interface HintLimits {
  /** Hints held for one target node at most. */
  readonly hintsPerTargetMax: number;
  /** Bytes of hints held for all targets together at most. */
  readonly hintBytesMax: number;
  /** Age after which a hint is expired (counted, deleted, left to repair); 0 keeps hints until delivered. */
  readonly hintAgeMaxMs: number;
}

/** One stored hint, as read for delivery. */
export interface Hint {
  readonly target: string;
  readonly partition: number;
  readonly key: Uint8Array;
  /** The encoded object to merge into the target. */
  readonly object: Uint8Array;
  readonly createdAtMs: number;
  /** The stored record, so that a delivered hint is removed only if no newer write merged into it. */
  readonly record: Uint8Array;
}

export interface HintBacklog {
  readonly target: string;
  readonly count: number;
  readonly bytes: number;
  /** Creation time of the oldest hint held for the target; undefined when none. */
  readonly oldestCreatedAtMs: number | undefined;
}

const HEADER_BYTES = 8;
const TARGET_BYTES_MAX = 63;
/** Entries read per fold while rebuilding the index at start. */
const SCAN_BATCH = 1000;

interface IndexEntry {
  readonly partition: number;
  readonly key: Uint8Array;
  readonly createdAtMs: number;
  readonly bytes: number;
}

function hintKey(target: string, key: Uint8Array): Buffer {
  const id = Buffer.from(target, 'utf8');
  if (id.length < 1 || id.length > TARGET_BYTES_MAX) throw new Error(`hints: target id ${JSON.stringify(target)} must be 1..${TARGET_BYTES_MAX} bytes`);
  return Buffer.concat([Buffer.from([id.length]), id, key]);
}

function parseHintKey(stored: Uint8Array): { target: string; key: Uint8Array } {
  const length = stored[0]!;
  if (length < 1 || 1 + length >= stored.length) throw new Error(`hints: malformed hint key of ${stored.length} bytes`);
  return { target: Buffer.from(stored.subarray(1, 1 + length)).toString('utf8'), key: stored.subarray(1 + length) };
}

/**
 * A hint as stored in the hints key space, read back whole: the primary it is for, the data key
 * and the object (kv restore reads hints out of a backup's copy this way).
 */
export function storedHint(storedKey: Uint8Array, record: Uint8Array): { target: string; key: Uint8Array; object: Uint8Array } {
  if (record.length < HEADER_BYTES) throw new Error(`hints: record of ${record.length} bytes is shorter than its ${HEADER_BYTES}-byte header`);
  return { ...parseHintKey(storedKey), object: record.subarray(HEADER_BYTES) };
}

function encodeRecord(createdAtMs: number, object: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + object.length);
  out.writeDoubleBE(createdAtMs, 0);
  out.set(object, HEADER_BYTES);
  return out;
}

function decodeRecord(record: Uint8Array): { createdAtMs: number; object: Uint8Array } {
  if (record.length <= HEADER_BYTES) throw new Error(`hints: record of ${record.length} bytes is too short`);
  const view = Buffer.from(record.buffer, record.byteOffset, record.length);
  return { createdAtMs: view.readDoubleBE(0), object: record.subarray(HEADER_BYTES) };
}

const indexKey = (partition: number, key: Uint8Array) => `${partition}:${Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex')}`;

export class HintStore {
  private readonly index = new Map<string, Map<string, IndexEntry>>();
  private totalBytes = 0;

  private constructor(
    private readonly space: KeySpace,
    readonly limits: HintLimits,
    private readonly nowMs: () => number,
  ) {}

  /** Opens the hints of a store, rebuilding the backlog index from what is on disk. */
  static async open(space: KeySpace, partitions: number, limits: HintLimits, nowMs: () => number = Date.now): Promise<HintStore> {
    const store = new HintStore(space, limits, nowMs);
    for (let partition = 0; partition < partitions; partition++) {
      let startAfter: Uint8Array | undefined;
      for (;;) {
        const batch = await space.fold(partition, { startAfter, limit: SCAN_BATCH });
        for (const { key, value } of batch) {
          const { target, key: dataKey } = parseHintKey(key);
          store.indexSet(target, { partition, key: dataKey, createdAtMs: decodeRecord(value).createdAtMs, bytes: value.length });
        }
        if (batch.length < SCAN_BATCH) break;
        startAfter = batch[batch.length - 1]!.key;
      }
    }
    return store;
  }

  /**
   * Stores `object` as a hint for `target`, merged with any hint already held for the key. Refused
   * with HintBacklogFull when it would cross a bound.
   */
  async store(target: string, partition: number, key: Uint8Array, object: Uint8Array): Promise<Result<void>> {
    const entries = this.index.get(target);
    const existing = entries?.get(indexKey(partition, key));
    const held = entries?.size ?? 0;
    if (existing === undefined && held >= this.limits.hintsPerTargetMax) {
      return err(new KvError('HintBacklogFull', `hints for ${target}: ${held} held, the limit (hintsPerTargetMax) is ${this.limits.hintsPerTargetMax}; the write cannot stand in for ${target} until its hints are handed off`));
    }
    const grow = HEADER_BYTES + object.length - (existing?.bytes ?? 0);
    if (grow > 0 && this.totalBytes + grow > this.limits.hintBytesMax) {
      return err(new KvError('HintBacklogFull', `hints: ${this.totalBytes} bytes held, ${grow} more would cross the limit (hintBytesMax) of ${this.limits.hintBytesMax}; the write cannot stand in for ${target} until hints are handed off`));
    }
    const theirs = decodeIncoming(object);
    const stored = await this.space.update(partition, hintKey(target, key), (current) => {
      if (current === undefined) {
        const createdAtMs = this.nowMs();
        return { write: encodeRecord(createdAtMs, object), result: { createdAtMs, bytes: HEADER_BYTES + object.length } };
      }
      const held = decodeRecord(current);
      const { write } = mergeIncoming(decodeObject(held.object), theirs, object);
      if (write === undefined) return { result: { createdAtMs: held.createdAtMs, bytes: current.length } };
      // The hint keeps its first creation time: its age is how long the target has been missing writes.
      const record = encodeRecord(held.createdAtMs, write);
      return { write: record, result: { createdAtMs: held.createdAtMs, bytes: record.length } };
    });
    this.indexSet(target, { partition, key, createdAtMs: stored.createdAtMs, bytes: stored.bytes });
    return ok(undefined);
  }

  /** The object held as a hint for `target`, or undefined. */
  async fetch(target: string, partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    const record = await this.space.get(partition, hintKey(target, key));
    return record === undefined ? undefined : decodeRecord(record).object;
  }

  /**
   * Every hint held for the key, whatever primary it is for, merged (undefined when none): what
   * this node can answer when asked as a fallback.
   */
  async fetchAny(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    const k = indexKey(partition, key);
    const held: Uint8Array[] = [];
    for (const [target, entries] of this.index) {
      if (!entries.has(k)) continue;
      const object = await this.fetch(target, partition, key);
      if (object !== undefined) held.push(object);
    }
    if (held.length <= 1) return held[0];
    return encodeObject(held.map((o) => decodeObject(o)).reduce((a, b) => merge(a, b)!));
  }

  /** Targets with hints held for them. */
  targets(): string[] {
    return [...this.index.keys()];
  }

  backlog(target: string): HintBacklog {
    const entries = this.index.get(target);
    let bytes = 0;
    let oldest: number | undefined;
    for (const e of entries?.values() ?? []) {
      bytes += e.bytes;
      if (oldest === undefined || e.createdAtMs < oldest) oldest = e.createdAtMs;
    }
    return { target, count: entries?.size ?? 0, bytes, oldestCreatedAtMs: oldest };
  }

  get bytesHeld(): number {
    return this.totalBytes;
  }

  /** Up to `limit` hints for `target`, read from the store. */
  async next(target: string, limit: number): Promise<Hint[]> {
    const out: Hint[] = [];
    for (const e of [...(this.index.get(target)?.values() ?? [])].slice(0, limit)) {
      const hint = await this.read(target, e);
      if (hint !== undefined) out.push(hint);
    }
    return out;
  }

  private async read(target: string, e: IndexEntry): Promise<Hint | undefined> {
    const record = await this.space.get(e.partition, hintKey(target, e.key));
    if (record === undefined) {
      this.indexDelete(target, e.partition, e.key);
      return undefined;
    }
    const { createdAtMs, object } = decodeRecord(record);
    return { target, partition: e.partition, key: e.key, object, createdAtMs, record };
  }

  /**
   * Removes a hint after its target acknowledged it durably, unless a newer write merged into it
   * meanwhile (then it stays for the next round). Resolves whether it was removed.
   */
  async remove(hint: Hint): Promise<boolean> {
    const removed = await this.space.update(hint.partition, hintKey(hint.target, hint.key), (current) => {
      if (current === undefined) return { result: true };
      if (Buffer.compare(current, hint.record) !== 0) return { result: false };
      return { write: null, result: true };
    });
    if (removed) this.indexDelete(hint.target, hint.partition, hint.key);
    return removed;
  }

  /** Hints older than hintAgeMaxMs, removed and returned so that the caller counts them. */
  async expire(): Promise<Hint[]> {
    if (this.limits.hintAgeMaxMs <= 0) return [];
    const before = this.nowMs() - this.limits.hintAgeMaxMs;
    const expired: Hint[] = [];
    for (const target of this.targets()) {
      for (const e of [...this.index.get(target)!.values()]) {
        if (e.createdAtMs >= before) continue;
        const hint = await this.read(target, e);
        if (hint !== undefined && (await this.remove(hint))) expired.push(hint);
      }
    }
    return expired;
  }

  private indexSet(target: string, entry: IndexEntry): void {
    let entries = this.index.get(target);
    if (entries === undefined) this.index.set(target, (entries = new Map()));
    const k = indexKey(entry.partition, entry.key);
    this.totalBytes += entry.bytes - (entries.get(k)?.bytes ?? 0);
    entries.set(k, entry);
  }

  private indexDelete(target: string, partition: number, key: Uint8Array): void {
    const entries = this.index.get(target);
    const k = indexKey(partition, key);
    const e = entries?.get(k);
    if (e === undefined) return;
    this.totalBytes -= e.bytes;
    entries!.delete(k);
    if (entries!.size === 0) this.index.delete(target);
  }
}

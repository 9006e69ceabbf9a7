/**
 * Reading a node's snapshot copy (a store of the lmdb engine, opened from its folder): every
 * object of its own data and every hint it held for another node, partition by partition, in
 * bounded batches. A record that fails its check is counted and skipped: the other replicas'
 * copies hold the key too.
 */
import { storedHint } from '../replication/hints';
import { LmdbStore } from '../storage/lmdb-store';
import { CorruptRecordError, KeySpace, StoredEntry } from '../storage/local-store';

export interface CopiedObject {
  readonly key: Uint8Array;
  readonly object: Uint8Array;
  /** Read from the hints the node held for another node. */
  readonly hint: boolean;
}

export interface CopyContents {
  keys: number;
  hints: number;
  corrupt: number;
}

/** Records read per fold (within the store's FOLD_LIMIT_MAX). */
const FOLD_BATCH = 500;

/**
 * Opens the copy in `dir` (a folder holding its data.mdb), hands `each` batches of its objects,
 * and returns what it counted. `partitions` is the copy's ring size, from its header.
 */
export async function readCopy(dir: string, partitions: number, each: (batch: CopiedObject[]) => Promise<void>): Promise<CopyContents> {
  const store = await LmdbStore.open({ path: dir, durability: 'relaxed', diskFreeBytesMin: 0 });
  const counts: CopyContents = { keys: 0, hints: 0, corrupt: 0 };
  try {
    for (let partition = 0; partition < partitions; partition++) {
      await foldAll(store, partition, counts, async (entries) => {
        counts.keys += entries.length;
        await each(entries.map((e) => ({ key: e.key, object: e.value, hint: false })));
      });
      await foldAll(store.hints, partition, counts, async (entries) => {
        const batch: CopiedObject[] = [];
        for (const e of entries) {
          try {
            const hint = storedHint(e.key, e.value);
            batch.push({ key: hint.key, object: hint.object, hint: true });
          } catch {
            counts.corrupt++;
          }
        }
        counts.hints += batch.length;
        await each(batch);
      });
    }
  } finally {
    await store.close();
  }
  return counts;
}

async function foldAll(space: KeySpace, partition: number, counts: CopyContents, each: (entries: StoredEntry[]) => Promise<void>): Promise<void> {
  let startAfter: Uint8Array | undefined;
  for (;;) {
    let entries: StoredEntry[];
    try {
      entries = await space.fold(partition, { startAfter, limit: FOLD_BATCH });
    } catch (e) {
      if (!(e instanceof CorruptRecordError)) throw e;
      startAfter = await stepPastCorrupt(space, partition, startAfter, counts, each);
      if (startAfter === undefined) return;
      continue;
    }
    if (entries.length === 0) return;
    await each(entries);
    if (entries.length < FOLD_BATCH) return;
    startAfter = entries[entries.length - 1]!.key;
  }
}

/**
 * A fold failed on a corrupt record: reads the records before it one by one, counts and skips
 * it, and returns the key to fold on from (undefined at the partition's end).
 */
async function stepPastCorrupt(space: KeySpace, partition: number, from: Uint8Array | undefined, counts: CopyContents, each: (entries: StoredEntry[]) => Promise<void>): Promise<Uint8Array | undefined> {
  let cursor = from;
  for (;;) {
    try {
      const one = await space.fold(partition, { startAfter: cursor, limit: 1 });
      if (one.length === 0) return undefined;
      await each(one);
      cursor = one[0]!.key;
    } catch (e) {
      if (!(e instanceof CorruptRecordError)) throw e;
      counts.corrupt++;
      return e.key;
    }
  }
}

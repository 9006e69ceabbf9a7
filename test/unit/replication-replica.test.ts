import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { HashTrees } from '../../app/replication/hash-trees';
import { LmdbStore } from '../../app/storage/lmdb-store';
import { LocalReplica } from '../../app/replication/replica';
import { MemoryStore } from '../../app/storage/memory-store';
import { UpdateDecision, UpdateOptions } from '../../app/storage/local-store';
import { decodeObject, encodeObject } from '../../app/versioning/codec';
import { applyWrite, liveValues, sameHistory } from '../../app/versioning/dvv';
import { OBJECT_LIMITS_DEFAULT } from '../../app/versioning/limits';
import { resolveRecordChecks } from '../../app/storage/record-frame';

// decodeObject, counted: the replica's shortcut for equal bytes is visible only as a decode saved.
jest.mock('../../app/versioning/codec', () => {
  const actual = jest.requireActual<typeof import('../../app/versioning/codec')>('../../app/versioning/codec');
  return { ...actual, decodeObject: jest.fn(actual.decodeObject) };
});
const decodeCalls = decodeObject as jest.MockedFunction<typeof decodeObject>;

/** A memory store that counts the updates that wrote. */
class CountingStore extends MemoryStore {
  writes = 0;
  override update<T>(partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => UpdateDecision<T>, options?: UpdateOptions<T>): Promise<T> {
    return super.update(
      partition,
      key,
      (current) => {
        const decision = decide(current);
        if (decision.write !== undefined) this.writes++;
        return decision;
      },
      options,
    );
  }
}

const key = Buffer.from('k');
const none = new Map<string, number>();
const text = (v: Uint8Array) => Buffer.from(v).toString('utf8');

describe('LocalReplica.mergeEncoded', () => {
  test('an object that is already stored byte for byte writes nothing and returns it', async () => {
    const store = new CountingStore();
    const replica = new LocalReplica(store, 'a:1', OBJECT_LIMITS_DEFAULT, () => 1);
    const object = encodeObject(applyWrite(undefined, none, 'b:1', Buffer.from('v'), 1));
    await replica.mergeEncoded(3, key, object);
    expect(store.writes).toBe(1);
    // Equal bytes: only the incoming object is decoded, the stored one is neither decoded nor merged.
    decodeCalls.mockClear();
    const again = await replica.mergeEncoded(3, key, Buffer.from(object));
    expect(decodeCalls).toHaveBeenCalledTimes(1);
    expect(store.writes).toBe(1);
    expect(sameHistory(again, decodeObject(object))).toBe(true);
  });

  test('a newer object replaces the stored one, a concurrent one becomes a sibling', async () => {
    const store = new CountingStore();
    const replica = new LocalReplica(store, 'a:1', OBJECT_LIMITS_DEFAULT, () => 1);
    const first = applyWrite(undefined, none, 'b:1', Buffer.from('v1'), 1);
    await replica.mergeEncoded(3, key, encodeObject(first));
    const newer = applyWrite(first, first.vv, 'b:1', Buffer.from('v2'), 2);
    await replica.mergeEncoded(3, key, encodeObject(newer));
    expect(liveValues(await replica.fetch(3, key)).map(text)).toEqual(['v2']);
    // A superseding object is stored as the bytes it came in (they are canonical).
    expect(Buffer.from((await replica.fetchEncoded(3, key))!).equals(encodeObject(newer))).toBe(true);
    const concurrent = applyWrite(first, first.vv, 'c:1', Buffer.from('v3'), 3);
    const merged = await replica.mergeEncoded(3, key, encodeObject(concurrent));
    expect(liveValues(merged).map(text).sort()).toEqual(['v2', 'v3']);
    expect(Buffer.from((await replica.fetchEncoded(3, key))!).equals(encodeObject(merged))).toBe(true);
    expect(store.writes).toBe(3);
  });
});

describe('LocalReplica.coordinateWrite', () => {
  test('rejects a write that would leave the object above objectBytesMax with ObjectTooLarge and stores nothing', async () => {
    const store = new CountingStore();
    const replica = new LocalReplica(store, 'a:1', { ...OBJECT_LIMITS_DEFAULT, objectBytesMax: 3000 }, () => 1);
    const first = await replica.coordinateWrite(3, key, none, Buffer.alloc(2000, 1));
    expect(first.ok).toBe(true);
    // A blind second write adds a sibling: two 2,000-byte values no longer fit in 3,000 bytes.
    const second = await replica.coordinateWrite(3, key, none, Buffer.alloc(2000, 2));
    expect(second.ok).toBe(false);
    if (second.ok) return;
    expect(second.error.condition).toBe('ObjectTooLarge');
    expect(second.error.kind).toBe('failed-precondition');
    expect(second.error.message).toMatch(/would leave \d+ bytes \(every sibling and the clock\), above the limit of 3000 \(objectBytesMax\)/);
    expect(store.writes).toBe(1);
    expect(liveValues(await replica.fetch(3, key)).map((v) => Buffer.from(v)[0])).toEqual([1]);
  });
});

describe('LocalReplica.coordinateWrite on a poisoned object', () => {
  const limits = { ...OBJECT_LIMITS_DEFAULT, clockEntriesWarn: 3, clockEntriesMax: 4 };

  test('takes a per-key actor when its counter for the key is at 2^53 - 1, and warns', async () => {
    const replica = new LocalReplica(new MemoryStore(), 'a:1', limits, () => 1);
    await replica.mergeEncoded(3, key, encodeObject({ vv: new Map([['a:1', Number.MAX_SAFE_INTEGER]]), siblings: [{ dot: { actor: 'a:1', counter: Number.MAX_SAFE_INTEGER }, value: Buffer.from('old'), writtenAtMs: 1 }] }));
    const written = await replica.coordinateWrite(3, key, none, Buffer.from('new'));
    if (!written.ok) throw written.error;
    expect(written.value.object.siblings.map((s) => [s.dot.actor, s.dot.counter, text(s.value!)])).toEqual([
      ['a:1', Number.MAX_SAFE_INTEGER, 'old'],
      ['a:1/k1', 1, 'new'],
    ]);
    expect(written.value.warnings.join()).toMatch(/the write took the per-key actor a:1\/k1/);
    const again = await replica.coordinateWrite(3, key, written.value.object.vv, Buffer.from('newer'));
    expect(again.ok && again.value.object.siblings.map((s) => `${s.dot.actor}:${s.dot.counter}`)).toEqual(['a:1/k1:2']);
  });

  test('never prunes a full clock: rejects with ClockTooLarge, storing nothing, and takes the write once the limit is raised (the repair)', async () => {
    const store = new CountingStore();
    const poisoned = { vv: new Map([['j1', 9], ['j2', 1], ['j3', 2], ['s', 1]]), siblings: [{ dot: { actor: 's', counter: 1 }, value: Buffer.from('old'), writtenAtMs: 1 }] };
    await new LocalReplica(store, 'a:1', limits, () => 1).mergeEncoded(3, key, encodeObject(poisoned));
    const refused = await new LocalReplica(store, 'a:1', limits, () => 1).coordinateWrite(3, key, none, Buffer.from('blind'));
    expect(!refused.ok && refused.error.condition).toBe('ClockTooLarge');
    expect(!refused.ok && refused.error.message).toMatch(/would leave 5 vector entries, above the limit of 4 \(clockEntriesMax\); entries are never pruned.*raise --clock-entries-max/);
    expect(store.writes).toBe(1);
    const raised = await new LocalReplica(store, 'a:1', { ...limits, clockEntriesMax: 8 }, () => 1).coordinateWrite(3, key, none, Buffer.from('blind'));
    if (!raised.ok) throw raised.error;
    expect([...raised.value.object.vv.keys()].sort()).toEqual(['a:1', 'j1', 'j2', 'j3', 's']);
    expect(liveValues(raised.value.object).map(text).sort()).toEqual(['blind', 'old']);
  });

  test('rejects with ClockTooLarge, storing nothing, when every entry is needed by a sibling', async () => {
    const store = new CountingStore();
    const replica = new LocalReplica(store, 'a:1', limits, () => 1);
    const actors = ['b', 'c', 'd', 'e'];
    await replica.mergeEncoded(3, key, encodeObject({ vv: new Map(actors.map((a) => [a, 1])), siblings: actors.map((a) => ({ dot: { actor: a, counter: 1 }, value: Buffer.from(a), writtenAtMs: 1 })) }));
    const refused = await replica.coordinateWrite(3, key, none, Buffer.from('x'));
    expect(!refused.ok && refused.error.condition).toBe('ClockTooLarge');
    expect(!refused.ok && refused.error.message).toMatch(/would leave 5 vector entries, above the limit of 4 \(clockEntriesMax\)/);
    expect(store.writes).toBe(1);
  });
});

test('the largest object setting fits the store: a record of objectBytesMax (64 MiB) plus key and framing is accepted', () => {
  expect(() => resolveRecordChecks({ maxRecordBytes: 64 * 1024 * 1024 + 65536 + 1024 })).not.toThrow();
});

describe('LocalReplica and the hash trees, on a store that commits after deciding', () => {
  test('a segment recomputed between a write\'s decision and its commit is dirty again once the write commits', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'replica-trees-'));
    const store = await LmdbStore.open({ path: dir });
    try {
      const trees = new HashTrees(64);
      const replica = new LocalReplica(store, 'a:1', OBJECT_LIMITS_DEFAULT, { trees, nowMs: () => 1 });
      const fold = (startAfter: Uint8Array | undefined) => store.fold(3, { startAfter, limit: 100 });
      await trees.refresh(3, fold, 100);
      expect(trees.isTrusted(3)).toBe(true);
      const written = await replica.coordinateWrite(3, Buffer.from('k'), new Map(), Buffer.from('v'));
      if (!written.ok) throw written.error;
      // Decided, not committed: a refresh now reads the store without the write.
      await trees.refresh(3, fold, 100);
      expect(trees.isTrusted(3)).toBe(true);
      await written.value.durable;
      expect(trees.isTrusted(3)).toBe(false);
      await trees.refresh(3, fold, 100);
      expect(trees.isTrusted(3)).toBe(true);
    } finally {
      await store.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

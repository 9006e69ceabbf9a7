/**
 * The contract every LocalStore engine meets. Each engine's test file calls
 * `describeLocalStoreContract` with a factory; the same suite then runs against it.
 */
import * as fc from 'fast-check';
import {
  CorruptRecordError,
  FOLD_LIMIT_MAX,
  HINT_KEY_BYTES_MAX,
  KEY_BYTES_MAX,
  LocalStore,
  PARTITION_MAX,
  RecordTooLargeError,
  StoreOptions,
  StoredEntry,
} from '../../app/storage/local-store';

export interface StoreFixture {
  readonly store: LocalStore;
  /** Closes `store` and opens the same data again (engines that persist). */
  readonly reopen?: () => Promise<LocalStore>;
  /** Changes the stored bytes of one record behind the store's back, as rot on disk would. */
  readonly corrupt?: (partition: number, key: Uint8Array) => Promise<void>;
  /** Closes whatever store is open and removes its data. */
  readonly cleanup: () => Promise<void>;
}

export type StoreFactory = (options: StoreOptions) => Promise<StoreFixture>;

/**
 * Which optional fixture hooks the engine provides. A test that needs a hook the engine cannot
 * have (the memory store has no files to reopen) is not registered for it, rather than skipped:
 * it does not apply, and CI runs no skipped tests.
 */
export interface ContractFeatures {
  readonly reopen: boolean;
  readonly corrupt: boolean;
}

/** The limit the suite opens every store with, small enough to test cheaply. */
const MAX_RECORD_BYTES = 4096;

/** Payloads starting with this byte fail the suite's validate hook while it is strict. */
const MALFORMED_MARK = 0xee;

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const text = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'utf8'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** An update that stores `value` and resolves with what it saw. */
const put = (store: LocalStore, partition: number, key: Uint8Array, value: Uint8Array | null): Promise<Uint8Array | undefined> =>
  store.update(partition, key, (current) => ({ write: value, result: current }));

async function foldAll(store: LocalStore, partition: number, limit: number): Promise<StoredEntry[]> {
  const all: StoredEntry[] = [];
  let startAfter: Uint8Array | undefined;
  for (let batches = 0; batches < 10_000; batches++) {
    const batch = await store.fold(partition, { limit, ...(startAfter && { startAfter }) });
    expect(batch.length).toBeLessThanOrEqual(limit);
    if (batch.length === 0) return all;
    all.push(...batch);
    startAfter = batch[batch.length - 1].key;
  }
  throw new Error('fold did not finish in 10000 batches');
}

export function describeLocalStoreContract(name: string, factory: StoreFactory, features: ContractFeatures = { reopen: false, corrupt: false }): void {
  const notApplicable = (() => undefined) as unknown as typeof test;
  const withReopen = features.reopen ? test : notApplicable;
  const withCorrupt = features.corrupt ? test : notApplicable;

  describe(`LocalStore contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: LocalStore;
    /** Makes the validate hook reject payloads that start with MALFORMED_MARK. */
    let strict: boolean;

    const hook = <K extends 'reopen' | 'corrupt'>(feature: K): NonNullable<StoreFixture[K]> => {
      const fn = fixture[feature];
      if (fn === undefined) throw new Error(`the ${feature} feature is declared but the fixture has no ${feature} hook`);
      return fn as NonNullable<StoreFixture[K]>;
    };

    beforeEach(async () => {
      strict = false;
      fixture = await factory({
        maxRecordBytes: MAX_RECORD_BYTES,
        validate: (value) => (strict && value[0] === MALFORMED_MARK ? `payload starts with marker byte 0x${MALFORMED_MARK.toString(16)}` : undefined),
      });
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('get and update', () => {
      test('get of a missing key resolves undefined', async () => {
        await expect(store.get(1, text('missing'))).resolves.toBeUndefined();
      });

      test('update writes a new key, and decide sees undefined', async () => {
        await expect(put(store, 1, text('k'), text('v1'))).resolves.toBeUndefined();
        await expect(store.get(1, text('k'))).resolves.toEqual(text('v1'));
      });

      test('update replaces a value, and decide sees the current bytes', async () => {
        await put(store, 1, text('k'), text('v1'));
        await expect(put(store, 1, text('k'), text('v2'))).resolves.toEqual(text('v1'));
        await expect(store.get(1, text('k'))).resolves.toEqual(text('v2'));
      });

      test('update with write null removes the key', async () => {
        await put(store, 1, text('k'), text('v1'));
        await put(store, 1, text('k'), null);
        await expect(store.get(1, text('k'))).resolves.toBeUndefined();
        await expect((await store.stats()).entries).toBe(0);
      });

      test('removing a missing key is a no-op', async () => {
        await expect(put(store, 1, text('k'), null)).resolves.toBeUndefined();
        await expect(store.get(1, text('k'))).resolves.toBeUndefined();
      });

      test('update with write undefined leaves the value unchanged', async () => {
        await put(store, 1, text('k'), text('v1'));
        await store.update(1, text('k'), () => ({ result: 0 }));
        await expect(store.get(1, text('k'))).resolves.toEqual(text('v1'));
      });

      test('update resolves with the decision result, the same object', async () => {
        const result = { tag: 'decided', n: 7 };
        await expect(store.update(1, text('k'), () => ({ write: text('v'), result }))).resolves.toBe(result);
      });

      test('an empty value is stored and read back', async () => {
        await put(store, 1, text('k'), new Uint8Array(0));
        await expect(store.get(1, text('k'))).resolves.toEqual(new Uint8Array(0));
      });

      test('stored bytes are copies: changing the written or returned array changes nothing', async () => {
        const value = text('original');
        await put(store, 1, text('k'), value);
        value.fill(0);
        const read = (await store.get(1, text('k'))) as Uint8Array;
        expect(read).toEqual(text('original'));
        read.fill(0);
        await expect(store.get(1, text('k'))).resolves.toEqual(text('original'));
      });

      test('values are plain Uint8Arrays', async () => {
        await put(store, 1, text('k'), text('v'));
        expect((await store.get(1, text('k')))?.constructor).toBe(Uint8Array);
        expect((await store.fold(1, { limit: 1 }))[0].key.constructor).toBe(Uint8Array);
      });

      test('concurrent updates to one key serialize: 200 increments end at 200', async () => {
        const key = text('counter');
        const increment = (): Promise<number> =>
          store.update(1, key, (current) => {
            const next = current === undefined ? 1 : Buffer.from(current).readUInt32BE(0) + 1;
            const out = Buffer.alloc(4);
            out.writeUInt32BE(next);
            return { write: Uint8Array.from(out), result: next };
          });
        const results = await Promise.all(Array.from({ length: 200 }, increment));
        expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        expect(Buffer.from((await store.get(1, key)) as Uint8Array).readUInt32BE(0)).toBe(200);
      });

      test('fails the update when decide throws, leaving the value unchanged and other updates unaffected', async () => {
        await put(store, 1, text('k'), text('before'));
        const failing = store.update(1, text('k'), () => {
          throw new Error('decide failed');
        });
        const other = put(store, 1, text('other'), text('fine'));
        await expect(failing).rejects.toThrow('decide failed');
        await other;
        await expect(store.get(1, text('k'))).resolves.toEqual(text('before'));
        await expect(store.get(1, text('other'))).resolves.toEqual(text('fine'));
      });

      test('onDecided hears the result before the update resolves; updates of the key decide in call order, each on the last', async () => {
        const events: string[] = [];
        const seen: string[] = [];
        const write = (value: string) =>
          store
            .update(
              2,
              text('k'),
              (current) => {
                seen.push(current === undefined ? '-' : Buffer.from(current).toString());
                return { write: text(value), result: value };
              },
              { onDecided: (result) => events.push(`decided ${result}`) },
            )
            .then((result) => events.push(`resolved ${result}`));
        await Promise.all([write('a'), write('b'), write('c')]);
        expect(seen).toEqual(['-', 'a', 'b']);
        expect(events.indexOf('decided a')).toBeLessThan(events.indexOf('resolved a'));
        expect(events.filter((e) => e.startsWith('decided'))).toEqual(['decided a', 'decided b', 'decided c']);
        expect(events.filter((e) => e.startsWith('resolved'))).toEqual(['resolved a', 'resolved b', 'resolved c']);
        await expect(store.get(2, text('k'))).resolves.toEqual(text('c'));
      });

      test('onDecided is not called when decide throws or the write is refused', async () => {
        const onDecided = jest.fn();
        const throwing = store.update(
          2,
          text('x'),
          () => {
            throw new Error('decide failed');
          },
          { onDecided },
        );
        await expect(throwing).rejects.toThrow('decide failed');
        const tooLarge = store.update(2, text('x'), () => ({ write: new Uint8Array(MAX_RECORD_BYTES + 1), result: 0 }), { onDecided });
        await expect(tooLarge).rejects.toThrow(RecordTooLargeError);
        expect(onDecided).not.toHaveBeenCalled();
        await expect(store.get(2, text('x'))).resolves.toBeUndefined();
      });

      test('rejects a decision whose write is not bytes, writing nothing', async () => {
        const bad = store.update(1, text('k'), () => ({ write: 'a string' as unknown as Uint8Array, result: 0 }));
        await expect(bad).rejects.toThrow(/Uint8Array.*got string/);
        await expect(store.get(1, text('k'))).resolves.toBeUndefined();
      });
    });

    describe('keys and partitions', () => {
      test('rejects an empty key on get, update and as startAfter', async () => {
        await expect(store.get(1, new Uint8Array(0))).rejects.toThrow(/key must be 1\.\.\d+ bytes, got 0 bytes/);
        await expect(put(store, 1, new Uint8Array(0), text('v'))).rejects.toThrow(/got 0 bytes/);
        await expect(store.fold(1, { limit: 1, startAfter: new Uint8Array(0) })).rejects.toThrow(/got 0 bytes/);
      });

      test(`accepts a key of KEY_BYTES_MAX bytes and rejects one byte more`, async () => {
        const longest = new Uint8Array(KEY_BYTES_MAX).fill(7);
        await put(store, 1, longest, text('v'));
        await expect(store.get(1, longest)).resolves.toEqual(text('v'));
        await expect(put(store, 1, new Uint8Array(KEY_BYTES_MAX + 1), text('v'))).rejects.toThrow(`got ${KEY_BYTES_MAX + 1} bytes`);
      });

      test.each([-1, PARTITION_MAX + 1, 1.5, Number.NaN])('rejects partition %p on get, update and fold', async (partition) => {
        const message = /partition must be an integer in 0\.\.65535/;
        await expect(store.get(partition, text('k'))).rejects.toThrow(message);
        await expect(put(store, partition, text('k'), text('v'))).rejects.toThrow(message);
        await expect(store.fold(partition, { limit: 1 })).rejects.toThrow(message);
      });

      test('the same key in different partitions is different records', async () => {
        await put(store, 0, text('k'), text('zero'));
        await put(store, PARTITION_MAX, text('k'), text('max'));
        await expect(store.get(0, text('k'))).resolves.toEqual(text('zero'));
        await expect(store.get(PARTITION_MAX, text('k'))).resolves.toEqual(text('max'));
        await expect(store.get(1, text('k'))).resolves.toBeUndefined();
      });
    });

    describe('fold', () => {
      // Bytewise order, including a key that is a prefix of another and high bytes.
      const ordered = [bytes(0), bytes(0, 0), bytes(1), bytes(1, 0), bytes(1, 255), bytes(2), bytes(127), bytes(128), bytes(255), bytes(255, 255, 255)];

      test('visits one partition in bytewise key order', async () => {
        for (const key of [...ordered].reverse()) await put(store, 5, key, key);
        const all = await store.fold(5, { limit: 100 });
        expect(all.map((e) => hex(e.key))).toEqual(ordered.map(hex));
        expect(all.map((e) => hex(e.value))).toEqual(ordered.map(hex));
      });

      test('sees only its own partition, including at 0 and PARTITION_MAX', async () => {
        for (const partition of [0, 1, 2, PARTITION_MAX - 1, PARTITION_MAX]) {
          for (const key of ordered) await put(store, partition, key, text(`p${partition}`));
        }
        for (const partition of [0, 1, 2, PARTITION_MAX - 1, PARTITION_MAX]) {
          const all = await store.fold(partition, { limit: 100 });
          expect(all.map((e) => hex(e.key))).toEqual(ordered.map(hex));
          expect(new Set(all.map((e) => Buffer.from(e.value).toString()))).toEqual(new Set([`p${partition}`]));
        }
        await expect(store.fold(3, { limit: 100 })).resolves.toEqual([]);
      });

      test('paging with startAfter and limit visits every key exactly once, in order', async () => {
        const keys = Array.from({ length: 57 }, (_, i) => text(`key-${String(i).padStart(3, '0')}`));
        await Promise.all(keys.map((key) => put(store, 9, key, key)));
        await put(store, 8, text('key-000'), text('neighbour'));
        await put(store, 10, text('key-000'), text('neighbour'));
        for (const limit of [1, 7, 57, 100]) {
          const all = await foldAll(store, 9, limit);
          expect(all.map((e) => hex(e.key))).toEqual(keys.map(hex));
        }
      });

      test('for any keys, paging visits them once each in bytewise order', async () => {
        let partition = 100; // a fresh partition per run, so runs do not see each other's keys
        await fc.assert(
          fc.asyncProperty(fc.uniqueArray(fc.uint8Array({ minLength: 1, maxLength: 6 }), { maxLength: 40, selector: hex }), fc.integer({ min: 1, max: 12 }), async (keys, limit) => {
            partition++;
            await Promise.all(keys.map((key) => put(store, partition, key, key)));
            const expected = [...keys].sort((a, b) => Buffer.compare(a, b)).map(hex);
            const all = await foldAll(store, partition, limit);
            expect(all.map((e) => hex(e.key))).toEqual(expected);
            expect(all.map((e) => hex(e.value))).toEqual(expected);
          }),
          { numRuns: 30 },
        );
      });

      test('startAfter need not be a stored key', async () => {
        for (const key of ordered) await put(store, 5, key, key);
        const after = await store.fold(5, { startAfter: bytes(1, 128), limit: 100 });
        expect(after.map((e) => hex(e.key))).toEqual([bytes(1, 255), bytes(2), bytes(127), bytes(128), bytes(255), bytes(255, 255, 255)].map(hex));
        await expect(store.fold(5, { startAfter: bytes(255, 255, 255), limit: 100 })).resolves.toEqual([]);
      });

      test('returns at most limit entries', async () => {
        for (const key of ordered) await put(store, 5, key, key);
        const first = await store.fold(5, { limit: 3 });
        expect(first.map((e) => hex(e.key))).toEqual(ordered.slice(0, 3).map(hex));
      });

      test.each([0, -1, 2.5, FOLD_LIMIT_MAX + 1])('rejects fold limit %p', async (limit) => {
        await expect(store.fold(1, { limit })).rejects.toThrow(`fold limit must be an integer in 1..${FOLD_LIMIT_MAX}`);
      });
    });

    describe('record size', () => {
      test('accepts a value of exactly maxRecordBytes', async () => {
        const value = new Uint8Array(MAX_RECORD_BYTES).fill(1);
        await put(store, 1, text('k'), value);
        await expect(store.get(1, text('k'))).resolves.toEqual(value);
      });

      test('rejects a value larger than maxRecordBytes, naming size and limit, and changes nothing', async () => {
        await put(store, 1, text('k'), text('before'));
        const attempt = put(store, 1, text('k'), new Uint8Array(MAX_RECORD_BYTES + 1));
        await expect(attempt).rejects.toBeInstanceOf(RecordTooLargeError);
        await expect(put(store, 1, text('k'), new Uint8Array(MAX_RECORD_BYTES + 1))).rejects.toThrow(
          `record of ${MAX_RECORD_BYTES + 1} bytes exceeds maxRecordBytes (${MAX_RECORD_BYTES} bytes)`,
        );
        await expect(store.get(1, text('k'))).resolves.toEqual(text('before'));
        await expect(put(store, 1, text('new'), new Uint8Array(MAX_RECORD_BYTES + 1))).rejects.toThrow(RecordTooLargeError);
        await expect(store.get(1, text('new'))).resolves.toBeUndefined();
      });
    });

    describe('integrity', () => {
      test('rejects a write the validate hook refuses, writing nothing', async () => {
        strict = true;
        await put(store, 1, text('k'), text('before'));
        await expect(put(store, 1, text('k'), bytes(MALFORMED_MARK, 1, 2))).rejects.toThrow(/malformed payload.*marker byte 0xee/);
        await expect(put(store, 1, text('new'), bytes(MALFORMED_MARK))).rejects.toThrow(/malformed payload/);
        await expect(store.get(1, text('k'))).resolves.toEqual(text('before'));
        await expect(store.get(1, text('new'))).resolves.toBeUndefined();
      });

      test('fails a read the validate hook refuses with CorruptRecordError', async () => {
        await put(store, 1, text('k'), bytes(MALFORMED_MARK, 1, 2));
        strict = true;
        const read = store.get(1, text('k'));
        await expect(read).rejects.toBeInstanceOf(CorruptRecordError);
        await expect(store.get(1, text('k'))).rejects.toThrow(/payload failed validation: payload starts with marker/);
        await expect(store.fold(1, { limit: 10 })).rejects.toThrow(CorruptRecordError);
      });

      withCorrupt('fails get, fold and update of a corrupted record with CorruptRecordError naming it', async () => {
        await put(store, 3, text('good-1'), text('fine'));
        await put(store, 3, text('rotten'), text('this payload will rot on disk'));
        await put(store, 3, text('zz-good-2'), text('fine'));
        await hook('corrupt')(3, text('rotten'));

        const error = await store.get(3, text('rotten')).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(CorruptRecordError);
        expect((error as CorruptRecordError).partition).toBe(3);
        expect((error as CorruptRecordError).key).toEqual(text('rotten'));
        expect((error as CorruptRecordError).message).toMatch(/checksum mismatch/);

        await expect(store.fold(3, { limit: 10 })).rejects.toThrow(CorruptRecordError);
        // A fold can step over the bad record: resume after the key the error names.
        await expect(store.fold(3, { startAfter: text('rotten'), limit: 10 })).resolves.toEqual([{ key: text('zz-good-2'), value: text('fine') }]);

        const decide = jest.fn(() => ({ write: text('overwrite'), result: 0 }));
        await expect(store.update(3, text('rotten'), decide)).rejects.toThrow(CorruptRecordError);
        expect(decide).not.toHaveBeenCalled();
        await expect(store.get(3, text('good-1'))).resolves.toEqual(text('fine'));
      });

      withCorrupt("update with corrupt: 'replace' sees a corrupted record as missing and overwrites it (repair)", async () => {
        await put(store, 4, text('rotten'), text('this payload will rot on disk'));
        await hook('corrupt')(4, text('rotten'));
        const seen: (Uint8Array | undefined)[] = [];
        const result = await store.update(
          4,
          text('rotten'),
          (current) => {
            seen.push(current);
            return { write: text('repaired'), result: 'done' };
          },
          { corrupt: 'replace' },
        );
        expect(result).toBe('done');
        expect(seen).toEqual([undefined]);
        await expect(store.get(4, text('rotten'))).resolves.toEqual(text('repaired'));
      });
    });

    describe('meta', () => {
      test('getMeta of a missing name resolves undefined', async () => {
        await expect(store.getMeta('node-id')).resolves.toBeUndefined();
      });

      test('setMeta stores and replaces a value, apart from the data', async () => {
        await store.setMeta('node-id', 'node-a');
        await store.setMeta('epoch', '1');
        await store.setMeta('epoch', 'zwei ⚡');
        await expect(store.getMeta('node-id')).resolves.toBe('node-a');
        await expect(store.getMeta('epoch')).resolves.toBe('zwei ⚡');
        await expect(store.stats()).resolves.toMatchObject({ entries: 0 });
      });

      test('rejects an empty meta name', async () => {
        await expect(store.setMeta('', 'x')).rejects.toThrow(/meta name must be a string of 1\.\.\d+ characters/);
      });
    });

    describe('stats', () => {
      test('counts entries and reports bytes in use', async () => {
        await expect(store.stats()).resolves.toMatchObject({ entries: 0 });
        for (let i = 0; i < 20; i++) await put(store, i % 3, text(`k${i}`), new Uint8Array(100).fill(i));
        const full = await store.stats();
        expect(full.entries).toBe(20);
        expect(full.bytesUsed).toBeGreaterThanOrEqual(20 * 100);
        await put(store, 0, text('k0'), null);
        await expect(store.stats()).resolves.toMatchObject({ entries: 19 });
      });
    });

    describe('the hints key space', () => {
      test('is apart from the data: the same partition and key hold different records in each', async () => {
        await put(store, 3, text('k'), text('data'));
        await store.hints.update(3, text('k'), () => ({ write: text('hint'), result: undefined }));
        await expect(store.get(3, text('k'))).resolves.toEqual(text('data'));
        await expect(store.hints.get(3, text('k'))).resolves.toEqual(text('hint'));
        await expect(store.hints.fold(3, { limit: 10 })).resolves.toEqual([{ key: text('k'), value: text('hint') }]);
        await expect(store.stats()).resolves.toMatchObject({ entries: 1 });
        await store.hints.update(3, text('k'), () => ({ write: null, result: undefined }));
        await expect(store.hints.get(3, text('k'))).resolves.toBeUndefined();
        await expect(store.get(3, text('k'))).resolves.toEqual(text('data'));
      });

      test('takes keys up to HINT_KEY_BYTES_MAX and rejects longer ones, changing nothing', async () => {
        const longest = new Uint8Array(HINT_KEY_BYTES_MAX).fill(7);
        await store.hints.update(0, longest, () => ({ write: text('v'), result: undefined }));
        await expect(store.hints.get(0, longest)).resolves.toEqual(text('v'));
        await expect(store.hints.update(0, new Uint8Array(HINT_KEY_BYTES_MAX + 1), () => ({ write: text('v'), result: undefined }))).rejects.toThrow(`key must be 1..${HINT_KEY_BYTES_MAX} bytes`);
        await expect(store.hints.fold(0, { limit: 10 })).resolves.toHaveLength(1);
      });

      withReopen('hints survive close and reopen', async () => {
        await store.hints.update(5, text('h'), () => ({ write: text('held'), result: undefined }));
        store = await hook('reopen')();
        await expect(store.hints.get(5, text('h'))).resolves.toEqual(text('held'));
      });
    });

    describe('lifecycle', () => {
      withReopen('data and meta survive close and reopen', async () => {
        await put(store, 2, text('a'), text('alpha'));
        await put(store, 2, text('b'), text('beta'));
        await put(store, 2, text('b'), null);
        await store.setMeta('node-id', 'node-a');
        store = await hook('reopen')();
        await expect(store.get(2, text('a'))).resolves.toEqual(text('alpha'));
        await expect(store.get(2, text('b'))).resolves.toBeUndefined();
        await expect(store.getMeta('node-id')).resolves.toBe('node-a');
        await expect(store.stats()).resolves.toMatchObject({ entries: 1 });
      });

      test('close waits for pending updates', async () => {
        const writes = Array.from({ length: 50 }, (_, i) => put(store, 1, text(`k${i}`), text(`v${i}`)));
        await store.close();
        await expect(Promise.all(writes)).resolves.toHaveLength(50);
      });

      withReopen('updates pending at close are on disk after reopen', async () => {
        const writes = Array.from({ length: 50 }, (_, i) => put(store, 1, text(`k${i}`), text(`v${i}`)));
        await store.close();
        await Promise.all(writes);
        store = await hook('reopen')();
        await expect(store.stats()).resolves.toMatchObject({ entries: 50 });
        await expect(store.get(1, text('k49'))).resolves.toEqual(text('v49'));
      });

      test('rejects every call after close; close again resolves', async () => {
        await store.close();
        const closed = /closed/;
        await expect(store.get(1, text('k'))).rejects.toThrow(closed);
        await expect(put(store, 1, text('k'), text('v'))).rejects.toThrow(closed);
        await expect(store.fold(1, { limit: 1 })).rejects.toThrow(closed);
        await expect(store.getMeta('x')).rejects.toThrow(closed);
        await expect(store.setMeta('x', 'y')).rejects.toThrow(closed);
        await expect(store.stats()).rejects.toThrow(closed);
        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}

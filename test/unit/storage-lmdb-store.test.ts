import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { LmdbStore, LmdbStoreOptions, storageErrorOf } from '../../app/storage/lmdb-store';
import { Durability, StorageFullError, StorageIoError } from '../../app/storage/local-store';
import { storeFailureCondition } from '../../app/errors';
import { flipEveryCopy, testOnTmpfs } from '../support/disk';

describe('LmdbStore.open', () => {
  let tmp: string;
  let dir: string;
  const opened: LmdbStore[] = [];
  const open = async (options: Partial<LmdbStoreOptions> = {}): Promise<LmdbStore> => {
    const store = await LmdbStore.open({ path: dir, ...options });
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lmdb-open-'));
    dir = tmp;
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('creates the data directory with one environment and the first write-ahead log segment in it; a clean close leaves no log', async () => {
    dir = path.join(dir, 'nested', 'node-a');
    const store = await open();
    expect((await fs.readdir(dir)).sort()).toEqual(['data.mdb', 'lock.mdb', 'wal-000000000001.log']);
    await store.update(1, Buffer.from('k'), () => ({ write: Buffer.from('v'), result: 0 }));
    await store.close();
    expect((await fs.readdir(dir)).sort()).toEqual(['data.mdb', 'lock.mdb']);
  });

  test('rejects a second store on the same path while the first is open', async () => {
    await open();
    await expect(open()).rejects.toThrow(/already open on .*; close it before opening another/);
  });

  test('opens the path again once the first store is closed', async () => {
    const first = await open();
    await first.close();
    const second = await open();
    expect(second.engine).toBe('lmdb');
  });

  test.each([
    [{ durability: 'eventual' as Durability }, `durability must be 'durable' or 'relaxed', got "eventual"`],
    [{ mapSizeBytes: 1000 }, /mapSizeBytes must be an integer in 1048576\.\.\d+, got 1000/],
    [{ mapSizeBytes: 2 ** 20 + 0.5 }, /mapSizeBytes must be an integer/],
    [{ maxRecordBytes: 0 }, /maxRecordBytes must be an integer in 1\.\./],
    [{ path: '' }, /path must be the node's data directory/],
  ])('rejects bad options %p', async (options, message) => {
    await expect(open(options)).rejects.toThrow(message);
  });

  test('a relaxed store keeps its writes across close and reopen', async () => {
    const relaxed = await open({ durability: 'relaxed' });
    await relaxed.update(4, Buffer.from('k'), () => ({ write: Buffer.from('v'), result: undefined }));
    await relaxed.close();
    const durable = await open();
    expect(await durable.get(4, Buffer.from('k'))).toEqual(Uint8Array.from(Buffer.from('v')));
  });

  test('stores values bigger than a page, in overflow pages', async () => {
    const store = await open();
    const value = Uint8Array.from({ length: 100_000 }, (_, i) => i % 251);
    await store.update(1, Buffer.from('big'), () => ({ write: value, result: undefined }));
    expect(await store.get(1, Buffer.from('big'))).toEqual(value);
    expect((await store.stats()).bytesUsed).toBeGreaterThanOrEqual(100_000);
  });
});

describe('LmdbStore disk reserve', () => {
  let dir: string;
  const stores: LmdbStore[] = [];
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lmdb-reserve-'));
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('rejects a reserve outside 0..1 TiB, naming the option and the value', async () => {
    await expect(LmdbStore.open({ path: dir, diskFreeBytesMin: -1 })).rejects.toThrow(/diskFreeBytesMin must be an integer in 0\.\.1099511627776, got -1/);
    await expect(LmdbStore.open({ path: dir, diskFreeBytesMin: 1.5 })).rejects.toThrow(/got 1\.5/);
  });

  test('refuses a write that would eat into the reserve with StorageFullError and stores nothing; an update of the same batch that writes nothing still succeeds', async () => {
    // A reserve larger than any disk here: every write is refused, removes are not.
    const store = await LmdbStore.open({ path: dir, diskFreeBytesMin: 1024 ** 4 });
    stores.push(store);
    const [put, none] = await Promise.all([
      store.update(1, Buffer.from('k'), () => ({ write: Buffer.from('v'), result: 0 })).then(() => undefined, (e: unknown) => e),
      store.update(1, Buffer.from('j'), () => ({ write: undefined, result: 'nothing to write' })),
    ]);
    expect(put).toBeInstanceOf(StorageFullError);
    expect((put as Error).message).toMatch(new RegExp(`^the disk holding ${dir} is full \\(\\d+ bytes free, 1099511627776 kept in reserve by diskFreeBytesMin\\); free space or grow the volume$`));
    expect(none).toBe('nothing to write');
    expect(await store.get(1, Buffer.from('k'))).toBeUndefined();
    expect((await store.stats()).entries).toBe(0);
  });

  test('writes normally with the reserve off (0)', async () => {
    const store = await LmdbStore.open({ path: dir, diskFreeBytesMin: 0 });
    stores.push(store);
    await store.update(1, Buffer.from('k'), () => ({ write: Buffer.from('v'), result: 0 }));
    expect(Buffer.from((await store.get(1, Buffer.from('k')))!).toString()).toBe('v');
  });

  testOnTmpfs('on a real small disk, fills it up to the reserve and never to ENOSPC; freeing space lets writes in again', 3, async (mountPoint) => {
    try {
      const store = await LmdbStore.open({ path: path.join(mountPoint, 'node'), diskFreeBytesMin: 512 * 1024 });
      stores.push(store);
      const value = Buffer.alloc(4000, 7);
      let failure: unknown;
      let written = 0;
      for (; written < 2000 && failure === undefined; written++) {
        failure = await store.update(1, Buffer.from(`k${written}`), () => ({ write: value, result: 0 })).then(() => undefined, (e: unknown) => e);
      }
      expect(failure).toBeInstanceOf(StorageFullError);
      expect((failure as StorageFullError).reserve?.reserveBytes).toBe(512 * 1024);
      const failed = written - 1;
      expect(failed).toBeGreaterThan(100);
      // The refused key is absent, every acknowledged one is intact.
      expect(await store.get(1, Buffer.from(`k${failed}`))).toBeUndefined();
      for (const i of [0, Math.floor(failed / 2), failed - 1]) expect(Buffer.from((await store.get(1, Buffer.from(`k${i}`)))!)).toEqual(value);
      // A large value and a batch are refused the same way.
      const refused = await Promise.all([store.update(1, Buffer.from('big'), () => ({ write: Buffer.alloc(200_000, 1), result: 0 })), ...Array.from({ length: 50 }, (_, i) => store.update(1, Buffer.from(`b${i}`), () => ({ write: value, result: 0 })))].map((p) => p.then(() => undefined, (e: unknown) => e)));
      for (const e of refused) expect(e).toBeInstanceOf(StorageFullError);
      // Removing keys frees space in the file; once the tmpfs has room again, writes are let in.
      await store.close();
      stores.pop();
      await fs.rm(path.join(mountPoint, 'node'), { recursive: true });
      const fresh = await LmdbStore.open({ path: path.join(mountPoint, 'node'), diskFreeBytesMin: 512 * 1024 });
      stores.push(fresh);
      await fresh.update(1, Buffer.from('after'), () => ({ write: value, result: 0 }));
      expect(Buffer.from((await fresh.get(1, Buffer.from('after')))!)).toEqual(value);
    } finally {
      await Promise.all(stores.splice(0).map((s) => s.close()));
    }
  });
});

describe('storageErrorOf', () => {
  const plenty = () => 10 * 1024 ** 3;
  const little = () => 1024 * 1024;
  const engineError = (code: unknown) => Object.assign(new Error('No space left on device: Attempting to write page ...'), { code });

  test.each([28, 122, 'ENOSPC'])('names errno %p a full disk, keeping the engine text out of the message', (code) => {
    const e = storageErrorOf(engineError(code), '/data/kv-1', plenty);
    expect(e).toBeInstanceOf(StorageFullError);
    expect((e as Error).message).toBe('the disk holding /data/kv-1 is full; free space or grow the volume');
    expect((e as StorageFullError).detail).toMatch(/Attempting to write page/);
  });

  test('names EIO a full disk when the disk has almost no space left, a failed disk otherwise', () => {
    expect(storageErrorOf(engineError(5), '/data/kv-1', little)).toBeInstanceOf(StorageFullError);
    const failed = storageErrorOf(engineError('EIO'), '/data/kv-1', plenty);
    expect(failed).toBeInstanceOf(StorageIoError);
    expect((failed as Error).message).toMatch(/^the disk holding \/data\/kv-1 failed a write with an I\/O error \(EIO\); nothing of it was stored/);
    expect(storeFailureCondition(failed)).toBe('StorageFailed');
  });

  test('passes any other error through unchanged', () => {
    const other = engineError(22);
    expect(storageErrorOf(other, '/data/kv-1', little)).toBe(other);
  });
});

describe('LmdbStore observer', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lmdb-observer-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('is told each commit with its number of updates and its duration', async () => {
    const commits: Array<[number, number]> = [];
    const store = await LmdbStore.open({ path: dir, observer: { commit: (updates, seconds) => commits.push([updates, seconds]) } });
    try {
      // Updates queued in one turn share one commit; the next turn's update gets its own.
      await Promise.all([1, 2, 3].map((i) => store.update(1, Buffer.from(`k${i}`), () => ({ write: Buffer.from('v'), result: i }))));
      await store.update(1, Buffer.from('k4'), () => ({ write: Buffer.from('v'), result: 4 }));
      expect(commits.map(([updates]) => updates)).toEqual([3, 1]);
      for (const [, seconds] of commits) expect(seconds).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  test('is told each read that finds a record failing its checksum', async () => {
    const marker = 'a-value-that-rots-on-disk';
    const first = await LmdbStore.open({ path: dir });
    await first.update(2, Buffer.from('rot'), () => ({ write: Buffer.from(marker), result: 0 }));
    await first.update(2, Buffer.from('fine'), () => ({ write: Buffer.from('ok'), result: 0 }));
    await first.close();
    // Every copy (copy-on-write leaves older pages behind): flip a byte in each.
    const hits = flipEveryCopy(path.join(dir, 'data.mdb'), Buffer.from(marker));
    expect(hits).toBeGreaterThan(0);

    let corrupt = 0;
    const store = await LmdbStore.open({ path: dir, observer: { corruptRecord: () => corrupt++ } });
    try {
      expect(Buffer.from((await store.get(2, Buffer.from('fine')))!).toString()).toBe('ok');
      expect(corrupt).toBe(0);
      await expect(store.get(2, Buffer.from('rot'))).rejects.toThrow(/corrupt record in partition 2/);
      expect(corrupt).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe('LmdbStore write-ahead log', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lmdb-log-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

  type Command =
    | { readonly kind: 'writes'; readonly writes: readonly { partition: number; key: number[]; value: number[] | null }[] }
    | { readonly kind: 'checkpoint'; readonly wait: boolean }
    | { readonly kind: 'reopen' }
    | { readonly kind: 'check'; readonly partition: number; readonly pageSize: number };

  const command: fc.Arbitrary<Command> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('writes' as const),
        writes: fc.array(
          fc.record({
            partition: fc.integer({ min: 0, max: 1 }),
            key: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 2 }),
            value: fc.option(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }), { nil: null, freq: 2 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('checkpoint' as const), wait: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('check' as const), partition: fc.integer({ min: 0, max: 1 }), pageSize: fc.integer({ min: 1, max: 4 }) }) },
  );

  test('for any writes, checkpoints (awaited or running alongside) and reopens, get and paged folds see exactly the last write of each key', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 25 }), fc.boolean(), async (commands, tiny) => {
        const runDir = path.join(dir, String(run++));
        // tiny: a checkpoint after every commit, as well as the ones the commands ask for.
        const options = { path: runDir, checkpointBytes: tiny ? 1 : 1024 ** 3, checkpointIntervalMs: 60_000 };
        let store = await LmdbStore.open(options);
        const model = new Map<number, Map<string, string>>();
        try {
          for (const c of commands) {
            if (c.kind === 'writes') {
              // Concurrent: they share commits, and later ones of a key decide on earlier ones.
              await Promise.all(
                c.writes.map((w) => {
                  const bytes = w.value === null ? null : Uint8Array.from(w.value);
                  const inPartition = model.get(w.partition) ?? new Map<string, string>();
                  model.set(w.partition, inPartition);
                  if (bytes === null) inPartition.delete(hex(Uint8Array.from(w.key)));
                  else inPartition.set(hex(Uint8Array.from(w.key)), hex(bytes));
                  return store.update(w.partition, Uint8Array.from(w.key), () => ({ write: bytes, result: 0 }));
                }),
              );
            } else if (c.kind === 'checkpoint') {
              if (c.wait) await store.checkpoint();
              else void store.checkpoint();
            } else if (c.kind === 'reopen') {
              await store.close();
              store = await LmdbStore.open(options);
            } else {
              const want = [...(model.get(c.partition) ?? new Map<string, string>())].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')));
              const seen: [string, string][] = [];
              let startAfter: Uint8Array | undefined;
              for (let page = 0; page < 100; page++) {
                const entries = await store.fold(c.partition, { limit: c.pageSize, startAfter });
                expect(entries.length).toBeLessThanOrEqual(c.pageSize);
                if (entries.length === 0) break;
                for (const e of entries) seen.push([hex(e.key), hex(e.value)]);
                startAfter = entries[entries.length - 1]!.key;
              }
              expect(seen).toEqual(want);
              for (const [key, value] of want) expect(hex((await store.get(c.partition, Buffer.from(key, 'hex')))!)).toBe(value);
            }
          }
        } finally {
          await store.close();
        }
        // After the close, no log is left, and LMDB alone holds the model.
        expect((await fs.readdir(runDir)).filter((f) => f.startsWith('wal-'))).toEqual([]);
        const reopened = await LmdbStore.open(options);
        try {
          for (const [partition, keys] of model) {
            const all = await reopened.fold(partition, { limit: 1000 });
            expect(all.map((e) => [hex(e.key), hex(e.value)])).toEqual([...keys].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'))));
          }
          expect(reopened.recovery.writes).toBe(0);
        } finally {
          await reopened.close();
        }
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  test('the writes not yet checkpointed stay within a few times checkpointBytes, plus what one commit adds', async () => {
    const checkpointBytes = 64 * 1024;
    let highest = 0;
    // Read at each commit, after its writes are logged and before the checkpoint it may start: the peak.
    const peak = { commit: () => (highest = Math.max(highest, store.logBacklog().bytes)) };
    const store: LmdbStore = await LmdbStore.open({ path: dir, checkpointBytes, checkpointIntervalMs: 60_000, observer: peak });
    try {
      const value = Buffer.alloc(1000, 3);
      const inFlight = 32;
      // 32 writers, each with one update in flight (a node bounds what is in flight upstream).
      await Promise.all(
        Array.from({ length: inFlight }, async (_, writer) => {
          for (let i = 0; i < 200; i++) await store.update(i % 64, Buffer.from(`key-${writer}-${i}`), () => ({ write: value, result: 0 }));
        }),
      );
      expect(highest).toBeGreaterThan(checkpointBytes);
      // A frame is the value and a 5-byte header, plus the key: under 1,020 bytes each.
      expect(highest).toBeLessThanOrEqual(4 * checkpointBytes + inFlight * 1020);
      expect((await store.stats()).entries).toBe(inFlight * 200);
      expect(store.logBacklog()).toEqual({ writes: 0, bytes: 0 });
    } finally {
      await store.close();
    }
  });

  test('rejects checkpoint options outside their bounds, naming the option and the value', async () => {
    await expect(LmdbStore.open({ path: dir, checkpointBytes: 0 })).rejects.toThrow('checkpointBytes must be an integer in 1..1073741824, got 0');
    await expect(LmdbStore.open({ path: dir, checkpointIntervalMs: 60_001 })).rejects.toThrow('checkpointIntervalMs must be an integer in 1..60000, got 60001');
    await expect(LmdbStore.open({ path: dir, checkpointIntervalMs: 1.5 })).rejects.toThrow('checkpointIntervalMs must be an integer in 1..60000, got 1.5');
  });

  test('a checkpoint commits off the event loop: the node goes on serving reads and writes while it runs, and sees both after it', async () => {
    let checkpoints = 0;
    const store = await LmdbStore.open({ path: dir, checkpointIntervalMs: 60_000, observer: { checkpoint: () => checkpoints++ } });
    try {
      const value = Buffer.alloc(1024, 7);
      const writes = Array.from({ length: 3000 }, (_, i) => store.update(i % 64, Buffer.from(`k${i}`), () => ({ write: value, result: 0 })));
      await Promise.all(writes);
      // Event-loop turns and a write that complete while the checkpoint of 3,000 writes (3 MiB,
      // one synced LMDB commit) runs: on the main thread there were none.
      let turns = 0;
      let done = false;
      const checkpointed = store.checkpoint().then(() => (done = true));
      const spin = async () => {
        while (!done) {
          await new Promise((r) => setImmediate(r));
          turns++;
        }
      };
      const during = store.update(1, Buffer.from('during'), () => ({ write: Buffer.from('w'), result: 0 })).then(() => done);
      await Promise.all([checkpointed, spin()]);
      expect(turns).toBeGreaterThan(0);
      expect(await during).toBe(false);
      expect(checkpoints).toBe(1);
      // The checkpointed writes are read from LMDB now, and the write made meanwhile from the log.
      expect(store.logBacklog().writes).toBe(1);
      expect(Buffer.from((await store.get(2999 % 64, Buffer.from('k2999')))!).equals(value)).toBe(true);
      expect(Buffer.from((await store.get(1, Buffer.from('during')))!).toString()).toBe('w');
    } finally {
      await store.close();
    }
  });

  test('a checkpoint starts on its own checkpointIntervalMs after a write, and drops the log segment it covered', async () => {
    let checkpoints = 0;
    const store = await LmdbStore.open({ path: dir, checkpointIntervalMs: 50, observer: { checkpoint: () => checkpoints++ } });
    try {
      await store.update(5, Buffer.from('k'), () => ({ write: Buffer.from('v'), result: 0 }));
      expect(store.logBacklog().writes).toBe(1);
      for (let i = 0; i < 100 && store.logBacklog().writes > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(store.logBacklog()).toEqual({ writes: 0, bytes: 0 });
      expect(checkpoints).toBe(1);
      expect((await fs.readdir(dir)).filter((f) => f.startsWith('wal-')).sort()).toEqual(['wal-000000000002.log', 'wal-spare.log']);
      expect(Buffer.from((await store.get(5, Buffer.from('k')))!).toString()).toBe('v');
    } finally {
      await store.close();
    }
  });
});

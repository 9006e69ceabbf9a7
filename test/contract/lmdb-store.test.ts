import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeLocalStoreContract } from './local-store.contract';
import { LmdbStore } from '../../app/storage/lmdb-store';
import { LocalStore, StoreOptions } from '../../app/storage/local-store';
import { encodeFrame } from '../../app/storage/record-frame';
import { flipEveryCopy } from '../support/disk';

/** Rots every stored copy of `frame` in the LMDB data file, under the open store. */
async function flipStoredFrame(dir: string, frame: Uint8Array): Promise<void> {
  const file = path.join(dir, 'data.mdb');
  if (flipEveryCopy(file, frame) === 0) throw new Error(`frame ${Buffer.from(frame).toString('hex')} not found in ${file}`);
}

async function lmdbFixture(options: StoreOptions & { durability?: 'durable' | 'relaxed'; checkpointBytes?: number; checkpointIntervalMs?: number }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lmdb-store-'));
  let store: LmdbStore = await LmdbStore.open({ path: dir, ...options });
  return {
    dir,
    get store(): LocalStore {
      return store;
    },
    reopen: async (): Promise<LocalStore> => {
      await store.close();
      store = await LmdbStore.open({ path: dir, ...options });
      return store;
    },
    corrupt: async (partition: number, key: Uint8Array): Promise<void> => {
      const value = await store.get(partition, key);
      if (value === undefined) throw new Error('corrupt: no such record');
      // The record must be in LMDB's file, not only in the write-ahead log.
      await store.checkpoint();
      await flipStoredFrame(dir, encodeFrame(value));
    },
    cleanup: async (): Promise<void> => {
      await store.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

describeLocalStoreContract('LmdbStore (durable)', (options) => lmdbFixture(options), { reopen: true, corrupt: true });
// Every commit checkpointed at once: reads and folds mix LMDB's records with logged ones.
describeLocalStoreContract('LmdbStore (durable, checkpoint after each commit)', (options) => lmdbFixture({ ...options, checkpointBytes: 1 }), { reopen: true, corrupt: true });
// No checkpoint while a test runs: every write is served from the log's memory until close.
describeLocalStoreContract('LmdbStore (durable, no checkpoint)', (options) => lmdbFixture({ ...options, checkpointBytes: 1024 ** 3, checkpointIntervalMs: 60_000 }), { reopen: true, corrupt: true });
describeLocalStoreContract('LmdbStore (relaxed)', (options) => lmdbFixture({ ...options, durability: 'relaxed' }), { reopen: true, corrupt: true });

describe('LmdbStore: decided before durable', () => {
  test('a decision is heard at once; reads see it only after its commit, which waits for the replication messages of its turn', async () => {
    const fixture = await lmdbFixture({});
    try {
      const { store } = fixture;
      const key = Buffer.from('k');
      await store.update(1, key, () => ({ write: Buffer.from('old'), result: 0 }));
      const order: string[] = [];
      const done = store.update(1, key, () => ({ write: Buffer.from('new'), result: 1 }), {
        onDecided: () => {
          order.push('decided');
          // What a coordinator does from here: queue a message for the next turn (the peer Batcher does).
          setImmediate(() => order.push('message sent'));
        },
      });
      order.push('update returned');
      // Not committed yet: a read sees the old bytes, a later update of the key sees the new.
      await expect(store.get(1, key)).resolves.toEqual(Buffer.from('old'));
      const seen: string[] = [];
      const next = store.update(1, key, (current) => {
        seen.push(Buffer.from(current!).toString());
        return { result: 2 };
      });
      await done.then(() => order.push('durable'));
      await next;
      expect(seen).toEqual(['new']);
      expect(order).toEqual(['decided', 'update returned', 'message sent', 'durable']);
      await expect(store.get(1, key)).resolves.toEqual(Buffer.from('new'));
    } finally {
      await fixture.cleanup();
    }
  });
});

describe('LmdbStore: snapshot', () => {
  test('copies one committed state, data, hints and meta, while writes go on; the copy opens as a store', async () => {
    const fixture = await lmdbFixture({});
    const copyDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lmdb-copy-'));
    try {
      const { store } = fixture;
      for (let i = 0; i < 500; i++) await store.update(i % 8, Buffer.from(`k${i}`), () => ({ write: Buffer.alloc(200, i % 256), result: 0 }));
      await store.hints.update(3, Buffer.from('h'), () => ({ write: Buffer.from('hint'), result: 0 }));
      await store.setMeta('epoch', '7');
      // Writes keep landing while the copy is taken; the copy holds each key whole or not at all.
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing; i++) await store.update(0, Buffer.from(`later${i}`), () => ({ write: Buffer.from('x'), result: 0 }));
      })();
      const copy = await store.snapshot!(copyDir);
      writing = false;
      await writer;
      expect(copy.path).toBe(path.join(copyDir, 'data.mdb'));
      expect(copy.bytes).toBe((await fs.stat(copy.path)).size);
      const copied = await LmdbStore.open({ path: copyDir });
      try {
        let keys = 0;
        for (let p = 0; p < 8; p++) keys += (await copied.fold(p, { limit: 1000 })).filter((e) => !Buffer.from(e.key).toString().startsWith('later')).length;
        expect(keys).toBe(500);
        await expect(copied.get(5, Buffer.from('k5'))).resolves.toEqual(Buffer.alloc(200, 5));
        await expect(copied.hints.get(3, Buffer.from('h'))).resolves.toEqual(Buffer.from('hint'));
        await expect(copied.getMeta('epoch')).resolves.toBe('7');
      } finally {
        await copied.close();
      }
      // The store itself serves on.
      await store.update(1, Buffer.from('after'), () => ({ write: Buffer.from('y'), result: 0 }));
      await expect(store.get(1, Buffer.from('after'))).resolves.toEqual(Buffer.from('y'));
    } finally {
      await fixture.cleanup();
      await fs.rm(copyDir, { recursive: true, force: true });
    }
  });

  test('rejects a directory that holds a copy already, and its own directory, leaving both alone', async () => {
    const fixture = await lmdbFixture({});
    const copyDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lmdb-copy-'));
    try {
      await fixture.store.update(0, Buffer.from('k'), () => ({ write: Buffer.from('v'), result: 0 }));
      await fs.writeFile(path.join(copyDir, 'data.mdb'), 'mine');
      await expect(fixture.store.snapshot!(copyDir)).rejects.toThrow(/exists already/);
      await expect(fs.readFile(path.join(copyDir, 'data.mdb'), 'utf8')).resolves.toBe('mine');
      await expect(fixture.store.snapshot!(fixture.dir)).rejects.toThrow(/store's own directory/);
      await expect(fixture.store.get(0, Buffer.from('k'))).resolves.toEqual(Buffer.from('v'));
    } finally {
      await fixture.cleanup();
      await fs.rm(copyDir, { recursive: true, force: true });
    }
  });

  test('fails with StorageFullError, writing nothing, when the copy would eat into the reserve', async () => {
    // A reserve larger than any disk here: the copy must not start.
    const fixture = await lmdbFixture({ diskFreeBytesMin: 1024 ** 4 - 1 } as StoreOptions);
    const copyDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lmdb-copy-'));
    try {
      await expect(fixture.store.snapshot!(copyDir)).rejects.toThrow(/is full .*kept in reserve/);
      await expect(fs.readdir(copyDir)).resolves.toEqual([]);
    } finally {
      await fixture.cleanup();
      await fs.rm(copyDir, { recursive: true, force: true });
    }
  });
});

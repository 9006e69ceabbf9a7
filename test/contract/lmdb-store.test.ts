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

async function lmdbFixture(options: StoreOptions & { durability?: 'durable' | 'relaxed' }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lmdb-store-'));
  let store: LocalStore = await LmdbStore.open({ path: dir, ...options });
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
      await flipStoredFrame(dir, encodeFrame(value));
    },
    cleanup: async (): Promise<void> => {
      await store.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

describeLocalStoreContract('LmdbStore (durable)', (options) => lmdbFixture(options), { reopen: true, corrupt: true });
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

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

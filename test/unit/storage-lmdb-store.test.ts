import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { LmdbStore, LmdbStoreOptions } from '../../app/storage/lmdb-store';
import { Durability } from '../../app/storage/local-store';

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

  test('creates the data directory and one environment in it', async () => {
    dir = path.join(dir, 'nested', 'node-a');
    await open();
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

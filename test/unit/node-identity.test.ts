/**
 * The actor epoch rule (app/node/identity.ts) on real LMDB stores: a start keeps the actor only
 * after a clean stop whose marker names it and whose fingerprint still matches the data file;
 * every other start takes a new epoch, and the marker never outlives the start that read it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger } from '../../observability/log';
import { CLEAN_SHUTDOWN_MARKER, establishIdentity, META_EPOCHS, writeCleanShutdownMarker } from '../../app/node/identity';
import { LmdbStore, lmdbDataFiles } from '../../app/storage/lmdb-store';

let tmp: string;
let dir: string;
let lines: string[];
const log: Logger = { debug: () => {}, info: (msg) => lines.push(msg), warn: (msg) => lines.push(msg), error: (msg) => lines.push(msg) };

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-'));
  dir = path.join(tmp, 'kv-1');
  lines = [];
});

afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const marker = () => path.join(dir, CLEAN_SHUTDOWN_MARKER);

/** What KvNode does: open the store, establish the actor, (serve,) close; a clean stop then writes the marker. */
async function run(options: { clean: boolean; write?: boolean; nodeId?: string; partitions?: number; at?: string }): Promise<{ actor: string; epochs: string | undefined }> {
  const at = options.at ?? dir;
  const store = await LmdbStore.open({ path: at });
  try {
    const actor = await establishIdentity(store, { nodeId: options.nodeId ?? 'kv-1', partitions: options.partitions ?? 64, dataDir: at, dataFiles: lmdbDataFiles(at), log });
    if (options.write) await store.update(3, Buffer.from('k'), () => ({ write: Buffer.from(`written by ${actor}`), result: undefined }));
    const epochs = await store.getMeta(META_EPOCHS);
    await store.close();
    if (options.clean) writeCleanShutdownMarker(at, lmdbDataFiles(at), actor);
    return { actor, epochs };
  } finally {
    await store.close();
  }
}

test('a new directory gets an actor of the node id and a random epoch, and counts one epoch', async () => {
  const { actor, epochs } = await run({ clean: true });
  expect(actor).toMatch(/^kv-1\.[0-9a-f]{16}$/);
  expect(epochs).toBe('1');
  expect(lines).toEqual(['new actor epoch: new data directory']);
});

test('a clean stop whose marker names the actor and matches the data file keeps the actor', async () => {
  const first = await run({ clean: true, write: true });
  lines = [];
  const second = await run({ clean: true });
  expect(second).toEqual(first);
  expect(lines).toEqual([]);
  const third = await run({ clean: false });
  expect(third.actor).toBe(first.actor);
});

test('the marker is consumed at start: a crash after it (no new marker) gives a new epoch', async () => {
  const first = await run({ clean: true });
  fs.writeFileSync(`${marker()}.tmp`, '{"half": ');
  const second = await run({ clean: false });
  expect(second.actor).toBe(first.actor);
  expect(fs.existsSync(marker())).toBe(false);
  expect(fs.existsSync(`${marker()}.tmp`)).toBe(false);

  lines = [];
  const third = await run({ clean: false });
  expect(third.actor).not.toBe(first.actor);
  expect(third.epochs).toBe('2');
  expect(lines).toEqual([expect.stringMatching(/^new actor epoch: no clean-shutdown marker/)]);
});

test('fails to keep the actor without a marker (a crash or a kill)', async () => {
  const first = await run({ clean: false, write: true });
  lines = [];
  const second = await run({ clean: false });
  expect(second.actor).not.toBe(first.actor);
  expect(second.actor).toMatch(/^kv-1\.[0-9a-f]{16}$/);
  expect(second.epochs).toBe('2');
  expect(lines).toEqual([expect.stringMatching(/^new actor epoch: no clean-shutdown marker/)]);
});

test('fails to keep the actor when the data file changed after the clean stop', async () => {
  const first = await run({ clean: true });
  // Written by something else after the marker (the marker is not rewritten).
  const store = await LmdbStore.open({ path: dir });
  await store.update(1, Buffer.from('late'), () => ({ write: Buffer.from('late'), result: undefined }));
  await store.close();
  lines = [];
  const second = await run({ clean: false });
  expect(second.actor).not.toBe(first.actor);
  expect(lines).toEqual([expect.stringMatching(/^new actor epoch: data\.mdb is not the file the clean stop left \(.*mtimeNs.*\)/)]);
});

test('fails to keep the actor in a directory put back from a copy taken after a clean stop, timestamps preserved', async () => {
  const first = await run({ clean: true, write: true });
  const copy = path.join(tmp, 'copy');
  // cp -a keeps mtime to the nanosecond (fs.cpSync's preserveTimestamps keeps milliseconds).
  execFileSync('cp', ['-a', dir, copy]);
  // The node runs on, writes with its actor and stops cleanly; then the copy is put back.
  const ran = await run({ clean: true, write: true });
  expect(ran.actor).toBe(first.actor);
  fs.rmSync(dir, { recursive: true });
  execFileSync('cp', ['-a', copy, dir]);
  lines = [];
  const restored = await run({ clean: true });
  expect(restored.actor).not.toBe(first.actor);
  // The copy is byte for byte and timestamp for timestamp the clean stop's; its ctime gives it away.
  expect(lines).toEqual([expect.stringMatching(/^new actor epoch: data\.mdb is not the file the clean stop left \((ino, )?ctimeNs changed\)/)]);
});

test('fails to keep the actor when the marker names another actor', async () => {
  const first = await run({ clean: false });
  writeCleanShutdownMarker(dir, lmdbDataFiles(dir), 'kv-1.0123456789abcdef');
  lines = [];
  const second = await run({ clean: false });
  expect(second.actor).not.toBe(first.actor);
  expect(lines).toEqual([`new actor epoch: the clean-shutdown marker names actor kv-1.0123456789abcdef, the store holds ${first.actor}`]);
});

test.each([
  ['not JSON', () => '{"version": 1, "actor": '],
  ['not an object', () => '42'],
  ['another version', (actor: string) => JSON.stringify({ version: 2, actor, files: {} })],
  ['a fingerprint field that is not a decimal string', (actor: string) => JSON.stringify({ version: 1, actor, files: { 'data.mdb': { ino: 1, size: '1', mtimeNs: '1', ctimeNs: '1' } } })],
  ['no files', (actor: string) => JSON.stringify({ version: 1, actor, files: {} })],
])('fails to keep the actor with a garbled marker: %s', async (_what, text) => {
  const first = await run({ clean: false });
  fs.writeFileSync(marker(), text(first.actor));
  lines = [];
  const second = await run({ clean: false });
  expect(second.actor).not.toBe(first.actor);
  expect(lines).toEqual([expect.stringMatching(/^new actor epoch: the clean-shutdown marker (is not JSON|is malformed|does not describe the same files)/)]);
  expect(fs.existsSync(marker())).toBe(false);
});

test('a directory from before epochs were counted counts its actor as the first', async () => {
  const store = await LmdbStore.open({ path: dir });
  await store.setMeta('node-id', 'kv-1');
  await store.setMeta('partitions', '64');
  await store.setMeta('actor', 'kv-1.1f2e9a0c');
  await store.close();
  const { actor, epochs } = await run({ clean: false });
  expect(actor).not.toBe('kv-1.1f2e9a0c');
  expect(epochs).toBe('2');
});

test('rejects a data directory of another node, and leaves its actor alone', async () => {
  const first = await run({ clean: true });
  await expect(run({ clean: false, nodeId: 'kv-2' })).rejects.toThrow(`data directory ${dir} belongs to node kv-1, not kv-2: point --data-dir at this node's own directory`);
  expect(fs.existsSync(marker())).toBe(true);
  expect((await run({ clean: false })).actor).toBe(first.actor);
});

test('rejects a data directory made with another partition count', async () => {
  await run({ clean: true });
  await expect(run({ clean: false, partitions: 128 })).rejects.toThrow(`data directory ${dir} was created with 64 partitions, not 128: the partition count is fixed when the cluster is created`);
});

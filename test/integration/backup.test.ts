/**
 * Backups to a real S3-compatible server (s3rver, its own process) and restores into real
 * clusters: a loaded 3-node cluster backed up under write load and restored into a 4-node
 * cluster with another ring, every key's values, siblings, tombstones and clock compared; an
 * upload killed halfway resumes with the parts left; a damaged object is caught by verify and by
 * restore, which then writes nothing; bucket and credential errors are one clear line; the node
 * side's bounds (one snapshot at a time, restore request limits) hold.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackupChannel, BackupRpcError } from '../../app/rpc/backup-channel';
import { decodeContextString, KvClient } from '../../app/client/client';
import { readContextKeys } from '../../app/node/context-keys';
import { ContextSeal } from '../../app/versioning/context-seal';
import { encodeObject } from '../../app/versioning/codec';
import { waitFor } from '../support/wait-for';
import { startS3Server, S3Server } from '../support/s3-server';
import { CliResult, Fixture, KV_SCRIPT, startCluster } from './cluster-fixture';

const SOURCE_BASE_PORT = 18801; // 18801-18803: the cluster backed up (3 nodes, 64 partitions)
const TARGET_BASE_PORT = 18811; // 18811-18814: the cluster restored into (4 nodes, 128 partitions)
const EMPTY_BASE_PORT = 18821; // 18821: a one-node cluster a damaged backup must leave empty; 18823-18825: a 3-node one restored into with a node down
const BUCKET = 'kv-backups-test';

/** Keys loaded before the backup: enough bytes per node (3 nodes, N=3) for several 5 MiB parts. */
const KEYS = 2400;
const VALUE_BYTES = 8 * 1024;
const SIBLING_KEYS = 100;
const DELETED_KEYS = 100;

let s3: S3Server;
let source: Fixture;
let target: Fixture;
let spool: string;

beforeAll(async () => {
  spool = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-backup-spool-'));
  [s3, source, target] = await Promise.all([startS3Server(BUCKET), startCluster({ basePort: SOURCE_BASE_PORT, nodes: 3, partitions: 64 }), startCluster({ basePort: TARGET_BASE_PORT, nodes: 4, partitions: 128 })]);
  const c = source.client({ batch: true });
  const value = (i: number) => Buffer.concat([Buffer.from(`value-${i}-`), Buffer.alloc(VALUE_BYTES, i % 251)]);
  for (let i = 0; i < KEYS; i += 200) await Promise.all(Array.from({ length: Math.min(200, KEYS - i) }, (_, j) => c.put(`k${i + j}`, value(i + j))));
  // Siblings: a second write with no context beside the first.
  for (let i = 0; i < SIBLING_KEYS; i++) await c.put(`k${i}`, `concurrent-${i}`);
  // Tombstones: deletes of what a read returned.
  for (let i = KEYS - DELETED_KEYS; i < KEYS; i++) {
    const got = await c.get(`k${i}`);
    await c.delete(`k${i}`, { context: got.context });
  }
}, 180_000);

afterAll(async () => {
  await Promise.all([source?.teardown(), target?.teardown(), s3?.stop()]);
  fs.rmSync(spool, { recursive: true, force: true });
}, 60_000);

interface Run extends CliResult {
  /** Set when the run was killed on seeing a line. */
  readonly killed: boolean;
}

/** Runs kv with the S3 server's environment; with `killOn`, SIGKILLs it once its output matches. */
function kvRun(args: string[], options: { env?: Record<string, string>; killOn?: RegExp; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KV_SCRIPT, ...args], { env: { ...process.env, ...s3.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const watch = () => {
      if (options.killOn && !killed && options.killOn.test(stdout + stderr)) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), watch()));
    child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), watch()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 137, stdout, stderr, killed });
    });
  });
}

const backupArgs = (...more: string[]) => ['backup', '--endpoint', source.cluster.nodes[0]!.endpoint, '--spool-dir', spool, ...more];

/**
 * Every key's live values (sorted), whether it is a tombstone, and its clock: the version vector
 * of its context, opened with the cluster's context keys (each cluster signs with its own key, so
 * the clocks are compared, not the signed bytes).
 */
async function readAll(f: Fixture, c: KvClient, keys: readonly string[], r: number): Promise<Map<string, { values: string[]; deleted: boolean; clock: Array<[string, number]> }>> {
  const seal = new ContextSeal(readContextKeys(f.cluster.contextKeysFile, 'the cluster\'s context keys'));
  const out = new Map<string, { values: string[]; deleted: boolean; clock: Array<[string, number]> }>();
  for (let i = 0; i < keys.length; i += 200) {
    const batch = keys.slice(i, i + 200);
    const got = await Promise.all(batch.map((k) => c.get(k, { r })));
    batch.forEach((k, j) => {
      const opened = seal.open(Buffer.from(k), decodeContextString(got[j]!.context));
      if (!opened.ok) throw opened.error;
      out.set(k, { values: got[j]!.values.map((v) => v.toString('hex')).sort(), deleted: got[j]!.deleted || !got[j]!.found, clock: [...opened.value] });
    });
  }
  return out;
}

const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);

test('backs up a loaded cluster under write load, and restores it into a 4-node cluster with another ring: every value, sibling, tombstone and clock', async () => {
  const before = await readAll(source, source.client({ batch: true }), keys, 3);
  expect([...before.values()].filter((v) => v.values.length === 2)).toHaveLength(SIBLING_KEYS);
  expect([...before.values()].filter((v) => v.deleted)).toHaveLength(DELETED_KEYS);

  // Writes go on through the backup; those acknowledged before it started must be in it.
  const writer = source.client({ batch: true });
  const acked = new Map<string, number>();
  let writing = true;
  let n = 0;
  const load = (async () => {
    while (writing) {
      const key = `live-${n++}`;
      await writer.put(key, `v-${key}`).then(() => acked.set(key, Date.now()));
    }
  })();
  await waitFor(() => acked.size >= 50, { timeoutMs: 10_000, what: 'the writer under way' });
  const startedAt = Date.now();
  const backup = await kvRun(backupArgs());
  writing = false;
  await load;
  expect(backup.stderr).not.toMatch(/Error:|at .*\.js:\d+/);
  expect(backup).toMatchObject({ code: 0 });
  const id = /backup (\d{8}T\d{6}Z) complete: 3 nodes/.exec(backup.stdout)?.[1];
  expect(id).toBeDefined();

  const verify = await kvRun(['backup', 'verify', id!]);
  expect({ stdout: verify.stdout, stderr: verify.stderr.split('\n').filter((l) => !l.startsWith('checking')) }).toEqual({ stdout: expect.stringContaining(`backup ${id}: OK: 3 nodes`), stderr: [''] });
  expect(verify.code).toBe(0);

  const restore = await kvRun(['restore', id!, '--endpoint', target.cluster.nodes[0]!.endpoint, '--spool-dir', spool], { timeoutMs: 170_000 });
  expect(restore.stdout).toMatch(new RegExp(`restored backup ${id}: \\d+ objects and \\d+ hints from 3 node copies merged into a cluster of 4 members`));
  expect(restore.code).toBe(0);

  const after = await readAll(target, target.client({ batch: true }), keys, 2);
  const differing = keys.filter((k) => JSON.stringify(after.get(k)) !== JSON.stringify(before.get(k)));
  expect(differing.slice(0, 5).map((k) => ({ key: k, before: before.get(k), after: after.get(k) }))).toEqual([]);

  // Every write acknowledged before the backup started is there; later ones are there or not, never changed.
  const live = [...acked.keys()];
  const restored = await readAll(target, target.client({ batch: true }), live, 2);
  const lost = live.filter((k) => acked.get(k)! < startedAt && JSON.stringify(restored.get(k)!.values) !== JSON.stringify([Buffer.from(`v-${k}`).toString('hex')]));
  expect(lost).toEqual([]);
  const wrong = live.filter((k) => !restored.get(k)!.deleted && JSON.stringify(restored.get(k)!.values) !== JSON.stringify([Buffer.from(`v-${k}`).toString('hex')]));
  expect(wrong).toEqual([]);

  // Restoring again changes nothing: merges are idempotent.
  const again = await kvRun(['restore', id!, '--endpoint', target.cluster.nodes[1]!.endpoint, '--spool-dir', spool], { timeoutMs: 170_000 });
  expect(again.code).toBe(0);
  const twice = await readAll(target, target.client({ batch: true }), keys.slice(0, 300), 2);
  expect(keys.slice(0, 300).filter((k) => JSON.stringify(twice.get(k)) !== JSON.stringify(before.get(k)))).toEqual([]);
}, 420_000);

test('an upload killed halfway is listed as incomplete, and --resume finishes it with the parts left', async () => {
  const killed = await kvRun(backupArgs('--part-size-mib', '5', '--upload-concurrency', '1'), { killOn: /uploading kv-1: (25|50)%/ });
  expect(killed.killed).toBe(true);
  const id = /backup (\d{8}T\d{6}Z) of cluster kv/.exec(killed.stdout)?.[1];
  expect(id).toBeDefined();

  const list = await kvRun(['backup', 'list']);
  expect(list.stdout).toMatch(new RegExp(`${id}\\s+INCOMPLETE`));
  const refused = await kvRun(['restore', id!, '--endpoint', target.cluster.nodes[0]!.endpoint, '--spool-dir', spool]);
  expect(refused.stderr).toContain(`backup ${id} is incomplete`);
  expect(refused.code).toBe(1);

  const resumed = await kvRun(backupArgs('--resume', id!, '--part-size-mib', '5'));
  expect({ code: resumed.code, stderr: resumed.stderr.split('\n').filter((l) => !/^(copying|uploading|checking)/.test(l)) }).toEqual({ code: 0, stderr: [''] });
  const m = /kv-1: resuming upload: (\d+) of (\d+) parts were uploaded by an earlier run/.exec(resumed.stdout);
  expect(m).not.toBeNull();
  const [done, total] = [Number(m![1]), Number(m![2])];
  expect(done).toBeGreaterThanOrEqual(1);
  expect(done).toBeLessThan(total);
  expect(resumed.stdout).toContain(`backup ${id} complete: 3 nodes`);
  expect(resumed.stdout).toMatch(new RegExp(`${done} parts were uploaded by an earlier run, \\d+ by this one`));

  const verify = await kvRun(['backup', 'verify', id!]);
  expect(verify.stdout).toContain(`backup ${id}: OK`);
  expect(verify.code).toBe(0);
}, 300_000);

test('a damaged object is caught by verify, naming the node and part, and by restore, which writes nothing', async () => {
  const latest = JSON.parse((await kvRun(['backup', 'list', '--json'])).stdout) as Array<{ id: string; complete: boolean }>;
  const id = latest.filter((b) => b.complete).at(-1)!.id;
  // Rot one byte of kv-2's file where S3 keeps it.
  const file = s3.objectFile(`kv-backups/kv/${id}/kv-2/data.mdb`);
  const offset = 6 * 1024 * 1024 + 17;
  const fd = fs.openSync(file, 'r+');
  const byte = Buffer.alloc(1);
  fs.readSync(fd, byte, 0, 1, offset);
  byte[0] = byte[0]! ^ 0xff;
  fs.writeSync(fd, byte, 0, 1, offset);
  fs.closeSync(fd);
  const { partBytes } = (JSON.parse(fs.readFileSync(s3.objectFile(`kv-backups/kv/${id}/kv-2/manifest.json`), 'utf8')) as { file: { partBytes: number } }).file;
  const part = Math.floor(offset / partBytes) + 1;

  const verify = await kvRun(['backup', 'verify', id]);
  expect(verify.code).toBe(1);
  expect(verify.stdout).toMatch(new RegExp(`backup ${id}: DAMAGED: 2 problems:\\n  s3://${BUCKET}/kv-backups/kv/${id}/kv-2/data.mdb: part ${part} \\(bytes`));

  const empty = await startCluster({ basePort: EMPTY_BASE_PORT, nodes: 1, n: 1, r: 1, w: 1 });
  try {
    const restore = await kvRun(['restore', id, '--endpoint', empty.cluster.nodes[0]!.endpoint, '--spool-dir', spool]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain(`backup ${id} is damaged; nothing was restored`);
    expect(restore.stderr).toContain(`/kv-2/data.mdb: part ${part} `);
    const got = await readAll(empty, empty.client(), keys.slice(0, 50), 1);
    expect([...got.values()].filter((v) => !v.deleted)).toEqual([]);
  } finally {
    await empty.teardown();
  }
}, 180_000);

test('a backup with a member down fails naming it, and says how to resume; a restore with a target node down still merges every object into W primaries', async () => {
  await source.withDown(['kv-3'], async () => {
    const r = await kvRun(backupArgs());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/copying the snapshot of kv-3 \(127\.0\.0\.1:18803\) failed: .*a cluster backup needs every member/);
    expect(r.stderr).toMatch(/backup \d{8}T\d{6}Z is incomplete: kv backup --resume \d{8}T\d{6}Z finishes it/);
  });
  // With every member back, a backup completes.
  const again = await kvRun(backupArgs());
  expect(again.code).toBe(0);
  const id = /backup (\d{8}T\d{6}Z) complete/.exec(again.stdout)![1]!;
  const empty = await startCluster({ basePort: EMPTY_BASE_PORT + 2, nodes: 3, partitions: 32 });
  try {
    await empty.withDown(['kv-2'], async () => {
      const restore = await kvRun(['restore', id, '--endpoint', empty.cluster.nodes[0]!.endpoint, '--spool-dir', spool], { timeoutMs: 170_000 });
      expect(restore.stderr.split('\n').filter((l) => !/^(downloading|restoring)/.test(l))).toEqual(['']);
      expect(restore.code).toBe(0);
    });
    const got = await readAll(empty, empty.client({ batch: true }), keys.slice(0, 200), 2);
    expect(keys.slice(0, 200).filter((k) => got.get(k)!.deleted)).toEqual([]);
  } finally {
    await empty.teardown();
  }
}, 300_000);

test('bucket, credential and endpoint errors are one line each, and exit 1', async () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['backup', 'list', '--bucket', 'no-such-bucket'], {}, /^kv backup list: bucket s3:\/\/no-such-bucket at http:\/\/127\.0\.0\.1:\d+: the bucket does not exist \(or is in another region\): check --bucket and --region\n$/],
    [['backup', 'list'], { AWS_ACCESS_KEY_ID: 'nobody' }, /^kv backup list: bucket s3:\/\/kv-backups-test at .*: access denied .*: check the credentials/],
    [['backup', 'verify', 'latest'], { KV_S3_ENDPOINT: 'http://127.0.0.1:1' }, /^kv backup verify: bucket s3:\/\/kv-backups-test: cannot reach S3 at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/],
    [['restore', '20200101T000000Z', '--endpoint', '127.0.0.1:1'], {}, /^kv restore: there is no backup 20200101T000000Z under s3:\/\/kv-backups-test\/kv-backups\/kv\//],
  ];
  for (const [args, env, expected] of cases) {
    const r = await kvRun(args, { env });
    expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 1, stderr: expect.stringMatching(expected) });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
  const noBucket = await kvRun(['backup', 'list'], { env: { KV_BACKUP_BUCKET: '' } });
  expect(noBucket.stderr).toContain('--bucket: not given, and KV_BACKUP_BUCKET is not set');
  expect(noBucket.code).toBe(2);
}, 120_000);

test('a node takes one snapshot at a time, and refuses restore requests beyond its bounds, writing nothing', async () => {
  const node = new BackupChannel(source.cluster.nodes[2]!.endpoint);
  try {
    const first = node.snapshot();
    const header = await first.next();
    expect(header.value?.header?.nodeId).toBe('kv-3');
    const second = node.snapshot();
    await expect(second.next()).rejects.toMatchObject({ codeName: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('a snapshot of kv-3 is being taken already') });
    await first.return(undefined);
    // Once the first stream is gone, the next snapshot is taken.
    await waitFor(async () => {
      const third = node.snapshot();
      try {
        return (await third.next()).value?.header?.nodeId === 'kv-3';
      } catch (e) {
        if (e instanceof BackupRpcError && e.codeName === 'RESOURCE_EXHAUSTED') return false;
        throw e;
      } finally {
        await third.return(undefined);
      }
    }, { timeoutMs: 10_000, what: 'a new snapshot after the first was cancelled' });

    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ key: Buffer.from(`x${i}`), object: Buffer.from([1]) }));
    await expect(node.restore(tooMany, 0, 10_000)).rejects.toMatchObject({ codeName: 'INVALID_ARGUMENT', message: expect.stringContaining('objects: 1001 objects in one request; at most 1000 (RESTORE_OBJECTS_MAX)') });
    await expect(node.restore([], 4, 10_000)).rejects.toMatchObject({ codeName: 'INVALID_ARGUMENT', message: expect.stringContaining('w: 4 must be 0') });
    const good = encodeObject({ siblings: [], vv: new Map() });
    const answer = await node.restore([{ key: Buffer.from('restore-garbage'), object: Buffer.from('not an object') }, { key: Buffer.alloc(0), object: good }], 0, 10_000);
    expect(answer.merged).toBe(0);
    expect(answer.failed.map((f) => f.reason)).toEqual([expect.stringMatching(/^object: does not decode .*nothing was written$/), expect.stringMatching(/^key: 0 bytes; must be 1 to \d+ bytes$/)]);
    const got = await source.client().get('restore-garbage');
    expect(got.found).toBe(false);
  } finally {
    node.close();
  }
}, 60_000);

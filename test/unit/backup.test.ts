/** The pure parts of backups: ids, layout, manifests read back, retention, part sizes, progress, restore's quorum. */
import { pacer, partBytesFor, PART_BYTES_DEFAULT, PARTS_MAX } from '../../app/backup/backup';
import { backupIdAt, backupIdTimeMs, CLUSTER_MANIFEST_FORMAT, Layout, NODE_MANIFEST_FORMAT, parseClusterManifest, parseNodeManifest } from '../../app/backup/manifest';
import { ProgressTask } from '../../app/backup/progress';
import { BackupEntry, backupsToPrune } from '../../app/backup/retention';
import { err, KvError, ok } from '../../app/errors';
import { restoreObjects, RESTORE_OBJECTS_MAX } from '../../app/replication/restore';
import { ReplicaTransport } from '../../app/replication/transport';
import { encodeObject } from '../../app/versioning/codec';

const SHA = 'a'.repeat(64);

function nodeManifest(overrides: Record<string, unknown> = {}, file: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      format: NODE_MANIFEST_FORMAT,
      cluster: 'kv',
      backupId: '20261130T142501Z',
      node: 'kv-1',
      actor: 'kv-1.abc',
      partitions: 64,
      n: 3,
      stateVersion: 1,
      primaryPartitions: [0, 1],
      snapshotFormat: 'lmdb-env-copy/1',
      takenAtMs: 1,
      file: { key: 'p/kv/20261130T142501Z/kv-1/data.mdb', bytes: 15, sha256: SHA, partBytes: 10, parts: [{ number: 1, bytes: 10, sha256: SHA }, { number: 2, bytes: 5, sha256: SHA }], ...file },
      contents: { keys: 3, hints: 0, corrupt: 0 },
      ...overrides,
    }),
  );
}

describe('backup ids and layout', () => {
  test('an id is the start time in UTC to the second, and reads back as that time', () => {
    const ms = Date.UTC(2026, 10, 30, 14, 25, 1, 999);
    expect(backupIdAt(ms)).toBe('20261130T142501Z');
    expect(backupIdTimeMs('20261130T142501Z')).toBe(Date.UTC(2026, 10, 30, 14, 25, 1));
  });

  test('rejects ids, prefixes and cluster names that would make bad object keys', () => {
    expect(() => backupIdTimeMs('2026-11-30')).toThrow('backup id: "2026-11-30" is not of the form 20261130T142501Z');
    expect(() => new Layout('/kv', 'kv')).toThrow(/^prefix: "\/kv" must be/);
    expect(() => new Layout('kv//x', 'kv')).toThrow(/^prefix: /);
    expect(() => new Layout('kv', '../x')).toThrow(/^cluster: "..\/x" must be 1 to 63/);
    const layout = new Layout('kv-backups', 'prod');
    expect(layout.nodeFile('20261130T142501Z', 'kv-2')).toBe('kv-backups/prod/20261130T142501Z/kv-2/data.mdb');
    expect(layout.clusterManifest('20261130T142501Z')).toBe('kv-backups/prod/20261130T142501Z/manifest.json');
  });
});

describe('manifests read back from the bucket', () => {
  test('a well-formed node manifest reads back whole', () => {
    const m = parseNodeManifest('m', nodeManifest());
    expect(m.file.parts).toEqual([{ number: 1, bytes: 10, sha256: SHA }, { number: 2, bytes: 5, sha256: SHA }]);
    expect(m.contents).toEqual({ keys: 3, hints: 0, corrupt: 0 });
  });

  test.each([
    ['not JSON', Buffer.from('{'), /^m: not JSON/],
    ['another format', nodeManifest({ format: 'kv-backup-node/9' }), /^m: format "kv-backup-node\/9"; this kv reads kv-backup-node\/1/],
    ['a negative count', nodeManifest({ partitions: -1 }), /^m: field partitions is -1, not a count: the manifest is damaged/],
    ['a checksum that is not hex', nodeManifest({}, { sha256: 'xyz' }), /field sha256 is "xyz", not a SHA-256 in hex/],
    ['parts out of order', nodeManifest({}, { parts: [{ number: 2, bytes: 10, sha256: SHA }, { number: 1, bytes: 5, sha256: SHA }] }), /part 1 is numbered 2/],
    ['parts that do not add up', nodeManifest({}, { bytes: 16 }), /its parts add up to 15 bytes, the file to 16/],
  ])('rejects %s, naming the field', (_what, bytes, message) => {
    expect(() => parseNodeManifest('m', bytes)).toThrow(message);
  });

  test('rejects a cluster manifest that lists no nodes', () => {
    const bytes = Buffer.from(JSON.stringify({ format: CLUSTER_MANIFEST_FORMAT, cluster: 'kv', backupId: 'x', startedAtMs: 1, finishedAtMs: 2, stateVersion: 1, partitions: 64, n: 3, nodes: [], totals: { bytes: 0, keys: 0, hints: 0 } }));
    expect(() => parseClusterManifest('c', bytes)).toThrow('c: lists no nodes: the manifest is damaged');
  });
});

describe('retention', () => {
  const DAY = 24 * 3600 * 1000;
  const now = Date.UTC(2026, 10, 30);
  const entry = (id: string, ageDays: number, complete = true): BackupEntry => ({ id, startedAtMs: now - ageDays * DAY, complete, nodes: 3, keys: 1, bytes: 1 });

  test('deletes what is both older than keepDays and not among the newest keepLast complete backups', () => {
    const backups = [entry('a', 90), entry('b', 60), entry('c', 45, false), entry('d', 40), entry('e', 10), entry('f', 1, false)];
    expect(backupsToPrune(backups, 2, 30, now).map((b) => b.id)).toEqual(['a', 'b', 'c']);
  });

  test('keeps the newest complete backups however old, and never an incomplete one younger than keepDays (it may be running)', () => {
    const backups = [entry('old1', 400), entry('old2', 300), entry('running', 0, false)];
    expect(backupsToPrune(backups, 2, 30, now)).toEqual([]);
    expect(backupsToPrune(backups, 1, 30, now).map((b) => b.id)).toEqual(['old1']);
  });
});

describe('part sizes', () => {
  test('keep the asked size while the file fits in 10,000 parts, and double it until it does', () => {
    expect(partBytesFor(100 * 1024 ** 2, PART_BYTES_DEFAULT)).toBe(PART_BYTES_DEFAULT);
    const big = PARTS_MAX * PART_BYTES_DEFAULT + 1;
    expect(partBytesFor(big, PART_BYTES_DEFAULT)).toBe(2 * PART_BYTES_DEFAULT);
    expect(() => partBytesFor(6 * 1024 ** 4 * 10_000, PART_BYTES_DEFAULT)).toThrow(/does not fit in 10000 parts/);
  });
});

describe('progress', () => {
  test('off a terminal: one line per quarter crossed, however big the step, and a last line', () => {
    const lines: string[] = [];
    const task = new ProgressTask({ write: (t: string) => lines.push(t) }, 'uploading kv-1', 100, 'bytes');
    task.add(10);
    task.add(60);
    task.add(30);
    task.finish('4 parts');
    expect(lines.map((l) => l.replace(/, [\d.]+ (B|KiB|MiB)\/s/g, ', R/s').replace(/in [\d.]+ s/, 'in T s'))).toEqual(['uploading kv-1: 50% (70 B of 100 B, R/s)\n', 'uploading kv-1: 4 parts (100 B in T s, R/s)\n']);
  });

  test('on a terminal: a bar redrawn in place, then cleared for the last line', () => {
    const out: string[] = [];
    const task = new ProgressTask({ write: (t: string) => out.push(t), isTTY: true }, 'restoring', 10, 'objects');
    task.add(5);
    task.finish('done');
    expect(out[0]).toMatch(/^\rrestoring \[#{15}-{15}\] {2}50% 5 objects of 10 objects/);
    expect(out[1]!.startsWith('\r\u001b[Krestoring: done (5 objects in')).toBe(true);
  });
});

describe('restore merges into the primaries', () => {
  const object = encodeObject({ vv: new Map([['kv-1.a', 1]]), siblings: [{ dot: { actor: 'kv-1.a', counter: 1 }, value: Buffer.from('v'), writtenAtMs: 1 }] });
  const routing = { partitions: 4, replicas: () => ({ primaries: ['a', 'b', 'c'], fallbacks: ['d'] }) };
  function transport(down: ReadonlySet<string>, sent: string[]): ReplicaTransport {
    return {
      replicate: async (node) => {
        sent.push(node);
        return down.has(node) ? err(new KvError('PeerUnreachable', `${node} is down`)) : ok(undefined);
      },
      fetch: async () => ok(undefined),
      forward: async () => err(new KvError('Internal', 'not used')),
      isUp: (node) => !down.has(node),
    };
  }
  const deps = (down: ReadonlySet<string>, sent: string[]) => ({ replicas: transport(down, sent), routing: () => routing, keyBytesMax: 10, w: 2, n: 3, timeoutMs: 100 });

  test('an object counts once W primaries have it; it goes to every primary, never a fallback', async () => {
    const sent: string[] = [];
    const r = await restoreObjects(deps(new Set(['c']), sent), [{ key: Buffer.from('k'), object }], 0);
    expect(r).toEqual(ok({ merged: 1, failed: [] }));
    expect(sent.sort()).toEqual(['a', 'b', 'c']);
  });

  test('fails an object short of its quorum, naming who failed, and one that does not decode or has a bad key, unsent', async () => {
    const sent: string[] = [];
    const r = await restoreObjects(deps(new Set(['b', 'c']), sent), [{ key: Buffer.from('k'), object }, { key: Buffer.from('x'), object: Buffer.from('junk') }, { key: Buffer.alloc(11), object }], 0);
    if (!r.ok) throw r.error;
    expect(r.value.merged).toBe(0);
    expect(r.value.failed.map((f) => f.reason)).toEqual([
      expect.stringMatching(/^merged by 1 of 3 primaries, 2 needed \(b: PeerUnreachable: b is down; c: PeerUnreachable: c is down\); send it again$/),
      expect.stringMatching(/^object: does not decode/),
      'key: 11 bytes; must be 1 to 10 bytes',
    ]);
    expect(sent.sort()).toEqual(['a', 'b', 'c']);
  });

  test('rejects a request over its bounds before sending anything', async () => {
    const sent: string[] = [];
    const many = Array.from({ length: RESTORE_OBJECTS_MAX + 1 }, () => ({ key: Buffer.from('k'), object }));
    const r = await restoreObjects(deps(new Set(), sent), many, 0);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.message).toBe(`objects: ${RESTORE_OBJECTS_MAX + 1} objects in one request; at most ${RESTORE_OBJECTS_MAX} (RESTORE_OBJECTS_MAX): send them in smaller requests`);
    const w = await restoreObjects(deps(new Set(), sent), [], 4);
    expect(!w.ok && w.error.message).toBe("w: 4 must be 0 (the cluster's W, 2) to N (3)");
    expect(sent).toEqual([]);
  });
});

describe('pacing the copies', () => {
  test('waits so that the bytes so far arrive no faster than the rate, and never without one', async () => {
    let now = 1000;
    const waits: number[] = [];
    const realSetTimeout = global.setTimeout;
    const spy = jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
      waits.push(ms);
      now += ms;
      return realSetTimeout(fn, 0);
    }) as typeof setTimeout);
    try {
      const pace = pacer(1000, () => now);
      await pace(500); // due at +500 ms
      await pace(250); // due at +750 ms
      now += 2000; // a slow stretch: nothing owed
      await pace(100);
      expect(waits).toEqual([500, 250]);
      waits.length = 0;
      await pacer(0)(1e9);
      expect(waits).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });
});

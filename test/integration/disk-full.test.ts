/**
 * A node whose disk is down to its reserve (diskFreeBytesMin) refuses writes with one clear error
 * and keeps serving, on a real small disk: the node's data, and its log, on a 4 MiB tmpfs with a
 * 1 MiB reserve. Mounting the tmpfs needs root: test/support/root.ts says how this file runs.
 */
import { KvClientError } from '../../app/client/client';
import { testOnTmpfs } from '../support/disk';
import { Fixture, startCluster } from './cluster-fixture';

testOnTmpfs('a disk down to its reserve fails writes with RESOURCE_EXHAUSTED naming the node, the path and the free bytes; the node keeps serving', 4, async (mountPoint) => {
  let single: Fixture | undefined;
  try {
    single = await startCluster({ basePort: 17471, nodes: 1, n: 1, r: 1, w: 1, dataDir: mountPoint, extraArgs: ['--disk-free-bytes-min', String(1024 * 1024)] });
    const c = single.client({ attemptsMax: 1 });
    const value = Buffer.alloc(4000, 'f');
    let failure: KvClientError | undefined;
    let written = 0;
    for (; written < 2000 && !failure; written++) failure = await c.put(`fill-${written}`, value).then(() => undefined, (e: KvClientError) => e);
    expect(failure?.codeName).toBe('RESOURCE_EXHAUSTED');
    expect(failure?.message).toMatch(/put failed on kv-1: the disk holding .*kv-1 is full \(\d+ bytes free, 1048576 kept in reserve by diskFreeBytesMin\); free space or grow the volume/);
    expect(failure?.writeMayHaveApplied).toBe(false);
    // More refusals, batched ones and a large value among them: each is the same clear error,
    // and the node keeps serving what it acknowledged.
    const more = await Promise.all([...Array.from({ length: 20 }, (_, i) => c.put(`more-${i}`, value)), c.put('big', Buffer.alloc(256 * 1024, 'b'))].map((p) => p.then(() => undefined, (e: KvClientError) => e)));
    for (const e of more) expect(e?.codeName).toBe('RESOURCE_EXHAUSTED');
    for (const i of [0, Math.floor(written / 2), written - 2]) expect(Buffer.from((await c.get(`fill-${i}`)).values[0]!)).toEqual(value);
    expect(single.cluster.nodes[0]!.process?.exitCode).toBeNull();
  } finally {
    await single?.teardown();
  }
}, 120_000);

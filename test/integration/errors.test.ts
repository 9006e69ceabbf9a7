/**
 * Bad input gets a clear error, the right status, and changes nothing: empty key, oversize key
 * and value, R or W above N, malformed contexts, and the CLI's unknown flags.
 */
import { spawn } from 'node:child_process';
import { waitFor } from '../support/wait-for';
import { Fixture, KV_SCRIPT, kv, startCluster } from './cluster-fixture';
import { rejection } from '../support/rejection';

let f: Fixture;

beforeAll(async () => {
  f = await startCluster({ basePort: 17401, nodes: 3, extraArgs: ['--key-bytes-max', '64', '--value-bytes-max', '4096'] });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);


async function storedValues(key: string): Promise<string[]> {
  return (await f.client().get(key, { r: 3 })).values.map(String).sort();
}

describe.each([
  ['unary', false],
  ['batch', true],
])('through the %s API', (_name, batch) => {
  test('rejects an empty key with INVALID_ARGUMENT naming the field and the limit', async () => {
    const e = await rejection(f.client({ batch }).put('', 'x'));
    expect(e.codeName).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/key: .*is empty; a key has 1 to 64 bytes/);
  });

  test('rejects an oversize key and value and leaves the stored data unchanged', async () => {
    const c = f.client({ batch });
    await c.put('guarded', 'original');
    const before = await storedValues('guarded');
    const big = await rejection(c.put('guarded', 'x'.repeat(4097)));
    expect(big.codeName).toBe('INVALID_ARGUMENT');
    expect(big.message).toMatch(/value: 4097 bytes exceeds the limit of 4096 bytes/);
    const longKey = await rejection(c.put('k'.repeat(65), 'x'));
    expect(longKey.codeName).toBe('INVALID_ARGUMENT');
    expect(longKey.message).toMatch(/key: 65 bytes exceeds the limit of 64 bytes/);
    expect(await storedValues('guarded')).toEqual(before);
  });

  test('rejects R or W above N with the values in the message and changes nothing', async () => {
    const c = f.client({ batch });
    await c.put('quorum', 'kept');
    const before = await storedValues('quorum');
    const w = await rejection(c.put('quorum', 'lost', { w: 4 }));
    expect(w.codeName).toBe('INVALID_ARGUMENT');
    expect(w.message).toMatch(/w: 4 is out of range: w must be within 1\.\.N \(N=3\)/);
    const r = await rejection(c.get('quorum', { r: 5 }));
    expect(r.codeName).toBe('INVALID_ARGUMENT');
    expect(r.message).toMatch(/r: 5 is out of range/);
    expect(await storedValues('quorum')).toEqual(before);
  });

  test('rejects a context that no get returned and changes nothing', async () => {
    const c = f.client({ batch });
    const key = `ctx-${_name}`;
    await c.put(key, 'kept');
    const e = await rejection(c.put(key, 'lost', { context: 'AAAA' }));
    expect(e.codeName).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/context: /);
    expect(await storedValues(key)).toEqual(['kept']);
  });
});

test('rejects a write that would exceed the sibling limit with FAILED_PRECONDITION', async () => {
  const limited = await startCluster({ basePort: 17451, nodes: 3, extraArgs: ['--siblings-warn', '2', '--siblings-max', '3'] });
  try {
    const c = limited.client();
    for (const v of ['a', 'b', 'c']) await c.put('crowded', v);
    const e = await rejection(c.put('crowded', 'd'));
    expect(e.codeName).toBe('FAILED_PRECONDITION');
    expect(e.message).toMatch(/4 siblings, above the limit of 3/);
    expect((await c.get('crowded', { r: 3 })).values.map(String).sort()).toEqual(['a', 'b', 'c']);
  } finally {
    await limited.teardown();
  }
}, 60_000);

test('rejects a write that would leave the object above the object-size limit with FAILED_PRECONDITION', async () => {
  const limited = await startCluster({ basePort: 17461, nodes: 3, extraArgs: ['--value-bytes-max', '4096', '--key-bytes-max', '64', '--object-bytes-max', '6000'] });
  try {
    const c = limited.client();
    await c.put('bulky', Buffer.alloc(4000, 'a'));
    // A blind write adds a sibling: two 4,000-byte values exceed 6,000 bytes.
    const e = await rejection(c.put('bulky', Buffer.alloc(4000, 'b')));
    expect(e.codeName).toBe('FAILED_PRECONDITION');
    expect(e.message).toMatch(/above the limit of 6000 \(objectBytesMax\)/);
    expect(e.writeMayHaveApplied).toBe(false);
    const after = await c.get('bulky', { r: 3 });
    expect(after.values.map((v) => Buffer.from(v)[0])).toEqual(['a'.charCodeAt(0)]);
  } finally {
    await limited.teardown();
  }
}, 60_000);

test('W=3 with a primary down fails with UNAVAILABLE before anything is written, naming the primaries it can reach and the one down', async () => {
  const [, , third] = f.primariesOf('needs-three');
  // Keys whose primaries are the same three nodes (every key, with three nodes and N=3).
  const keys = Array.from({ length: 20 }, (_, i) => `needs-three-${i}`);
  await f.withDown([third!], async () => {
    const survivors = f.endpointsExcept(third!);
    const survivorIds = f.cluster.nodes.map((n) => n.id).filter((id) => id !== third);
    // Once the survivors' failure detectors count the third primary down, a coordinator knows
    // W=3 is out of reach before it writes (with three nodes no fallback can stand in).
    await waitFor(async () => (await Promise.all(survivorIds.map(async (id) => (await f.statusOf(id)).members.find((m) => m.id === third)?.reachable === false))).every(Boolean), { timeoutMs: 10_000, what: `the survivors to see ${third} down` });
    // A down peer counts as up again for a moment when its reconnection backoff runs out (the
    // next request is the probe), and a write sent then may have applied: the first refusal
    // made before writing is the one to look at, on a key nothing else wrote.
    const refusal = async (put: (key: string) => Promise<unknown>) => {
      for (const key of keys.splice(0)) {
        const e = await rejection(put(key));
        expect(e.codeName).toBe('UNAVAILABLE');
        if (!e.writeMayHaveApplied) return { key, e };
      }
      throw new Error('every W=3 write was sent to the down primary; none was refused before writing');
    };
    const { key, e } = await refusal((k) => f.client({ endpoints: survivors }).put(k, 'x', { w: 3 }));
    // Nothing was written, so the client could try the other node (which refused as well).
    expect(e.writeMayHaveApplied).toBe(false);
    expect(e.message).toMatch(/can reach 2 primaries of 3 required \(W=3, N=3\)/);
    expect(e.message).toContain(`${third}: down, and no fallback left to stand in; nothing was written`);
    expect((await f.client({ endpoints: survivors }).get(key)).found).toBe(false);
    keys.push(...Array.from({ length: 20 }, (_, i) => `needs-three-batch-${i}`));
    const viaBatch = await refusal((k) => f.client({ endpoints: survivors, batch: true }).put(k, 'y', { w: 3 }));
    expect(viaBatch.e.writeMayHaveApplied).toBe(false);
    expect((await f.client({ endpoints: survivors }).get(viaBatch.key)).found).toBe(false);
  });
}, 60_000);

describe('the kv command', () => {
  const endpoint = () => ['--endpoint', f.cluster.nodes[0]!.endpoint];

  test('ends quietly when its reader stops early (kv status | head -1)', async () => {
    const child = spawn(process.execPath, [KV_SCRIPT, 'status', ...endpoint()], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // The reader is gone before the command writes (as when head has read its lines and exited).
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });

  test('rejects an unknown flag with one line and a non-zero exit', async () => {
    const r = await kv(['get', 'x', '--bogus', ...endpoint()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/Unknown option '--bogus'/);
  });

  test('rejects an unknown command and a node with R above N', async () => {
    const unknown = await kv(['frobnicate']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const node = await kv(['node', '--node-id', 'kv-9', '--n', '3', '--r', '4', '--peers', 'kv-9=127.0.0.1:1,kv-8=127.0.0.1:2,kv-7=127.0.0.1:3']);
    expect(node.code).not.toBe(0);
    expect(node.stderr).toMatch(/R=4 exceeds N=3/);
  });

  test('put, get --json, delete and status work end to end', async () => {
    expect((await kv(['put', 'cli-key', 'cli-value', ...endpoint()])).code).toBe(0);
    const got = await kv(['get', 'cli-key', '--json', ...endpoint()]);
    expect(got.code).toBe(0);
    const parsed = JSON.parse(got.stdout) as { values: string[]; context: string };
    expect(parsed.values).toEqual(['cli-value']);
    expect(typeof parsed.context).toBe('string');
    expect((await kv(['put', 'cli-key', '-', '--context', parsed.context, ...endpoint()], 'from-stdin')).code).toBe(0);
    expect(JSON.parse((await kv(['get', 'cli-key', '--json', ...endpoint()])).stdout).values).toEqual(['from-stdin']);
    const ctx = JSON.parse((await kv(['get', 'cli-key', '--json', ...endpoint()])).stdout).context as string;
    expect((await kv(['delete', 'cli-key', '--context', ctx, ...endpoint()])).code).toBe(0);
    expect(JSON.parse((await kv(['get', 'cli-key', '--json', ...endpoint()])).stdout).values).toEqual([]);
    const status = JSON.parse((await kv(['status', '--json', ...endpoint()])).stdout) as { members: { id: string; partitionsOwned: number }[] };
    expect(status.members.map((m) => m.id)).toEqual(['kv-1', 'kv-2', 'kv-3']);
    expect(status.members.reduce((n, m) => n + m.partitionsOwned, 0)).toBe(64);
  }, 60_000);

  test('fails with a line saying what was tried and one saying what to check when no node answers', async () => {
    const r = await kv(['get', 'x', '--endpoint', '127.0.0.1:1', '--timeout-ms', '2000']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('error: UNAVAILABLE: could not reach the node: 127.0.0.1:1: nothing listens there (connection refused)');
    expect(lines[1]).toMatch(/^Is the cluster running\? .* came from --endpoint/);
    expect(r.stderr).not.toMatch(/Resolution note/);
  });
});

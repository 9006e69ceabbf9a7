/**
 * Membership changes on real node processes: a node started with --join is added with kv admin
 * join/commit while a writer keeps writing, receives its partitions, and every acknowledged write
 * is readable at R=2 afterwards and held by the new primaries; then it leaves again. Two commits at
 * once: one is refused.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KvClient } from '../../app/client/client';
import { partitionOf } from '../../app/ring/ring';
import { waitFor } from '../support/wait-for';
import { Fixture, KV_SCRIPT, kv, startCluster, statusAt } from './cluster-fixture';

const BASE_PORT = 18201; // 18201-18203 the cluster, 18204 the joining node
const JOINER_PORT = 18204;

let f: Fixture;
let joiner: ChildProcess | undefined;

beforeAll(async () => {
  f = await startCluster({ basePort: BASE_PORT, nodes: 3, extraArgs: ['--gossip-interval-ms', '200', '--transfer-interval-ms', '100'] });
}, 60_000);

afterAll(async () => {
  joiner?.kill('SIGKILL');
  await f?.teardown();
}, 60_000);

const endpoints = () => f.cluster.endpoints.join(',');

/** Waits until every listed endpoint reports no change in progress, at one and the same version. */
async function waitSettled(endpointList: readonly string[], timeoutMs: number): Promise<number> {
  let version = 0;
  await waitFor(
    async () => {
      const all = await Promise.all(endpointList.map(statusAt));
      if (all.some((s) => s === undefined || s.transfersLeft > 0)) return `transfers left: ${all.map((s) => s?.transfersLeft ?? '?').join(', ')}`;
      const versions = new Set(all.map((s) => Number(s!.stateVersion)));
      version = Number(all[0]!.stateVersion);
      return versions.size === 1 || `versions ${[...versions].join(', ')}`;
    },
    { timeoutMs, what: `the membership change to finish on ${endpointList.join(', ')}` },
  );
  return version;
}

test('a node joins while writes go on, takes its partitions with their data, and leaves again', async () => {
  const client = f.client({ endpoints: f.cluster.endpoints });
  const acked = new Map<string, string>();
  for (let i = 0; i < 300; i++) {
    await client.put(`m-${i}`, `v${i}`);
    acked.set(`m-${i}`, `v${i}`);
  }
  const joinerDir = path.join(f.dataDir, 'kv-4');
  fs.mkdirSync(joinerDir, { recursive: true });
  joiner = spawn(process.execPath, [KV_SCRIPT, 'node', '--node-id', 'kv-4', '--port', String(JOINER_PORT), '--join', 'true', '--data-dir', joinerDir, '--context-keys-file', f.cluster.contextKeysFile, '--metrics-port', '0', '--gossip-interval-ms', '200', '--transfer-interval-ms', '100', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let joinerLog = '';
  joiner.stderr!.on('data', (d: Buffer) => (joinerLog += d.toString()));
  const joinerEndpoint = `127.0.0.1:${JOINER_PORT}`;
  await waitFor(async () => (await statusAt(joinerEndpoint)) !== undefined, { timeoutMs: 20_000, what: 'kv-4 to serve' });
  // Not a member yet: it serves no data.
  const early = await kv(['get', 'm-1', '--endpoint', joinerEndpoint]);
  expect(early.stderr).toMatch(/kv-4 is waiting to join a cluster/);

  const staged = await kv(['admin', 'join', 'kv-4', '--address', joinerEndpoint, '--endpoint', endpoints()]);
  expect(staged.stdout).toMatch(/join kv-4 at 127\.0\.0\.1:18204/);
  // Writes keep going during the move.
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const key = `during-${i}`;
      try {
        await client.put(key, `d${i}`);
        acked.set(key, `d${i}`);
      } catch {
        // Not acknowledged: not counted.
      }
    }
  })();
  const commits = await Promise.all([kv(['admin', 'commit', '--endpoint', endpoints()]), kv(['admin', 'commit', '--endpoint', endpoints()])]);
  const ok = commits.filter((c) => c.code === 0);
  const refused = commits.filter((c) => c.code !== 0);
  expect(ok).toHaveLength(1);
  expect(ok[0]!.stdout).toMatch(/^committed \(cluster state version 2\)/);
  // The second commit finds the change in progress (or nothing left staged).
  expect(refused).toHaveLength(1);
  expect(refused[0]!.stderr).toMatch(/FAILED_PRECONDITION: (a change is in progress|no changes are staged)/);

  const all = [...f.cluster.endpoints, joinerEndpoint];
  await waitSettled(all, 90_000);
  writing = false;
  await writer;

  // Every acknowledged write reads back at R=2, and kv-4 holds the keys of the partitions it now has.
  const status = (await statusAt(f.cluster.endpoints[0]!))!;
  expect(status.members.map((m) => `${m.id}:${m.status}`)).toEqual(['kv-1:valid', 'kv-2:valid', 'kv-3:valid', 'kv-4:valid']);
  const rows = status.placement.map((r) => r.members);
  expect(rows.filter((r) => r.includes('kv-4')).length).toBe(48); // 64 x 3 / 4
  for (const [key, value] of acked) expect((await client.get(key, { r: 2 })).values.map(String)).toContain(value);
  const mine = [...acked.keys()].filter((k) => rows[partitionOf(Buffer.from(k), 64)]!.includes('kv-4'));
  const probe = new KvClient({ endpoints: [joinerEndpoint], routing: 'any', timeoutMs: 5000 });
  try {
    // Reads through kv-4 at R=3 count its own copy.
    for (const key of mine.slice(0, 50)) expect((await probe.get(key, { r: 3 })).values.map(String)).toContain(acked.get(key));
  } finally {
    probe.close();
  }

  // kv-4 leaves: its partitions go back, and the data stays readable.
  expect((await kv(['admin', 'leave', 'kv-4', '--endpoint', endpoints()])).code).toBe(0);
  expect((await kv(['admin', 'commit', '--endpoint', endpoints()])).code).toBe(0);
  await waitSettled(f.cluster.endpoints, 90_000);
  const after = (await statusAt(f.cluster.endpoints[0]!))!;
  expect(after.members.map((m) => m.id)).toEqual(['kv-1', 'kv-2', 'kv-3']);
  for (const [key, value] of acked) expect((await client.get(key, { r: 2 })).values.map(String)).toContain(value);
  // The joiner's log is ECS lines (so the next check can fail), and none is an error.
  expect(joinerLog).toMatch(/"log\.level":"(info|warn)"/);
  expect(joinerLog).not.toMatch(/"log\.level":"error"/);
}, 240_000);

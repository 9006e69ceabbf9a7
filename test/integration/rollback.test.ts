/**
 * A node never reuses a dot, whatever its disk went through (riak_kv issue 679): a node whose data
 * directory is put back to an older copy must not write with the dots it already used after that
 * copy was taken, or replicas that hold both writes under one dot keep one and drop the other.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  f = await startCluster({ basePort: 17931 });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

const KEYS = 20;

test('every acknowledged write survives a node whose data directory is rolled back to an older copy', async () => {
  const node = f.cluster.node('kv-1');
  // Keys that kv-1 coordinates itself when asked (a node that is not a primary forwards).
  const keys: string[] = [];
  for (let i = 0; keys.length < KEYS; i++) if (f.primariesOf(`rollback-${i}`)[0] === node.id) keys.push(`rollback-${i}`);
  const actorOf = async () => (await f.statusOf(node.id)).actor;

  // A copy of the directory as it is after a clean stop, as a backup would take it: `cp -a` keeps
  // every timestamp it can (mtime to the nanosecond), as tar and rsync -a do.
  expect(await f.cluster.kill(node.id, 'SIGTERM')).toEqual({ code: 0, signal: null });
  const copy = path.join(f.dataDir, `${node.id}.copy`);
  execFileSync('cp', ['-a', node.dataDir, copy]);
  await f.cluster.restart(node.id);
  await f.waitConnected();
  const actorBefore = await actorOf();

  const acknowledged = new Map<string, string[]>(keys.map((k) => [k, []]));
  const writeAll = async (round: string) => {
    const through = f.client({ endpoints: f.endpointsOf([node.id]), attemptsMax: 1 });
    for (const key of keys) {
      await through.put(key, `${round}-${key}`, { w: 2 });
      acknowledged.get(key)!.push(`${round}-${key}`);
    }
  };
  await writeAll('after-copy');

  // Put the old copy back the same way, and start again.
  expect(await f.cluster.kill(node.id, 'SIGTERM')).toEqual({ code: 0, signal: null });
  fs.rmSync(node.dataDir, { recursive: true, force: true });
  execFileSync('cp', ['-a', copy, node.dataDir]);
  await f.cluster.restart(node.id);
  await f.waitConnected();
  await writeAll('after-restore');

  const reader = f.client();
  const lost: string[] = [];
  for (const [key, values] of acknowledged) {
    const got = (await reader.get(key, { r: 3 })).values.map(String);
    for (const v of values) if (!got.includes(v)) lost.push(v);
  }
  expect(lost).toEqual([]);
  // The restored node writes with a new actor epoch.
  expect(await actorOf()).not.toBe(actorBefore);
}, 120_000);

test('a clean restart keeps the actor, a SIGKILL restart takes a new epoch', async () => {
  const node = f.cluster.node('kv-2');
  const actorOf = async () => (await f.statusOf(node.id)).actor;
  const first = await actorOf();
  expect(await f.cluster.kill(node.id, 'SIGTERM')).toEqual({ code: 0, signal: null });
  await f.cluster.restart(node.id);
  expect(await actorOf()).toBe(first);

  await f.cluster.kill(node.id, 'SIGKILL');
  await f.cluster.restart(node.id);
  const afterCrash = await actorOf();
  expect(afterCrash).not.toBe(first);
  expect(afterCrash.startsWith(`${node.id}.`)).toBe(true);
}, 60_000);

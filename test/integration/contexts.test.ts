/**
 * Contexts cannot be forged, and a key can always be repaired: real nodes (4, N=3, so every key
 * has a node that forwards) sharing one context key file, and a gateway in front of them.
 *
 * - The two forgeries of issue 15 (a counter near 2^53 for the coordinator; 63 invented actors)
 *   are refused with INVALID_ARGUMENT, store nothing, and later writes to the key succeed.
 * - A context from a get works for a put through a primary, a node that forwards, and a gateway.
 * - Objects poisoned before the fix (written straight into every replica over the peer service,
 *   as an old node or a forged context once made them) are repaired by ordinary writes: the
 *   coordinator takes a per-key actor when its counter would pass 2^53; a full clock is refused
 *   naming its repair (a higher clock-entries-max), never pruned; no acknowledged value is lost.
 * - Key rotation: a context sealed with the old key still works while the old key is listed.
 *
 * Ports 19441-19444 (the store), 19445 (the gateway).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeContextString, KvClient } from '../../app/client/client';
import { newContextKeysText, parseContextKeys } from '../../app/node/context-keys';
import { partitionOf } from '../../app/ring/ring';
import { GrpcPeerTransport } from '../../app/rpc/peer-transport';
import { encodeContext, encodeObject } from '../../app/versioning/codec';
import { Sibling, VersionedObject } from '../../app/versioning/dvv';
import { waitFor } from '../support/wait-for';
import { Fixture, KV_SCRIPT, startCluster, statusAt } from './cluster-fixture';
import { rejection } from '../support/rejection';

const BASE_PORT = 19441;
const GATEWAY_PORT = 19445;
const PARTITIONS = 64;
const INVENTED_ACTORS = 63;

let f: Fixture;
let gateway: ChildProcess | undefined;
const gatewayAddress = `127.0.0.1:${GATEWAY_PORT}`;

beforeAll(async () => {
  f = await startCluster({ basePort: BASE_PORT, nodes: 4, partitions: PARTITIONS });
  gateway = spawn(process.execPath, [KV_SCRIPT, 'node', '--role', 'gateway', '--node-id', 'gw-ctx', '--port', String(GATEWAY_PORT), '--metrics-port', '0', '--upstream', f.cluster.nodes[0]!.endpoint], { stdio: 'ignore' });
  await waitFor(async () => (await statusAt(gatewayAddress))?.role === 'gateway', { timeoutMs: 20_000, what: 'the gateway answering Status' });
}, 60_000);

afterAll(async () => {
  if (gateway?.exitCode === null) gateway.kill('SIGKILL');
  await f?.teardown();
}, 60_000);


/** A client that sends everything to one node. */
function via(id: string): KvClient {
  return f.client({ endpoints: f.endpointsOf([id]), attemptsMax: 1 });
}

async function actorOf(id: string): Promise<string> {
  return (await f.statusOf(id)).actor;
}

/** Writes an object straight into every primary's replica (the peer service), as a stand-in for one stored before the fix. */
async function poison(key: string, object: VersionedObject): Promise<void> {
  const probe = new GrpcPeerTransport({ self: 'probe', peers: new Map(f.cluster.nodes.map((n) => [n.id, n.endpoint])), windowMax: 64, batchItemsMax: 64, messageBytesMax: 4 * 1024 * 1024 });
  try {
    for (const node of f.primariesOf(key)) {
      const r = await probe.replicate(node, partitionOf(Buffer.from(key), PARTITIONS), Buffer.from(key), encodeObject(object), 5000);
      if (!r.ok) throw r.error;
    }
  } finally {
    probe.close();
  }
}

const sibling = (actor: string, counter: number, value: string): Sibling => ({ dot: { actor, counter }, value: Buffer.from(value), writtenAtMs: 1 });
const invented = (n: number): Array<[string, number]> => Array.from({ length: n }, (_, i) => [`forged-${String(i).padStart(2, '0')}`, 1]);
const sortedValues = async (c: KvClient, key: string): Promise<string[]> => (await c.get(key)).values.map(String).sort();

describe('forged contexts', () => {
  test('rejects a context claiming a counter near 2^53 for the coordinator with INVALID_ARGUMENT, stores nothing, and later writes succeed', async () => {
    const key = 'forged-counter';
    const [coordinator] = f.primariesOf(key);
    const c = via(coordinator!);
    await c.put(key, 'kept');
    const forgedVv = new Map([[await actorOf(coordinator!), Number.MAX_SAFE_INTEGER]]);
    // As the forger made it (an unsigned vector), and with a made-up seal.
    const unsigned = encodeContext(forgedVv);
    const fakeSeal = Buffer.concat([Buffer.from([3]), unsigned.subarray(1), Buffer.alloc(20, 7)]);
    for (const [forged, reason] of [
      [unsigned, /context: \d+ bytes is an unsigned context/],
      [fakeSeal, /context: \d+ bytes is not signed by this cluster/],
    ] as const) {
      const e = await rejection(c.put(key, 'forged', { context: encodeContextString(forged) }));
      expect(e.codeName).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(reason);
    }
    expect(await sortedValues(c, key)).toEqual(['kept']);
    for (const id of f.primariesOf(key)) {
      const got = await via(id).get(key);
      await via(id).put(key, `after-${id}`, { context: got.context });
      expect(await sortedValues(c, key)).toEqual([`after-${id}`]);
    }
  });

  test('rejects a context of 63 invented actors with INVALID_ARGUMENT, and writes through every primary still succeed', async () => {
    const key = 'forged-actors';
    const primaries = f.primariesOf(key);
    const c = via(primaries[0]!);
    await c.put(key, 'kept');
    const forged = encodeContext(new Map(invented(INVENTED_ACTORS)));
    const e = await rejection(c.put(key, 'forged', { context: encodeContextString(forged) }));
    expect(e.codeName).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/context: /);
    expect(await sortedValues(c, key)).toEqual(['kept']);
    for (const id of primaries) await via(id).put(key, `blind-${id}`);
    expect(await sortedValues(c, key)).toEqual(['kept', ...primaries.map((id) => `blind-${id}`)].sort());
  });

  test('rejects a forged context sent through a node that forwards, and in a peer forward straight to a primary: the coordinator checks it', async () => {
    const key = 'forged-forwarded';
    const primaries = f.primariesOf(key);
    const forwarder = f.cluster.nodes.map((n) => n.id).find((id) => !primaries.includes(id))!;
    await via(primaries[0]!).put(key, 'kept');
    const forged = encodeContext(new Map([[await actorOf(primaries[0]!), Number.MAX_SAFE_INTEGER]]));
    const fakeSeal = Buffer.concat([Buffer.from([3]), forged.subarray(1), Buffer.alloc(20, 7)]);
    const e = await rejection(via(forwarder).put(key, 'forged', { context: encodeContextString(fakeSeal) }));
    expect(e.codeName).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/context: \d+ bytes is not signed by this cluster/);
    const probe = new GrpcPeerTransport({ self: 'probe', peers: new Map(f.cluster.nodes.map((n) => [n.id, n.endpoint])), windowMax: 64, batchItemsMax: 64, messageBytesMax: 4 * 1024 * 1024 });
    try {
      const r = await probe.forward(primaries[0]!, { kind: 'put', key: Buffer.from(key), value: Buffer.from('forged'), context: fakeSeal, w: 0 }, 5000);
      expect(!r.ok && r.error.condition).toBe('InvalidArgument');
      expect(!r.ok && r.error.message).toMatch(/context: \d+ bytes is not signed by this cluster/);
    } finally {
      probe.close();
    }
    expect(await sortedValues(f.client(), key)).toEqual(['kept']);
  });

  test('rejects the context of another key, naming it', async () => {
    const c = f.client();
    await c.put('ctx-a', 'a');
    await c.put('ctx-b', 'b');
    const e = await rejection(c.put('ctx-b', 'x', { context: (await c.get('ctx-a')).context }));
    expect(e.codeName).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/context: \d+ bytes is not signed by this cluster for this key: it is for another key/);
    expect(await sortedValues(c, 'ctx-b')).toEqual(['b']);
  });
});

describe('contexts from a get', () => {
  test('replace what the get saw when the put goes through a primary, a node that forwards, and a gateway', async () => {
    const key = 'ctx-paths';
    const primaries = f.primariesOf(key);
    const forwarder = f.cluster.nodes.map((n) => n.id).find((id) => !primaries.includes(id))!;
    const gw = f.client({ endpoints: [gatewayAddress], routing: 'primary' });
    await via(primaries[0]!).put(key, 'v0');
    let i = 0;
    for (const writer of [via(primaries[1]!), via(forwarder), gw]) {
      // Read on one node, write on another: the context is the cluster's, not the node's.
      const got = await via(primaries[2]!).get(key);
      await writer.put(key, `v${++i}`, { context: got.context });
      expect(await sortedValues(via(primaries[0]!), key)).toEqual([`v${i}`]);
    }
    const got = await gw.get(key);
    await via(forwarder).delete(key, { context: got.context });
    expect((await f.client().get(key)).found).toBe(false);
  });
});

describe('poisoned keys are repaired by writes', () => {
  test('a key whose counters are at 2^53 - 1 for every node takes writes with and without a context', async () => {
    const key = 'poisoned-counter';
    const actors = await Promise.all(f.cluster.nodes.map((n) => actorOf(n.id)));
    const vv = new Map(actors.sort().map((a) => [a, Number.MAX_SAFE_INTEGER]));
    await poison(key, { vv, siblings: [sibling(actors[0]!, Number.MAX_SAFE_INTEGER, 'acked-before')] });
    const primaries = f.primariesOf(key);
    // A blind write keeps the value it did not see; a write with the context replaces it.
    await via(primaries[0]!).put(key, 'blind');
    expect(await sortedValues(f.client(), key)).toEqual(['acked-before', 'blind']);
    for (const id of primaries) {
      const got = await via(id).get(key);
      await via(id).put(key, `with-context-${id}`, { context: got.context });
      expect(await sortedValues(f.client(), key)).toEqual([`with-context-${id}`]);
    }
  });

  test('a key whose clock is full of invented actors is refused FAILED_PRECONDITION naming the repair, and keeps its value', async () => {
    const key = 'poisoned-clock';
    const entries = invented(INVENTED_ACTORS + 1); // 64: clockEntriesMax
    await poison(key, { vv: new Map(entries), siblings: [sibling(entries[0]![0], 1, 'acked-before')] });
    // Never pruned (an actor that writes again could reuse a dot): the repair is a higher
    // --clock-entries-max on every node (test/unit/replication-replica.test.ts shows it takes the write).
    const refused = await rejection(via(f.primariesOf(key)[0]!).put(key, 'blind'));
    expect(refused.codeName).toBe('FAILED_PRECONDITION');
    expect(refused.message).toMatch(/above the limit of 64 \(clockEntriesMax\).*raise --clock-entries-max on every node/);
    expect(await sortedValues(f.client(), key)).toEqual(['acked-before']);
  });
});

describe('key rotation', () => {
  test('a context sealed with the old key works while the old key is listed, and is refused once it is dropped', async () => {
    const file = f.cluster.contextKeysFile;
    const [old] = parseContextKeys(fs.readFileSync(file, 'utf8'), file);
    const fresh = parseContextKeys(newContextKeysText(), 'new')[0]!;
    const c = f.client();
    await c.put('rotated', 'v1');
    const sealedWithOld = (await c.get('rotated')).context;
    const restartAll = async (keys: Buffer[]) => {
      fs.writeFileSync(path.join(path.dirname(file), 'context-keys.next'), keys.map((k) => k.toString('hex')).join('\n'));
      fs.renameSync(path.join(path.dirname(file), 'context-keys.next'), file);
      for (const n of f.cluster.nodes) {
        await f.cluster.kill(n.id, 'SIGTERM');
        await f.cluster.restart(n.id);
      }
      await f.waitConnected();
    };
    await restartAll([fresh, old!]);
    await c.put('rotated', 'v2', { context: sealedWithOld });
    expect(await sortedValues(c, 'rotated')).toEqual(['v2']);
    const sealedWithNew = (await c.get('rotated')).context;
    await restartAll([fresh]);
    const e = await rejection(c.put('rotated', 'v3', { context: sealedWithOld }));
    expect(e.codeName).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/not signed by this cluster/);
    await c.put('rotated', 'v3', { context: sealedWithNew });
    expect(await sortedValues(c, 'rotated')).toEqual(['v3']);
  }, 120_000);
});

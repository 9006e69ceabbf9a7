/** Hints for a node that is no longer a member go to the current owners of their partition. */
import { err, KvError, ok, Result } from '../../app/errors';
import { HandoffWorker } from '../../app/replication/handoff';
import { HintStore } from '../../app/replication/hints';
import { ReplicaTransport } from '../../app/replication/transport';
import { MemoryStore } from '../../app/storage/memory-store';
import { applyWrite } from '../../app/versioning/dvv';
import { encodeObject } from '../../app/versioning/codec';
import { silentLogger } from '../../observability/log';

const LIMITS = { hintsPerTargetMax: 100, hintBytesMax: 1 << 20, hintAgeMaxMs: 0 };

async function setup() {
  const hints = await HintStore.open(new MemoryStore().hints, 4, LIMITS);
  const object = encodeObject(applyWrite(undefined, new Map(), 'n1.e1', Buffer.from('v'), 1));
  for (let i = 0; i < 3; i++) expect((await hints.store('removed-node', 1, Buffer.from(`k${i}`), object)).ok).toBe(true);
  const toTarget: string[] = [];
  const peers = { isUp: () => false, replicate: async (node: string) => (toTarget.push(node), ok(undefined)) } as unknown as ReplicaTransport;
  const worker = new HandoffWorker(hints, peers, { handoffIntervalMs: 10, handoffBatchMax: 10, handoffKeysPerSecondMax: 1e6, requestTimeoutMs: 100 }, { delivered() {}, expired() {}, failed() {} }, silentLogger);
  return { hints, worker, toTarget };
}

test('delivers them to the owners (never to the gone target) and removes them once the owners have them', async () => {
  const { hints, worker, toTarget } = await setup();
  const delivered: string[] = [];
  worker.redirect = { halted: () => false, gone: (t) => t === 'removed-node', deliver: async (p, key) => (delivered.push(`${p}:${Buffer.from(key).toString()}`), ok(undefined)) };
  expect(await worker.runRound()).toBe(3);
  expect(delivered.sort()).toEqual(['1:k0', '1:k1', '1:k2']);
  expect(toTarget).toEqual([]);
  expect(hints.backlog('removed-node').count).toBe(0);
});

test('keeps a hint an owner did not take, and waits without a redirect (the target is a member that is down)', async () => {
  const { hints, worker } = await setup();
  let fail = true;
  worker.redirect = { halted: () => false, gone: () => true, deliver: async (): Promise<Result<void>> => (fail ? err(new KvError('PeerUnreachable', 'an owner is down')) : ok(undefined)) };
  expect(await worker.runRound()).toBe(0);
  expect(hints.backlog('removed-node').count).toBe(3);
  worker.redirect = undefined;
  expect(await worker.runRound()).toBe(0);
  expect(hints.backlog('removed-node').count).toBe(3);
  fail = false;
  worker.redirect = { halted: () => false, gone: () => true, deliver: async () => ok(undefined) };
  expect(await worker.runRound()).toBe(3);
});

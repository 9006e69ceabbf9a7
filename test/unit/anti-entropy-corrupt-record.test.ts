/**
 * Anti-entropy on a store holding a corrupt record (bit rot): the partition that cannot be read
 * is left untrusted, and the node's other partitions are still rebuilt and exchanged. Found by
 * the simulator (test/sim, KV_SIM_CORRUPTION=1): the first fold to hit the record used to reject
 * out of the tree rebuild at start, which stopped anti-entropy for every partition of the node
 * and left the rejection unhandled (on Node 20, the end of the process).
 */
import { Logger, silentLogger } from '../../observability/log';
import { AntiEntropy, AntiEntropyPeers } from '../../app/replication/anti-entropy';
import { Clock } from '../../app/replication/clock';
import { HashTrees } from '../../app/replication/hash-trees';
import { LocalReplica } from '../../app/replication/replica';
import { MemoryStore } from '../../app/storage/memory-store';
import { encodeObject } from '../../app/versioning/codec';
import { applyWrite } from '../../app/versioning/dvv';
import { OBJECT_LIMITS_DEFAULT } from '../../app/versioning/limits';

const SERVED = new Map<number, readonly string[]>([
  [1, ['n2']],
  [3, ['n2']],
  [5, ['n2']],
]);

async function storeWithCorruptRecordIn(corruptPartition: number): Promise<MemoryStore> {
  const store = new MemoryStore();
  for (const partition of SERVED.keys()) {
    const object = encodeObject(applyWrite(undefined, new Map(), 'n1.e1', Buffer.from(`v${partition}`), 0));
    await store.update(partition, Buffer.from(`k${partition}`), () => ({ write: object, result: undefined }));
  }
  store.mutateFrameForTest(corruptPartition, Buffer.from(`k${corruptPartition}`), (frame) => (frame[frame.length - 1]! ^= 0xff));
  return store;
}

function antiEntropy(store: MemoryStore, clock: Clock, log: Logger = silentLogger): { ae: AntiEntropy; trees: HashTrees } {
  const trees = new HashTrees(16);
  const replica = new LocalReplica(store, 'n1.e1', OBJECT_LIMITS_DEFAULT, { trees, nowMs: clock.now });
  const peers = { isUp: () => false } as unknown as AntiEntropyPeers;
  const config = { antiEntropyIntervalMs: 10, antiEntropyKeysPerExchangeMax: 10, antiEntropyRebuildKeysPerSecondMax: 1_000_000, requestTimeoutMs: 100 };
  const ae = new AntiEntropy(trees, store, replica, peers, () => SERVED, config, { exchange() {}, repaired() {}, completed() {} }, log, clock);
  return { ae, trees };
}

/** A clock whose timers are only recorded: the test sees what was scheduled. */
function recordingClock(): Clock & { readonly timers: number } {
  let timers = 0;
  return {
    now: () => 0,
    after: () => {
      timers++;
      return () => {};
    },
    get timers() {
      return timers;
    },
  };
}

test('rebuilding at start rebuilds the other partitions when one holds a corrupt record, and logs the one it cannot', async () => {
  const errors: string[] = [];
  const { ae, trees } = antiEntropy(await storeWithCorruptRecordIn(3), recordingClock(), { ...silentLogger, error: (msg, fields) => errors.push(`${msg} ${JSON.stringify(fields)}`) });
  await expect(ae.rebuildAll()).resolves.toBeUndefined();
  expect([1, 3, 5].map((p) => trees.isTrusted(p))).toEqual([true, false, true]);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/"partition":3.*CorruptRecordError/);
});

test('start schedules exchanges even when a partition cannot be rebuilt, with no rejection left unhandled', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const clock = recordingClock();
    const { ae } = antiEntropy(await storeWithCorruptRecordIn(1), clock);
    ae.start();
    // Let the rebuild's promise chain settle, and Node notice any rejection left unhandled.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(clock.timers).toBe(1);
    expect(unhandled).toEqual([]);
    await ae.stop();
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

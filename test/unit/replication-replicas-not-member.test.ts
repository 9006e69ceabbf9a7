/** A node that is not a member any more takes no hints (found by the simulator, seed 314). */
import { err, KvError, ok } from '../../app/errors';
import { HintStore } from '../../app/replication/hints';
import { LocalReplica } from '../../app/replication/replica';
import { Replicas } from '../../app/replication/replicas';
import { ReplicaTransport } from '../../app/replication/transport';
import { MemoryStore } from '../../app/storage/memory-store';
import { encodeObject } from '../../app/versioning/codec';
import { OBJECT_LIMITS_DEFAULT } from '../../app/versioning/limits';

const LIMITS = { hintsPerTargetMax: 100, hintBytesMax: 1 << 20, hintAgeMaxMs: 0 };
const object = encodeObject({ vv: new Map([['n1.e1', 1]]), siblings: [{ dot: { actor: 'n1.e1', counter: 1 }, value: Buffer.from('v'), writtenAtMs: 0 }] });

test('a node that is not a member any more takes no hints: the coordinator tries another fallback (found by the simulator, seed 314)', async () => {
  // A leaver paused while writes naming it as a fallback waited for it took them as hints when
  // it resumed, while it stopped for good, and left with them.
  const store = new MemoryStore();
  const hints = await HintStore.open(store.hints, 4, LIMITS, () => 0);
  const replica = new LocalReplica(store, 'n9.e1', OBJECT_LIMITS_DEFAULT, { hints, nowMs: () => 0 });
  let member = true;
  const remote: ReplicaTransport = { fetch: async () => ok(undefined), replicate: async () => ok(undefined), forward: async () => err(new KvError('Internal', 'none')), isUp: () => true };
  const replicas = new Replicas('n9', replica, remote, undefined, () => member);
  expect((await replicas.replicate('n9', 1, Buffer.from('k'), object, 100, 'n2')).ok).toBe(true);
  member = false;
  const refused = await replicas.replicate('n9', 1, Buffer.from('k2'), object, 100, 'n2');
  expect(refused.ok).toBe(false);
  if (!refused.ok) expect(refused.error.condition).toBe('NotMember');
  expect(hints.backlog('n2').count).toBe(1);
  // Its own data it still takes (a late write as a former owner, pushed on by its cleanup).
  expect((await replicas.replicate('n9', 1, Buffer.from('k3'), object, 100)).ok).toBe(true);
});

/** Gossip spreads the claimant's changes; the claimant stages, plans and commits one change at a time. */
import { Claimant } from '../../app/membership/claimant';
import { initialState } from '../../app/membership/cluster-state';
import { Gossip, GossipPeers } from '../../app/membership/gossip';
import { Membership } from '../../app/membership/membership';
import { encodeState } from '../../app/membership/state-codec';
import { silentLogger } from '../../observability/log';
import { MetaMap } from '../support/meta-map';


const IDS = ['kv-1', 'kv-2', 'kv-3'];
const initial = () => initialState('kv', IDS.map((id, i) => ({ id, address: `127.0.0.1:${7001 + i}`, zone: '' })), 16, 3);

async function cluster(down = new Set<string>()) {
  const views = new Map<string, Membership>();
  for (const id of IDS) views.set(id, await Membership.open(new MetaMap(), initial(), silentLogger));
  const gossips = new Map<string, Gossip>();
  const peers = (self: string): GossipPeers => ({
    isUp: (id) => gossips.has(id) && !down.has(id),
    gossip: async (node, state) => gossips.get(node)!.receive(state, self),
  });
  let turn = 0;
  for (const id of IDS) gossips.set(id, new Gossip(id, views.get(id)!, peers(id), { gossipIntervalMs: 0, requestTimeoutMs: 100 }, silentLogger, undefined, () => (turn++ % 7) / 7));
  const claimants = new Map(IDS.map((id) => [id, new Claimant(id, views.get(id)!, (x) => !down.has(x))]));
  return { views, gossips, claimants };
}

test('a committed change reaches every member by gossip', async () => {
  const { views, gossips, claimants } = await cluster();
  const kv1 = claimants.get('kv-1')!;
  kv1.stage({ kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: '' });
  const view = await kv1.commit();
  expect(view.transfers.length).toBe(12);
  expect(views.get('kv-1')!.state.version).toBe(2);
  for (let round = 0; round < 6; round++) for (const g of gossips.values()) await g.round();
  for (const v of views.values()) expect(v.state.version).toBe(2);
});

test('a member that refuses a state answers an error, so the sender does not count it as holding its version', async () => {
  const { views, gossips } = await cluster();
  const foreign = JSON.stringify({ ...JSON.parse(encodeState(views.get('kv-1')!.state)), cluster: 'other', version: 9 });
  const r = await gossips.get('kv-2')!.receive(foreign, 'kv-1');
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.error.message).toMatch(/kv-2 refused the cluster state kv-1 sent/);
  expect(views.get('kv-2')!.state.cluster).toBe('kv');
  // spread asks each member directly; every one holds our version already after that.
  expect(await gossips.get('kv-1')!.spread(views.get('kv-1')!.state.version)).toBe(true);
});

test('only the claimant changes the state; the others name it', async () => {
  const { claimants } = await cluster();
  expect(() => claimants.get('kv-2')!.stage({ kind: 'leave', id: 'kv-3' })).toThrow('kv-2 is not the claimant: kv-1 (127.0.0.1:7001) is; send membership changes there');
});

test('with the first member down, the next one is the claimant', async () => {
  const { claimants } = await cluster(new Set(['kv-1']));
  expect(claimants.get('kv-2')!.claimant).toBe('kv-2');
  expect(claimants.get('kv-2')!.stage({ kind: 'remove', id: 'kv-1' })).toHaveLength(1);
});

test('two commits at once: one succeeds, the other is refused because a change is in progress', async () => {
  const { claimants } = await cluster();
  const kv1 = claimants.get('kv-1')!;
  kv1.stage({ kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: '' });
  const results = await Promise.allSettled([kv1.commit(), kv1.commit()]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  expect((results[1] as PromiseRejectedResult).reason.message).toMatch(/a change is in progress \(version 2, 12 transfers left\)/);
});

test('a bad change is refused when staged, and the plan counts what moves', async () => {
  const { claimants } = await cluster();
  const kv1 = claimants.get('kv-1')!;
  expect(() => kv1.stage({ kind: 'leave', id: 'kv-9' })).toThrow('leave kv-9: no such member');
  expect(() => kv1.plan()).toThrow('no changes are staged');
  kv1.stage({ kind: 'leave', id: 'kv-3' });
  const p = kv1.plan();
  expect(p.staged).toEqual([{ kind: 'leave', id: 'kv-3' }]);
  expect(p.transfers).toEqual([]); // 2 members left for N=3: rows shrink, nothing moves
  kv1.clear();
  expect(() => kv1.plan()).toThrow('no changes are staged');
});

test('transfers reported to the claimant flip partitions and finally complete the change', async () => {
  const { views, claimants } = await cluster();
  const kv1 = claimants.get('kv-1')!;
  kv1.stage({ kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: '' });
  await kv1.commit();
  for (const t of views.get('kv-1')!.state.transfers) await kv1.transferDone(t.partition, t.to);
  const done = views.get('kv-1')!.state;
  expect(done.target).toBeUndefined();
  expect(done.members.every((m) => m.status === 'valid')).toBe(true);
  expect(done.placement.primaries.filter((row) => row.includes('kv-4')).length).toBe(12);
});

test('the plan warns when the zone rule would overload a member of a small zone', async () => {
  const { claimants } = await cluster();
  const kv1 = claimants.get('kv-1')!;
  // The members have no zone (""); a node in zone "a" alone gets a replica of every partition.
  kv1.stage({ kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: 'a' });
  expect(kv1.plan().warnings).toEqual(['kv-4 will hold 16 partition replicas, against 12.0 on average: its zone "a" has 1 member(s) while a replica of every partition goes to each zone; give zones the same number of members']);
  kv1.stage({ kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: '' });
  expect(kv1.plan().warnings).toEqual([]);
});

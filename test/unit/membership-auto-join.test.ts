/** join=auto: a node outside the cluster asks the claimant to add it, one change at a time. */
import { MembershipError, initialState } from '../../app/membership/cluster-state';
import { AutoJoin, JoinAdmin } from '../../app/membership/auto-join';
import { Claimant } from '../../app/membership/claimant';
import { Membership } from '../../app/membership/membership';
import { silentLogger } from '../../observability/log';
import { MetaMap } from '../support/meta-map';

const SELF = { id: 'kv-4', address: '127.0.0.1:7004', zone: '' };

async function setup(options: { departure?: 'left' | 'removed'; holdsData?: boolean } = {}) {
  const members = ['kv-1', 'kv-2', 'kv-3'].map((id, i) => ({ id, address: `127.0.0.1:${7001 + i}`, zone: '' }));
  // The claimant's view, and the joiner's (a placeholder until a state that lists it arrives).
  const cluster = await Membership.open(new MetaMap(), initialState('kv', members, 8, 3), silentLogger);
  const claimant = new Claimant('kv-1', cluster, () => true);
  const own = await Membership.open(new MetaMap(), { ...initialState('kv', [SELF], 8, 3), version: 0 }, silentLogger);
  const calls: string[] = [];
  const admin: JoinAdmin = {
    stageJoin: async (id, address, zone) => (calls.push(`stage ${id}`), claimant.stage({ kind: 'join', id, address, zone }).map((c) => `${c.kind} ${c.id}`)),
    commit: async () => void (calls.push('commit'), await claimant.commit()),
  };
  const join = new AutoJoin(SELF, own, admin, () => options.departure, async () => options.holdsData ?? false, { gossipIntervalMs: 1000 }, silentLogger);
  /** Gossip: the joiner takes the claimant's state. */
  const gossip = () => own.offer(cluster.state);
  return { cluster, claimant, own, calls, join, gossip };
}

test('stages its own join and commits it; once the state reaches it, it is a member and asks no more', async () => {
  const { cluster, calls, join, gossip } = await setup();
  await join.attempt();
  expect(calls).toEqual(['stage kv-4', 'commit']);
  expect(cluster.state.members.find((m) => m.id === 'kv-4')?.status).toBe('joining');
  await gossip();
  expect(join.isMember).toBe(true);
  await join.attempt();
  expect(calls).toHaveLength(2);
});

test('never commits what an operator staged: it waits while other changes are staged', async () => {
  const { claimant, calls, join } = await setup();
  claimant.stage({ kind: 'leave', id: 'kv-3' });
  await join.attempt();
  expect(calls).toEqual(['stage kv-4']);
  expect(claimant.plan().staged.map((c) => c.id).sort()).toEqual(['kv-3', 'kv-4']);
});

test('commits together with other nodes that join by themselves at the same time (one change)', async () => {
  const { cluster, claimant, calls, join } = await setup();
  claimant.stage({ kind: 'join', id: 'kv-5', address: '127.0.0.1:7005', zone: '' });
  await join.attempt();
  expect(calls).toEqual(['stage kv-4', 'commit']);
  expect(cluster.state.members.filter((m) => m.status === 'joining').map((m) => m.id)).toEqual(['kv-4', 'kv-5']);
});

test('waits while another change is in progress, and joins once it is done', async () => {
  const { cluster, claimant, calls, join } = await setup();
  claimant.stage({ kind: 'join', id: 'kv-5', address: '127.0.0.1:7005', zone: '' });
  await claimant.commit();
  await join.attempt();
  expect(calls).toEqual(['stage kv-4']);
  expect(() => claimant.plan()).toThrow(MembershipError);
  for (const t of cluster.state.transfers) await claimant.transferDone(t.partition, t.to);
  await join.attempt();
  expect(calls).toEqual(['stage kv-4', 'stage kv-4', 'commit']);
});

test('a node removed while it still holds data does not join again; one whose volume is empty does', async () => {
  const stale = await setup({ departure: 'removed', holdsData: true });
  await stale.join.attempt();
  expect(stale.calls).toEqual([]);
  const fresh = await setup({ departure: 'removed', holdsData: false });
  await fresh.join.attempt();
  expect(fresh.calls).toEqual(['stage kv-4', 'commit']);
});

test('a node that left during this run does not join again (it exits once it holds nothing)', async () => {
  const { cluster, claimant, own, calls, join, gossip } = await setup();
  await join.attempt();
  for (const t of cluster.state.transfers) await claimant.transferDone(t.partition, t.to);
  await gossip();
  await join.attempt();
  claimant.stage({ kind: 'leave', id: 'kv-4' });
  await claimant.commit();
  for (const t of cluster.state.transfers) await claimant.transferDone(t.partition, t.to);
  await gossip();
  expect(own.state.members.some((m) => m.id === 'kv-4')).toBe(false);
  await join.attempt();
  expect(calls).toEqual(['stage kv-4', 'commit']);
});

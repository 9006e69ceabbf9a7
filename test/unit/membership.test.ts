/** A node's membership view: stored across restarts, merged, announced, routed with moves. */
import { commit, initialState } from '../../app/membership/cluster-state';
import { Membership, STATE_META_KEY } from '../../app/membership/membership';
import { decodeState } from '../../app/membership/state-codec';
import { silentLogger } from '../../observability/log';
import { MetaMap } from '../support/meta-map';


const fixed = (ids: string[]) => initialState('kv', ids.map((id, i) => ({ id, address: `127.0.0.1:${7001 + i}`, zone: '' })), 16, 3);

test('a new data directory takes the initial state and stores it', async () => {
  const store = new MetaMap();
  const m = await Membership.open(store, fixed(['kv-1', 'kv-2', 'kv-3']), silentLogger);
  expect(m.state.version).toBe(1);
  expect(decodeState(store.values.get(STATE_META_KEY)!)).toEqual(m.state);
});

test('a stored state changed by the claimant wins over the flags; an untouched one gives way to them', async () => {
  const store = new MetaMap();
  const m = await Membership.open(store, fixed(['kv-1', 'kv-2', 'kv-3']), silentLogger);
  const changed = commit(m.state, [{ kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: '' }], 'kv-1');
  expect(await m.offer(changed)).toBe(true);
  const reopened = await Membership.open(store, fixed(['kv-1', 'kv-2', 'kv-3']), silentLogger);
  expect(reopened.state).toEqual(changed);

  const untouched = new MetaMap();
  await Membership.open(untouched, fixed(['kv-1', 'kv-2']), silentLogger);
  const edited = await Membership.open(untouched, fixed(['kv-1', 'kv-2', 'kv-3']), silentLogger);
  expect(edited.state.members.map((x) => x.id)).toEqual(['kv-1', 'kv-2', 'kv-3']);
});

test('refuses a data directory of another cluster or another partition count', async () => {
  const store = new MetaMap();
  const m = await Membership.open(store, fixed(['kv-1', 'kv-2', 'kv-3']), silentLogger);
  await m.offer(commit(m.state, [{ kind: 'leave', id: 'kv-3' }], 'kv-1'));
  await expect(Membership.open(store, initialState('other', [{ id: 'kv-1', address: 'h:1', zone: '' }], 16, 3), silentLogger)).rejects.toThrow('the data directory belongs to cluster "kv", not "other"');
  await expect(Membership.open(store, initialState('kv', [{ id: 'kv-1', address: 'h:1', zone: '' }], 32, 3), silentLogger)).rejects.toThrow('has 16 partitions; the node was started with 32');
});

test('an older or equal state changes nothing; a newer one is stored, announced and routed, with the moving partitions\' target rows', async () => {
  const store = new MetaMap();
  const m = await Membership.open(store, fixed(['kv-1', 'kv-2', 'kv-3']), silentLogger);
  const seen: number[] = [];
  m.onChange((s) => seen.push(s.version));
  expect(await m.offer(m.state)).toBe(false);
  const changed = commit(m.state, [{ kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: '' }], 'kv-2');
  expect(await m.offer(changed)).toBe(true);
  expect(seen).toEqual([2]);
  const moving = changed.transfers[0]!.partition;
  expect(m.routing.replicas(moving).target).toEqual(changed.target!.primaries[moving]);
  expect(m.routing.replicas(moving).primaries).toEqual(changed.placement.primaries[moving]);
  const still = [...Array(16).keys()].find((p) => !changed.transfers.some((t) => t.partition === p))!;
  expect(m.routing.replicas(still).target).toBeUndefined();
  await expect(m.offer({ ...changed, cluster: 'other' })).rejects.toThrow('cannot merge');
});

/** The versioned cluster state: merge, claimant, plan, commit and transfers (app/membership/cluster-state.ts). */
import * as fc from 'fast-check';
import { claimantOf, ClusterState, commit, initialState, merge, pendingReceivers, plan, transferDone } from '../../app/membership/cluster-state';

const three = () =>
  initialState(
    'c1',
    ['kv-1', 'kv-2', 'kv-3'].map((id, i) => ({ id, address: `127.0.0.1:${7001 + i}`, zone: ['a', 'b', 'c'][i]! })),
    16,
    3,
  );

/** Records every transfer of the change in progress as done, in order, as the claimant would. */
function finish(state: ClusterState, author = 'kv-1'): ClusterState {
  let s = state;
  for (const t of state.transfers) s = transferDone(s, t.partition, t.to, author);
  return s;
}

describe('merge', () => {
  const statesArb = fc.array(fc.record({ version: fc.integer({ min: 1, max: 4 }), author: fc.constantFrom('kv-1', 'kv-2', 'kv-3') }), { minLength: 1, maxLength: 6 }).map((vs) => vs.map((v): ClusterState => ({ ...three(), ...v })));

  test('is commutative, associative and idempotent, and keeps the newest state whole', () => {
    fc.assert(
      fc.property(statesArb, (states) => {
        const [a, b, c] = [states[0]!, states[1 % states.length]!, states[2 % states.length]!];
        expect(merge(a, b)).toEqual(merge(b, a));
        expect(merge(merge(a, b), c)).toEqual(merge(a, merge(b, c)));
        expect(merge(a, a)).toBe(a);
        const winner = states.reduce(merge);
        for (const s of states) expect(s.version < winner.version || (s.version === winner.version && s.author <= winner.author)).toBe(true);
      }),
    );
  });

  test('rejects a state of another cluster, naming both', () => {
    expect(() => merge(three(), { ...three(), cluster: 'other' })).toThrow('cluster: a state of cluster "other" cannot merge into "c1"');
  });
});

describe('claimant', () => {
  test('is the first valid member that is up', () => {
    const s = three();
    expect(claimantOf(s, () => true)).toBe('kv-1');
    expect(claimantOf(s, (id) => id !== 'kv-1')).toBe('kv-2');
    expect(claimantOf(s, () => false)).toBeUndefined();
  });
});

describe('a change', () => {
  test('join: the plan moves the new member its share; commit, then transfers, then it is valid', () => {
    const s = three();
    const change = [{ kind: 'join' as const, id: 'kv-4', address: '127.0.0.1:7004', zone: 'a' }];
    const p = plan(s, change);
    // One replica of each partition lives in zone a, and kv-4 joins zone a: it takes half of
    // them from kv-1 (8), not a quarter of all replicas (12), which would put two in one zone.
    expect(p.transfers.length).toBe(8);
    expect(p.transfers.every((t) => t.to === 'kv-4')).toBe(true);
    const c = commit(s, change, 'kv-1');
    expect(c.version).toBe(2);
    expect(c.members.find((m) => m.id === 'kv-4')!.status).toBe('joining');
    // Until its transfer is done, a partition is served by its old primaries, and writes also reach the receiver.
    const moving = c.transfers[0]!;
    expect(c.placement.primaries[moving.partition]).toEqual(s.placement.primaries[moving.partition]);
    expect(pendingReceivers(c, moving.partition)).toEqual(['kv-4']);
    const one = transferDone(c, moving.partition, moving.to, 'kv-1');
    expect(one.version).toBe(3);
    expect(one.placement.primaries[moving.partition]).toContain('kv-4');
    expect(pendingReceivers(one, moving.partition)).toEqual([]);
    const done = finish(c);
    expect(done.target).toBeUndefined();
    expect(done.transfers).toEqual([]);
    expect(done.members.map((m) => `${m.id}:${m.status}`)).toEqual(['kv-1:valid', 'kv-2:valid', 'kv-3:valid', 'kv-4:valid']);
    expect(done.placement).toEqual(p.target);
  });

  test('leave: the leaving member keeps serving until its replicas moved, then it is gone', () => {
    const four = finish(commit(three(), [{ kind: 'join', id: 'kv-4', address: 'h:4', zone: 'a' }], 'kv-1'));
    const c = commit(four, [{ kind: 'leave', id: 'kv-4' }], 'kv-1');
    expect(c.members.find((m) => m.id === 'kv-4')!.status).toBe('leaving');
    expect(c.placement.primaries.some((row) => row.includes('kv-4'))).toBe(true);
    const done = finish(c);
    expect(done.members.map((m) => m.id)).toEqual(['kv-1', 'kv-2', 'kv-3']);
    expect(done.placement.primaries.some((row) => row.includes('kv-4'))).toBe(false);
  });

  test('remove: a dead member stops being a primary at once, and its partitions are filled from the others', () => {
    const four = finish(commit(three(), [{ kind: 'join', id: 'kv-4', address: 'h:4', zone: 'a' }], 'kv-1'));
    const c = commit(four, [{ kind: 'remove', id: 'kv-4' }], 'kv-1');
    expect(c.members.map((m) => m.id)).toEqual(['kv-1', 'kv-2', 'kv-3']);
    expect(c.placement.primaries.some((row) => row.includes('kv-4'))).toBe(false);
    expect(c.transfers.length).toBe(8);
    expect(finish(c).placement.primaries.every((row) => row.length === 3)).toBe(true);
  });

  test('remove during a change: a receiver that died for good no longer keeps the change from completing; it is replanned from the placement as it stands', () => {
    const five = finish(commit(three(), ['kv-4', 'kv-5'].map((id) => ({ kind: 'join' as const, id, address: `h:${id}`, zone: 'a' })), 'kv-1'));
    const joining = commit(five, [{ kind: 'join', id: 'kv-6', address: 'h:6', zone: 'a' }], 'kv-1');
    // Some of kv-6's partitions flip before it dies.
    const half = joining.transfers.slice(0, 3).reduce((s, t) => transferDone(s, t.partition, t.to, 'kv-1'), joining);
    const flipped = half.placement.primaries.filter((row) => row.includes('kv-6')).length;
    expect(flipped).toBeGreaterThan(0);
    const replanned = commit(half, [{ kind: 'remove', id: 'kv-6' }], 'kv-1');
    expect(replanned.changeVersion).toBe(replanned.version);
    expect(replanned.members.map((m) => m.id)).toEqual(['kv-1', 'kv-2', 'kv-3', 'kv-4', 'kv-5']);
    expect(replanned.placement.primaries.some((row) => row.includes('kv-6'))).toBe(false);
    // Only the partitions kv-6 had taken need a new third replica.
    expect(replanned.transfers.length).toBe(flipped);
    const done = finish(replanned);
    expect(done.target).toBeUndefined();
    expect(done.placement.primaries.every((row) => row.length === 3)).toBe(true);
    // Anything but a remove still waits for the change to finish.
    expect(() => plan(half, [{ kind: 'leave', id: 'kv-2' }])).toThrow(/only remove, for a member gone for good, may be committed during a change/);
  });

  test('rejects a second change while one is in progress, an unknown member, a double stage and an empty plan', () => {
    const c = commit(three(), [{ kind: 'join', id: 'kv-4', address: 'h:4', zone: 'a' }], 'kv-1');
    expect(() => commit(c, [{ kind: 'leave', id: 'kv-2' }], 'kv-1')).toThrow(/a change is in progress \(version 2, 8 transfers left\)/);
    expect(() => plan(three(), [{ kind: 'leave', id: 'kv-9' }])).toThrow('leave kv-9: no such member (members: kv-1, kv-2, kv-3)');
    expect(() => plan(three(), [{ kind: 'join', id: 'kv-1', address: 'h', zone: 'a' }])).toThrow('join kv-1: it is a member already (valid)');
    expect(() => plan(three(), [{ kind: 'leave', id: 'kv-2' }, { kind: 'remove', id: 'kv-2' }])).toThrow('kv-2: more than one change stages it');
    expect(() => plan(three(), [])).toThrow('no changes are staged');
    expect(() => plan(three(), ['kv-1', 'kv-2', 'kv-3'].map((id) => ({ kind: 'leave' as const, id })))).toThrow('leaves no member');
    // Found by the simulator: with no valid member there is no claimant to record the transfers,
    // and the change (replace every member in one commit) never completed.
    const replaceAll = [...['kv-4', 'kv-5', 'kv-6'].map((id) => ({ kind: 'join' as const, id, address: `h:${id}`, zone: 'a' })), ...['kv-1', 'kv-2', 'kv-3'].map((id) => ({ kind: 'leave' as const, id }))];
    expect(() => plan(three(), replaceAll)).toThrow('the change joins, leaves or removes every member (kv-1 leaving, kv-2 leaving, kv-3 leaving, kv-4 joining, kv-5 joining, kv-6 joining): keep at least one member as it is');
    expect(() => plan(three(), [{ kind: 'remove', id: 'kv-1' }, { kind: 'remove', id: 'kv-2' }, { kind: 'leave', id: 'kv-3' }, { kind: 'join', id: 'kv-4', address: 'h:4', zone: 'a' }])).toThrow('keep at least one member as it is');
    expect(plan(three(), replaceAll.slice(0, 5)).target.primaries.every((row) => !row.includes('kv-1') && !row.includes('kv-2'))).toBe(true);
    expect(() => transferDone(three(), 0, 'kv-4', 'kv-1')).toThrow('transfer of partition 0 to kv-4: not part of the change in progress');
  });

  test('recording a transfer twice changes nothing', () => {
    const c = commit(three(), [{ kind: 'join', id: 'kv-4', address: 'h:4', zone: 'a' }], 'kv-1');
    const t = c.transfers[0]!;
    const once = transferDone(c, t.partition, t.to, 'kv-1');
    expect(transferDone(once, t.partition, t.to, 'kv-1')).toBe(once);
  });
});

/** The cluster state's codec: round trips, and rejection of what a peer or a disk could send. */
import { ClusterState, commit, initialState } from '../../app/membership/cluster-state';
import { decodeState, encodeState, StateCodecError } from '../../app/membership/state-codec';

const base = (): ClusterState =>
  initialState(
    'c1',
    ['kv-1', 'kv-2', 'kv-3'].map((id, i) => ({ id, address: `127.0.0.1:${7001 + i}`, zone: ['a', 'b', 'c'][i]! })),
    16,
    3,
  );

test('a state, and a state with a change in progress, read back as they were written', () => {
  const s = base();
  expect(decodeState(encodeState(s))).toEqual(s);
  const changing = commit(s, [{ kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: 'a' }], 'kv-1');
  expect(decodeState(encodeState(changing))).toEqual(changing);
  const departing = commit(s, [{ kind: 'leave', id: 'kv-2' }, { kind: 'remove', id: 'kv-3' }], 'kv-1');
  expect(departing.departures).toEqual([{ id: 'kv-2', how: 'left' }, { id: 'kv-3', how: 'removed' }]);
  expect(decodeState(encodeState(departing))).toEqual(departing);
});

describe('rejects, naming the field, the value and the limit', () => {
  const mutate = (f: (raw: Record<string, unknown>) => void): string => {
    const raw = JSON.parse(encodeState(base())) as Record<string, unknown>;
    f(raw);
    return JSON.stringify(raw);
  };
  test.each<[string, (raw: Record<string, unknown>) => void, string]>([
    ['partitions that are not a power of two', (r) => (r.partitions = 12), 'partitions: 12 is not a power of two'],
    ['a replication factor out of range', (r) => (r.n = 40), 'n: 40 is not an integer within 1..16'],
    ['a version of 0', (r) => (r.version = 0), 'version: 0 is not an integer within 1..'],
    ['a departure that is neither left nor removed', (r) => (r.departures = [{ id: 'kv-9', how: 'vanished' }]), 'departures[0].how: "vanished" is not left or removed'],
    ['a member with a bad id', (r) => ((r.members as Record<string, unknown>[])[0]!.id = 'KV 1'), 'members[0].id: "KV 1" is not a member id'],
    ['a member with a bad status', (r) => ((r.members as Record<string, unknown>[])[1]!.status = 'gone'), 'members[1].status: "gone" is not one of joining, valid, leaving'],
    ['a placement row naming a stranger', (r) => ((r.placement as string[][])[3]![0] = 'kv-9'), 'placement[3]: "kv-9" is not a member of the state'],
    ['a placement row naming a member twice', (r) => ((r.placement as string[][])[2] = ['kv-1', 'kv-1']), 'placement[2]: ["kv-1","kv-1"] names a member twice'],
    ['a placement missing rows', (r) => (r.placement = (r.placement as string[][]).slice(1)), 'placement: "15 rows" is not one row for each of the 16 partitions'],
    ['a row longer than N', (r) => ((r.placement as string[][])[0] = ['kv-1', 'kv-2', 'kv-3', 'kv-1']), 'placement[0]: "4 entries" is more than the 3 allowed'],
    ['transfers without a target', (r) => (r.transfers = [{ partition: 1, to: 'kv-1', done: false }]), 'transfers: "1 transfers" are listed without a target placement'],
    ['members out of order', (r) => (r.members = (r.members as unknown[]).reverse()), 'members: ["kv-3","kv-2","kv-1"] is not sorted by id'],
  ])('%s', (_what, f, message) => {
    expect(() => decodeState(mutate(f))).toThrow(StateCodecError);
    expect(() => decodeState(mutate(f))).toThrow(message);
  });

  test('text that is not JSON, or not an object', () => {
    expect(() => decodeState('{')).toThrow('cluster state: not JSON');
    expect(() => decodeState('[1]')).toThrow('cluster state: state: [1] is not an object');
  });
});

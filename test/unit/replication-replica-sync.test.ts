import { ReplicaSync, ReplicaSyncOptions } from '../../app/replication/replica-sync';

const served = new Map<number, readonly string[]>([
  [1, ['b', 'c']],
  [2, ['c', 'd']],
]);

function sync(options: Partial<ReplicaSyncOptions> = {}) {
  const persisted: number[][] = [];
  const s = new ReplicaSync({
    self: 'a',
    members: ['a', 'b', 'c', 'd', 'e'],
    served,
    freshDirectory: true,
    syncing: undefined,
    persist: async (p) => {
      persisted.push([...p]);
    },
    ...options,
  });
  return { s, persisted };
}

describe('ReplicaSync', () => {
  test('a directory that is not new counts its not-founds from the start', () => {
    const { s } = sync({ freshDirectory: false });
    expect(s.current).toBe('synced');
    expect(s.notFoundCounts(1)).toBe(true);
  });

  test('a new directory counts nothing until a majority of the members say none knew another one', () => {
    const { s } = sync();
    expect(s.current).toBe('awaiting-verdict');
    expect(s.notFoundCounts(1)).toBe(false);
    expect(s.partitionsSyncing).toBe(2);
    s.verdict('b', '', 'new-id');
    expect(s.current).toBe('awaiting-verdict');
    s.verdict('c', '', 'new-id');
    // a, b and c: three of five.
    expect(s.current).toBe('synced');
    expect(s.notFoundCounts(2)).toBe(true);
  });

  test('a peer that knew an earlier directory makes every served partition sync, persisted, until anti-entropy exchanged it with every other primary', () => {
    const { s, persisted } = sync();
    s.verdict('b', 'old-id', 'new-id');
    expect(s.current).toBe('syncing');
    expect(persisted.at(-1)).toEqual([1, 2]);
    expect(s.next(() => true)).toEqual({ partition: 1, peer: 'b' });
    s.exchanged(1, 'b');
    expect(s.notFoundCounts(1)).toBe(false);
    expect(s.next(() => true)).toEqual({ partition: 1, peer: 'c' });
    s.exchanged(1, 'c');
    expect(s.notFoundCounts(1)).toBe(true);
    expect(persisted.at(-1)).toEqual([2]);
    expect(s.notFoundCounts(2)).toBe(false);
    // A peer that is down is skipped by next(), but still needed.
    expect(s.next((n) => n !== 'c')).toEqual({ partition: 2, peer: 'd' });
    s.exchanged(2, 'd');
    expect(s.current).toBe('syncing');
    s.exchanged(2, 'c');
    expect(s.current).toBe('synced');
    expect(persisted.at(-1)).toEqual([]);
  });

  test('later verdicts do not undo syncing', () => {
    const { s } = sync();
    s.verdict('b', 'old-id', 'new-id');
    s.verdict('c', '', 'new-id');
    s.verdict('d', '', 'new-id');
    expect(s.current).toBe('syncing');
  });

  test('a peer that knew this very directory is no evidence of loss', () => {
    const { s } = sync();
    s.verdict('b', 'new-id', 'new-id');
    s.verdict('c', 'new-id', 'new-id');
    expect(s.current).toBe('synced');
  });

  test('partitions left syncing by a previous start stay syncing after a restart', () => {
    const { s } = sync({ freshDirectory: false, syncing: [2] });
    expect(s.current).toBe('syncing');
    expect(s.notFoundCounts(1)).toBe(true);
    expect(s.notFoundCounts(2)).toBe(false);
  });

  test('a lone node is synced at once', () => {
    const { s } = sync({ members: ['a'] });
    expect(s.current).toBe('synced');
  });
});

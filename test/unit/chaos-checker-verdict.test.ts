/**
 * The checker's rules on hand-made histories: lost elements and writes, resurrected deletes (with
 * the concurrency cases the rule must let pass), sibling bounds, unreadable keys; convergence.
 */
import { FinalRead, judge, JudgeInput, mustStayDeleted } from '../../chaos/checker/verdict';
import { RegisterLedger } from '../../chaos/checker/register';
import { awaitConvergence, disagreement } from '../../chaos/checker/converge';
import { CheckedStore, ReplicaState } from '../../chaos/checker/store';

const read = (...values: string[]): FinalRead => ({ ok: true, values });
const noRegister: RegisterLedger = { writes: [], deletes: [] };

function input(partial: Partial<JudgeInput>): JudgeInput {
  return { acked: new Map(), register: noRegister, finals: new Map(), siblingsMax: 4, ...partial };
}

describe('set-add', () => {
  test('an acknowledged element in any sibling counts as present', () => {
    const j = judge(input({ acked: new Map([['s', new Set(['a', 'b', 'c'])]]), finals: new Map([['s', read('a,b', 'c,x')]]) }));
    expect(j.lostElements).toEqual([]);
    expect(j.siblingsMaxSeen).toBe(2);
  });

  test('fails when an acknowledged element is in no sibling', () => {
    const j = judge(input({ acked: new Map([['s', new Set(['a', 'b'])]]), finals: new Map([['s', read('a')]]) }));
    expect(j.lostElements).toEqual([{ key: 's', value: 'b' }]);
  });

  test('fails when a set key reads as deleted or empty', () => {
    const j = judge(input({ acked: new Map([['s', new Set(['a'])]]), finals: new Map([['s', read()]]) }));
    expect(j.lostElements).toEqual([{ key: 's', value: 'a' }]);
  });
});

describe('register: resurrected deletes', () => {
  // v1 acked at 10, a read at 20 saw it, the delete based on it acked.
  const base: RegisterLedger = {
    writes: [{ key: 'k', value: 'v1', ackedAtMs: 10 }],
    deletes: [{ key: 'k', readStartMs: 20, readValues: ['v1'], outcome: 'ok' }],
  };

  test('fails when a value an acknowledged delete removed is back', () => {
    const j = judge(input({ register: base, finals: new Map([['k', read('v1')]]) }));
    expect(j.resurrected).toEqual([{ key: 'k', value: 'v1' }]);
    expect(j.lostWrites).toEqual([]);
  });

  test('a deleted key that stays deleted, or holds only later writes, passes', () => {
    for (const final of [read(), read('v2')]) {
      const register = { ...base, writes: [...base.writes, { key: 'k', value: 'v2', ackedAtMs: 30 }] };
      const j = judge(input({ register, finals: new Map([['k', final]]) }));
      expect(j.resurrected).toEqual([]);
    }
  });

  test('a value the delete\'s read did not return is concurrent with the delete and may survive', () => {
    // Under sloppy quorum the read missed v1 (acked before it): the context does not cover it.
    const register: RegisterLedger = { writes: base.writes, deletes: [{ ...base.deletes[0]!, readValues: [] }] };
    expect(mustStayDeleted(register)).toEqual(new Map());
    expect(judge(input({ register, finals: new Map([['k', read('v1')]]) })).resurrected).toEqual([]);
  });

  test('a value acknowledged only after the delete\'s read started is not held against the store', () => {
    const register: RegisterLedger = { writes: [{ key: 'k', value: 'v1', ackedAtMs: 25 }], deletes: base.deletes };
    expect(mustStayDeleted(register)).toEqual(new Map());
  });

  test('a delete that may have applied neither resurrects nor loses: its values may go either way', () => {
    const register: RegisterLedger = { writes: base.writes, deletes: [{ ...base.deletes[0]!, outcome: 'indeterminate' }] };
    for (const final of [read('v1'), read()]) {
      const j = judge(input({ register, finals: new Map([['k', final]]) }));
      expect(j.resurrected).toEqual([]);
      expect(j.lostWrites).toEqual([]);
    }
  });

  test('the rule is per key: the same value name under another key is not covered', () => {
    const register: RegisterLedger = { writes: [...base.writes, { key: 'j', value: 'v1', ackedAtMs: 10 }], deletes: base.deletes };
    expect(mustStayDeleted(register)).toEqual(new Map([['k', new Set(['v1'])]]));
  });
});

describe('register: lost writes', () => {
  test('fails when an acknowledged value no delete read is missing', () => {
    const register: RegisterLedger = { writes: [{ key: 'k', value: 'v1', ackedAtMs: 10 }, { key: 'k', value: 'v2', ackedAtMs: 11 }], deletes: [] };
    const j = judge(input({ register, finals: new Map([['k', read('v2')]]) }));
    expect(j.lostWrites).toEqual([{ key: 'k', value: 'v1' }]);
  });

  test('a value a delete removed is not lost', () => {
    const register: RegisterLedger = { writes: [{ key: 'k', value: 'v1', ackedAtMs: 10 }], deletes: [{ key: 'k', readStartMs: 5, readValues: ['v1'], outcome: 'ok' }] };
    expect(judge(input({ register, finals: new Map([['k', read()]]) })).lostWrites).toEqual([]);
  });
});

describe('bounds and unreadable keys', () => {
  test('fails when a key holds more siblings than the bound', () => {
    const j = judge(input({ finals: new Map([['a', read('1', '2', '3', '4', '5')], ['b', read('1')]]), siblingsMax: 4 }));
    expect(j.siblingsOver).toEqual([{ key: 'a', siblings: 5 }]);
    expect(j.siblingsMaxSeen).toBe(5);
  });

  test('an unreadable key is reported, and its acknowledged elements are not counted as lost', () => {
    const j = judge(input({ acked: new Map([['s', new Set(['a'])]]), finals: new Map([['s', { ok: false, error: 'UNAVAILABLE: down' }]]) }));
    expect(j.unreadable).toEqual([{ key: 's', error: 'UNAVAILABLE: down' }]);
    expect(j.lostElements).toEqual([]);
  });

  test('rejects a history whose keys were not read at the end (a bug in the caller)', () => {
    expect(() => judge(input({ acked: new Map([['s', new Set(['a'])]]) }))).toThrow(/no final read of set-add key s/);
  });
});

describe('convergence', () => {
  const replica = (node: string, version: string, extra: Partial<ReplicaState> = {}): ReplicaState => ({ node, primary: true, answered: true, holds: version !== '', version, values: [], ...extra });

  test('replicas agree when every primary holds the same history and no fallback holds hints', () => {
    expect(disagreement([replica('a', 'x'), replica('b', 'x'), replica('c', '', { primary: false })])).toBeUndefined();
    expect(disagreement([replica('a', 'x'), replica('b', 'y')])).toMatch(/primaries differ/);
    expect(disagreement([replica('a', 'x'), replica('b', 'x', { answered: false })])).toMatch(/no answer from b/);
    expect(disagreement([replica('a', 'x'), replica('c', '', { primary: false, holds: true })])).toMatch(/hints not yet handed off on c/);
  });

  /** A store whose key `k2` converges only after `atMs` of fake time. */
  function store(clock: { ms: number }, atMs: number): CheckedStore {
    const unused = () => Promise.reject(new Error('not used'));
    return {
      get: unused,
      put: unused,
      delete: unused,
      replicas: async (key) => ({ ok: true, value: [replica('a', 'x'), replica('b', key === 'k2' && clock.ms < atMs ? 'old' : 'x')] }),
    };
  }

  test('reports how long the slowest key took, and the primaries it found', async () => {
    const clock = { ms: 0 };
    const now = () => (clock.ms += 100);
    const c = await awaitConvergence(store(clock, 1000), ['k1', 'k2'], 5, now, 1);
    expect(c).toMatchObject({ converged: true, keysDiverged: 0 });
    expect(c.afterS).toBeGreaterThanOrEqual(0.9);
    expect(c.afterS).toBeLessThan(1.5);
    expect(c.primaries.get('k1')).toBe(2);
  });

  test('fails when a key has not converged within the time, naming it and why', async () => {
    const clock = { ms: 0 };
    const c = await awaitConvergence(store(clock, Infinity), ['k1', 'k2'], 2, () => (clock.ms += 100), 1);
    expect(c).toMatchObject({ converged: false, keysDiverged: 1, diverged: [{ key: 'k2', why: expect.stringMatching(/primaries differ/) }] });
  });
});

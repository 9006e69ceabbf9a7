/**
 * Writes that may have applied, settled by reading the key back (chaos/checker/recorder.ts): the
 * rounds on scripted answers; each workload's cycle against a MemoryCluster whose chosen writes
 * are answered may-have-applied, carried out or not (what it counts as acknowledged, what it
 * writes again); and the whole checker over such a store, which must still pass, count those
 * writes as settled, and still catch the stores broken on purpose.
 */
import { tally } from '../../chaos/checker/availability';
import { Checker, CheckerOptions } from '../../chaos/checker/checker';
import { History } from '../../chaos/checker/history';
import { LoadWorkload } from '../../chaos/checker/load';
import { INDETERMINATE_RESOLVE_ROUNDS_MAX, NO_EVENTS, Recorder, RETRY_POLICY_DEFAULT, settleWrite } from '../../chaos/checker/recorder';
import { RegisterWorkload } from '../../chaos/checker/register';
import { summarize } from '../../chaos/checker/result';
import { elementsOf, SetAddWorkload } from '../../chaos/checker/set-add';
import { CheckedStore, StoreOutcome } from '../../chaos/checker/store';
import { WorkloadContext } from '../../chaos/checker/workload';
import { answeringMayHaveApplied, Doubt, droppingEveryTenthWrite, FAST_CHECKER_OPTIONS, memoryClusterStore, resurrectingDeletes } from '../support/checked-stores';
import { MemoryCluster } from '../support/memory-cluster';

const FAST = { ...RETRY_POLICY_DEFAULT, attemptsMax: 4, backoffInitialMs: 2, backoffMaxMs: 5 };

describe('settleWrite', () => {
  const mayHaveApplied: StoreOutcome<string> = { ok: false, error: { code: 'DEADLINE_EXCEEDED', retryable: true, mayHaveApplied: true, message: '' } };
  const refused: StoreOutcome<string> = { ok: false, error: { code: 'INVALID_ARGUMENT', retryable: false, mayHaveApplied: false, message: '' } };
  const unreadable: StoreOutcome<boolean> = { ok: false, error: { code: 'UNAVAILABLE', retryable: true, mayHaveApplied: false, message: '' } };
  const acked: StoreOutcome<string> = { ok: true, value: 'ctx' };

  /** Runs settleWrite over scripted answers; counts the calls. */
  async function settle(writes: Array<StoreOutcome<string>>, reads: Array<StoreOutcome<boolean>>) {
    const calls = { writes: 0, reads: 0 };
    const done = await settleWrite(
      {
        write: async () => writes[Math.min(calls.writes++, writes.length - 1)]!,
        readBack: async () => reads[Math.min(calls.reads++, reads.length - 1)]!,
      },
      FAST,
    );
    return { done, calls };
  }

  test('a write that may have applied and is found by the read-back succeeded, without writing again', async () => {
    const { done, calls } = await settle([mayHaveApplied], [{ ok: true, value: true }]);
    expect(done).toEqual({ outcome: 'ok', acked: undefined, resolution: 'applied', code: '', attempts: 2, indeterminateWrites: 1 });
    expect(calls).toEqual({ writes: 1, reads: 1 });
  });

  test('one not found is written again, and the acknowledged redo is the operation\'s reply', async () => {
    const { done, calls } = await settle([mayHaveApplied, acked], [{ ok: true, value: false }]);
    expect(done).toEqual({ outcome: 'ok', acked: 'ctx', resolution: 'redone', code: '', attempts: 3, indeterminateWrites: 1 });
    expect(calls).toEqual({ writes: 2, reads: 1 });
  });

  test('a redo that may have applied again is read back again', async () => {
    const { done } = await settle([mayHaveApplied, mayHaveApplied], [{ ok: true, value: false }, { ok: true, value: true }]);
    expect(done).toMatchObject({ outcome: 'ok', resolution: 'applied', indeterminateWrites: 2 });
    expect(tally([{ startMs: 0, endMs: 1, workload: 'load', kind: 'put', ...done }]).readBack).toEqual({ indeterminateWrites: 2, applied: 1, redone: 1, unresolved: 0, ops: 1 });
  });

  test(`gives up after ${INDETERMINATE_RESOLVE_ROUNDS_MAX} read-backs that did not find the write: indeterminate, unresolved`, async () => {
    const { done, calls } = await settle([mayHaveApplied], [{ ok: true, value: false }]);
    expect(done).toMatchObject({ outcome: 'indeterminate', resolution: 'unresolved', code: 'DEADLINE_EXCEEDED', indeterminateWrites: INDETERMINATE_RESOLVE_ROUNDS_MAX + 1 });
    expect(calls).toEqual({ writes: INDETERMINATE_RESOLVE_ROUNDS_MAX + 1, reads: INDETERMINATE_RESOLVE_ROUNDS_MAX });
  });

  test('a read-back that fails after its retries leaves the write unresolved, with the read\'s error', async () => {
    const { done, calls } = await settle([mayHaveApplied], [unreadable]);
    expect(done).toMatchObject({ outcome: 'indeterminate', resolution: 'unresolved', code: 'UNAVAILABLE', attempts: 1 + FAST.attemptsMax });
    expect(calls).toEqual({ writes: 1, reads: FAST.attemptsMax });
  });

  test('a redo refused for sure fails the operation: redone, failed', async () => {
    const { done } = await settle([mayHaveApplied, refused], [{ ok: true, value: false }]);
    expect(done).toMatchObject({ outcome: 'failed', resolution: 'redone', code: 'INVALID_ARGUMENT' });
  });

  test('a write never in doubt is never read back', async () => {
    const { done, calls } = await settle([acked], [{ ok: true, value: true }]);
    expect(done).toMatchObject({ outcome: 'ok', resolution: 'none', indeterminateWrites: 0, attempts: 1 });
    expect(calls.reads).toBe(0);
  });
});

describe('each workload, with its first write answered may-have-applied', () => {
  let cluster: MemoryCluster;
  beforeEach(async () => {
    cluster = await MemoryCluster.start(3);
  });

  function setUp(doubt: (kind: 'put' | 'delete', n: number) => Doubt) {
    const store = answeringMayHaveApplied(memoryClusterStore(cluster), doubt);
    const history = new History(100);
    const context: WorkloadContext = { store, recorder: new Recorder(history, NO_EVENTS, FAST), options: { keys: 1, concurrency: 1, ratePerS: 1 }, prefix: 't/' };
    return { store, history, context };
  }
  const first = (kind: 'put' | 'delete', how: Doubt) => (k: 'put' | 'delete', n: number) => (k === kind && n === 1 ? how : undefined);
  const values = async (store: CheckedStore, key: string) => {
    const r = await store.get(key);
    if (!r.ok) throw new Error(r.error.message);
    return r.value.values;
  };

  test('set-add: an element found by the read-back succeeded, but is not acknowledged until an acknowledged write carries it', async () => {
    const { store, history, context } = setUp(first('put', 'applied'));
    const w = new SetAddWorkload(context);
    await w.cycle(context.recorder.now());
    expect(history.at(0)).toMatchObject({ outcome: 'ok', resolution: 'applied', indeterminateWrites: 1 });
    expect(elementsOf(await values(store, 't/set-0.0'))).toEqual(new Set(['e0']));
    // Only seen by a read: the store promised nothing about it.
    expect(w.acked.get('t/set-0.0')).toEqual(new Set());
    await w.cycle(context.recorder.now());
    // The second cycle's acknowledged write carries e0: from now on it must survive.
    expect(w.acked.get('t/set-0.0')).toEqual(new Set(['e0', 'e1']));
  });

  test('set-add: an element not found is written again, the same element, and acknowledged', async () => {
    const { store, history, context } = setUp(first('put', 'not-applied'));
    const w = new SetAddWorkload(context);
    await w.cycle(context.recorder.now());
    expect(history.at(0)).toMatchObject({ outcome: 'ok', resolution: 'redone', indeterminateWrites: 1 });
    expect(store.doubted).toEqual({ applied: 0, notApplied: 1 });
    expect(await values(store, 't/set-0.0')).toEqual(['e0']);
    expect(w.acked.get('t/set-0.0')).toEqual(new Set(['e0']));
  });

  test('register: a value found by the read-back is not recorded as acknowledged', async () => {
    const { store, history, context } = setUp(first('put', 'applied'));
    const w = new RegisterWorkload(context);
    await w.cycle(context.recorder.now());
    expect(history.at(0)).toMatchObject({ kind: 'put', outcome: 'ok', resolution: 'applied' });
    expect(await values(store, 't/reg-0')).toEqual(['v0.1']);
    expect(w.ledger.writes).toEqual([]);
  });

  test('register: a value not found is never resent: a new value is written and recorded', async () => {
    const { store, history, context } = setUp(first('put', 'not-applied'));
    const w = new RegisterWorkload(context);
    await w.cycle(context.recorder.now());
    expect(history.at(0)).toMatchObject({ kind: 'put', outcome: 'ok', resolution: 'redone' });
    expect(store.doubtedValues.get('t/reg-0')).toEqual(['v0.1']);
    expect(await values(store, 't/reg-0')).toEqual(['v0.2']);
    expect(w.ledger.writes.map((x) => x.value)).toEqual(['v0.2']);
  });

  test('register: a delete not carried out is done again on a fresh read; both are in the ledger, the doubtful one as such', async () => {
    const { store, history, context } = setUp(first('delete', 'not-applied'));
    const w = new RegisterWorkload(context);
    // keys 1: the first cycle only writes, the second writes and deletes.
    await w.cycle(context.recorder.now());
    await w.cycle(context.recorder.now());
    expect(history.ops().map((op) => [op.kind, op.outcome, op.resolution])).toEqual([
      ['put', 'ok', 'none'],
      ['put', 'ok', 'none'],
      ['delete', 'ok', 'redone'],
    ]);
    expect(await values(store, 't/reg-0')).toEqual([]);
    expect(w.ledger.deletes.map((d) => [d.outcome, [...d.readValues].sort()])).toEqual([
      ['indeterminate', ['v0.1', 'v1.1']],
      ['ok', ['v0.1', 'v1.1']],
    ]);
  });

  test('register: a delete found carried out stays "may have applied" in the ledger', async () => {
    const { store, history, context } = setUp(first('delete', 'applied'));
    const w = new RegisterWorkload(context);
    await w.cycle(context.recorder.now());
    await w.cycle(context.recorder.now());
    expect(history.at(2)).toMatchObject({ kind: 'delete', outcome: 'ok', resolution: 'applied' });
    expect(await values(store, 't/reg-0')).toEqual([]);
    expect(w.ledger.deletes.map((d) => d.outcome)).toEqual(['indeterminate']);
  });

  test('load: a put found by the read-back succeeded; one not found is made again with a new value', async () => {
    for (const [how, resolution, held] of [['applied', 'applied', ['l1.1']], ['not-applied', 'redone', ['l1.2']]] as const) {
      cluster = await MemoryCluster.start(3);
      const { store, history, context } = setUp(first('put', how));
      const w = new LoadWorkload(context);
      await w.cycle(context.recorder.now()); // a get
      await w.cycle(context.recorder.now()); // a put
      expect(history.at(1)).toMatchObject({ kind: 'put', outcome: 'ok', resolution });
      expect(await values(store, 't/load-0')).toEqual(held);
    }
  });

  test('a store that leaves every put in doubt: the operation ends indeterminate after the bounded rounds', async () => {
    const { history, context } = setUp((kind) => (kind === 'put' ? 'not-applied' : undefined));
    const w = new RegisterWorkload(context);
    await w.cycle(context.recorder.now());
    expect(history.at(0)).toMatchObject({ outcome: 'indeterminate', resolution: 'unresolved', indeterminateWrites: INDETERMINATE_RESOLVE_ROUNDS_MAX + 1 });
    expect(tally(history.ops())).toMatchObject({ availability: 0, indeterminate: 1 });
    expect(w.ledger.writes).toEqual([]);
  });
});

describe('the whole checker over a store that leaves writes in doubt', () => {
  const OPTIONS = FAST_CHECKER_OPTIONS;
  // Every 4th put of a key, and every 3rd delete, is answered may-have-applied, carried out or not in turn.
  const periodic = (kind: 'put' | 'delete', n: number): Doubt => {
    const every = kind === 'put' ? 4 : 3;
    if (n % every !== 0) return undefined;
    return n % (2 * every) === 0 ? 'not-applied' : 'applied';
  };

  let cluster: MemoryCluster;
  beforeEach(async () => {
    cluster = await MemoryCluster.start(3);
  });

  async function check(store: CheckedStore, options: Partial<CheckerOptions> = {}) {
    const checker = new Checker(store, { ...OPTIONS, ...options });
    await checker.run(1);
    return checker.verdict();
  }

  test('passes: every write in doubt is settled by a read-back, found or written again, and every operation succeeds', async () => {
    const store = answeringMayHaveApplied(memoryClusterStore(cluster), periodic);
    const result = await check(store);
    expect(result.reasons).toEqual([]);
    expect(store.doubted.applied).toBeGreaterThan(5);
    expect(store.doubted.notApplied).toBeGreaterThan(5);
    const a = result.availability.overall;
    expect(a.availability).toBe(1);
    expect(a.indeterminate).toBe(0);
    expect(a.readBack.applied).toBeGreaterThan(0);
    expect(a.readBack.redone).toBeGreaterThan(0);
    expect(a.readBack.unresolved).toBe(0);
    expect(a.readBack.indeterminateWrites).toBe(store.doubted.applied + store.doubted.notApplied);
    // What a client that gives up on a write in doubt would have seen.
    expect(a.availabilityWithoutReadBack!).toBeLessThan(1);
    expect(a.attempts).toBeGreaterThan(a.ops);
    expect(result.run.readBackRoundsMax).toBe(INDETERMINATE_RESOLVE_ROUNDS_MAX);
    expect(summarize(result)).toMatch(/read-back: \d+ writes may have applied: \d+ found applied, \d+ not found and written again, 0 unresolved; without read-back availability would be \d+(\.\d+)? %/);
  });

  test('fails when the store drops every tenth acknowledged write, also with writes in doubt', async () => {
    const result = await check(answeringMayHaveApplied(droppingEveryTenthWrite(memoryClusterStore(cluster)), periodic));
    expect(result.holds).toBe(false);
    expect(result.correctness.lostElements).toBeGreaterThan(0);
    expect(result.correctness.lostRegisterWrites).toBeGreaterThan(0);
    expect(result.availability.overall.readBack.indeterminateWrites).toBeGreaterThan(0);
  });

  test('fails when the store resurrects deletes, also with writes in doubt', async () => {
    const result = await check(answeringMayHaveApplied(resurrectingDeletes(memoryClusterStore(cluster)), periodic), { workloads: ['register'] });
    expect(result.holds).toBe(false);
    expect(result.correctness.resurrectedDeletes).toBeGreaterThan(0);
    expect(result.correctness.lostWrites).toBe(0);
    expect(result.availability.overall.readBack.indeterminateWrites).toBeGreaterThan(0);
  });
});

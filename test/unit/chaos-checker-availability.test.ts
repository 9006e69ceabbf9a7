/**
 * The checker's figures on hand-made histories: availability (retried successes count once,
 * indeterminate writes count against), percentiles, fault windows and the time to recover, the
 * per-second timeline; the bounded history; the retry backoff.
 */
import { percentile, recoverS, tally, timeline, windowFigures } from '../../chaos/checker/availability';
import { History, Op } from '../../chaos/checker/history';
import { backoffMs, RETRY_POLICY_DEFAULT, withRetries } from '../../chaos/checker/recorder';
import { StoreOutcome } from '../../chaos/checker/store';

const T0 = 1_700_000_000_000;

/** An operation started `atS` seconds after T0, lasting `ms`. */
function op(atS: number, outcome: Op['outcome'] = 'ok', ms = 1, attempts = 1): Op {
  const doubt = outcome === 'indeterminate';
  return { startMs: T0 + atS * 1000, endMs: T0 + atS * 1000 + ms, workload: 'load', kind: 'get', outcome, code: outcome === 'ok' ? '' : 'UNAVAILABLE', attempts, indeterminateWrites: doubt ? 1 : 0, resolution: doubt ? 'unresolved' : 'none' };
}

/** `n` operations spread over the second starting at `atS`, `bad` of them failed. */
function second(atS: number, n: number, bad = 0): Op[] {
  return Array.from({ length: n }, (_, i) => op(atS + i / n, i < bad ? 'failed' : 'ok'));
}

describe('availability', () => {
  test('an operation that succeeded after retries is one success; failed and indeterminate ones count against', () => {
    const t = tally([op(0, 'ok', 5, 3), op(0.1), op(0.2, 'failed', 900, 5), op(0.3, 'indeterminate')]);
    expect(t).toMatchObject({ ops: 4, ok: 2, failed: 1, indeterminate: 1, availability: 0.5 });
  });

  test('no operations: no availability figure rather than 0 or 1', () => {
    expect(tally([])).toMatchObject({ ops: 0, availability: null, p99Ms: null });
  });

  test('percentiles by nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 99)).toBeNull();
  });
});

describe('fault windows', () => {
  // 0-2 s healthy, fault 2-4 s (half fail), 4-5 s still 5 % failing, from 5 s healthy.
  const ops = [...second(0, 100), ...second(1, 100), ...second(2, 100, 50), ...second(3, 100, 50), ...second(4, 100, 5), ...second(5, 100), ...second(6, 100)];
  const window = { label: 'kill kv-2', startMs: T0 + 2000, endMs: T0 + 4000 };

  test('during counts what started in the window, after what started from its end to the run\'s end', () => {
    const [w] = windowFigures(ops, [window], T0 + 7000);
    expect(w!.during).toMatchObject({ ops: 200, ok: 100, availability: 0.5 });
    expect(w!.after).toMatchObject({ ops: 300, ok: 295 });
  });

  test('time to recover: the first whole second after the fault\'s end with at least 99 % succeeding', () => {
    expect(windowFigures(ops, [window], T0 + 7000)[0]!.recoverS).toBe(1);
    expect(recoverS(ops, T0 + 5000, T0 + 7000)).toBe(0);
    // Never good again before the end: not recovered.
    expect(recoverS(ops, T0 + 2000, T0 + 4000)).toBeNull();
  });

  test('a second in which nothing started is not a recovery', () => {
    const sparse = [...second(0, 10, 10), ...second(2, 10)];
    expect(recoverS(sparse, T0, T0 + 3000)).toBe(2);
  });

  test('after a window ends where the next one starts, and windows come out in order', () => {
    const later = { label: 'pause kv-3', startMs: T0 + 5000, endMs: T0 + 6000 };
    const figures = windowFigures(ops, [later, window], T0 + 7000);
    expect(figures.map((w) => w.label)).toEqual(['kill kv-2', 'pause kv-3']);
    expect(figures[0]!.after.ops).toBe(100); // 4-5 s only
    expect(figures[1]!.during.ops).toBe(100);
  });

  test('p99 during a window comes from that window\'s operations', () => {
    const slow = [...Array.from({ length: 99 }, (_, i) => op(2 + i / 100, 'ok', 10)), op(2.995, 'ok', 2000), ...second(5, 100)];
    const [w] = windowFigures(slow, [window], T0 + 6000);
    expect(w!.during.p99Ms).toBe(10);
    expect(w!.during.maxMs).toBe(2000);
    expect(w!.after.p99Ms).toBe(1);
  });
});

test('the timeline has one entry a second, by when operations ended', () => {
  const t = timeline([op(0.1), op(0.2, 'failed'), op(0.9, 'ok', 300), op(2.5, 'indeterminate', 40)], T0, T0 + 3000);
  expect(t).toEqual([
    { t: 0, ops: 2, errors: 1, indeterminate: 0, readBack: 0, p99Ms: 1 },
    { t: 1, ops: 1, errors: 0, indeterminate: 0, readBack: 0, p99Ms: 300 },
    { t: 2, ops: 1, errors: 0, indeterminate: 1, readBack: 1, p99Ms: 40 },
  ]);
});

describe('history', () => {
  test('keeps what it is given, in order, and counts what it had no room for', () => {
    const h = new History(3000);
    const ops = Array.from({ length: 3500 }, (_, i) => ({ ...op(i / 1000, i % 7 === 0 ? 'failed' : 'ok'), code: i % 7 === 0 ? `CODE_${i % 100}` : '' }));
    for (const o of ops) h.record(o);
    expect(h.size).toBe(3000);
    expect(h.dropped).toBe(500);
    expect(h.at(1234)).toEqual(ops[1234]);
    expect(h.ops()[2999]).toEqual(ops[2999]);
  });

  test('endedSince counts the newest operations by outcome', () => {
    const h = new History(10);
    for (const o of [op(0), op(1, 'failed'), op(2), op(3, 'indeterminate')]) h.record(o);
    expect(h.endedSince(T0 + 1000)).toEqual({ ok: 1, failed: 1, indeterminate: 1 });
  });
});

describe('retries', () => {
  test('backoff doubles up to its maximum, with half of each wait jittered', () => {
    const p = { attemptsMax: 10, backoffInitialMs: 50, backoffMaxMs: 300 };
    expect([1, 2, 3, 4].map((r) => backoffMs(p, r, () => 0))).toEqual([25, 50, 100, 150]);
    expect([1, 2, 3, 4].map((r) => backoffMs(p, r, () => 1))).toEqual([50, 100, 200, 300]);
  });

  const fail = (retryable: boolean, mayHaveApplied = false): StoreOutcome<number> => ({ ok: false, error: { code: 'X', retryable, mayHaveApplied, message: '' } });
  const fast = { ...RETRY_POLICY_DEFAULT, backoffInitialMs: 1, backoffMaxMs: 1 };

  test('retries a retryable failure until it succeeds, within the attempts', async () => {
    const answers = [fail(true), fail(true), { ok: true, value: 7 } as const];
    expect(await withRetries(async (n) => answers[n - 1]!, fast)).toEqual({ outcome: answers[2], attempts: 3 });
    expect((await withRetries(async () => fail(true), { ...fast, attemptsMax: 4 })).attempts).toBe(4);
  });

  test('never resends a write that may have applied, nor retries what cannot succeed', async () => {
    expect((await withRetries(async () => fail(true, true), fast)).attempts).toBe(1);
    expect((await withRetries(async () => fail(false), fast)).attempts).toBe(1);
  });
});

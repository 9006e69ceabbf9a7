/** The pre-stop rule: leave only on a scale-in the StatefulSet itself reports; otherwise keep the data. */
import { KubeResult } from '../../app/k8s/kube-api';
import { decidePreStop, LEAVE_RETRY_MAX_MS, leaveRetryDelayMs, podOrdinal, PreStopEffects, PreStopFacts, runPreStop } from '../../app/k8s/pre-stop';

const facts = (nodeId: string, desired: number | string, n = 3): PreStopFacts => ({
  nodeId,
  setName: 'kv',
  n,
  desiredReplicas: typeof desired === 'number' ? { ok: true, value: desired } : { ok: false, error: desired },
});

describe('podOrdinal', () => {
  test.each([
    ['kv-0', 0],
    ['kv-7', 7],
    ['kv-12', 12],
  ])('%s is ordinal %d of set kv', (id, ordinal) => {
    expect(podOrdinal(id, 'kv')).toEqual({ ok: true, value: ordinal });
  });

  test('reads the ordinal after the set name, which may itself contain dashes and digits', () => {
    expect(podOrdinal('kv-store-2-10', 'kv-store-2')).toEqual({ ok: true, value: 10 });
  });

  test.each(['kv', 'kv-', 'kv-01', 'kv-a', 'other-1', 'kvx-1', 'kv-1-2', 'kv-9999999999'])('rejects %j as not a pod of set kv', (id) => {
    expect(podOrdinal(id, 'kv')).toEqual({ ok: false, error: expect.stringContaining(`${JSON.stringify(id)} is not a pod of the StatefulSet kv`) });
  });
});

describe('decidePreStop', () => {
  test('leaves when the pod\'s ordinal is at or beyond the desired replicas (scale-in from the highest ordinal)', () => {
    expect(decidePreStop(facts('kv-5', 5))).toEqual({ action: 'leave', reason: expect.stringContaining('ordinal 5 is beyond the 5 desired replicas: scale-in') });
    expect(decidePreStop(facts('kv-5', 3)).action).toBe('leave');
    expect(decidePreStop(facts('kv-3', 3)).action).toBe('leave');
  });

  test('stays for a pod within the desired replicas: rollout, eviction, drain, restart', () => {
    for (const id of ['kv-0', 'kv-4', 'kv-5']) {
      expect(decidePreStop(facts(id, 6))).toEqual({ action: 'stay', reason: expect.stringContaining('within the 6 desired replicas') });
    }
  });

  test('stays when the API could not be read, saying why', () => {
    const d = decidePreStop(facts('kv-5', 'GET https://10.100.0.1:443/apis/...: HTTP 403 (forbidden)'));
    expect(d).toEqual({ action: 'stay', reason: expect.stringMatching(/could not read the StatefulSet's desired replicas \(GET .*HTTP 403 \(forbidden\)\): a restart must never hand off data/) });
  });

  test('stays when the set is scaled below N (scale to zero stops the cluster; it does not empty it)', () => {
    expect(decidePreStop(facts('kv-2', 0))).toEqual({ action: 'stay', reason: expect.stringContaining('scaled to 0 replicas, fewer than N=3') });
    expect(decidePreStop(facts('kv-4', 2)).action).toBe('stay');
    expect(decidePreStop(facts('kv-4', 3)).action).toBe('leave');
    expect(decidePreStop(facts('kv-4', 2, 2)).action).toBe('leave');
  });

  test('stays for a pod whose name is not one of the set\'s', () => {
    expect(decidePreStop({ ...facts('other-9', 3), setName: 'kv' })).toEqual({ action: 'stay', reason: expect.stringContaining('cannot tell a scale-in from a restart') });
  });
});

describe('leaveRetryDelayMs', () => {
  test('doubles from 1 s up to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((a) => leaveRetryDelayMs(a, 0, Number.MAX_SAFE_INTEGER))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, LEAVE_RETRY_MAX_MS]);
  });

  test('gives no delay once the next attempt would start past the deadline', () => {
    expect(leaveRetryDelayMs(3, 10_000, 14_001)).toBe(4000);
    expect(leaveRetryDelayMs(3, 10_000, 14_000)).toBeUndefined();
  });
});

describe('runPreStop', () => {
  /** Effects on a fake clock that advances only by sleeps and by what each leave attempt takes. */
  function fakes(desired: KubeResult<number>, leaveAnswers: KubeResult<void>[], leaveTakesMs = 0) {
    let now = 0;
    const sleeps: number[] = [];
    const leaveBudgets: number[] = [];
    const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
    const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields });
    const fx: PreStopEffects = {
      readDesiredReplicas: async () => desired,
      leave: async (timeoutMs) => {
        leaveBudgets.push(timeoutMs);
        now += leaveTakesMs;
        return leaveAnswers.shift() ?? { ok: false, error: 'another change is in progress' };
      },
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
      now: () => now,
      log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    };
    return { fx, sleeps, leaveBudgets, lines };
  }
  const options = { nodeId: 'kv-4', setName: 'kv', n: 3, sleepMs: 5000, budgetMs: 60_000 };

  test('a pod within the desired replicas only pauses, and never leaves', async () => {
    const f = fakes({ ok: true, value: 5 }, []);
    expect(await runPreStop(options, f.fx)).toBe('stayed');
    expect(f.sleeps).toEqual([5000]);
    expect(f.leaveBudgets).toEqual([]);
    expect(f.lines).toEqual([{ level: 'info', msg: 'pre-stop: staying a member', fields: { reason: expect.stringContaining('within the 5 desired replicas'), sleepMs: 5000 } }]);
  });

  test('a pod that cannot read the API never leaves, and logs why', async () => {
    const f = fakes({ ok: false, error: 'GET https://10.100.0.1:443/apis/apps/v1/namespaces/kv/statefulsets/kv: HTTP 403 (forbidden)' }, [{ ok: true, value: undefined }]);
    expect(await runPreStop(options, f.fx)).toBe('stayed');
    expect(f.leaveBudgets).toEqual([]);
    expect(f.lines[0]!.fields!.reason).toMatch(/HTTP 403.*a restart must never hand off data/);
  });

  test('a scaled-in pod leaves, within the budget, and pauses only for what is left of the sleep', async () => {
    const f = fakes({ ok: true, value: 4 }, [{ ok: true, value: undefined }], 2000);
    expect(await runPreStop(options, f.fx)).toBe('left');
    expect(f.leaveBudgets).toEqual([60_000]);
    expect(f.sleeps).toEqual([3000]);
    expect(f.lines.map((l) => l.msg)).toEqual(['pre-stop: leaving the cluster', 'pre-stop: left the cluster: this member holds nothing and is no longer in the cluster state']);
  });

  test('retries a refused leave (another change in progress) until it is accepted', async () => {
    const refused: KubeResult<void> = { ok: false, error: 'FAILED_PRECONDITION: a change is in progress' };
    const f = fakes({ ok: true, value: 4 }, [refused, refused, refused, { ok: true, value: undefined }], 10_000);
    expect(await runPreStop(options, f.fx)).toBe('left');
    expect(f.sleeps).toEqual([1000, 2000, 4000]);
    // Each attempt gets what is left of the budget.
    expect(f.leaveBudgets).toEqual([60_000, 49_000, 37_000, 23_000]);
    expect(f.lines.filter((l) => l.msg === 'pre-stop: the leave failed; retrying').map((l) => l.fields!.error)).toEqual([refused.error, refused.error, refused.error]);
  });

  test('gives up when the budget is spent, saying how to finish the job', async () => {
    const f = fakes({ ok: true, value: 4 }, [], 20_000);
    expect(await runPreStop(options, f.fx)).toBe('leave-failed');
    const last = f.lines.at(-1)!;
    expect(last.level).toBe('error');
    expect(last.fields).toMatchObject({ lastError: 'another change is in progress', fix: expect.stringContaining('kv admin remove kv-4') });
    expect(f.leaveBudgets.every((b) => b > 0)).toBe(true);
  });
});

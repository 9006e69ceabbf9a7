/** The pre-stop rule: leave only on a scale-in the StatefulSet itself reports; otherwise keep the data. */
import { decidePreStop, LEAVE_RETRY_MAX_MS, leaveRetryDelayMs, podOrdinal, PreStopFacts } from '../../app/k8s/pre-stop';

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

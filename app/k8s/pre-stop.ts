/**
 * What a store pod does when Kubernetes stops it (its preStop hook, `kv k8s pre-stop`), decided
 * from facts alone so that the rule is tested without a cluster.
 *
 * A pod is stopped for many reasons: a rollout, an eviction, a node drain, a crash loop, a
 * deleted StatefulSet, or a scale-in. Only a scale-in means "this member goes away for good", and
 * only then may it hand its partitions to the others: a member that left holds nothing, so a pod
 * that left by mistake during a restart would come back empty and every key it held would have
 * to be copied back. So the rule leaves only when the StatefulSet itself says so: its desired
 * replica count no longer includes this pod's ordinal (the controller lowers `.spec.replicas`
 * before it deletes the highest ordinals). Anything uncertain keeps the data where it is.
 */
import type { Logger } from '../../observability/log';
import { KubeResult } from './kube-api';

export interface PreStopFacts {
  /** This pod's name, which is the node id: `<set>-<ordinal>`. */
  readonly nodeId: string;
  /** The StatefulSet that owns the pod. */
  readonly setName: string;
  /** The cluster's replicas per key (N): a set scaled below N is being shut down, not shrunk. */
  readonly n: number;
  /** `.spec.replicas` of the StatefulSet, as read from the API just now, or why it could not be. */
  readonly desiredReplicas: KubeResult<number>;
}

export type PreStopDecision =
  | { readonly action: 'leave'; readonly reason: string }
  | { readonly action: 'stay'; readonly reason: string };

/** The ordinal of pod `<setName>-<ordinal>`, or why the name is not one of the set's pods. */
export function podOrdinal(nodeId: string, setName: string): KubeResult<number> {
  const prefix = `${setName}-`;
  const rest = nodeId.startsWith(prefix) ? nodeId.slice(prefix.length) : '';
  // The controller writes ordinals in decimal without leading zeros.
  if (!/^(0|[1-9]\d{0,8})$/.test(rest)) {
    return { ok: false, error: `node id ${JSON.stringify(nodeId)} is not a pod of the StatefulSet ${setName} (${prefix}<ordinal>)` };
  }
  return { ok: true, value: Number(rest) };
}

export function decidePreStop(f: PreStopFacts): PreStopDecision {
  const ordinal = podOrdinal(f.nodeId, f.setName);
  if (!ordinal.ok) return { action: 'stay', reason: `${ordinal.error}: cannot tell a scale-in from a restart, so the data stays` };
  if (!f.desiredReplicas.ok) {
    return { action: 'stay', reason: `could not read the StatefulSet's desired replicas (${f.desiredReplicas.error}): a restart must never hand off data, so the data stays` };
  }
  const desired = f.desiredReplicas.value;
  if (ordinal.value < desired) {
    return { action: 'stay', reason: `ordinal ${ordinal.value} is within the ${desired} desired replicas: a restart, rollout, eviction or drain; the pod comes back with its data` };
  }
  if (desired < f.n) {
    return {
      action: 'stay',
      reason: `the StatefulSet is scaled to ${desired} replicas, fewer than N=${f.n}: that stops the cluster rather than shrinking it (the others could not hold every replica), so the data stays on the volumes`,
    };
  }
  return { action: 'leave', reason: `ordinal ${ordinal.value} is beyond the ${desired} desired replicas: scale-in; hand this member's partitions to the others before stopping` };
}

/** First pause between attempts of the leave (a refused commit while another change runs). */
export const LEAVE_RETRY_INITIAL_MS = 1000;
/** Longest pause between attempts: a change in progress takes minutes, so polling faster buys nothing. */
export const LEAVE_RETRY_MAX_MS = 30_000;

/**
 * How long to wait before attempt `attempt` (1 is the first retry), doubling up to the maximum,
 * and never past the deadline: undefined when no time is left for another attempt.
 */
export function leaveRetryDelayMs(attempt: number, nowMs: number, deadlineMs: number): number | undefined {
  const delay = Math.min(LEAVE_RETRY_MAX_MS, LEAVE_RETRY_INITIAL_MS * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return nowMs + delay < deadlineMs ? delay : undefined;
}

/** What the hook does to the world; the CLI gives the real ones, tests give fakes. */
export interface PreStopEffects {
  /** `.spec.replicas` of the pod's StatefulSet, read now. */
  readDesiredReplicas(): Promise<KubeResult<number>>;
  /** One attempt of `kv admin leave <self> --commit --wait`, given at most `timeoutMs`. */
  leave(timeoutMs: number): Promise<KubeResult<void>>;
  sleep(ms: number): Promise<void>;
  now(): number;
  log: Logger;
}

export interface PreStopOptions {
  readonly nodeId: string;
  readonly setName: string;
  readonly n: number;
  /** The pause every stopping pod takes so that Service endpoints drop it before it stops accepting. */
  readonly sleepMs: number;
  /** How long the hook may take in all; the grace period must also leave the node time to drain. */
  readonly budgetMs: number;
}

export type PreStopOutcome = 'stayed' | 'left' | 'leave-failed';

/**
 * The hook: decide, then either pause (stay) or leave, retrying a refused or failed attempt (the
 * claimant takes one change at a time, so a pod scaled in beside others waits its turn) until it
 * succeeds or the budget is spent. Never throws for an operating error; says what it did.
 */
export async function runPreStop(o: PreStopOptions, fx: PreStopEffects): Promise<PreStopOutcome> {
  const started = fx.now();
  const deadline = started + o.budgetMs;
  const decision = decidePreStop({ nodeId: o.nodeId, setName: o.setName, n: o.n, desiredReplicas: await fx.readDesiredReplicas() });
  if (decision.action === 'stay') {
    fx.log.info('pre-stop: staying a member', { reason: decision.reason, sleepMs: o.sleepMs });
    await fx.sleep(o.sleepMs);
    return 'stayed';
  }
  fx.log.warn('pre-stop: leaving the cluster', { reason: decision.reason, budgetMs: o.budgetMs });
  for (let attempt = 1; ; attempt++) {
    const left = await fx.leave(deadline - fx.now());
    if (left.ok) {
      fx.log.info('pre-stop: left the cluster: this member holds nothing and is no longer in the cluster state', { attempts: attempt, tookMs: fx.now() - started });
      // Endpoints dropped the pod long ago unless the leave was quick; the pause covers that case.
      const rest = o.sleepMs - (fx.now() - started);
      if (rest > 0) await fx.sleep(rest);
      return 'left';
    }
    const delay = leaveRetryDelayMs(attempt, fx.now(), deadline);
    if (delay === undefined) {
      fx.log.error('pre-stop: the leave did not finish within the budget; the pod stops anyway, still a member (kv status shows it leaving or joined)', {
        attempts: attempt,
        budgetMs: o.budgetMs,
        lastError: left.error,
        fix: `bring the pod back (scale up) to let the leave finish, or, if it is gone for good, kv admin remove ${o.nodeId}; raise scaleInGracePeriodSeconds for the data a node holds`,
      });
      return 'leave-failed';
    }
    fx.log.warn('pre-stop: the leave failed; retrying', { attempt, retryInMs: delay, error: left.error });
    await fx.sleep(delay);
  }
}

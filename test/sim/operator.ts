/**
 * The simulated operator: makes a run's membership changes with `kv admin`, as a person at a
 * terminal would, over the clients' link (delays and drops, no partitions). It asks a node for
 * its status, goes to the claimant that node names, waits while a change is in progress (unless
 * its step is a remove, which may replace it), and for
 * the first step the cluster state does not show yet: clear, stage each change, commit. Any
 * refusal or lost answer is retried from the status on. A step is done when a state shows it,
 * and checked again on every later status: a change can be dropped whole when two claimants
 * commit during a network partition and the other's state wins (see cluster-state.ts), and the
 * operator then commits it again. A member that has left stops by itself once it holds nothing
 * (CleanupWorker): the operator does not shut it down.
 *
 * It runs until the simulation stops it (the cluster converged, or the bound ran out).
 */
import { Change, ClusterState } from '../../app/membership/cluster-state';
import type { AdminRequest__Output } from '../../app/rpc/generated/kv/v1/AdminRequest';
import { Clock, sleep } from '../../app/replication/clock';
import { Rng } from './rng';
import { SimCluster } from './sim-cluster';

/** Changes committed together, not before `at` (virtual ms). */
export interface MembershipStep {
  readonly at: number;
  readonly changes: readonly Change[];
}

/** Pause between two looks at the cluster. */
const PAUSE_MIN_MS = 50;
const PAUSE_MAX_MS = 150;
/** The operator's deadline for one admin or status call. */
const CALL_TIMEOUT_MS = 600;

export function describeChange(c: Change): string {
  return `${c.kind} ${c.id}`;
}

/** Whether `state` shows the change committed (or already completed). */
export function shows(state: ClusterState, c: Change): boolean {
  const member = state.members.find((m) => m.id === c.id);
  switch (c.kind) {
    case 'join':
      return member !== undefined;
    case 'leave':
      return member === undefined || member.status === 'leaving';
    case 'remove':
      return member === undefined;
  }
}

export interface OperatorCounts {
  commits: number;
  refusals: number;
  lostCalls: number;
}

export class Operator {
  readonly counts: OperatorCounts = { commits: 0, refusals: 0, lostCalls: 0 };

  constructor(
    private readonly cluster: SimCluster,
    private readonly steps: readonly MembershipStep[],
    /** Nodes the operator may talk to (the founders and any node started to join). */
    private readonly nodes: () => readonly string[],
    private readonly rng: Rng,
    private readonly clock: Clock,
    private readonly trace?: (line: string) => void,
    /** Told once of each leaver a state shows gone (a scenario reuses its machine at once). */
    private readonly left?: (id: string) => void,
  ) {}

  private readonly toldLeft = new Set<string>();

  /** Whether `state` shows every step. */
  done(state: ClusterState): boolean {
    return this.steps.every((s) => s.changes.every((c) => shows(state, c)));
  }

  async run(stopped: () => boolean): Promise<void> {
    let via: string | undefined;
    while (!stopped()) {
      await sleep(this.clock, this.rng.int(PAUSE_MIN_MS, PAUSE_MAX_MS));
      if (stopped()) return;
      via ??= this.rng.pick(this.nodes());
      const status = await this.cluster.statusCall(via, CALL_TIMEOUT_MS);
      if (!status.ok || status.value.state.version === 0) {
        if (!status.ok) this.counts.lostCalls++;
        via = undefined;
        continue;
      }
      const { state, claimant } = status.value;
      for (const c of this.steps.flatMap((s) => s.changes)) {
        if (c.kind !== 'leave' || this.toldLeft.has(c.id) || state.members.some((m) => m.id === c.id)) continue;
        this.toldLeft.add(c.id);
        this.left?.(c.id);
      }
      if (claimant === undefined) continue;
      if (claimant !== via) {
        via = claimant;
        continue;
      }
      const due = this.steps.filter((s) => this.clock.now() >= s.at && !s.changes.every((c) => shows(state, c)));
      // One change at a time, but a remove (a member gone for good) may replace the change in progress.
      const removes = due.flatMap((s) => s.changes).filter((c) => c.kind === 'remove' && !shows(state, c));
      // Only what the state does not show yet: part of a step may have been committed on its own.
      const first = due[0] && { ...due[0], changes: due[0].changes.filter((c) => !shows(state, c)) };
      const step = state.target === undefined ? first : removes.length > 0 ? { ...due[0]!, changes: removes } : undefined;
      if (step === undefined) continue;
      if (!(await this.commit(via, step))) via = undefined;
    }
  }

  /** Clear, stage, commit on `via`; false when a call failed or was refused. */
  private async commit(via: string, step: MembershipStep): Promise<boolean> {
    const what = step.changes.map(describeChange).join(' + ');
    const requests: AdminRequest__Output[] = [
      { action: 'clear', clear: {} },
      ...step.changes.map((c): AdminRequest__Output => (c.kind === 'join' ? { action: 'join', join: { id: c.id, address: c.address, zone: c.zone } } : c.kind === 'leave' ? { action: 'leave', leave: c.id } : { action: 'remove', remove: c.id })),
      { action: 'commit', commit: {} },
    ];
    for (const request of requests) {
      const r = await this.cluster.adminCall(via, request, CALL_TIMEOUT_MS);
      if (!r.ok) {
        if (r.error.condition === 'MembershipRefused') this.counts.refusals++;
        else this.counts.lostCalls++;
        this.trace?.(`${this.clock.now()} operator: ${request.action} (${what}) on ${via}: ${r.error.condition}: ${r.error.message}`);
        return false;
      }
    }
    this.counts.commits++;
    this.trace?.(`${this.clock.now()} operator: committed ${what} on ${via}`);
    return true;
  }
}

/**
 * The claimant's side of membership changes (Riak's plan/commit): an operator stages changes
 * (join, leave, remove), reviews the plan (the partitions that move, and how much data), and
 * commits it; the claimant makes the next cluster state, which gossip spreads. Receivers report
 * finished transfers here, and the claimant records them (a partition flips when its moves are
 * done). Only the claimant does any of this: another node refuses, naming the claimant, so
 * changes are made one at a time, in one place. Staged changes live in the claimant's memory: a
 * claimant that restarts forgets them (stage again); a committed change is in the state.
 */
import { Change, claimantOf, commit, MembershipError, Plan, plan, transferDone } from './cluster-state';
import { Membership } from './membership';

/** Data sizes of partitions, to say how much a plan moves (keys and bytes a partition holds here). */
export type PartitionSizes = (partition: number) => { keys: number; bytes: number } | undefined;

export interface PlanView extends Plan {
  readonly staged: readonly Change[];
  /** What an operator should know before committing (a member the zone rule overloads). */
  readonly warnings: readonly string[];
  /** Keys and bytes the transfers move, from what this node knows of partition sizes. */
  readonly keys: number;
  readonly bytes: number;
}

export class Claimant {
  private staged: Change[] = [];
  /** Changes to the state run one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly self: string,
    private readonly membership: Membership,
    private readonly isUp: (node: string) => boolean,
    private readonly sizes: PartitionSizes = () => undefined,
  ) {}

  /** The claimant this node sees (itself or another member), undefined when none is up. */
  get claimant(): string | undefined {
    return claimantOf(this.membership.state, (id) => id === this.self || this.isUp(id));
  }

  private ensureClaimant(): void {
    const c = this.claimant;
    if (c !== this.self) {
      const address = this.membership.state.members.find((m) => m.id === c)?.address;
      throw new MembershipError(c === undefined ? 'no claimant is up: membership changes wait until the first valid member by id is reachable' : `${this.self} is not the claimant: ${c} (${address}) is; send membership changes there`);
    }
  }

  stage(change: Change): readonly Change[] {
    this.ensureClaimant();
    const others = this.staged.filter((c) => c.id !== change.id);
    // Checked against the state now, so a bad change is refused when staged, not at commit.
    plan(this.membership.state, [...others, change]);
    this.staged = [...others, change];
    return this.staged;
  }

  clear(): void {
    this.ensureClaimant();
    this.staged = [];
  }

  plan(): PlanView {
    this.ensureClaimant();
    const p = plan(this.membership.state, this.staged);
    let keys = 0;
    let bytes = 0;
    for (const t of p.transfers) {
      const size = this.sizes(t.partition);
      keys += size?.keys ?? 0;
      bytes += size?.bytes ?? 0;
    }
    return { ...p, staged: [...this.staged], keys, bytes, warnings: overloaded(p) };
  }

  /** Commits the staged changes: the next state, stored and announced before this resolves. */
  commit(): Promise<PlanView> {
    return this.serial(async () => {
      const view = this.plan();
      const next = commit(this.membership.state, this.staged, this.self);
      await this.membership.offer(next);
      this.staged = [];
      return view;
    });
  }

  /** A receiver finished copying a partition: record it (the partition flips once all its moves are done). */
  transferDone(partition: number, to: string, change?: number): Promise<void> {
    return this.serial(async () => {
      this.ensureClaimant();
      const next = transferDone(this.membership.state, partition, to, this.self, change);
      await this.membership.offer(next);
    });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/**
 * Members the plan gives clearly more than their share of replicas: when zones differ in size,
 * the zone rule (every zone holds a replica) puts more on the members of a small zone.
 */
function overloaded(p: Plan): string[] {
  const load = new Map<string, number>();
  for (const row of p.target.primaries) for (const m of row) load.set(m, (load.get(m) ?? 0) + 1);
  const staying = p.members.filter((m) => m.status !== 'leaving');
  const mean = [...load.values()].reduce((a, b) => a + b, 0) / Math.max(1, staying.length);
  const zoneOf = new Map(p.members.map((m) => [m.id, m.zone]));
  const sizes = new Map<string, number>();
  for (const m of staying) sizes.set(m.zone, (sizes.get(m.zone) ?? 0) + 1);
  return [...load]
    .filter(([, n]) => n > mean * 1.25 && n - mean >= 2)
    .map(([id, n]) => `${id} will hold ${n} partition replicas, against ${mean.toFixed(1)} on average: its zone ${JSON.stringify(zoneOf.get(id))} has ${sizes.get(zoneOf.get(id)!)} member(s) while a replica of every partition goes to each zone; give zones the same number of members`);
}

/**
 * A node started with join=auto that is not a founding member joins by itself: while it is not a
 * member, it asks the claimant (through the seeds, which name it) to stage its join and commit it.
 * One change at a time: while another change is in progress, or changes other than joins are
 * staged (an operator's), it waits and asks again later; joins staged by other nodes joining at
 * the same time are committed with its own, as one change. Once the
 * committed state reaches it (gossip), it is a member and the worker idles.
 *
 * It does not join while it holds data (data of an earlier membership is handed off or must be
 * wiped first; a new volume under a reused id joins), nor after it left during this run (it exits once it holds nothing); a
 * node that left and is started again joins again.
 */
import { Logger } from '../../observability/log';
import { BackgroundLoop } from '../replication/background';
import { Clock, systemClock } from '../replication/clock';
import { Membership } from './membership';

/** The admin calls it needs, sent to the claimant through the seeds (a refusal is a rejection). */
export interface JoinAdmin {
  /** Stages `join` on the claimant; resolves with the staged changes. */
  stageJoin(id: string, address: string, zone: string): Promise<readonly string[]>;
  /** Commits what is staged. */
  commit(): Promise<void>;
}

export interface AutoJoinConfig {
  /** Pause between two attempts. */
  readonly gossipIntervalMs: number;
}

export class AutoJoin {
  private readonly loop: BackgroundLoop<void>;
  private lastReason = '';
  /** Whether this node was a member at some point of this run (then a leave is final: it exits). */
  private wasMember = false;

  constructor(
    private readonly self: { id: string; address: string; zone: string },
    private readonly membership: Membership,
    private readonly admin: JoinAdmin,
    /** How this node last departed, if it did (for the log line). */
    private readonly departure: () => 'left' | 'removed' | undefined,
    /** Whether this node holds any object (only a node that holds none joins). */
    private readonly holdsData: () => Promise<boolean>,
    config: AutoJoinConfig,
    private readonly log: Logger,
    clock: Clock = systemClock,
  ) {
    // Attempts are a few gossip rounds apart: each one is a plan and a commit on the claimant.
    this.loop = new BackgroundLoop('auto-join', clock, () => this.attempt(), () => Math.max(1000, config.gossipIntervalMs * 2), log);
  }

  start(): void {
    this.loop.start(0);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  get isMember(): boolean {
    const state = this.membership.state;
    return state.version > 0 && state.members.some((m) => m.id === this.self.id);
  }

  /** One attempt: stage our join and commit it alone, or say why not yet. */
  async attempt(): Promise<void> {
    if (this.isMember) {
      // Only a state a claimant made counts: a founding member's own starting list (author '')
      // may be long out of date (it was removed, its volume replaced), and gossip will say so.
      if (this.membership.state.author !== '') this.wasMember = true;
      return;
    }
    // It left during this run: it hands off what it holds and exits; it joins again only when
    // started again (a StatefulSet scaled out again).
    if (this.wasMember) return;
    // Data held outside the cluster is handed off by the cleanup (after a recent leave) or is
    // too old to bring back (see cleanup.ts): either way, not joined with.
    if (await this.holdsData()) {
      return this.wait(
        this.departure() === 'left'
          ? 'this node left and still holds data: it hands it off first (then exits, and joins again when started again)'
          : 'this node is not a member and holds data from an earlier membership: it does not join with it; wipe its data directory first',
      );
    }
    const change = `join ${this.self.id}`;
    try {
      const staged = await this.admin.stageJoin(this.self.id, this.self.address, this.self.zone);
      // Other nodes joining by themselves at the same time (a StatefulSet scaled out by several
      // pods) join in one change with this one; anything else is an operator's to commit.
      const others = staged.filter((s) => !s.startsWith(change) && !s.startsWith('join '));
      if (others.length > 0) return this.wait(`other changes are staged on the claimant (${others.join('; ')}): waiting for an operator to commit or clear them`);
      await this.admin.commit();
      this.log.info('auto-join: committed this node\'s join; the cluster state reaches it by gossip', { id: this.self.id });
      this.lastReason = '';
    } catch (e) {
      const message = (e as Error).message;
      // Someone else committed it (a retry after a lost answer): the state will arrive.
      if (/it is a member already/.test(message)) return;
      this.wait(/a change is in progress/.test(message) ? 'another change is in progress: joining when it is done' : `the join failed: ${message}`);
    }
  }

  /** Logs a reason once (until it changes): attempts repeat every few seconds. */
  private wait(reason: string): void {
    if (reason !== this.lastReason) this.log.warn(`auto-join: not joined yet: ${reason}`, { id: this.self.id });
    this.lastReason = reason;
  }
}

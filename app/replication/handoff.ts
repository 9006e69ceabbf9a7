/**
 * Hinted handoff: a background worker that delivers the hints this node holds to their target
 * primaries once the failure detector counts them up again. It runs at its own pace, in bounded
 * batches (handoffBatchMax hints a round, in flight together), one round at a time, not in
 * reaction to events: after a round that delivered k hints the next comes k/handoffKeysPerSecondMax
 * seconds later, so a backlog drains at that rate; after an idle round, handoffIntervalMs later. The target merges each hint into its data (never
 * overwrites) and acknowledges after its commit is durable; only then is the hint removed, and
 * only if no newer write merged into it meanwhile. Hints survive a restart of the holder (they
 * are in its store), and delivery resumes on its own.
 *
 * A hint for a node that is no longer a member (removed while it was down, or it left) would wait
 * forever: it is delivered instead to every current primary of its partition (all must take it),
 * since it is a write the cluster acknowledged.
 */
import { Result } from '../errors';
import { Logger } from '../../observability/log';
import { BackgroundLoop } from './background';
import { Clock, systemClock } from './clock';
import { HintStore } from './hints';
import { ReplicaTransport } from './transport';

export interface HandoffConfig {
  /** Pause between rounds. */
  readonly handoffIntervalMs: number;
  /** Hints delivered per round at most (they are in flight together). */
  readonly handoffBatchMax: number;
  /** Hints delivered per second at most, over all targets. */
  readonly handoffKeysPerSecondMax: number;
  /** Time budget of one delivery. */
  readonly requestTimeoutMs: number;
}

/** Where hints for a target that is no longer a member go (see the module comment). */
export interface HandoffRedirect {
  /** Whether this node may hand off nothing (it is out of the cluster, its hints possibly stale). */
  halted(): boolean;
  /** Whether `target` is no longer a member. */
  gone(target: string): boolean;
  /** Merges a hint into every current primary of its partition; ok once all have it. */
  deliver(partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number): Promise<Result<void>>;
}

export interface HandoffEvents {
  delivered(target: string, count: number): void;
  expired(target: string, count: number): void;
  failed(target: string, count: number): void;
}

export class HandoffWorker {
  private readonly loop: BackgroundLoop<number>;
  /** Set by a node with membership: hints for targets that left go to the partitions' owners. */
  redirect: HandoffRedirect | undefined;

  constructor(
    private readonly hints: HintStore,
    /** The other nodes (hints are never for this node itself). */
    private readonly peers: ReplicaTransport,
    private readonly config: HandoffConfig,
    private readonly events: HandoffEvents,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    // After a round that delivered k hints the next follows as soon as the keys-per-second budget
    // allows, so a backlog drains at that rate; after an idle round, handoffIntervalMs later.
    this.loop = new BackgroundLoop('handoff', clock, () => this.runRound(), (delivered) => (delivered ? Math.max(1, Math.ceil((delivered * 1000) / config.handoffKeysPerSecondMax)) : config.handoffIntervalMs), log);
  }

  start(): void {
    this.loop.start(this.config.handoffIntervalMs);
  }

  /** Stops after the round in progress. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round: expire old hints, then deliver up to the round's budget. Resolves with the hints delivered. */
  async runRound(): Promise<number> {
    for (const hint of await this.hints.expire()) {
      this.events.expired(hint.target, 1);
      this.log.warn('hint expired: left to read repair and anti-entropy', { target: hint.target, partition: hint.partition, ageMs: this.clock.now() - hint.createdAtMs });
    }
    if (this.redirect?.halted()) return 0;
    let budget = this.config.handoffBatchMax;
    let delivered = 0;
    for (const target of this.hints.targets()) {
      if (budget <= 0 || this.loop.isStopped) break;
      const gone = this.redirect?.gone(target) === true;
      if (!gone && !this.peers.isUp(target)) continue;
      const batch = await this.hints.next(target, budget);
      budget -= batch.length;
      const results = await Promise.all(
        batch.map((h) => (gone ? this.redirect!.deliver(h.partition, h.key, h.object, this.config.requestTimeoutMs) : this.peers.replicate(target, h.partition, h.key, h.object, this.config.requestTimeoutMs))),
      );
      let ok = 0;
      let failed = 0;
      for (let i = 0; i < batch.length; i++) {
        if (!results[i]!.ok) {
          failed++;
          continue;
        }
        // The target has it durably; a hint that changed meanwhile stays for the next round.
        await this.hints.remove(batch[i]!);
        ok++;
      }
      delivered += ok;
      if (ok > 0) this.events.delivered(target, ok);
      const firstFailure = results.find((r) => !r.ok);
      if (firstFailure !== undefined && !firstFailure.ok) {
        this.events.failed(target, failed);
        this.log.info('handoff: target did not take every hint; retrying next round', { target, failed, error: firstFailure.error.message });
      }
    }
    return delivered;
  }
}

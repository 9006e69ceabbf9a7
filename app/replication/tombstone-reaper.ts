/**
 * Deletes that stay deleted: tombstones are reaped only when it is safe, never by age alone.
 *
 * A tombstone (an object whose siblings are all deletes) must outlive every copy of what it
 * deleted: reaped early, a replica that missed the delete hands the old value back through
 * handoff, read repair or anti-entropy, and the key comes back (the resurrection trap). So a
 * tombstone is reaped only when all of these hold:
 * 1. its newest delete is older than the grace period (tombstoneGraceMs);
 * 2. every primary of the key answers and holds exactly the same object (the same bytes: nothing
 *    newer, nothing older, anywhere a read or anti-entropy could find it);
 * 3. no node holds a hint for the key (every member answers, and none holds one): a pending hint
 *    could carry the value the delete removed;
 * and then each primary removes the key only if it still stores exactly that object (compare and
 * delete), so a write that raced the reap survives. A primary that is down blocks the reap of its
 * keys until it is back and holds the tombstone, which is what keeps a replica that was down
 * during the delete from bringing the key back.
 *
 * Each partition is reaped by its first primary, so that one node does the work. A round looks at
 * up to tombstoneReapBatchMax tombstones; the reaper walks its partitions in turn, one round per
 * tombstoneReapIntervalMs.
 */
import { Result } from '../errors';
import { Logger } from '../../observability/log';
import { KeySpace } from '../storage/local-store';
import { decodeObject } from '../versioning/codec';
import { isDeleted } from '../versioning/dvv';
import { BackgroundLoop } from './background';
import { Clock, systemClock } from './clock';
import { LocalReplica } from './replica';
import { ReplicaTransport } from './transport';

/** What the reaper needs from the other nodes, beyond fetch. */
export interface ReaperPeers extends ReplicaTransport {
  /** Whether the node holds a hint for the key, for any primary. */
  holdsHint(node: string, partition: number, key: Uint8Array, timeoutMs: number): Promise<Result<boolean>>;
  /** Removes the key at the node if it stores exactly `object`; resolves whether it did. */
  reap(node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number): Promise<Result<boolean>>;
}

export interface ReaperConfig {
  /** Age of a tombstone's newest delete before it may be reaped. */
  readonly tombstoneGraceMs: number;
  /** Pause between reap rounds; 0 turns reaping off. */
  readonly tombstoneReapIntervalMs: number;
  /** Tombstones considered per round at most. */
  readonly tombstoneReapBatchMax: number;
  readonly requestTimeoutMs: number;
}

export interface ReaperEvents {
  reaped(count: number): void;
  /** A tombstone old enough was kept, and why (a primary down, a hint pending, replicas differ). */
  kept(reason: 'replica-unavailable' | 'replicas-differ' | 'hint-pending'): void;
}

const FOLD_BATCH = 500;

export class TombstoneReaper {
  private readonly loop: BackgroundLoop<number>;
  private next = 0;
  private readonly resumeAfter = new Map<number, Uint8Array>();

  constructor(
    private readonly self: string,
    private readonly data: KeySpace,
    private readonly local: LocalReplica,
    private readonly peers: ReaperPeers,
    /** Partitions this node is the first primary of, with their other primaries. */
    private readonly owned: () => ReadonlyMap<number, readonly string[]>,
    /** Every other member (any may hold a hint). */
    private readonly members: readonly string[],
    private readonly config: ReaperConfig,
    private readonly events: ReaperEvents,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.loop = new BackgroundLoop('tombstone reap', clock, () => this.round(), () => config.tombstoneReapIntervalMs, log);
  }

  start(): void {
    if (this.config.tombstoneReapIntervalMs <= 0) return;
    this.loop.start(this.config.tombstoneReapIntervalMs);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round over the next partition: resolves with the tombstones reaped. */
  async round(): Promise<number> {
    const owned = [...this.owned()];
    if (owned.length === 0) return 0;
    const [partition, others] = owned[this.next++ % owned.length]!;
    let budget = this.config.tombstoneReapBatchMax;
    let reaped = 0;
    let startAfter = this.resumeAfter.get(partition);
    for (;;) {
      const batch = await this.data.fold(partition, { startAfter, limit: FOLD_BATCH });
      for (const entry of batch) {
        if (budget <= 0 || this.loop.isStopped) {
          this.resumeAfter.set(partition, entry.key);
          return reaped;
        }
        if (!this.isRipe(entry.value)) continue;
        budget--;
        if (await this.tryReap(partition, entry.key, entry.value, others)) {
          reaped++;
          this.events.reaped(1);
        }
      }
      if (batch.length < FOLD_BATCH) break;
      startAfter = batch[batch.length - 1]!.key;
    }
    this.resumeAfter.delete(partition);
    return reaped;
  }

  /** A tombstone whose newest delete is older than the grace period. */
  private isRipe(stored: Uint8Array): boolean {
    let object;
    try {
      object = decodeObject(stored);
    } catch {
      return false; // a record read repair will replace; not ours to judge
    }
    if (!isDeleted(object) || object.siblings.length === 0) return false;
    const newest = Math.max(...object.siblings.map((s) => s.writtenAtMs));
    return this.clock.now() - newest >= this.config.tombstoneGraceMs;
  }

  private async tryReap(partition: number, key: Uint8Array, stored: Uint8Array, others: readonly string[]): Promise<boolean> {
    const timeoutMs = this.config.requestTimeoutMs;
    const copies = await Promise.all(others.map((node) => this.peers.fetch(node, partition, key, timeoutMs)));
    if (copies.some((c) => !c.ok)) return this.keep('replica-unavailable');
    if (copies.some((c) => c.ok && (c.value === undefined || Buffer.compare(c.value, stored) !== 0))) return this.keep('replicas-differ');
    const hints = await Promise.all([this.local.holdsHint(partition, key).then((held) => ({ ok: true as const, value: held })), ...this.members.map((m) => this.peers.holdsHint(m, partition, key, timeoutMs))]);
    if (hints.some((h) => !h.ok)) return this.keep('replica-unavailable');
    if (hints.some((h) => h.ok && h.value)) return this.keep('hint-pending');
    // Every primary holds exactly this tombstone and nobody holds a hint: remove it everywhere,
    // each only if unchanged. A primary that fails now keeps its copy; the next round reaps it.
    const results = await Promise.all(others.map((node) => this.peers.reap(node, partition, key, stored, timeoutMs)));
    const here = await this.local.reapIfUnchanged(partition, key, stored);
    const all = here && results.every((r) => r.ok && r.value);
    this.log.debug('tombstone reaped', { partition, self: this.self, everywhere: all });
    return here;
  }

  private keep(reason: Parameters<ReaperEvents['kept']>[0]): false {
    this.events.kept(reason);
    return false;
  }
}

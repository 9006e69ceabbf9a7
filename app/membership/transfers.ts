/**
 * Ownership handoff, on the receiving side: for each transfer of the change in progress that
 * names this node, copy the partition from a current primary (a fold in key order, in bounded
 * batches at a bounded rate, resumable: the last key copied is kept in the data directory), then
 * catch up with every other current primary that is up (an anti-entropy exchange until in sync),
 * so the copy holds every write a quorum acknowledged before the move, and finally report the
 * transfer to the claimant, which flips the partition when all its moves are done. Writes made
 * during the move reach this node directly (the joint write quorum, see write-core.ts).
 */
import { Result } from '../errors';
import { Logger } from '../../observability/log';
import { BackgroundLoop } from '../replication/background';
import { Clock, systemClock } from '../replication/clock';
import { ClusterState, Transfer } from './cluster-state';
import { Membership, StateStore } from './membership';

export interface FoldPage {
  readonly entries: ReadonlyArray<{ readonly key: Uint8Array; readonly object: Uint8Array }>;
  /** Whether the fold reached the end of the partition. */
  readonly done: boolean;
}

export interface TransferPeers {
  isUp(node: string): boolean;
  /** The peer's objects of a partition in key order, after `after`, at most `limit`. */
  foldPartition(node: string, partition: number, after: Uint8Array | undefined, limit: number, timeoutMs: number): Promise<Result<FoldPage>>;
  /** Tells the claimant (possibly this node) that a transfer of the change committed at `change` is done. */
  transferDone(claimant: string, partition: number, to: string, change: number, timeoutMs: number): Promise<Result<void>>;
}

export interface TransferConfig {
  /** Pause between rounds when there is nothing to copy. */
  readonly transferIntervalMs: number;
  /** Objects asked for in one fold page. */
  readonly transferBatchMax: number;
  /** Objects copied a second at most. */
  readonly transferKeysPerSecondMax: number;
  readonly requestTimeoutMs: number;
}

export interface TransferDeps {
  readonly self: string;
  readonly membership: Membership;
  readonly peers: TransferPeers;
  /** Where resume points are kept. */
  readonly store: StateStore;
  /** Merges a copied object into this node's data (never overwrites). */
  merge(partition: number, key: Uint8Array, object: Uint8Array): Promise<void>;
  /** One anti-entropy exchange of a partition with a peer; true once they are in sync. */
  catchUp(partition: number, peer: string): Promise<boolean>;
  /** The claimant as this node sees it. */
  claimant(): string | undefined;
}

export interface TransferEvents {
  copied(keys: number, bytes: number): void;
  finished(partition: number): void;
}

/** What a round did: objects copied (paces the next round). */
type RoundResult = number;

/**
 * Where a transfer stands, kept in the receiver's metadata under one key per partition and
 * receiver: `<change>:<position>`, the position '' (start), the hex of the last key copied, or
 * 'folded'. A position of another change (or of none) counts as the start.
 */
const RESUME_KEY = (state: ClusterState, t: Transfer) => `transfer:${state.cluster}:${t.partition}:${t.to}`;

/** A report whose record has not reached this node after this long is sent again. */
export const REPORT_RESEND_MS_MIN = 5000;

export class TransferWorker {
  private readonly loop: BackgroundLoop<RoundResult>;
  /**
   * Transfers reported to the claimant, by partition, with when: not reported again until the
   * record reaches this node by gossip, or, should the record be lost (the claimant died before
   * it spread it), until a resend interval passed. Bounded by the partitions.
   */
  private readonly reported = new Map<number, { change: number; atMs: number }>();

  constructor(
    private readonly deps: TransferDeps,
    private readonly config: TransferConfig,
    private readonly events: TransferEvents,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.loop = new BackgroundLoop('transfer', clock, () => this.round(), (copied) => (copied ? Math.max(1, Math.ceil((copied * 1000) / config.transferKeysPerSecondMax)) : config.transferIntervalMs), log);
  }

  start(): void {
    this.loop.start(this.config.transferIntervalMs);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Transfers of the change in progress into this node that are not done yet. */
  pending(): Transfer[] {
    const state = this.deps.membership.state;
    const resendMs = Math.max(REPORT_RESEND_MS_MIN, 10 * this.config.transferIntervalMs);
    const now = this.clock.now();
    for (const [p, r] of this.reported) if (r.change !== state.changeVersion || now - r.atMs > resendMs) this.reported.delete(p);
    return state.transfers.filter((t) => t.to === this.deps.self && !t.done && !this.reported.has(t.partition));
  }

  /** One round: one fold page of the first pending transfer, or its catch-up and report. */
  async round(): Promise<RoundResult> {
    const state = this.deps.membership.state;
    for (const t of this.pending()) {
      const sources = state.placement.primaries[t.partition]!.filter((m) => m !== this.deps.self && this.deps.peers.isUp(m));
      if (sources.length === 0) continue;
      // Prefer the member the move replaces (it holds what the receiver takes over), else any.
      const target = state.target?.primaries[t.partition] ?? [];
      const source = sources.find((m) => !target.includes(m)) ?? sources[0]!;
      const change = state.changeVersion ?? 0;
      const stored = (await this.deps.store.getMeta(RESUME_KEY(state, t))) ?? '';
      const [of, position] = stored.includes(':') ? stored.split(':', 2) : ['', ''];
      const resume = of === String(change) ? position! : '';
      if (resume !== 'folded') {
        const after = resume === '' ? undefined : Buffer.from(resume, 'hex');
        const page = await this.deps.peers.foldPartition(source, t.partition, after, this.config.transferBatchMax, this.config.requestTimeoutMs);
        if (!page.ok) {
          this.log.warn('transfer: fold failed', { partition: t.partition, source, error: page.error.message });
          continue;
        }
        let bytes = 0;
        for (const e of page.value.entries) {
          await this.deps.merge(t.partition, e.key, e.object);
          bytes += e.object.length;
        }
        const last = page.value.entries.at(-1)?.key;
        await this.deps.store.setMeta(RESUME_KEY(state, t), `${change}:${page.value.done ? 'folded' : Buffer.from(last ?? after ?? []).toString('hex')}`);
        this.events.copied(page.value.entries.length, bytes);
        return page.value.entries.length;
      }
      // Copied: catch up with every current primary that is up, so nothing a quorum holds is missed.
      // A member that gives the partition away must be one of them: after the flip nothing reads
      // its copy again (anti-entropy runs among primaries), so a write it alone still holds (its
      // other copy a hint that expired, or W=1) would be lost with it. Wait until it is up.
      if (state.placement.primaries[t.partition]!.some((m) => !target.includes(m) && !sources.includes(m))) continue;
      let synced = true;
      for (const peer of sources) if (!(await this.deps.catchUp(t.partition, peer))) synced = false;
      if (!synced) continue;
      const claimant = this.deps.claimant();
      if (claimant === undefined) continue;
      const reported = await this.deps.peers.transferDone(claimant, t.partition, t.to, change, this.config.requestTimeoutMs);
      if (!reported.ok) {
        this.log.warn('transfer: the claimant did not take the report', { partition: t.partition, claimant, error: reported.error.message });
        continue;
      }
      // The resume point stays 'folded' for this change (a report sent again needs no new copy);
      // a later change that moves the partition here again starts from the beginning.
      this.reported.set(t.partition, { change, atMs: this.clock.now() });
      this.events.finished(t.partition);
      this.log.info('transfer finished', { partition: t.partition });
      // Work was done: the next transfer starts without the idle pause.
      return 1;
    }
    return 0;
  }
}

/**
 * The giving side of a transfer: a page of a partition's objects in key order after `after`, at
 * most `limit`, and within `bytesMax` (one object at least, so a page always moves on).
 */
export async function foldPage(store: { fold(partition: number, options: { startAfter?: Uint8Array; limit: number }): Promise<ReadonlyArray<{ key: Uint8Array; value: Uint8Array }>> }, partition: number, after: Uint8Array | undefined, limit: number, bytesMax: number): Promise<FoldPage> {
  const batch = await store.fold(partition, { startAfter: after, limit });
  const entries: Array<{ key: Uint8Array; object: Uint8Array }> = [];
  let bytes = 0;
  for (const e of batch) {
    if (entries.length > 0 && bytes + e.value.length > bytesMax) return { entries, done: false };
    entries.push({ key: e.key, object: e.value });
    bytes += e.key.length + e.value.length;
  }
  return { entries, done: batch.length < limit };
}

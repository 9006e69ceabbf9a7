/**
 * Active anti-entropy: repairs keys nobody reads. Each node keeps a hash tree per partition it is
 * a primary of (./hash-trees.ts), updated as writes are decided. A background worker takes the
 * node's partitions in turn, one exchange at a time: it asks another primary of the partition for
 * its tree, compares segments, asks for the keys and hashes of the segments that differ, and
 * repairs each key that differs by merge in both directions (the peer's object merged here, the
 * result sent back to the peer, which merges it too). Merges never lose a write, so a repair is
 * always safe, even of a key written meanwhile.
 *
 * Budget: one exchange in flight; one exchange per antiEntropyIntervalMs; at most
 * antiEntropyKeysPerExchangeMax keys listed and repaired per exchange (the rest wait for the next
 * round of that partition); tree rebuilds at start read at most antiEntropyRebuildKeysPerSecondMax
 * keys a second.
 */
import { KvError, Result, ok } from '../errors';
import { Logger } from '../../observability/log';
import { KeySpace } from '../storage/local-store';
import { BackgroundLoop } from './background';
import { Clock, sleep, systemClock } from './clock';
import { HashTrees, pairHash, segmentOf } from './hash-trees';
import { LocalReplica } from './replica';
import { ReplicaTransport } from './transport';

export interface KeyHash {
  readonly key: Uint8Array;
  readonly hash: Uint8Array;
}

export interface KeyHashes {
  readonly entries: readonly KeyHash[];
  readonly truncated: boolean;
}

/** What anti-entropy needs from the other nodes, beyond fetch and replicate. */
export interface AntiEntropyPeers extends ReplicaTransport {
  /** The peer's tree of a partition (undefined while it is not ready). */
  aeTree(node: string, partition: number, timeoutMs: number): Promise<Result<Uint8Array | undefined>>;
  /** The peer's keys and hashes in some segments of a partition. */
  aeKeys(node: string, partition: number, segments: readonly number[], limit: number, timeoutMs: number): Promise<Result<KeyHashes>>;
}

export interface AntiEntropyConfig {
  /** Pause between exchanges; 0 turns anti-entropy off. */
  readonly antiEntropyIntervalMs: number;
  /** Keys listed and repaired in one exchange at most. */
  readonly antiEntropyKeysPerExchangeMax: number;
  /** Keys read a second at most while rebuilding trees. */
  readonly antiEntropyRebuildKeysPerSecondMax: number;
  readonly requestTimeoutMs: number;
}

export type ExchangeOutcome = 'in_sync' | 'repaired' | 'incomplete' | 'failed' | 'not_ready';

export interface AntiEntropyEvents {
  exchange(outcome: ExchangeOutcome): void;
  repaired(keys: number): void;
  /** An exchange of `partition` with `peer` compared every segment and repaired every difference. */
  completed(partition: number, peer: string): void;
}

const FOLD_BATCH = 1000;

export class AntiEntropy {
  private readonly loop: BackgroundLoop<ExchangeOutcome | undefined>;
  private next = 0;
  private readonly peerTurn = new Map<number, number>();
  private priority: (() => { partition: number; peer: string } | undefined) | undefined;
  /** When an exchange of each partition last completed, by peer. */
  private readonly completedAt = new Map<number, Map<string, number>>();

  constructor(
    readonly trees: HashTrees,
    private readonly data: KeySpace,
    private readonly local: LocalReplica,
    private readonly peers: AntiEntropyPeers,
    /** The partitions this node is a primary of, with the other primaries of each. */
    private readonly served: () => ReadonlyMap<number, readonly string[]>,
    private readonly config: AntiEntropyConfig,
    private readonly events: AntiEntropyEvents,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.loop = new BackgroundLoop('anti-entropy', clock, () => this.exchangeNext(), () => config.antiEntropyIntervalMs, log);
  }

  private get stopped(): boolean {
    return this.loop.isStopped;
  }

  /** Rebuilds the trees, then runs exchanges until stopped. */
  start(): void {
    if (this.config.antiEntropyIntervalMs <= 0) return;
    void this.loop.track(this.rebuildAll().then(() => this.loop.start(this.config.antiEntropyIntervalMs)));
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Age of the last completed exchange of each served partition (Infinity: never). */
  exchangeAges(): Map<number, number> {
    const now = this.clock.now();
    const out = new Map<number, number>();
    for (const partition of this.served().keys()) {
      const byPeer = this.completedAt.get(partition);
      const last = byPeer === undefined ? undefined : Math.max(...byPeer.values());
      out.set(partition, last === undefined ? Number.POSITIVE_INFINITY : now - last);
    }
    return out;
  }

  /**
   * Refreshes every served partition's tree from the store, within the rebuild budget (after a
   * start every segment is dirty). A partition that cannot be read (a corrupt record fails the
   * fold) stays dirty, is retried at its turn to exchange, and does not stop the others: one
   * rotted record must not halt anti-entropy for the whole node, nor escape as a rejection nobody
   * handles.
   */
  async rebuildAll(): Promise<void> {
    for (const partition of this.served().keys()) {
      if (this.stopped) return;
      try {
        await this.refresh(partition);
      } catch (e) {
        this.log.error('anti-entropy: cannot read a partition to hash it; it is retried at its turn', { partition, error: String(e) });
      }
    }
  }

  /** Recomputes the partition's dirty segments from the store, paced by the rebuild budget. */
  refresh(partition: number): Promise<void> {
    const perBatchMs = (FOLD_BATCH * 1000) / this.config.antiEntropyRebuildKeysPerSecondMax;
    return this.trees.refresh(
      partition,
      (startAfter) => this.data.fold(partition, { startAfter, limit: FOLD_BATCH }),
      FOLD_BATCH,
      () => sleep(this.clock, perBatchMs),
    );
  }

  /** This node's tree of a partition, refreshed (what a peer's aeTree asks). */
  async treeOf(partition: number): Promise<Uint8Array> {
    await this.refresh(partition);
    return this.trees.segmentsOf(partition);
  }

  /** Exchanges that must come first (a replica syncing after it lost its data) are asked here. */
  prioritize(next: () => { partition: number; peer: string } | undefined): void {
    this.priority = next;
  }

  /** One exchange: a prioritized one, else the next served partition with the next other primary of it. */
  async exchangeNext(): Promise<ExchangeOutcome | undefined> {
    const urgent = this.priority?.();
    if (urgent !== undefined) {
      const outcome = await this.exchange(urgent.partition, urgent.peer);
      this.events.exchange(outcome);
      return outcome;
    }
    const served = [...this.served()];
    if (served.length === 0) return undefined;
    const [partition, others] = served[this.next++ % served.length]!;
    const up = others.filter((o) => this.peers.isUp(o));
    if (up.length === 0) return undefined;
    const turn = this.peerTurn.get(partition) ?? 0;
    this.peerTurn.set(partition, turn + 1);
    const peer = up[turn % up.length]!;
    const outcome = await this.exchange(partition, peer);
    this.events.exchange(outcome);
    return outcome;
  }

  /** Compares and repairs one partition with one peer. */
  async exchange(partition: number, peer: string): Promise<ExchangeOutcome> {
    const timeoutMs = this.config.requestTimeoutMs;
    try {
      await this.refresh(partition);
    } catch (e) {
      this.log.error('anti-entropy: cannot read a partition to hash it', { partition, error: String(e) });
      return 'not_ready';
    }
    const theirs = await this.peers.aeTree(peer, partition, timeoutMs);
    if (!theirs.ok) return 'failed';
    if (theirs.value === undefined) return 'not_ready';
    const differing = HashTrees.diff(this.trees.segmentsOf(partition), theirs.value);
    if (differing.length === 0) {
      this.markCompleted(partition, peer);
      return 'in_sync';
    }
    const limit = this.config.antiEntropyKeysPerExchangeMax;
    const [theirKeys, myKeys] = await Promise.all([this.peers.aeKeys(peer, partition, differing, limit, timeoutMs), this.keysIn(partition, differing, limit)]);
    if (!theirKeys.ok) return 'failed';
    // The keys whose hashes differ, or that only one side holds.
    const byKey = (entries: readonly KeyHash[]) => new Map(entries.map((e) => [Buffer.from(e.key.buffer, e.key.byteOffset, e.key.length).toString('hex'), e]));
    const mineByKey = byKey(myKeys.entries);
    const theirsByKey = byKey(theirKeys.value.entries);
    const keys = new Map<string, Uint8Array>();
    for (const [k, e] of mineByKey) {
      const h = theirsByKey.get(k)?.hash;
      if (h === undefined || Buffer.compare(h, e.hash) !== 0) keys.set(k, e.key);
    }
    for (const [k, e] of theirsByKey) if (!mineByKey.has(k)) keys.set(k, e.key);
    let repaired = 0;
    let failed = 0;
    for (const key of [...keys.values()].slice(0, limit)) {
      if (this.stopped) return 'incomplete';
      const r = await this.repairKey(partition, peer, key, timeoutMs);
      if (r.ok) repaired++;
      else failed++;
    }
    if (repaired > 0) this.events.repaired(repaired);
    if (failed > 0 || keys.size > limit || theirKeys.value.truncated || myKeys.truncated) return 'incomplete';
    this.markCompleted(partition, peer);
    return 'repaired';
  }

  /** Merges the peer's object for a key here, then sends the result back if the peer lacks it. */
  private async repairKey(partition: number, peer: string, key: Uint8Array, timeoutMs: number): Promise<Result<void>> {
    const theirs = await this.peers.fetch(peer, partition, key, timeoutMs);
    if (!theirs.ok) return theirs;
    try {
      if (theirs.value !== undefined) await this.local.mergeEncoded(partition, key, theirs.value);
      const mine = await this.local.fetchEncoded(partition, key);
      if (mine === undefined || (theirs.value !== undefined && Buffer.compare(mine, theirs.value) === 0)) return ok(undefined);
      return await this.peers.replicate(peer, partition, key, mine, timeoutMs);
    } catch (e) {
      return { ok: false, error: e instanceof KvError ? e : this.local.failure('anti-entropy repair', e) };
    }
  }

  /** This node's keys and hashes in some segments of a partition (what a peer's aeKeys asks). */
  async keysIn(partition: number, segments: readonly number[], limit: number): Promise<KeyHashes> {
    const wanted = new Set(segments);
    const entries: KeyHash[] = [];
    let startAfter: Uint8Array | undefined;
    for (;;) {
      const batch = await this.data.fold(partition, { startAfter, limit: FOLD_BATCH });
      for (const e of batch) {
        if (!wanted.has(segmentOf(e.key, this.trees.segments))) continue;
        if (entries.length >= limit) return { entries, truncated: true };
        entries.push({ key: e.key, hash: pairHash(e.key, e.value) });
      }
      if (batch.length < FOLD_BATCH) return { entries, truncated: false };
      startAfter = batch[batch.length - 1]!.key;
    }
  }

  private markCompleted(partition: number, peer: string): void {
    let byPeer = this.completedAt.get(partition);
    if (byPeer === undefined) this.completedAt.set(partition, (byPeer = new Map()));
    byPeer.set(peer, this.clock.now());
    this.events.completed(partition, peer);
  }
}


/**
 * A replica that lost its data never answers "not found" as if it knew.
 *
 * A node whose data directory is wiped and restarted comes back empty. If its "not found" counted
 * toward R, a read at R=2 that reached it and one replica that missed a write would say the
 * acknowledged value does not exist. So every data directory carries an id (made when it starts
 * empty), every node remembers the id it last saw for each peer (heartbeats carry it), and a node
 * whose directory is new learns from its peers whether they knew an earlier one:
 * - awaiting-verdict: the directory is new and no verdict is in yet. Its not-founds do not count.
 * - syncing: a peer knew an earlier directory for it: it lost its data. Its not-founds do not
 *   count, partition by partition, until anti-entropy has completed an exchange of the partition
 *   with every other primary of it (then the partition holds everything they hold).
 * - synced: its not-founds count. Reached from awaiting-verdict when a majority of the members
 *   (itself included) agree none of them knew an earlier directory: a new cluster, or a new node.
 * The syncing partitions are kept in the store's meta, so a restart in the middle does not forget
 * them. A found object always counts: it is what the node holds, merged like any reply.
 * The node serves writes at once in every state.
 */
import { Clock, systemClock } from './clock';

export type SyncState = 'synced' | 'awaiting-verdict' | 'syncing';

export interface ReplicaSyncOptions {
  readonly self: string;
  /** Every member, this node included. */
  readonly members: readonly string[];
  /** The partitions this node is a primary of, with the other primaries of each. */
  readonly served: ReadonlyMap<number, readonly string[]>;
  /** Whether the data directory started empty at this start. */
  readonly freshDirectory: boolean;
  /** Partitions a previous start left syncing (from the store's meta); undefined: none. */
  readonly syncing: readonly number[] | undefined;
  /** Stores the syncing partitions (an empty list when done). */
  readonly persist: (syncing: readonly number[]) => Promise<void>;
  readonly clock?: Clock;
  readonly onState?: (state: SyncState, detail: string) => void;
}

export class ReplicaSync {
  private state: SyncState;
  /** Partitions whose not-founds do not count, with when syncing began (exchanges before do not count). */
  private readonly pending = new Map<number, number>();
  private readonly saidNew = new Set<string>();
  /** When an exchange of a partition with a peer last completed, by `${partition}/${peer}`. */
  private readonly exchangedWith = new Map<string, number>();
  private readonly clock: Clock;

  constructor(private readonly options: ReplicaSyncOptions) {
    this.clock = options.clock ?? systemClock;
    const left = options.syncing ?? [];
    if (left.length > 0) {
      this.state = 'syncing';
      for (const p of left) if (options.served.has(p)) this.pending.set(p, this.clock.now());
    } else if (options.freshDirectory && options.members.length > 1) {
      this.state = 'awaiting-verdict';
    } else {
      this.state = 'synced';
    }
  }

  get current(): SyncState {
    return this.state;
  }

  /** Partitions whose not-founds do not count now. */
  get partitionsSyncing(): number {
    return this.state === 'awaiting-verdict' ? this.options.served.size : this.pending.size;
  }

  /** Whether this node's "not found" for a key of `partition` counts toward R. */
  notFoundCounts(partition: number): boolean {
    if (this.state === 'synced') return true;
    if (this.state === 'awaiting-verdict') return false;
    return !this.pending.has(partition);
  }

  /** A peer's answer to our heartbeat: the data directory id it knew for us before ("" for none). */
  verdict(peer: string, knewDataId: string, ourDataId: string): void {
    if (this.state !== 'awaiting-verdict') return;
    if (knewDataId !== '' && knewDataId !== ourDataId) {
      this.state = 'syncing';
      const now = this.clock.now();
      for (const p of this.options.served.keys()) this.pending.set(p, now);
      void this.options.persist([...this.pending.keys()]);
      this.options.onState?.('syncing', `${peer} knew an earlier data directory (${knewDataId}) for this node: it lost its data; its not-found answers count again once anti-entropy has synced each partition`);
      if (this.pending.size === 0) this.finish();
      return;
    }
    this.saidNew.add(peer);
    const majority = Math.floor(this.options.members.length / 2) + 1;
    if (this.saidNew.size + 1 >= majority) {
      this.state = 'synced';
      this.options.onState?.('synced', `${this.saidNew.size} peers never knew another data directory for this node: it is new`);
    }
  }

  /** Anti-entropy completed an exchange of `partition` with `peer`. */
  exchanged(partition: number, peer: string): void {
    const since = this.pending.get(partition);
    if (since === undefined) return;
    const others = this.options.served.get(partition) ?? [];
    this.exchangedWith.set(`${partition}/${peer}`, this.clock.now());
    if (others.every((o) => (this.exchangedWith.get(`${partition}/${o}`) ?? -1) >= since)) {
      this.pending.delete(partition);
      void this.options.persist([...this.pending.keys()]);
      if (this.pending.size === 0) this.finish();
    }
  }

  /** The next partition and peer anti-entropy should exchange to finish syncing, if any. */
  next(isUp: (node: string) => boolean): { partition: number; peer: string } | undefined {
    for (const [partition, since] of this.pending) {
      for (const peer of this.options.served.get(partition) ?? []) {
        if ((this.exchangedWith.get(`${partition}/${peer}`) ?? -1) < since && isUp(peer)) return { partition, peer };
      }
    }
    return undefined;
  }

  private finish(): void {
    this.state = 'synced';
    this.options.onState?.('synced', 'anti-entropy has synced every partition with every other primary');
  }
}

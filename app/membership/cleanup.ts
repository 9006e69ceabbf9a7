/**
 * Ownership handoff, on the giving side: a node drops the data of partitions it no longer holds
 * (a join moved them to a new owner, or the node left), so old owners keep nothing for partitions
 * they gave away and a node that left can exit holding nothing.
 *
 * The receivers already copied each partition before it flipped (transfers.ts). Dropping is still
 * a push first, then a delete, key by key: each object is merged into every current primary of the
 * partition (all of them must take it), and only then removed here, and only if it is still the
 * bytes that were pushed. So a write that reached this node late (a coordinator with an older
 * cluster state still routes to the old owner) is pushed by a later round, never dropped.
 *
 * Nothing is dropped until every member is known to have the cluster state this node has (gossip
 * tells which version each peer holds; a direct gossip is sent to those not yet known to), so no
 * member still reads from or writes to this node by a state in which it owned the partition.
 *
 * A node that is not a member any more (the state's departures say how it went): after a leave
 * (it handed off its partitions), it drops
 * everything this way and, holding no data and no hints, says so (the node then exits). After a
 * remove (the cluster declared it gone while it was down), its data is older than the cluster's and
 * pushing it could bring back deletes the cluster already forgot: it keeps the data, serves nothing,
 * and logs that it must be wiped before it joins again.
 */
import { ok, Result } from '../errors';
import { HandoffRedirect } from '../replication/handoff';
import { Logger } from '../../observability/log';
import { BackgroundLoop } from '../replication/background';
import { Clock, systemClock } from '../replication/clock';
import { ClusterState, pendingReceivers } from './cluster-state';
import { Membership } from './membership';

export interface CleanupDeps {
  readonly self: string;
  readonly membership: Membership;
  /** Up to `limit` of this node's objects of a partition, in key order, after `after`. */
  fold(partition: number, after: Uint8Array | undefined, limit: number): Promise<ReadonlyArray<{ readonly key: Uint8Array; readonly value: Uint8Array }>>;
  /** Merges an object into a peer's store, durably. */
  replicate(node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number): Promise<Result<void>>;
  isUp(node: string): boolean;
  /** Removes the key here if it still holds exactly `expected`; whether it did. */
  removeIfUnchanged(partition: number, key: Uint8Array, expected: Uint8Array): Promise<boolean>;
  /** Makes every member hold a cluster state at least as new as `version`; whether they all do. */
  spread(version: number): Promise<boolean>;
  /** Hints this node still holds for others (it hands them off before it may exit). */
  hintsHeld(): number;
  /** The node left the cluster and holds nothing: it may exit. Called once. */
  departed(): void;
}

export interface CleanupConfig {
  /** A node out of the cluster for longer than half of this hands nothing off (see mayHandOff). */
  readonly tombstoneGraceMs: number;
  readonly transferIntervalMs: number;
  readonly transferBatchMax: number;
  readonly transferKeysPerSecondMax: number;
  readonly requestTimeoutMs: number;
}

export interface CleanupEvents {
  dropped(keys: number, bytes: number): void;
}

/** Whether this node keeps partition `p` under `state`: a primary, a target, or a receiver. */
export function keeps(state: ClusterState, self: string, p: number): boolean {
  return state.placement.primaries[p]!.includes(self) || (state.target?.primaries[p]!.includes(self) ?? false) || pendingReceivers(state, p).includes(self);
}

/**
 * What this node knows of its own membership, kept in its metadata (JSON of DepartureRecord):
 * when it was last seen a member, whether it was leaving, and how it departed.
 */
export const DEPARTURE_META_KEY = 'departure';

export interface DepartureRecord {
  /** When this node last held a state that lists it (epoch ms). */
  readonly memberSeenAtMs?: number;
  /** It saw itself leaving: gone later means it left. */
  readonly leaving?: true;
  readonly how?: 'left' | 'removed';
}

/** How often the last-seen-as-member time is written while a member. */
const MEMBER_SEEN_REFRESH_MS = 60_000;

function parseDeparture(text: string | undefined): DepartureRecord {
  if (!text) return {};
  try {
    const r = JSON.parse(text) as Record<string, unknown>;
    return {
      ...(typeof r.memberSeenAtMs === 'number' ? { memberSeenAtMs: r.memberSeenAtMs } : {}),
      ...(r.leaving === true ? { leaving: true as const } : {}),
      ...(r.how === 'left' || r.how === 'removed' ? { how: r.how } : {}),
    };
  } catch {
    // Written by this version only; anything else is treated as unknown (the safe reading: not fresh).
    return {};
  }
}

export class CleanupWorker {
  private readonly loop: BackgroundLoop<number>;
  /** Per partition, where the current pass over its keys is (keys that stay are passed over). */
  private readonly cursor = new Map<number, Uint8Array>();
  private departedCalled = false;
  /** Partitions this node was last seen holding data of without keeping them. */
  private readonly held = new Set<number>();
  private record: DepartureRecord = {};
  private follow: (state: ClusterState) => Promise<void> = async () => {};
  private refusalLogged = false;

  constructor(
    private readonly deps: CleanupDeps,
    private readonly config: CleanupConfig,
    private readonly events: CleanupEvents,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.loop = new BackgroundLoop('cleanup', clock, () => this.round(), (dropped) => (dropped ? Math.max(1, Math.ceil((dropped * 1000) / config.transferKeysPerSecondMax)) : config.transferIntervalMs), log);
  }

  /** Partitions this node holds data of but does not keep (pushed and dropped as rounds go on). */
  get partitionsHeld(): number {
    return this.held.size;
  }

  /** How this node stopped being a member, if it did. */
  get departed(): 'left' | 'removed' | undefined {
    return this.record.how;
  }

  /** Reads how this node departed, if it did (kept across restarts), and follows new states. */
  async open(store: { getMeta(name: string): Promise<string | undefined>; setMeta(name: string, value: string): Promise<void> }): Promise<void> {
    this.record = parseDeparture(await store.getMeta(DEPARTURE_META_KEY));
    const save = async (next: DepartureRecord) => {
      if (JSON.stringify(next) === JSON.stringify(this.record)) return;
      this.record = next;
      await store.setMeta(DEPARTURE_META_KEY, JSON.stringify(next));
    };
    this.follow = async (state: ClusterState) => {
      if (state.version === 0) return;
      const me = state.members.find((m) => m.id === this.deps.self);
      const r = this.record;
      if (me) {
        // Seen as a member now; refreshed at most once a minute (a write of the metadata).
        const now = this.clock.now();
        const seenAtMs = r.memberSeenAtMs !== undefined && now - r.memberSeenAtMs < MEMBER_SEEN_REFRESH_MS && !r.how ? r.memberSeenAtMs : now;
        return save({ memberSeenAtMs: seenAtMs, ...(me.status === 'leaving' ? { leaving: true } : {}) });
      }
      // Once known, kept: the next change's state no longer lists this node's departure. A node
      // that saw itself leaving left, whatever state told it it was gone.
      const how = r.how ?? (r.leaving ? 'left' : (state.departures?.find((d) => d.id === this.deps.self)?.how ?? 'removed'));
      return save({ ...r, how });
    };
    await this.follow(this.deps.membership.state);
    this.deps.membership.onChange((state) => void this.follow(state));
  }

  /**
   * How long after it was last a member a node may still push what it holds: its data may then
   * hold values whose deletes the cluster has already forgotten (tombstones are reaped after
   * tombstoneGraceMs), and pushing them would bring them back.
   */
  private get stale(): boolean {
    const seen = this.record.memberSeenAtMs;
    return seen === undefined || this.clock.now() - seen > this.config.tombstoneGraceMs / 2;
  }

  /** Whether this node may hand off what it holds (data and hints): a member, or one that left recently. */
  get mayHandOff(): boolean {
    const state = this.deps.membership.state;
    if (state.version === 0 || state.members.some((m) => m.id === this.deps.self)) return true;
    return this.record.how === 'left' && !this.stale;
  }

  start(): void {
    this.loop.start(this.config.transferIntervalMs);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round: push and drop one page of one partition this node no longer keeps. */
  async round(): Promise<number> {
    const state = this.deps.membership.state;
    if (state.version === 0) return 0;
    const member = state.members.some((m) => m.id === this.deps.self);
    if (member) await this.follow(state);
    else if (!this.mayHandOff) {
      if (!this.refusalLogged) {
        const why = this.record.how === 'removed' ? 'it was removed from the cluster (while it was down)' : `it has been out of the cluster for longer than half of tombstone-grace-ms (${this.config.tombstoneGraceMs} ms)`;
        this.log.error(`this node is not a member: ${why}, so what it holds may carry values whose deletes the cluster already forgot; it keeps its data, hands nothing off and serves nothing; wipe its data directory before it joins again`, { version: state.version, memberSeenAtMs: this.record.memberSeenAtMs });
      }
      this.refusalLogged = true;
      return 0;
    }
    let spread: boolean | undefined;
    let holding = false;
    for (let p = 0; p < state.partitions; p++) {
      // Every round looks at every partition it does not keep (a read of one page each): a late
      // write may land in one that was empty.
      if (keeps(state, this.deps.self, p)) {
        this.held.delete(p);
        continue;
      }
      const after = this.cursor.get(p);
      let page;
      try {
        page = await this.deps.fold(p, after, this.config.transferBatchMax);
      } catch (e) {
        // A record that fails its checks stops this partition's pass, not the others'.
        holding = true;
        this.held.add(p);
        this.log.error('cleanup: cannot read a partition this node gave away; it stays here', { partition: p, error: (e as Error).message });
        continue;
      }
      if (page.length === 0) {
        this.cursor.delete(p);
        if (after === undefined) this.held.delete(p);
        // A pass that started mid-partition may have passed over keys that stay: look again from the start.
        if (after !== undefined) holding = true;
        continue;
      }
      holding = true;
      this.held.add(p);
      // Nothing is dropped while a member may still route here by an older state.
      spread ??= await this.deps.spread(state.version);
      if (!spread) return 0;
      const owners = state.placement.primaries[p]!;
      if (owners.length === 0 || !owners.every((o) => this.deps.isUp(o))) continue;
      const dropped = await this.dropPage(p, owners, page);
      this.cursor.set(p, page.at(-1)!.key);
      return Math.max(1, dropped);
    }
    if (!member && !holding && this.record.how === 'left' && this.deps.hintsHeld() === 0 && !this.departedCalled) {
      this.departedCalled = true;
      this.log.info('this node left the cluster and holds nothing: it can stop', { version: state.version });
      this.deps.departed();
    }
    return 0;
  }

  /** Pushes each object of the page to every owner, then removes the ones every owner took. */
  private async dropPage(partition: number, owners: readonly string[], page: ReadonlyArray<{ key: Uint8Array; value: Uint8Array }>): Promise<number> {
    let keys = 0;
    let bytes = 0;
    await Promise.all(
      page.map(async (e) => {
        const pushed = await Promise.all(owners.map((o) => this.deps.replicate(o, partition, e.key, e.value, this.config.requestTimeoutMs)));
        const failed = pushed.findIndex((r) => !r.ok);
        if (failed >= 0) {
          const error = pushed[failed]!;
          this.log.warn('cleanup: an owner did not take an object; it stays here and is pushed again next round', { partition, key: Buffer.from(e.key).toString('hex'), owner: owners[failed], error: error.ok ? '' : error.error.message });
          return;
        }
        // A change that made this node keep the partition again meanwhile: the object stays.
        if (keeps(this.deps.membership.state, this.deps.self, partition)) return;
        if (await this.deps.removeIfUnchanged(partition, e.key, e.value)) {
          keys++;
          bytes += e.value.length;
        }
      }),
    );
    if (keys > 0) this.events.dropped(keys, bytes);
    return keys;
  }
}

/**
 * Where the hints this node holds go when their target is no longer a member: to every current
 * primary of their partition (see HandoffWorker); none at all while this node may not hand off.
 */
export function hintRedirect(membership: Membership, mayHandOff: () => boolean, replicate: (node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number) => Promise<Result<void>>): HandoffRedirect {
  return {
    halted: () => !mayHandOff(),
    gone: (target) => membership.state.version > 0 && !membership.state.members.some((m) => m.id === target),
    deliver: async (partition, key, object, timeoutMs) => {
      const owners = membership.routing.replicas(partition).primaries;
      const results = await Promise.all(owners.map((o) => replicate(o, partition, key, object, timeoutMs)));
      return results.find((r) => !r.ok) ?? ok(undefined);
    },
  };
}

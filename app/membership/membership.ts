/**
 * A node's view of the cluster state: the newest state it has seen, kept in its data directory
 * (so a restart resumes from it, not from its flags), and the routing derived from it. States
 * arrive by gossip and from the claimant; each is merged (see cluster-state.ts), and a newer one
 * replaces the current, is stored before it is used, and is announced to listeners (the node
 * rebuilds its routing and connects to new members).
 */
import { Logger } from '../../observability/log';
import { PartitionReplicas, Routing } from '../ring/ring';
import { routingOf } from '../ring/placement';
import { ClusterState, merge, newer, pendingReceivers } from './cluster-state';
import { decodeState, encodeState } from './state-codec';

/** Where the state is kept (the store's metadata). */
export interface StateStore {
  getMeta(name: string): Promise<string | undefined>;
  setMeta(name: string, value: string): Promise<void>;
}

export const STATE_META_KEY = 'cluster-state';

export class Membership {
  private current: ClusterState;
  private routingCache: Routing;
  private readonly listeners: Array<(state: ClusterState) => void> = [];
  /** States are stored one at a time, in the order they were accepted. */
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    state: ClusterState,
    private readonly store: StateStore,
    private readonly log: Logger,
  ) {
    this.current = state;
    this.routingCache = routingWithMoves(state);
  }

  /**
   * The stored state if there is one (a stored state of another cluster is an error: the data
   * directory belongs to it), else `initial` (stored at once).
   */
  static async open(store: StateStore, initial: ClusterState, log: Logger): Promise<Membership> {
    const text = await store.getMeta(STATE_META_KEY);
    // Version 0: a node waiting to join (--join): its own placeholder state is never stored or
    // sent; the first real state that arrives replaces it.
    if (text === undefined) {
      if (initial.version > 0) await store.setMeta(STATE_META_KEY, encodeState(initial));
      return new Membership(initial, store, log);
    }
    const stored = decodeState(text);
    if (initial.version === 0) return new Membership(stored, store, log);
    if (stored.cluster !== initial.cluster) throw new Error(`the data directory belongs to cluster ${JSON.stringify(stored.cluster)}, not ${JSON.stringify(initial.cluster)}`);
    if (stored.partitions !== initial.partitions) throw new Error(`the data directory's cluster has ${stored.partitions} partitions; the node was started with ${initial.partitions} (partitions are fixed when a cluster is created)`);
    // A state no membership change ever touched (author '') is the fixed member list the node was
    // started with before: the flags' list, which may have been edited since, describes it now.
    // A state changed by the claimant is the cluster's, and wins over the flags.
    if (stored.author === '' || newer(initial, stored)) {
      await store.setMeta(STATE_META_KEY, encodeState(initial));
      return new Membership(initial, store, log);
    }
    return new Membership(stored, store, log);
  }

  get state(): ClusterState {
    return this.current;
  }

  /** Routing of the current state: reads use the placement; writes also reach the receivers of a move. */
  get routing(): Routing {
    return this.routingCache;
  }

  onChange(listener: (state: ClusterState) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Merges a state from a peer or the claimant; when it is newer, stores it, switches to it and
   * tells the listeners. Returns whether it changed anything. Throws (changing nothing) on a state
   * of another cluster.
   */
  async offer(incoming: ClusterState): Promise<boolean> {
    const merged = merge(this.current, incoming);
    if (merged === this.current) return false;
    const previous = this.current;
    this.current = merged;
    this.routingCache = routingWithMoves(merged);
    const text = encodeState(merged);
    this.saving = this.saving.then(() => this.store.setMeta(STATE_META_KEY, text));
    await this.saving;
    this.log.info('cluster state changed', { version: merged.version, author: merged.author, from: previous.version, members: merged.members.length, transfersLeft: merged.transfers.filter((t) => !t.done).length });
    for (const l of this.listeners) l(merged);
    return true;
  }
}

/** A placement's routing, with each moving partition's target row attached for the write path. */
function routingWithMoves(state: ClusterState): Routing {
  const base = routingOf(state.placement, state.members);
  const target = state.target;
  if (!target) return base;
  const cache: (PartitionReplicas | undefined)[] = new Array(state.partitions);
  return {
    partitions: state.partitions,
    replicas: (partition) => {
      const cached = cache[partition];
      if (cached) return cached;
      const r = base.replicas(partition);
      const moving = pendingReceivers(state, partition).length > 0;
      return (cache[partition] = moving ? { ...r, target: target.primaries[partition]! } : r);
    },
  };
}

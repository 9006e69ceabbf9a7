/**
 * The cluster state: the members (with their address, zone and status), the partitions' placement,
 * and a membership change in progress, as one versioned value that nodes gossip until they agree.
 *
 * Who changes it: only the claimant (see claimantOf) commits a change or records a finished
 * transfer, and each of its changes takes the next version. Two states that differ merge
 * deterministically: the higher version wins, and between two different states of one version
 * (two claimants during a network partition), the one whose author id sorts last. The loser's
 * change is dropped as a whole, never mixed: a transfer it recorded is done again (a transfer is
 * a merge of objects, so doing it twice is harmless), and its committed plan must be committed
 * again. A failure is not a change: a down member stays a member (hints and anti-entropy cover
 * it) until an operator removes it.
 *
 * The change in progress: `target` is the placement being moved to, and `transfers` the replicas
 * that `target` adds, each copied from the current primaries before it counts. Reads use
 * `placement`; writes go to `placement` and to the targets of the partition's pending transfers, so
 * nothing written during a move is missed by the new owner. A partition's primaries flip to its
 * target row once every transfer into it is done; the change completes when none is left.
 */
import { movedReplicas, place, Placement, PlacementMember } from '../ring/placement';

export type MemberStatus = 'joining' | 'valid' | 'leaving';

export interface Member {
  readonly id: string;
  /** host:port other nodes reach it at. */
  readonly address: string;
  readonly zone: string;
  /** joining: added by the change in progress; leaving: removed by it; valid: neither. */
  readonly status: MemberStatus;
}

export interface Transfer {
  readonly partition: number;
  /** The member receiving a replica of the partition. */
  readonly to: string;
  readonly done: boolean;
}

export interface ClusterState {
  readonly cluster: string;
  readonly partitions: number;
  readonly n: number;
  /** Bumped by every committed change and every recorded transfer. */
  readonly version: number;
  /** The member that made this version (tie-break between two states of one version). */
  readonly author: string;
  /** Sorted by id. */
  readonly members: readonly Member[];
  readonly placement: Placement;
  /** Where the change in progress is going; undefined when none is. */
  readonly target?: Placement;
  readonly transfers: readonly Transfer[];
  /**
   * The version that committed the change in progress (present with `target`): it names the
   * change, so a transfer report or a resume point of an earlier change is never taken for one of
   * this change.
   */
  readonly changeVersion?: number;
  /**
   * The members the last committed change takes out, and how: 'left' (it hands its partitions
   * off and may then push what it holds to the owners), 'removed' (declared gone: what it holds
   * is older than the cluster's and must not come back). Kept until the next commit; a node that
   * finds itself gone and not listed here treats itself as removed (the safe reading).
   */
  readonly departures?: readonly Departure[];
}

export interface Departure {
  readonly id: string;
  readonly how: 'left' | 'removed';
}

/** A membership change an operator stages. */
export type Change =
  | { readonly kind: 'join'; readonly id: string; readonly address: string; readonly zone: string }
  | { readonly kind: 'leave'; readonly id: string }
  /** For a member that is gone for good: its partitions are filled from the other replicas. */
  | { readonly kind: 'remove'; readonly id: string };

export class MembershipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MembershipError';
  }
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function placementMembers(members: readonly Member[]): PlacementMember[] {
  return members.map((m) => ({ id: m.id, zone: m.zone }));
}

/** The first state of a cluster whose members are known from the start (a fixed peer list). */
export function initialState(cluster: string, members: ReadonlyArray<{ id: string; address: string; zone: string }>, partitions: number, n: number): ClusterState {
  const sorted = members.map((m): Member => ({ ...m, status: 'valid' })).sort(byId);
  return { cluster, partitions, n, version: 1, author: '', members: sorted, placement: place(placementMembers(sorted), partitions, n), transfers: [] };
}

/** Whether a is newer than b (the one merge keeps). */
export function newer(a: ClusterState, b: ClusterState): boolean {
  return a.version !== b.version ? a.version > b.version : a.author > b.author;
}

/** The deterministic merge of two states of one cluster: the newer one, whole. */
export function merge(a: ClusterState, b: ClusterState): ClusterState {
  if (a.cluster !== b.cluster) throw new MembershipError(`cluster: a state of cluster ${JSON.stringify(b.cluster)} cannot merge into ${JSON.stringify(a.cluster)}`);
  // Fixed when a cluster is created: a node started with other values would route differently.
  if (a.partitions !== b.partitions || a.n !== b.n) throw new MembershipError(`a state with ${b.partitions} partitions and N=${b.n} cannot merge into one with ${a.partitions} partitions and N=${a.n}: start the node with the cluster's --partitions and --n`);
  return newer(b, a) ? b : a;
}

/**
 * The member that commits changes: the first valid member by id that `reachable` counts up (so a
 * claimant that is down hands the role on). Every node that agrees on the state and on who is up
 * picks the same one.
 */
export function claimantOf(state: ClusterState, reachable: (id: string) => boolean): string | undefined {
  return state.members.find((m) => m.status === 'valid' && reachable(m.id))?.id;
}

/** What committing `changes` would do: the new members, the target placement, the moves. */
export interface Plan {
  readonly members: readonly Member[];
  readonly target: Placement;
  readonly transfers: readonly Transfer[];
}

export function plan(state: ClusterState, changes: readonly Change[]): Plan {
  // One change at a time, with one exception: a member that died for good during a change (a
  // receiver, the leaver) would keep it from ever completing. Removing it replaces the change in
  // progress: the new target is planned from the placement as it stands (partitions that flipped
  // stay flipped), with the other members' statuses kept, and its transfers start over.
  if (state.target && (changes.length === 0 || !changes.every((c) => c.kind === 'remove'))) {
    throw new MembershipError(`a change is in progress (version ${state.version}, ${state.transfers.filter((t) => !t.done).length} transfers left): wait for it to finish before committing another (only remove, for a member gone for good, may be committed during a change)`);
  }
  if (changes.length === 0) throw new MembershipError('no changes are staged: stage join, leave or remove first');
  const members = new Map(state.members.map((m) => [m.id, m]));
  const touched = new Set<string>();
  for (const c of changes) {
    if (touched.has(c.id)) throw new MembershipError(`${c.id}: more than one change stages it; stage one change a member`);
    touched.add(c.id);
    const current = members.get(c.id);
    if (c.kind === 'join') {
      if (current) throw new MembershipError(`join ${c.id}: it is a member already (${current.status})`);
      members.set(c.id, { id: c.id, address: c.address, zone: c.zone, status: 'joining' });
    } else {
      if (!current) throw new MembershipError(`${c.kind} ${c.id}: no such member (members: ${[...members.keys()].join(', ')})`);
      if (c.kind === 'leave') members.set(c.id, { ...current, status: 'leaving' });
      else members.delete(c.id);
    }
  }
  const all = [...members.values()].sort(byId);
  const staying = all.filter((m) => m.status !== 'leaving');
  if (staying.length === 0) throw new MembershipError('the change leaves no member: keep at least one');
  // Only a valid member can be the claimant (claimantOf), and only the claimant records finished
  // transfers: a change that makes every member join or leave could never complete.
  if (!all.some((m) => m.status === 'valid')) throw new MembershipError(`the change joins, leaves or removes every member (${all.map((m) => `${m.id} ${m.status}`).join(', ')}): keep at least one member as it is, to be the claimant that records the transfers; commit the joins first, then the leaves`);
  const leaving = new Set(all.filter((m) => m.status === 'leaving').map((m) => m.id));
  const target = place(placementMembers(all), state.partitions, state.n, state.placement, leaving);
  const transfers = movedReplicas(state.placement, target).map((t): Transfer => ({ partition: t.partition, to: t.member, done: false }));
  return { members: all, target, transfers };
}

/** The claimant commits a plan: the next version, with the change in progress. */
export function commit(state: ClusterState, changes: readonly Change[], author: string): ClusterState {
  const p = plan(state, changes);
  // A removed member's replicas are gone with it: its rows shrink now, and fill as transfers end.
  const removed = new Set(state.members.map((m) => m.id).filter((id) => !p.members.some((m) => m.id === id)));
  const placement = removed.size === 0 ? state.placement : { ...state.placement, primaries: state.placement.primaries.map((row) => row.filter((m) => !removed.has(m))) };
  const departures = [...[...removed].map((id): Departure => ({ id, how: 'removed' })), ...p.members.filter((m) => m.status === 'leaving').map((m): Departure => ({ id: m.id, how: 'left' }))].sort(byId);
  const { departures: _previous, ...rest } = state;
  return settle({ ...rest, version: state.version + 1, author, members: p.members, placement, target: p.target, transfers: p.transfers, changeVersion: state.version + 1, ...(departures.length > 0 ? { departures } : {}) });
}

/** The claimant records a finished transfer: the next version; partitions whose moves are all done flip. */
export function transferDone(state: ClusterState, partition: number, to: string, author: string, change?: number): ClusterState {
  const i = state.transfers.findIndex((t) => t.partition === partition && t.to === to);
  // A report repeated after its partition flipped (the first answer was lost, or the change
  // completed meanwhile): the receiver is a primary already, nothing to record.
  if (i < 0 && partition >= 0 && partition < state.partitions && state.placement.primaries[partition]!.includes(to)) return state;
  if (change !== undefined && state.target && state.changeVersion !== undefined && change !== state.changeVersion) {
    throw new MembershipError(`transfer of partition ${partition} to ${to}: reported for the change committed at version ${change}, but the change in progress was committed at version ${state.changeVersion}; the receiver copies again for this one`);
  }
  if (i < 0 || !state.target) throw new MembershipError(`transfer of partition ${partition} to ${to}: not part of the change in progress (version ${state.version})`);
  if (state.transfers[i]!.done) return state;
  const transfers = state.transfers.map((t, j) => (j === i ? { ...t, done: true } : t));
  return settle({ ...state, version: state.version + 1, author, transfers });
}

/**
 * Flips every partition whose transfers are all done to its target row, and completes the change
 * when no transfer is left: joining members become valid, leaving ones are gone.
 */
function settle(state: ClusterState): ClusterState {
  if (!state.target) return state;
  const target = state.target;
  const pending = new Set(state.transfers.filter((t) => !t.done).map((t) => t.partition));
  const primaries = state.placement.primaries.map((row, p) => (pending.has(p) ? row : target.primaries[p]!));
  const placement = { ...state.placement, primaries };
  if (pending.size > 0) return { ...state, placement };
  const members = state.members.filter((m) => m.status !== 'leaving').map((m) => (m.status === 'joining' ? { ...m, status: 'valid' as const } : m));
  const { changeVersion: _done, target: _target, ...rest } = state;
  return { ...rest, members, placement: target, transfers: [] };
}

/**
 * The nodes a write to `partition` goes to besides its primaries: the receivers of the
 * partition's pending transfers (they must not miss a write made while their copy is made).
 */
export function pendingReceivers(state: ClusterState, partition: number): string[] {
  return state.transfers.filter((t) => t.partition === partition && !t.done).map((t) => t.to);
}

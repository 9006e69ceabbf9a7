/**
 * The invariants a run must keep, checked as a model would, against the final state after the
 * faults healed and the cluster converged. Pure: the simulation gathers the state, this judges it.
 *
 * - Convergence: every primary of a key holds the same history (same version vector, same dots).
 * - No acknowledged write lost: every element whose set-add put was acknowledged is in the set
 *   (the union of the siblings' sets), in a read at R=N and in each primary's own store.
 * - Nothing invented: every element or value present was written by some client.
 * - No resurrected delete: no live sibling's dot is covered by the context of an acknowledged
 *   delete of its key. A delete removes exactly the writes its context covers; a write it had
 *   not seen is concurrent and rightly survives, so this is the precise form of "a deleted key
 *   does not come back" (writes after the delete get new dots, which no earlier context covers).
 * - Nothing misplaced: a node holds data only for partitions it is a primary of (a fallback keeps
 *   what it stands in for as hints, apart from its data), in the final placement; data a node
 *   kept of a partition it gave away may be exempted (simulation.ts, EXEMPT_FORMER_OWNERS).
 * - Membership settled: every node that should run does, and holds the same cluster state; that
 *   state has the members the operator's changes make, all valid, and no change in progress (no
 *   transfer left); every node routes each partition to that state's primaries, with no move.
 * - Siblings within bounds: no converged object holds more siblings than siblingsMax (writes past
 *   it are refused; only merges could pile them up).
 * - Every hint delivered: once converged (every hint store's index empty), no hint record is
 *   left on any disk either (a record its index lost would never be handed off).
 */
import { ClusterState } from '../../app/membership/cluster-state';
import { PartitionReplicas } from '../../app/ring/ring';
import { covers, liveValues, sameHistory, VersionedObject } from '../../app/versioning/dvv';
import { elementsOf, History } from './workload';

export interface KeyState {
  readonly key: string;
  readonly kind: 'set' | 'delete';
  /** Each primary's stored object (its own data, not hints), or why it could not be read. */
  readonly primaries: ReadonlyArray<{ readonly node: string; readonly object: VersionedObject | undefined; readonly unreadable?: string }>;
  /** A get at R=N after convergence: the values, or why it failed. */
  readonly read: { readonly ok: true; readonly values: readonly Uint8Array[] } | { readonly ok: false; readonly error: string };
}

const MISSING_SHOWN_MAX = 5;

function describe(object: VersionedObject | undefined): string {
  if (object === undefined) return 'nothing';
  const vv = [...object.vv].map(([a, c]) => `${a}:${c}`).join(',');
  const siblings = object.siblings.map((s) => `${s.dot.actor}:${s.dot.counter}=${s.value === null ? 'tombstone' : Buffer.from(s.value).toString('utf8')}`).join(' ');
  return `{vv ${vv}; ${siblings}}`;
}

function missing(acked: ReadonlySet<string>, present: ReadonlySet<string>): string[] {
  return [...acked].filter((e) => !present.has(e));
}

function shown(items: readonly string[]): string {
  return items.slice(0, MISSING_SHOWN_MAX).join(', ') + (items.length > MISSING_SHOWN_MAX ? `, ... (${items.length} in all)` : '');
}

/** Whether every primary of each key holds the same history; the keys that do not, described. */
export function divergence(states: readonly KeyState[]): string[] {
  const out: string[] = [];
  for (const s of states) {
    const [first, ...rest] = s.primaries;
    if (first === undefined) continue;
    if (s.primaries.every((p) => p.unreadable === undefined) && rest.every((p) => sameHistory(p.object, first.object))) continue;
    out.push(`diverged: ${s.key}: ${s.primaries.map((p) => `${p.node} ${p.unreadable === undefined ? describe(p.object) : `unreadable (${p.unreadable})`}`).join(' / ')}`);
  }
  return out;
}

/** Every invariant the final state breaks, as readable lines; empty when the run is correct. */
export function checkFinalState(history: History, states: readonly KeyState[], siblingsMax: number): string[] {
  const violations = divergence(states);
  for (const s of states) {
    for (const p of s.primaries) {
      const n = p.object?.siblings.length ?? 0;
      if (n > siblingsMax) violations.push(`siblings: ${s.key}: ${p.node} holds ${n} siblings, above the bound of ${siblingsMax}`);
    }
    const attempted = history.attempted.get(s.key) ?? new Set<string>();
    const present: Array<{ where: string; elements: Set<string> }> = [];
    if (!s.read.ok) violations.push(`final read of ${s.key} at R=N failed: ${s.read.error}`);
    else present.push({ where: 'a read at R=N', elements: elementsOf(s.read.values) });
    for (const p of s.primaries) present.push({ where: `${p.node}'s store`, elements: elementsOf(liveValues(p.object)) });

    for (const { where, elements } of present) {
      const invented = [...elements].filter((e) => !attempted.has(e));
      if (invented.length > 0) violations.push(`invented: ${s.key}: ${where} holds ${shown(invented)}, which no client wrote`);
    }
    if (s.kind === 'set') {
      const acked = history.acked.get(s.key) ?? new Set<string>();
      for (const { where, elements } of present) {
        const lost = missing(acked, elements);
        if (lost.length > 0) violations.push(`lost: ${s.key}: ${where} lacks acknowledged ${shown(lost)}`);
      }
    }
    const deletes = history.deletes.filter((d) => d.key === s.key);
    for (const p of s.primaries) {
      for (const sibling of p.object?.siblings ?? []) {
        if (sibling.value === null) continue;
        const by = deletes.find((d) => covers(d.context, sibling.dot));
        if (by === undefined) continue;
        violations.push(
          `resurrected: ${s.key}: ${p.node} holds ${Buffer.from(sibling.value).toString('utf8')} (dot ${sibling.dot.actor}:${sibling.dot.counter}), deleted by the delete acknowledged at ${by.atMs} ms`,
        );
      }
    }
  }
  return violations;
}

/** Data a node holds in its own store for a partition. */
export interface Holding {
  readonly node: string;
  readonly partition: number;
  readonly keys: number;
}

/** Holdings in partitions the node is not a primary of, unless `exempt` (a former owner's data, left behind). */
export function checkPlacement(holdings: readonly Holding[], isPrimary: (node: string, partition: number) => boolean, exempt: (node: string, partition: number) => boolean = () => false): string[] {
  return holdings
    .filter((h) => h.keys > 0 && !isPrimary(h.node, h.partition) && !exempt(h.node, h.partition))
    .map((h) => `misplaced: ${h.node} holds ${h.keys} key(s) of partition ${h.partition} in its data, but is not a primary of it`);
}

/** Hint records left on disk after every index said none was held. */
export function checkHintsLeft(hintHoldings: readonly Holding[]): string[] {
  return hintHoldings.filter((h) => h.keys > 0).map((h) => `hint left: ${h.node} still holds ${h.keys} hint record(s) in partition ${h.partition} after convergence`);
}

/** A node that should run, as the checks see it: its cluster state and routing; nothing when it is down. */
export interface MemberView {
  readonly node: string;
  readonly version?: number;
  readonly author?: string;
  /** How the node routes each partition. */
  readonly routing?: readonly PartitionReplicas[];
}

const ROWS_SHOWN_MAX = 3;

/**
 * Whether membership settled on `final` (the state the nodes agree on, or the newest one when
 * they do not): every node in `views` runs and holds it, it has exactly `members` (the operator's
 * changes applied to the founders), every one valid, and no change in progress; and every node
 * routes each partition to its primaries, with no move attached.
 */
export function checkMembership(final: ClusterState, members: readonly string[], views: readonly MemberView[]): string[] {
  const out: string[] = [];
  const v = (version: number | undefined, author: string | undefined) => `${version} by ${author || '(flags)'}`;
  const left = final.transfers.filter((t) => !t.done);
  if (final.target !== undefined) out.push(`membership: the final state (${v(final.version, final.author)}) still has a change in progress: ${left.length} transfer(s) left (${left.slice(0, MISSING_SHOWN_MAX).map((t) => `partition ${t.partition} to ${t.to}`).join(', ')})`);
  const ids = final.members.map((m) => m.id);
  if (ids.join(',') !== [...members].sort().join(',')) out.push(`membership: the final state's members are ${ids.join(', ')}; the operator's changes make ${[...members].sort().join(', ')}`);
  for (const m of final.members) if (m.status !== 'valid') out.push(`membership: ${m.id} is still ${m.status} in the final state`);
  for (const view of views) {
    if (view.routing === undefined) {
      out.push(`membership: ${view.node} is down at the end`);
      continue;
    }
    if (view.version !== final.version || view.author !== final.author) out.push(`membership: ${view.node} holds state ${v(view.version, view.author)}, not the final ${v(final.version, final.author)}`);
    const wrong = view.routing
      .map((r, p) => ({ r, p, want: final.placement.primaries[p]! }))
      .filter(({ r, want }) => r.primaries.join(',') !== want.join(',') || r.target !== undefined);
    if (wrong.length > 0) {
      const rows = wrong.slice(0, ROWS_SHOWN_MAX).map(({ r, p, want }) => `partition ${p} to ${r.primaries.join(',')}${r.target ? ` (moving to ${r.target.join(',')})` : ''}, not ${want.join(',')}`);
      out.push(`membership: ${view.node} routes ${rows.join('; ')}${wrong.length > ROWS_SHOWN_MAX ? ` ... (${wrong.length} partitions in all)` : ''}`);
    }
  }
  return out;
}

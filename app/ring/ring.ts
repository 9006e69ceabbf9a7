/**
 * Consistent hashing over a fixed number Q of equal partitions (Dynamo's strategy 3).
 *
 * The key space (the first 32 bits of a key's MD5) is cut into Q equal partitions, Q a power of
 * two fixed when the cluster is created. Whole partitions are assigned to nodes. The assignment is
 * a pure function of the member list: balanced rendezvous hashing. Every (partition, member) pair
 * has a rank; pairs are taken strongest first while the member has room, and room is floor or
 * ceil of Q / members, so every node is within one partition of its fair share. When a member
 * joins, about 1/(k+1) of the partitions move, nearly all of them to the new member.
 */
import { createHash } from 'node:crypto';

/** Default number of partitions: 64 gives 12-13 partitions a node on a 5-node cluster. */
export const PARTITIONS_DEFAULT = 64;
export const PARTITIONS_MAX = 65536;

export interface Ring {
  /** Number of partitions, a power of two. */
  readonly partitions: number;
  /** Member ids, sorted. */
  readonly members: readonly string[];
  /** owners[p] is the member that owns partition p. */
  readonly owners: readonly string[];
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

/** The partition of a key: the top log2(Q) bits of the first 32 bits of MD5(key). */
export function partitionOf(key: Uint8Array, partitions: number): number {
  const digest = createHash('md5').update(key).digest();
  const h = digest.readUInt32BE(0);
  const bits = Math.log2(partitions);
  return bits === 0 ? 0 : Math.floor(h / 2 ** (32 - bits));
}

function rank(member: string, partition: number): number {
  return createHash('md5').update(`${partition}\0${member}`).digest().readUInt32BE(0);
}

/** Builds the ring for a member list. Throws on programmer errors (bad Q, no or duplicate members). */
export function buildRing(memberIds: readonly string[], partitions: number): Ring {
  if (!isPowerOfTwo(partitions) || partitions > PARTITIONS_MAX) {
    throw new Error(`partitions: ${partitions} must be a power of two from 1 to ${PARTITIONS_MAX}`);
  }
  const members = [...memberIds].sort();
  if (members.length === 0) throw new Error('members: the ring needs at least one member');
  if (new Set(members).size !== members.length) throw new Error(`members: duplicate ids in ${members.join(',')}`);
  // Exactly Q mod k members may take ceil(Q/k) partitions, the rest floor(Q/k): every member is
  // within one partition of its fair share, and none is left without partitions when Q >= k.
  const k = members.length;
  const floor = Math.floor(partitions / k);
  let bigSlots = partitions % k;
  const load = new Array<number>(k).fill(0);
  const hasRoom = (mi: number) => load[mi]! < floor || (bigSlots > 0 && load[mi] === floor);
  // Every (partition, member) pair, strongest rendezvous rank first; a pair is taken when its
  // partition is still free and its member has room. Deciding pairs globally (rather than
  // partition by partition) keeps a join's movement close to the 1/(k+1) minimum: when the new
  // member takes its share, capacity shrinks elsewhere with few knock-on moves between old members.
  const ranks = new Float64Array(partitions * k);
  for (let p = 0; p < partitions; p++) for (let mi = 0; mi < k; mi++) ranks[p * k + mi] = rank(members[mi]!, p);
  const pairs = new Uint32Array(partitions * k).map((_, i) => i);
  pairs.sort((a, b) => ranks[b]! - ranks[a]! || a - b);
  const owners = new Array<string>(partitions);
  let assigned = 0;
  for (let i = 0; i < pairs.length && assigned < partitions; i++) {
    const pair = pairs[i]!;
    const p = Math.floor(pair / k);
    const mi = pair % k;
    if (owners[p] !== undefined || !hasRoom(mi)) continue;
    owners[p] = members[mi]!;
    if (load[mi] === floor) bigSlots--;
    load[mi]!++;
    assigned++;
  }
  return { partitions, members, owners };
}

export type PreferenceRole = 'primary' | 'fallback';

export interface PreferenceEntry {
  readonly node: string;
  readonly role: PreferenceRole;
  /** Whether the caller's failure detector counts the node as up. */
  readonly up: boolean;
  /** For a fallback: the primary it stands in for (the hint's target). */
  readonly standsInFor?: string;
}

/**
 * The preference list of a partition: walk the ring from the partition and take the first n
 * distinct members (the primaries), then one up fallback for each primary that is down, in ring
 * order. Pure in (partition, ring, n, isUp).
 */
export function preferenceList(
  ring: Ring,
  partition: number,
  n: number,
  isUp: (node: string) => boolean = () => true,
): PreferenceEntry[] {
  const distinct = preferenceOrder(ring, partition);
  const primaries = distinct.slice(0, n);
  const spare = distinct.slice(n).filter(isUp);
  const list: PreferenceEntry[] = primaries.map((node) => ({ node, role: 'primary', up: isUp(node) }));
  for (const down of primaries.filter((node) => !isUp(node))) {
    const fallback = spare.shift();
    if (fallback === undefined) break;
    list.push({ node: fallback, role: 'fallback', up: true, standsInFor: down });
  }
  return list;
}

/**
 * Every member once, in preference order for a partition: walk the ring from the partition and
 * take each owner the first time it appears. The first n are the primaries, the rest the
 * fallbacks, in the order they stand in.
 */
function preferenceOrder(ring: Ring, partition: number): string[] {
  const distinct: string[] = [];
  for (let i = 0; i < ring.partitions && distinct.length < ring.members.length; i++) {
    const owner = ring.owners[(partition + i) % ring.partitions]!;
    if (!distinct.includes(owner)) distinct.push(owner);
  }
  // With capacity-balanced ownership a short walk may not meet every member; add the rest in a
  // stable order so fallbacks always exist when members > n.
  for (const m of ring.members) if (!distinct.includes(m)) distinct.push(m);
  return distinct;
}

/** A partition's primaries and, after them, its fallbacks in the order they stand in. */
export interface PartitionReplicas {
  readonly primaries: readonly string[];
  readonly fallbacks: readonly string[];
}

/**
 * The primaries and fallbacks of each partition of a ring, computed on first use and kept: they
 * depend only on the ring and n, not on who is up, and routing asks for them on every operation.
 */
export function replicasLookup(ring: Ring, n: number): (partition: number) => PartitionReplicas {
  const byPartition: (PartitionReplicas | undefined)[] = new Array(ring.partitions);
  return (partition) => {
    let r = byPartition[partition];
    if (r === undefined) {
      const order = preferenceOrder(ring, partition);
      r = byPartition[partition] = { primaries: order.slice(0, n), fallbacks: order.slice(n) };
    }
    return r;
  };
}

/** The primaries of each partition (see replicasLookup). */
export function primariesLookup(ring: Ring, n: number): (partition: number) => readonly string[] {
  const lookup = replicasLookup(ring, n);
  return (partition) => lookup(partition).primaries;
}

/** The partitions for which a member is a primary (one of the first n distinct owners). */
export function partitionsServedBy(ring: Ring, member: string, n: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < ring.partitions; p++) {
    if (preferenceList(ring, p, n).some((e) => e.node === member)) out.push(p);
  }
  return out;
}

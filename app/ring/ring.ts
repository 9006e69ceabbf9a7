/**
 * Consistent hashing over a fixed number Q of equal partitions (Dynamo's strategy 3).
 *
 * The key space (the first 32 bits of a key's MD5) is cut into Q equal partitions, Q a power of
 * two fixed when the cluster is created. Whole partitions are assigned to nodes. The assignment is
 * a pure function of the member list: balanced rendezvous hashing, where each partition goes to
 * the member that ranks it highest among those not yet at capacity ceil(Q / members). Rendezvous
 * ranks keep movement small when a member joins (about 1/(k+1) of the partitions move to it),
 * and the capacity keeps every node within one partition of its fair share.
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
  const floor = Math.floor(partitions / members.length);
  let bigSlots = partitions % members.length;
  const capacityOf = (m: string) => (load.get(m)! < floor || (bigSlots > 0 && load.get(m)! === floor) ? 1 : 0);
  const load = new Map(members.map((m) => [m, 0]));
  // Partitions pick in order of their strongest preference, so that a partition whose favourite
  // member is full falls back to its next favourite rather than displacing others.
  const choices = Array.from({ length: partitions }, (_, p) =>
    members.map((m) => ({ m, r: rank(m, p) })).sort((a, b) => b.r - a.r || (a.m < b.m ? -1 : 1)),
  );
  const order = Array.from({ length: partitions }, (_, p) => p).sort((a, b) => choices[b]![0]!.r - choices[a]![0]!.r || a - b);
  const owners = new Array<string>(partitions);
  for (const p of order) {
    const pick = choices[p]!.find((c) => capacityOf(c.m) > 0)!;
    owners[p] = pick.m;
    if (load.get(pick.m) === floor) bigSlots--;
    load.set(pick.m, load.get(pick.m)! + 1);
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
  const distinct: string[] = [];
  for (let i = 0; i < ring.partitions && distinct.length < ring.members.length; i++) {
    const owner = ring.owners[(partition + i) % ring.partitions]!;
    if (!distinct.includes(owner)) distinct.push(owner);
  }
  // With capacity-balanced ownership a short walk may not meet every member; add the rest in a
  // stable order so fallbacks always exist when members > n.
  for (const m of ring.members) if (!distinct.includes(m)) distinct.push(m);
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

/** The partitions for which a member is a primary (one of the first n distinct owners). */
export function partitionsServedBy(ring: Ring, member: string, n: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < ring.partitions; p++) {
    if (preferenceList(ring, p, n).some((e) => e.node === member)) out.push(p);
  }
  return out;
}

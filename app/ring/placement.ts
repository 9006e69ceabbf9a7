/**
 * Zone-aware placement: which N members hold each partition (its primaries, in order; the first is
 * the partition's owner), as an explicit table that a membership change edits rather than
 * recomputes, so that a join or a leave moves only what it must.
 *
 * The rules, in priority order:
 * 1. Every partition has min(N, members) distinct primaries.
 * 2. Zones: when the members span at least N zones, a partition's primaries are in N distinct
 *    zones; otherwise every zone holds at least one of them, and none more than ceil(N / zones).
 *    A zone can then hold more than its fair share of replicas (a zone of one member among zones
 *    of three holds a replica of every partition on that member): the rule beats balance, because
 *    losing one zone must never take a quorum away.
 * 3. Balance: members of one zone hold within one replica of each other where the zone rule
 *    allows it, and when every zone has as many members, every member holds floor or ceil of
 *    Q x N / members replicas. Owners (first primaries) are balanced the same way among each
 *    partition's primaries, which moves no data.
 * 4. Movement: a replica stays where it is unless a rule above needs it moved; a member joining
 *    k members takes about 1/(k+1) of the replicas, nearly all from members over their share.
 *
 * Pure and deterministic: the same previous table and member list (in any order) give the same
 * table. Ties are broken by a rendezvous rank of (partition, member), so the first placement of a
 * cluster spreads evenly without any previous table.
 */
import { createHash } from 'node:crypto';
import { isPowerOfTwo, PartitionReplicas, PARTITIONS_MAX, Routing } from './ring';

export interface PlacementMember {
  readonly id: string;
  /** The failure domain: an availability zone, a rack. Members without one share the zone "". */
  readonly zone: string;
}

export interface Placement {
  readonly partitions: number;
  /** The replication factor asked for; a partition has min(n, members) primaries. */
  readonly n: number;
  /** primaries[p]: the members holding partition p, owner first. */
  readonly primaries: readonly (readonly string[])[];
}

/** A (partition, member) rank for tie-breaks: high ranks win. */
function rank(member: string, partition: number): number {
  return createHash('md5').update(`${partition}\0${member}`).digest().readUInt32BE(0);
}

/**
 * How many of each partition's primaries each zone may hold, and how many zones must appear: the
 * replicas are spread as evenly as the zones' sizes allow (each zone up to a common level, a zone
 * with fewer members than the level up to its size), so every zone appears when there are at most
 * `replicas` zones, and no zone holds more than it must.
 */
export function zoneRule(zoneSizes: ReadonlyMap<string, number>, replicas: number): { readonly perZoneMax: ReadonlyMap<string, number>; readonly zonesMin: number } {
  let level = Math.ceil(replicas / zoneSizes.size);
  const capacity = () => [...zoneSizes.values()].reduce((sum, size) => sum + Math.min(size, level), 0);
  while (capacity() < replicas) level++;
  return { perZoneMax: new Map([...zoneSizes].map(([zone, size]) => [zone, Math.min(size, level)])), zonesMin: Math.min(replicas, zoneSizes.size) };
}

/**
 * The placement for `members`, starting from `previous` (a table for the same Q; members no
 * longer listed, or listed in `leaving`, lose their replicas). Throws on programmer errors.
 */
export function place(members: readonly PlacementMember[], partitions: number, n: number, previous?: Placement, leaving: ReadonlySet<string> = new Set()): Placement {
  if (!isPowerOfTwo(partitions) || partitions > PARTITIONS_MAX) throw new Error(`partitions: ${partitions} must be a power of two from 1 to ${PARTITIONS_MAX}`);
  if (!Number.isInteger(n) || n < 1) throw new Error(`n: ${n} must be a positive integer`);
  if (previous && previous.partitions !== partitions) throw new Error(`previous placement has ${previous.partitions} partitions, not ${partitions}`);
  const staying = [...members].filter((m) => !leaving.has(m.id)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (staying.length === 0) throw new Error('members: a placement needs at least one member that is not leaving');
  const ids = staying.map((m) => m.id);
  if (new Set(ids).size !== ids.length) throw new Error(`members: duplicate ids in ${ids.join(',')}`);
  const zoneOf = new Map(staying.map((m) => [m.id, m.zone]));
  const zoneSizes = new Map<string, number>();
  for (const m of staying) zoneSizes.set(m.zone, (zoneSizes.get(m.zone) ?? 0) + 1);
  const zones = [...zoneSizes.keys()].sort();
  const replicas = Math.min(n, staying.length);
  const { perZoneMax, zonesMin } = zoneRule(zoneSizes, replicas);

  const table: string[][] = Array.from({ length: partitions }, (_, p) => (previous?.primaries[p] ?? []).filter((m) => zoneOf.has(m)));
  const load = new Map(ids.map((id) => [id, 0]));
  for (const row of table) for (const m of row) load.set(m, load.get(m)! + 1);

  const zoneCount = (row: readonly string[], zone: string) => row.filter((m) => zoneOf.get(m) === zone).length;
  const distinctZones = (row: readonly string[]) => new Set(row.map((m) => zoneOf.get(m))).size;
  const overZone = (row: readonly string[]) => zones.some((z) => zoneCount(row, z) > perZoneMax.get(z)!);
  // Whether `row` (with `slotsLeft` more members to add) can still meet the zone rule.
  const feasible = (row: readonly string[], slotsLeft: number) => !overZone(row) && distinctZones(row) + slotsLeft >= zonesMin;

  // 1. Trim rows that are too long (N lowered) or break the zone rule (a member moved zones, zones
  //    were added): drop the most loaded member whose removal helps, until the row is valid.
  for (let p = 0; p < partitions; p++) {
    const row = table[p]!;
    while (row.length > replicas || overZone(row) || (row.length === replicas && distinctZones(row) < zonesMin)) {
      // Any member when the row is too long, else one of a zone over its share, else one sharing
      // its zone with another (to make room for a missing zone).
      const over = row.length > replicas ? row : overZone(row) ? row.filter((m) => zoneCount(row, zoneOf.get(m)!) > perZoneMax.get(zoneOf.get(m)!)!) : row.filter((m) => zoneCount(row, zoneOf.get(m)!) > 1);
      const victim = over.reduce((a, b) => (load.get(b)! > load.get(a)! || (load.get(b) === load.get(a) && rank(b, p) < rank(a, p)) ? b : a));
      row.splice(row.indexOf(victim), 1);
      load.set(victim, load.get(victim)! - 1);
    }
  }

  // 2. Fill empty slots: the least loaded member the zone rule allows, rank breaking ties.
  for (let p = 0; p < partitions; p++) {
    const row = table[p]!;
    while (row.length < replicas) {
      let best: string | undefined;
      for (const id of ids) {
        if (row.includes(id)) continue;
        if (!feasible([...row, id], replicas - row.length - 1)) continue;
        if (best === undefined || load.get(id)! < load.get(best)! || (load.get(id) === load.get(best) && rank(id, p) > rank(best, p))) best = id;
      }
      if (best === undefined) throw new Error(`placement: no member can take a replica of partition ${p} under the zone rule (zones ${zones.join(',')}, N=${replicas})`);
      row.push(best);
      load.set(best, load.get(best)! + 1);
    }
  }

  // 3. Balance: move one replica at a time from a member to one holding at least two fewer,
  //    where the zone rule allows, preferring members of the same zone; stop when no such move is
  //    left. Each move lowers the sum of squared loads, so this ends.
  for (;;) {
    const byLoad = [...ids].sort((a, b) => load.get(b)! - load.get(a)! || (a < b ? -1 : 1));
    let moved = false;
    outer: for (const from of byLoad) {
      const receivers = [...ids].filter((to) => load.get(to)! <= load.get(from)! - 2).sort((a, b) => load.get(a)! - load.get(b)! || Number(zoneOf.get(b) === zoneOf.get(from)) - Number(zoneOf.get(a) === zoneOf.get(from)) || (a < b ? -1 : 1));
      for (const to of receivers) {
        let bestP = -1;
        for (let p = 0; p < partitions; p++) {
          const row = table[p]!;
          if (!row.includes(from) || row.includes(to)) continue;
          const swapped = row.map((m) => (m === from ? to : m));
          if (!feasible(swapped, 0)) continue;
          if (bestP < 0 || rank(to, p) > rank(to, bestP)) bestP = p;
        }
        if (bestP < 0) continue;
        const row = table[bestP]!;
        row[row.indexOf(from)] = to;
        load.set(from, load.get(from)! - 1);
        load.set(to, load.get(to)! + 1);
        moved = true;
        break outer;
      }
    }
    if (!moved) break;
  }

  // 4. Owners: reorder rows (no data moves) so that each member owns its share of partitions.
  balanceOwners(table, ids);
  return { partitions, n, primaries: table };
}

/**
 * Puts one of each row's members first so that owners are balanced: every member owns floor or
 * ceil of Q / members partitions where the rows allow it. A member short of its share takes a
 * partition from one with more, along a chain of hand-overs if need be (an augmenting path: A
 * takes p from B, who takes q from C ...), each hand-over between two members of one row.
 */
function balanceOwners(table: string[][], ids: readonly string[]): void {
  const owned = new Map(ids.map((id) => [id, 0]));
  for (const row of table) owned.set(row[0]!, owned.get(row[0]!)! + 1);
  const floor = Math.floor(table.length / ids.length);
  const ceil = Math.ceil(table.length / ids.length);
  // Rows each member could own (it is one of their primaries).
  const rowsOf = new Map(ids.map((id) => [id, [] as number[]]));
  table.forEach((row, p) => row.forEach((m) => rowsOf.get(m)!.push(p)));
  /** A chain from `start` to a member `done` accepts; each step takes a partition from its owner. */
  const augment = (start: string, done: (member: string) => boolean): boolean => {
    const via = new Map<string, { from: string; partition: number }>();
    const queue = [start];
    const seen = new Set([start]);
    while (queue.length > 0) {
      const taker = queue.shift()!;
      for (const p of rowsOf.get(taker)!) {
        const giver = table[p]![0]!;
        if (seen.has(giver)) continue;
        seen.add(giver);
        via.set(giver, { from: taker, partition: p });
        if (done(giver)) {
          // Walk back: each taker becomes the owner of the partition its giver owned.
          for (let g = giver; g !== start; ) {
            const step = via.get(g)!;
            const row = table[step.partition]!;
            const i = row.indexOf(step.from);
            [row[0], row[i]] = [row[i]!, row[0]!];
            g = step.from;
          }
          owned.set(start, owned.get(start)! + 1);
          owned.set(giver, owned.get(giver)! - 1);
          return true;
        }
        queue.push(giver);
      }
    }
    return false;
  };
  for (const id of ids) while (owned.get(id)! < floor && augment(id, (g) => owned.get(g)! > floor));
  for (const id of ids) while (owned.get(id)! < ceil && augment(id, (g) => owned.get(g)! > ceil));
}

/**
 * The fallbacks of a partition, in the order they stand in: the members that are not its
 * primaries, those in a zone the primaries do not use first (a fallback in another zone survives
 * the loss of the down primary's zone), then by rank.
 */
export function fallbacksOf(placement: Placement, members: readonly PlacementMember[], partition: number): string[] {
  const primaries = placement.primaries[partition]!;
  const zoneOf = new Map(members.map((m) => [m.id, m.zone]));
  const used = new Set(primaries.map((m) => zoneOf.get(m)));
  return members
    .map((m) => m.id)
    .filter((id) => !primaries.includes(id))
    .sort((a, b) => Number(used.has(zoneOf.get(a))) - Number(used.has(zoneOf.get(b))) || rank(b, partition) - rank(a, partition) || (a < b ? -1 : 1));
}

/** Replicas that differ between two placements of the same Q: (partition, member) pairs added. */
export function movedReplicas(before: Placement, after: Placement): Array<{ readonly partition: number; readonly member: string }> {
  const out: Array<{ partition: number; member: string }> = [];
  for (let p = 0; p < after.partitions; p++) for (const m of after.primaries[p]!) if (!before.primaries[p]?.includes(m)) out.push({ partition: p, member: m });
  return out;
}

/**
 * Routing over a placement: each partition's primaries and fallbacks, the fallbacks computed on
 * first use and kept (they depend only on the placement and the members, not on who is up).
 */
export function routingOf(placement: Placement, members: readonly PlacementMember[]): Routing {
  const byPartition: (PartitionReplicas | undefined)[] = new Array(placement.partitions);
  return {
    partitions: placement.partitions,
    replicas: (partition) => (byPartition[partition] ??= { primaries: placement.primaries[partition]!, fallbacks: fallbacksOf(placement, members, partition) }),
  };
}

/** The routing of a fixed member list in one zone: what every node of such a cluster computes. */
export function routingForMembers(ids: readonly string[], partitions: number, n: number): Routing {
  const members = ids.map((id) => ({ id, zone: '' }));
  return routingOf(place(members, partitions, n), members);
}

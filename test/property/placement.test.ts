/** Zone-aware placement: the laws of app/ring/placement.ts, for random member sets. */
import * as fc from 'fast-check';
import { fallbacksOf, movedReplicas, place, Placement, PlacementMember, routingOf, zoneRule } from '../../app/ring/placement';

const zoneNames = ['a', 'b', 'c', 'd', 'e'];

/** Members m0..m(k-1), each in one of `zones` zones (chosen by the generated indexes). */
const membersArb = (minK: number, maxK: number, maxZones: number) =>
  fc.integer({ min: 1, max: maxZones }).chain((zones) =>
    fc.array(fc.integer({ min: 0, max: zones - 1 }), { minLength: minK, maxLength: maxK }).map((zs) => zs.map((z, i): PlacementMember => ({ id: `m${i}`, zone: zoneNames[z]! }))),
  );
/** k members spread evenly over z zones (the case where full balance is possible). */
const evenMembersArb = fc.integer({ min: 1, max: 4 }).chain((z) => fc.integer({ min: 1, max: 4 }).map((perZone) => Array.from({ length: z * perZone }, (_, i): PlacementMember => ({ id: `m${i}`, zone: zoneNames[i % z]! }))));
const qArb = fc.constantFrom(16, 32, 64, 128);
const nArb = fc.integer({ min: 1, max: 5 });

function loads(pl: Placement): Map<string, number> {
  const out = new Map<string, number>();
  for (const row of pl.primaries) for (const m of row) out.set(m, (out.get(m) ?? 0) + 1);
  return out;
}

function owners(pl: Placement): Map<string, number> {
  const out = new Map<string, number>();
  for (const row of pl.primaries) out.set(row[0]!, (out.get(row[0]!) ?? 0) + 1);
  return out;
}

function checkZones(pl: Placement, members: readonly PlacementMember[]): void {
  const zoneOf = new Map(members.map((m) => [m.id, m.zone]));
  const sizes = new Map<string, number>();
  for (const m of members) sizes.set(m.zone, (sizes.get(m.zone) ?? 0) + 1);
  const replicas = Math.min(pl.n, members.length);
  const { perZoneMax, zonesMin } = zoneRule(sizes, replicas);
  for (const row of pl.primaries) {
    const counts = new Map<string, number>();
    for (const m of row) counts.set(zoneOf.get(m)!, (counts.get(zoneOf.get(m)!) ?? 0) + 1);
    expect(counts.size).toBeGreaterThanOrEqual(zonesMin);
    for (const [zone, c] of counts) expect(c).toBeLessThanOrEqual(perZoneMax.get(zone)!);
    // Enough zones: N distinct ones. Fewer: every zone, and no zone above the even share its
    // size allows (ceil(N / zones) when every zone has that many members).
    if (sizes.size >= replicas) expect(counts.size).toBe(replicas);
    else expect(counts.size).toBe(sizes.size);
    if ([...sizes.values()].every((s) => s >= Math.ceil(replicas / sizes.size))) for (const c of counts.values()) expect(c).toBeLessThanOrEqual(Math.ceil(replicas / sizes.size));
  }
}

describe('place', () => {
  test('gives every partition min(N, members) distinct primaries, all of them members', () => {
    fc.assert(
      fc.property(membersArb(1, 9, 4), qArb, nArb, (members, q, n) => {
        const pl = place(members, q, n);
        const ids = new Set(members.map((m) => m.id));
        expect(pl.primaries).toHaveLength(q);
        for (const row of pl.primaries) {
          expect(row).toHaveLength(Math.min(n, members.length));
          expect(new Set(row).size).toBe(row.length);
          for (const m of row) expect(ids.has(m)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  test('puts the primaries in N distinct zones when there are N zones, else in every zone and none above ceil(N / zones)', () => {
    fc.assert(
      fc.property(membersArb(1, 9, 5), qArb, nArb, (members, q, n) => checkZones(place(members, q, n), members)),
      { numRuns: 200 },
    );
  });

  test('with zones of equal size, every member holds floor or ceil of Q x N / members replicas and owns floor or ceil of Q / members partitions', () => {
    fc.assert(
      fc.property(evenMembersArb, qArb, fc.integer({ min: 1, max: 4 }), (members, q, n) => {
        const pl = place(members, q, n);
        const replicas = Math.min(n, members.length);
        const l = loads(pl);
        const share = (q * replicas) / members.length;
        for (const m of members) {
          expect(l.get(m.id) ?? 0).toBeGreaterThanOrEqual(Math.floor(share));
          expect(l.get(m.id) ?? 0).toBeLessThanOrEqual(Math.ceil(share));
        }
        const o = owners(pl);
        for (const m of members) {
          expect(o.get(m.id) ?? 0).toBeGreaterThanOrEqual(Math.floor(q / members.length));
          expect(o.get(m.id) ?? 0).toBeLessThanOrEqual(Math.ceil(q / members.length));
        }
      }),
      { numRuns: 150 },
    );
  });

  test('within one zone, members hold within one replica of each other', () => {
    fc.assert(
      fc.property(membersArb(2, 9, 3), qArb, nArb, (members, q, n) => {
        const l = loads(place(members, q, n));
        for (const zone of new Set(members.map((m) => m.zone))) {
          const inZone = members.filter((m) => m.zone === zone).map((m) => l.get(m.id) ?? 0);
          expect(Math.max(...inZone) - Math.min(...inZone)).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 150 },
    );
  });

  test('is deterministic: the same members in any order give the same placement', () => {
    fc.assert(
      fc.property(membersArb(1, 8, 3), qArb, nArb, fc.integer(), (members, q, n, seed) => {
        const shuffled = [...members].sort((a, b) => ((a.id.length * 31 + seed) % 7) - ((b.id.length * 17 + seed) % 5) || (a.id < b.id ? 1 : -1));
        expect(place(shuffled, q, n)).toEqual(place(members, q, n));
      }),
      { numRuns: 80 },
    );
  });

  test('keeps a valid placement as it is when nothing changed', () => {
    fc.assert(
      fc.property(membersArb(1, 8, 3), qArb, nArb, (members, q, n) => {
        const pl = place(members, q, n);
        expect(place(members, q, n, pl)).toEqual(pl);
      }),
      { numRuns: 80 },
    );
  });

  test('a member joining k members takes about 1/(k+1) of the replicas, and the rules still hold', () => {
    fc.assert(
      fc.property(evenMembersArb, qArb, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 3 }), (members, q, n, zoneIndex) => {
        const zones = [...new Set(members.map((m) => m.zone))];
        const before = place(members, q, n);
        const joined = [...members, { id: 'new', zone: zones[zoneIndex % zones.length]! }];
        const after = place(joined, q, n, before);
        checkZones(after, joined);
        const replicas = Math.min(n, joined.length);
        const total = q * replicas;
        const moved = movedReplicas(before, after).length;
        // The minimum is the new member's share (plus the slot N adds when members < N); allow
        // a few knock-on moves between old members to rebalance, never a reshuffle.
        const ideal = total / joined.length + (Math.min(n, members.length) < replicas ? q : 0);
        expect(moved).toBeLessThanOrEqual(Math.ceil(ideal * 1.25) + 2);
      }),
      { numRuns: 120 },
    );
  });

  test('a member leaving gives away only its own replicas (and a few to rebalance)', () => {
    fc.assert(
      fc.property(membersArb(3, 9, 3), qArb, nArb, fc.nat(), (members, q, n, pick) => {
        const before = place(members, q, n);
        const leaving = members[pick % members.length]!.id;
        const after = place(members, q, n, before, new Set([leaving]));
        for (const row of after.primaries) expect(row).not.toContain(leaving);
        checkZones(after, members.filter((m) => m.id !== leaving));
        const held = loads(before).get(leaving) ?? 0;
        const moved = movedReplicas(before, after).length;
        // Its replicas go elsewhere, unless the members left are fewer than N (rows shrink).
        if (members.length - 1 >= n) expect(moved).toBeGreaterThanOrEqual(held);
        expect(moved).toBeLessThanOrEqual(Math.ceil(held * 1.5) + 4);
      }),
      { numRuns: 120 },
    );
  });

  test('rejects what is not a placement problem, naming the value', () => {
    expect(() => place([{ id: 'a', zone: '' }], 12, 3)).toThrow('partitions: 12 must be a power of two');
    expect(() => place([], 16, 3)).toThrow('at least one member');
    expect(() => place([{ id: 'a', zone: '' }, { id: 'a', zone: 'b' }], 16, 3)).toThrow('duplicate ids');
  });
});

describe('fallbacks and routing', () => {
  test('a partition\'s fallbacks are every other member once, members of zones its primaries do not use first', () => {
    fc.assert(
      fc.property(membersArb(1, 9, 4), qArb, nArb, (members, q, n) => {
        const pl = place(members, q, n);
        const routing = routingOf(pl, members);
        const zoneOf = new Map(members.map((m) => [m.id, m.zone]));
        for (let p = 0; p < q; p++) {
          const { primaries, fallbacks } = routing.replicas(p);
          expect(primaries).toEqual(pl.primaries[p]);
          expect(fallbacks).toEqual(fallbacksOf(pl, members, p));
          expect([...primaries, ...fallbacks].sort()).toEqual(members.map((m) => m.id).sort());
          const used = new Set(primaries.map((m) => zoneOf.get(m)));
          const fresh = fallbacks.map((f) => !used.has(zoneOf.get(f)));
          // Once a fallback from a used zone appears, no fresh-zone fallback follows.
          expect(fresh.indexOf(false) < 0 || fresh.slice(fresh.indexOf(false)).every((x) => !x)).toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  });
});

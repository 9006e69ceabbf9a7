import * as fc from 'fast-check';
import { buildRing, partitionOf, partitionsServedBy, PARTITIONS_MAX, preferenceList, Ring } from '../../app/ring/ring';

const idArb = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/);
const membersArb = (min: number, max: number): fc.Arbitrary<string[]> => fc.uniqueArray(idArb, { minLength: min, maxLength: max });
const qArb = fc.constantFrom(8, 16, 32, 64, 128);

function loads(ring: Ring): Map<string, number> {
  const out = new Map(ring.members.map((m) => [m, 0]));
  for (const o of ring.owners) out.set(o, out.get(o)! + 1);
  return out;
}

function shuffled<T>(items: readonly T[], keys: readonly number[]): T[] {
  return items.map((x, i) => ({ x, k: (keys[i % keys.length] ?? 0) * items.length + i })).sort((a, b) => a.k - b.k).map((e) => e.x);
}

describe('partitionOf', () => {
  test('is an integer within [0, Q) and the same for the same key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 16 }), (key, bits) => {
        const q = 2 ** bits;
        const p = partitionOf(key, q);
        expect(Number.isInteger(p) && p >= 0 && p < q).toBe(true);
        expect(partitionOf(Buffer.from(key), q)).toBe(p);
      }),
      { numRuns: 500 },
    );
  });

  test('doubling Q splits each partition in two: the partition of Q is the top bits of the partition of 2Q', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: 0, max: 15 }), (key, bits) => {
        expect(Math.floor(partitionOf(key, 2 ** (bits + 1)) / 2)).toBe(partitionOf(key, 2 ** bits));
      }),
      { numRuns: 300 },
    );
  });

  test('spreads keys evenly: every partition gets within 25 % of its share of 20000 keys', () => {
    const q = 64;
    const counts = new Array<number>(q).fill(0);
    for (let i = 0; i < 20_000; i++) counts[partitionOf(Buffer.from(`user:${i}`), q)]!++;
    const share = 20_000 / q;
    expect(Math.min(...counts)).toBeGreaterThan(0.75 * share);
    expect(Math.max(...counts)).toBeLessThan(1.25 * share);
  });
});

describe('buildRing', () => {
  test('assigns every partition to one of the members, which it keeps sorted', () => {
    fc.assert(
      fc.property(membersArb(1, 10), qArb, (members, q) => {
        const ring = buildRing(members, q);
        expect(ring.partitions).toBe(q);
        expect(ring.members).toEqual([...members].sort());
        expect(ring.owners).toHaveLength(q);
        for (const o of ring.owners) expect(members).toContain(o);
      }),
      { numRuns: 100 },
    );
  });

  test('is deterministic: the same members in any order give the same ring and preference lists', () => {
    fc.assert(
      fc.property(membersArb(1, 10), fc.array(fc.nat(), { minLength: 1, maxLength: 10 }), qArb, fc.integer({ min: 1, max: 5 }), (members, keys, q, n) => {
        const a = buildRing(members, q);
        const b = buildRing(shuffled(members, keys), q);
        expect(b).toEqual(a);
        for (let p = 0; p < q; p++) expect(preferenceList(b, p, n)).toEqual(preferenceList(a, p, n));
      }),
      { numRuns: 60 },
    );
  });

  test('never gives a member more than ceil(Q / members) partitions', () => {
    fc.assert(
      fc.property(membersArb(1, 14), fc.constantFrom(16, 32, 64, 128, 256), (members, q) => {
        const capacity = Math.ceil(q / members.length);
        const l = loads(buildRing(members, q));
        for (const count of l.values()) expect(count).toBeLessThanOrEqual(capacity);
        expect([...l.values()].reduce((x, y) => x + y, 0)).toBe(q);
      }),
      { numRuns: 150 },
    );
  });

  test.each([
    ['Q that is not a power of two', ['a'], 48, /partitions: 48 must be a power of two/],
    ['Q above the maximum', ['a'], PARTITIONS_MAX * 2, /must be a power of two from 1 to 65536/],
    ['Q of zero', ['a'], 0, /partitions: 0/],
    ['no members', [], 8, /at least one member/],
    ['duplicate members', ['a', 'b', 'a'], 8, /duplicate ids in a,a,b/],
  ])('rejects %s', (_name, members, q, message) => {
    expect(() => buildRing(members, q)).toThrow(message);
  });
});

describe('adding a node', () => {
  // The grid from the issue: k = 3..12 existing members, Q in {64, 128, 256}.
  const grid: { k: number; q: number; moved: number; toNew: number; newLoad: number }[] = [];
  for (const q of [64, 128, 256]) {
    for (let k = 3; k <= 12; k++) {
      const members = Array.from({ length: k }, (_, i) => `kv-${i}`);
      const before = buildRing(members, q);
      const after = buildRing([...members, 'kv-new'], q);
      let moved = 0;
      let toNew = 0;
      for (let p = 0; p < q; p++) {
        if (before.owners[p] !== after.owners[p]) moved++;
        if (after.owners[p] === 'kv-new') toNew++;
      }
      grid.push({ k, q, moved, toNew, newLoad: loads(after).get('kv-new')! });
    }
  }

  test('moves at least half of 1/(k+1) of the partitions, all the new node owns, in every case', () => {
    for (const g of grid) {
      expect(g.moved / g.q).toBeGreaterThanOrEqual(0.5 / (g.k + 1));
      expect(g.toNew).toBe(g.newLoad);
      expect(g.newLoad).toBeLessThanOrEqual(Math.ceil(g.q / (g.k + 1)));
      expect(g.moved).toBeGreaterThanOrEqual(g.toNew);
    }
  });

  test('moves at most 2/(k+1) of the partitions in every case', () => {
    const worst = grid.reduce((w, g) => Math.max(w, (g.moved / g.q) * (g.k + 1)), 0);
    expect(worst).toBeLessThanOrEqual(2);
  });

  test('moves about 1/(k+1) of the partitions on average over k = 3..12 and Q = 64, 128, 256', () => {
    const ratios = grid.map((g) => (g.moved / g.q) * (g.k + 1));
    const mean = ratios.reduce((x, y) => x + y, 0) / ratios.length;
    expect(mean).toBeGreaterThan(0.5);
    expect(mean).toBeLessThan(2);
  });

  test('sends most moved partitions to the new node (capacity shrinking also moves a few between old members)', () => {
    const moved = grid.reduce((s, g) => s + g.moved, 0);
    const toNew = grid.reduce((s, g) => s + g.toNew, 0);
    expect(toNew / moved).toBeGreaterThan(0.5);
  });
});

describe('preferenceList', () => {
  const caseArb = membersArb(1, 9).chain((members) =>
    fc.record({
      members: fc.constant(members),
      q: qArb,
      n: fc.integer({ min: 1, max: members.length }),
      partition: fc.nat(),
      down: fc.subarray(members),
    }),
  );

  test('a key has exactly N distinct primaries, the first being the partition owner', () => {
    fc.assert(
      fc.property(caseArb, ({ members, q, n, partition }) => {
        const ring = buildRing(members, q);
        const p = partition % q;
        const list = preferenceList(ring, p, n);
        expect(list.map((e) => e.role)).toEqual(new Array(n).fill('primary'));
        expect(new Set(list.map((e) => e.node)).size).toBe(n);
        expect(list[0]!.node).toBe(ring.owners[p]);
      }),
      { numRuns: 200 },
    );
  });

  test('with N above the member count, every member is a primary once', () => {
    const ring = buildRing(['a', 'b'], 8);
    expect(preferenceList(ring, 3, 3).map((e) => e.node).sort()).toEqual(['a', 'b']);
  });

  test('adds one up fallback, never a primary, for each down primary while up spares last', () => {
    fc.assert(
      fc.property(caseArb, ({ members, q, n, partition, down }) => {
        const ring = buildRing(members, q);
        const isUp = (m: string): boolean => !down.includes(m);
        const list = preferenceList(ring, partition % q, n, isUp);
        const primaries = list.filter((e) => e.role === 'primary');
        const fallbacks = list.filter((e) => e.role === 'fallback');
        // The primaries do not depend on who is up; only the fallbacks do.
        expect(primaries.map((e) => e.node)).toEqual(preferenceList(ring, partition % q, n).map((e) => e.node));
        for (const e of primaries) expect(e.up).toBe(isUp(e.node));
        const downPrimaries = primaries.filter((e) => !e.up).map((e) => e.node);
        const upSpares = members.filter((m) => isUp(m) && !primaries.some((e) => e.node === m));
        expect(fallbacks).toHaveLength(Math.min(downPrimaries.length, upSpares.length));
        expect(fallbacks.map((e) => e.standsInFor)).toEqual(downPrimaries.slice(0, fallbacks.length));
        for (const f of fallbacks) {
          expect(f.up && isUp(f.node)).toBe(true);
          expect(primaries.some((e) => e.node === f.node)).toBe(false);
        }
        expect(new Set(list.map((e) => e.node)).size).toBe(list.length);
      }),
      { numRuns: 300 },
    );
  });

  test('with all 3 primaries of 5 members down, only the 2 up spares become fallbacks', () => {
    const ring = buildRing(['a', 'b', 'c', 'd', 'e'], 16);
    const primaries = preferenceList(ring, 0, 3).map((e) => e.node);
    const list = preferenceList(ring, 0, 3, (m) => !primaries.includes(m));
    expect(list.filter((e) => e.role === 'fallback').map((e) => e.node).sort()).toEqual(['a', 'b', 'c', 'd', 'e'].filter((m) => !primaries.includes(m)));
  });
});

describe('partitionsServedBy', () => {
  test('lists exactly the partitions whose preference list has the member as a primary, N per partition in total', () => {
    fc.assert(
      fc.property(membersArb(3, 7), fc.constantFrom(8, 16, 32), fc.integer({ min: 1, max: 3 }), (members, q, n) => {
        const ring = buildRing(members, q);
        let total = 0;
        for (const m of members) {
          const served = partitionsServedBy(ring, m, n);
          total += served.length;
          for (let p = 0; p < q; p++) expect(served.includes(p)).toBe(preferenceList(ring, p, n).some((e) => e.node === m));
        }
        expect(total).toBe(q * n);
      }),
      { numRuns: 40 },
    );
  });
});

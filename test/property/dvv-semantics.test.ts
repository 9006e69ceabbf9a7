import * as fc from 'fast-check';
import { applyWrite, DOT_COUNTER_MAX, EMPTY_VV, isDeleted, liveValues, merge, mergeAll, VersionedObject, writingActor } from '../../app/versioning/dvv';
import { encodeObject } from '../../app/versioning/codec';
import { ACTORS, Command, commandArb, dotsOf, historyArb, replay, step, valueArb } from './dvv-history';

const RUNS = 200;
const bytes = (s: string): Uint8Array => Buffer.from(s);
const text = (obj: VersionedObject | undefined): string[] => liveValues(obj).map((v) => Buffer.from(v).toString()).sort();

describe('writes with a context', () => {
  test('a write with the context of a read replaces exactly the siblings that read saw', () => {
    fc.assert(
      fc.property(historyArb, fc.nat({ max: ACTORS.length - 1 }), fc.array(commandArb, { maxLength: 10 }), valueArb, (before, at, between, value) => {
        const replicas = replay(before).replicas;
        const read = replicas[at];
        between.forEach((c, i) => step(replicas, c, 5_000 + i));
        const current = replicas[at];
        const written = applyWrite(current, read?.vv ?? EMPTY_VV, ACTORS[at]!, value, 9_000);
        const readDots = new Set(dotsOf(read));
        const newDot = `${ACTORS[at]}:${(current?.vv.get(ACTORS[at]!) ?? 0) + 1}`;
        const expected = [...dotsOf(current).filter((d) => !readDots.has(d)), newDot].sort();
        expect([...dotsOf(written)].sort()).toEqual(expected);
        expect(written.siblings.find((s) => `${s.dot.actor}:${s.dot.counter}` === newDot)?.value).toBe(value);
      }),
      { numRuns: RUNS },
    );
  });

  test('a write coordinated elsewhere drops exactly the siblings its context covers', () => {
    fc.assert(
      fc.property(historyArb, fc.nat({ max: ACTORS.length - 1 }), fc.nat({ max: ACTORS.length - 1 }), (h, readAt, writeAt) => {
        const { replicas } = replay(h);
        const context = replicas[readAt]?.vv ?? EMPTY_VV;
        const current = replicas[writeAt];
        const written = applyWrite(current, context, ACTORS[writeAt]!, bytes('v'), 9_000);
        const uncovered = (current?.siblings ?? []).filter((s) => (context.get(s.dot.actor) ?? 0) < s.dot.counter);
        expect(written.siblings.length).toBe(uncovered.length + 1);
        for (const s of uncovered) expect(written.siblings).toContainEqual(s);
      }),
      { numRuns: RUNS },
    );
  });

  test('a blind write on an existing key adds a sibling and keeps every old one', () => {
    fc.assert(
      fc.property(historyArb, fc.nat({ max: ACTORS.length - 1 }), (h, at) => {
        const current = replay(h).replicas[at];
        fc.pre(current !== undefined);
        const written = applyWrite(current, EMPTY_VV, ACTORS[at]!, bytes('blind'), 9_000);
        expect(written.siblings.length).toBe(current!.siblings.length + 1);
        for (const s of current!.siblings) expect(written.siblings).toContainEqual(s);
      }),
      { numRuns: RUNS },
    );
  });

  test('two writes with the same context produce two siblings, on one replica or on two', () => {
    const base = applyWrite(undefined, EMPTY_VV, 'a@1', bytes('v0'), 1);
    const context = base.vv;
    const sameReplica = applyWrite(applyWrite(base, context, 'a@1', bytes('x'), 2), context, 'a@1', bytes('y'), 3);
    expect(text(sameReplica)).toEqual(['x', 'y']);
    const atA = applyWrite(base, context, 'a@1', bytes('x'), 2);
    const atB = applyWrite(merge(undefined, base), context, 'b@1', bytes('y'), 3);
    expect(text(merge(atA, atB))).toEqual(['x', 'y']);
  });

  test('writing with the context of a read of both siblings resolves them into one', () => {
    const base = applyWrite(undefined, EMPTY_VV, 'a@1', bytes('x'), 1);
    const both = applyWrite(base, EMPTY_VV, 'b@1', bytes('y'), 2);
    expect(text(both)).toEqual(['x', 'y']);
    expect(text(applyWrite(both, both.vv, 'a@1', bytes('xy'), 3))).toEqual(['xy']);
  });
});

describe('sibling explosion (riak_test sibling_explosion)', () => {
  // Two clients in lockstep, each writing with the context its previous put returned, and
  // the same with read-resolve-write cycles: with dots, siblings stay at the two concurrent writes.
  test('two clients putting with their last returned context keep at most two siblings', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 10, maxLength: 60 }), (turns) => {
        let obj: VersionedObject | undefined;
        const ctx = [EMPTY_VV, EMPTY_VV];
        turns.forEach((second, i) => {
          const c = second ? 1 : 0;
          obj = applyWrite(obj, ctx[c]!, 'a@1', bytes(`c${c}-${i}`), i);
          ctx[c] = obj.vv;
          expect(obj.siblings.length).toBeLessThanOrEqual(2);
        });
      }),
      { numRuns: 100 },
    );
  });

  test('read-resolve-write cycles by two clients on two replicas keep at most two siblings', () => {
    const replicas: (VersionedObject | undefined)[] = [undefined, undefined];
    const sync = (): void => {
      const m = merge(replicas[0], replicas[1]);
      replicas[0] = m;
      replicas[1] = m;
    };
    let max = 0;
    for (let round = 0; round < 100; round++) {
      // Both read (from their own coordinator) before either writes: the lockstep interleaving.
      const reads = [replicas[0], replicas[1]];
      for (const c of [0, 1]) {
        const resolved = `c${c}-${round}:${text(reads[c]).join('+').length}`;
        replicas[c] = applyWrite(replicas[c], reads[c]?.vv ?? EMPTY_VV, ACTORS[c]!, bytes(resolved), round);
      }
      sync();
      max = Math.max(max, replicas[0]!.siblings.length);
    }
    expect(max).toBe(2);
  });
});

describe('tombstones', () => {
  test('a delete concurrent with a write leaves a tombstone sibling next to the value', () => {
    const base = applyWrite(undefined, EMPTY_VV, 'a@1', bytes('v0'), 1);
    const deleted = applyWrite(base, base.vv, 'a@1', null, 2);
    expect(isDeleted(deleted)).toBe(true);
    expect(liveValues(deleted)).toEqual([]);
    const written = applyWrite(merge(undefined, base), base.vv, 'b@1', bytes('v1'), 3);
    const both = merge(deleted, written)!;
    expect(both.siblings.map((s) => s.value === null)).toEqual([true, false]);
    expect(isDeleted(both)).toBe(false);
    expect(text(both)).toEqual(['v1']);
  });

  test('a write with a context covering the tombstone supersedes it', () => {
    fc.assert(
      fc.property(historyArb, fc.nat({ max: ACTORS.length - 1 }), (h, at) => {
        const current = replay(h).replicas[at];
        fc.pre(current !== undefined && current.siblings.some((s) => s.value === null));
        const written = applyWrite(current, current!.vv, ACTORS[at]!, bytes('after'), 9_000);
        expect(written.siblings.map((s) => s.value)).toEqual([bytes('after')]);
        expect(isDeleted(written)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  test('a key that was never written is neither deleted nor has values', () => {
    expect(isDeleted(undefined)).toBe(false);
    expect(liveValues(undefined)).toEqual([]);
  });
});

describe('convergence', () => {
  test('replicas that exchange everything, in any order, hold the same object', () => {
    const order = fc.array(fc.nat(), { minLength: ACTORS.length, maxLength: ACTORS.length });
    fc.assert(
      fc.property(historyArb, fc.array(order, { minLength: ACTORS.length, maxLength: ACTORS.length }), (h, orders) => {
        const { replicas } = replay(h);
        fc.pre(replicas.some((r) => r !== undefined));
        // Each replica merges the others' objects in its own order (a shuffle drawn by sorting on random keys).
        const results = orders.map((keys, self) => {
          const others = replicas.map((r, i) => ({ r, k: keys[i]! * ACTORS.length + i })).sort((x, y) => x.k - y.k);
          return mergeAll([replicas[self], ...others.map((o) => o.r)])!;
        });
        const encoded = results.map((r) => encodeObject(r).toString('hex'));
        expect(new Set(encoded).size).toBe(1);
      }),
      { numRuns: RUNS },
    );
  });

  test('pairwise gossip in a generated order ends with every replica equal', () => {
    const syncArb = fc.array(
      fc.record({ t: fc.constant('sync' as const), from: fc.nat({ max: ACTORS.length - 1 }), to: fc.nat({ max: ACTORS.length - 1 }) }),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(historyArb, syncArb, (h, gossip) => {
        const { replicas } = replay(h);
        fc.pre(replicas.some((r) => r !== undefined));
        gossip.forEach((c: Command, i) => step(replicas, c, i));
        // Finish with a ring of syncs twice around, which reaches everyone.
        for (let lap = 0; lap < 2; lap++) for (let i = 0; i < ACTORS.length; i++) step(replicas, { t: 'sync', from: i, to: (i + 1) % ACTORS.length }, 0);
        const encoded = replicas.map((r) => encodeObject(r!).toString('hex'));
        expect(new Set(encoded).size).toBe(1);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('repairing poisoned clocks', () => {
  test('writingActor keeps the actor while its counter fits, and otherwise takes a per-key actor whose next dot is new and fits', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 3 }), { maxLength: 4 }), fc.boolean(), (poisonedSuffixes, ownPoisoned) => {
        const entries: Array<[string, number]> = poisonedSuffixes.map((i) => [i === 0 ? 'a.e1' : `a.e1/k${i}`, DOT_COUNTER_MAX]);
        if (!ownPoisoned) entries.push(['a.e1', 5]);
        const vv = new Map(entries);
        const actor = writingActor(vv, EMPTY_VV, 'a.e1');
        if ((vv.get('a.e1') ?? 0) < DOT_COUNTER_MAX) expect(actor).toBe('a.e1');
        else expect(actor).toMatch(/^a\.e1\/k\d+$/);
        expect((vv.get(actor) ?? 0) + 1).toBeLessThanOrEqual(DOT_COUNTER_MAX);
        // The write encodes (no counter past 2^53 - 1).
        expect(() => encodeObject(applyWrite({ vv, siblings: [] }, EMPTY_VV, actor, bytes('v'), 1))).not.toThrow();
      }),
      { numRuns: RUNS },
    );
  });
});

import * as fc from 'fast-check';
import { WriteCore } from '../../app/replication/write-core';

/** A write over 3..7 members with N primaries, some down; answers arrive in a random order. */
const caseArb = fc.integer({ min: 3, max: 7 }).chain((members) =>
  fc.integer({ min: 1, max: Math.min(5, members) }).chain((n) =>
    fc.record({
      members: fc.constant(members),
      n: fc.constant(n),
      w: fc.integer({ min: 1, max: n }),
      pwShare: fc.double({ min: 0, max: 1, noNaN: true }),
      down: fc.array(fc.boolean(), { minLength: members, maxLength: members }),
      answers: fc.array(fc.boolean(), { maxLength: 20 }),
    }),
  ),
);

describe('WriteCore', () => {
  test('sends to every up primary and a distinct up fallback for each down one, never to a down node', () => {
    fc.assert(
      fc.property(caseArb, ({ members, n, w, down }) => {
        const ids = Array.from({ length: members }, (_, i) => `m${i}`);
        const primaries = ids.slice(0, n);
        const fallbacks = ids.slice(n);
        const isUp = (id: string) => id === 'm0' || !down[Number(id.slice(1))];
        const core = new WriteCore(w, 0, primaries, fallbacks, 'm0', isUp);
        const nodes = core.initial.map((t) => t.node);
        expect(new Set(nodes).size).toBe(nodes.length);
        for (const t of core.initial) {
          expect(isUp(t.node)).toBe(true);
          expect(t.node).not.toBe('m0');
          if (t.hintFor === undefined) expect(primaries).toContain(t.node);
          else {
            expect(fallbacks).toContain(t.node);
            expect(primaries).toContain(t.hintFor);
            expect(isUp(t.hintFor)).toBe(false);
          }
        }
        const upFallbacks = fallbacks.filter(isUp).length;
        const downPrimaries = primaries.filter((p) => !isUp(p)).length;
        expect(core.initial.filter((t) => t.hintFor !== undefined)).toHaveLength(Math.min(upFallbacks, downPrimaries));
      }),
      { numRuns: 500 },
    );
  });

  test('success iff W acknowledgements with PW from primaries; failure as soon as that is impossible; a failed primary is replaced by an unused fallback', () => {
    fc.assert(
      fc.property(caseArb, ({ members, n, w, pwShare, down, answers }) => {
        const ids = Array.from({ length: members }, (_, i) => `m${i}`);
        const primaries = ids.slice(0, n);
        const fallbacks = ids.slice(n);
        const pw = Math.floor(pwShare * w);
        const isUp = (id: string) => id === 'm0' || !down[Number(id.slice(1))];
        const core = new WriteCore(w, pw, primaries, fallbacks, 'm0', isUp);
        // The coordinator's own write is outstanding too, until its commit is durable.
        const outstanding: Array<{ node: string; hintFor?: string }> = [{ node: 'm0' }, ...core.initial];
        const used = new Set(outstanding.map((t) => t.node));
        let acks = 0;
        let primaryAcks = 0;
        for (const ok of answers) {
          const target = outstanding.shift();
          if (target === undefined) break;
          const replacement = core.add(target.node, ok);
          if (ok) {
            acks++;
            if (target.hintFor === undefined) primaryAcks++;
            expect(replacement).toBeUndefined();
          } else if (target.node === 'm0') {
            expect(replacement).toBeUndefined(); // its own failed write has no stand-in
          } else if (replacement) {
            expect(replacement.hintFor).toBe(target.hintFor ?? target.node);
            expect(fallbacks).toContain(replacement.node);
            expect(used.has(replacement.node)).toBe(false);
            used.add(replacement.node);
            outstanding.push(replacement);
          }
          const pendingPrimaries = outstanding.filter((t) => t.hintFor === undefined).length;
          const expected = acks >= w && primaryAcks >= pw ? 'success' : acks + outstanding.length < w || primaryAcks + pendingPrimaries < pw ? 'failure' : 'pending';
          expect(core.outcome).toBe(expected);
          expect(core.tally.acks).toBe(acks);
          expect(core.tally.primaryAcks).toBe(primaryAcks);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('with every target answered, the outcome is decided', () => {
    fc.assert(
      fc.property(caseArb, ({ members, n, w, down, answers }) => {
        const ids = Array.from({ length: members }, (_, i) => `m${i}`);
        const core = new WriteCore(w, 0, ids.slice(0, n), ids.slice(n), 'm0', (id) => id === 'm0' || !down[Number(id.slice(1))]);
        const queue = [{ node: 'm0' }, ...core.initial];
        let i = 0;
        while (queue.length > 0) {
          const t = queue.shift()!;
          const r = core.add(t.node, answers[i++ % Math.max(1, answers.length)] ?? false);
          if (r) queue.push(r);
        }
        expect(core.outcome).not.toBe('pending');
      }),
    );
  });

  test.each([
    [0, 0, /W 0 must be within 1\.\.3/],
    [4, 0, /W 4 must be within 1\.\.3/],
    [2, 3, /PW 3 must be within 0\.\.W \(2\)/],
  ])('rejects W=%p PW=%p', (w, pw, message) => {
    expect(() => new WriteCore(w, pw, ['a', 'b', 'c'], [], 'a', () => true)).toThrow(message);
  });

  test('rejects a coordinator that is not a primary', () => {
    expect(() => new WriteCore(1, 0, ['a', 'b', 'c'], ['d'], 'd', () => true)).toThrow(/coordinator d is not a primary/);
  });

  test("the coordinator's own write counts once durable, and has no stand-in when it fails", () => {
    const core = new WriteCore(2, 0, ['a', 'b', 'c'], ['d'], 'a', () => true);
    core.add('b', true);
    expect(core.outcome).toBe('pending');
    expect(core.add('a', false, 'disk failed')).toBeUndefined();
    expect(core.outcome).toBe('pending'); // c can still make two
    core.add('c', true);
    expect(core.outcome).toBe('success');
    expect(core.tally).toMatchObject({ acks: 2, primaryAcks: 2, failures: ['a: disk failed'] });
    const w1 = new WriteCore(1, 0, ['a', 'b', 'c'], [], 'a', () => true);
    expect(w1.outcome).toBe('pending');
    w1.add('a', true);
    expect(w1.outcome).toBe('success');
  });

  test('rejects an answer from a node with nothing outstanding', () => {
    const core = new WriteCore(2, 0, ['a', 'b', 'c'], [], 'a', () => true);
    expect(() => core.add('d', true)).toThrow(/answer from d, which has nothing outstanding/);
  });
});

describe('WriteCore during a move (joint quorum)', () => {
  /** Members m0..m5; primaries m0..m2 (m0 coordinates); the target swaps some primaries for others. */
  const moveArb = fc.record({
    w: fc.integer({ min: 1, max: 3 }),
    target: fc.shuffledSubarray(['m0', 'm1', 'm2', 'm3', 'm4', 'm5'], { minLength: 3, maxLength: 3 }),
    down: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    answers: fc.array(fc.boolean(), { maxLength: 24 }),
  });

  test('succeeds only with W acknowledgements among the current primaries and W among the target ones', () => {
    fc.assert(
      fc.property(moveArb, ({ w, target, down, answers }) => {
        const ids = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'];
        const primaries = ids.slice(0, 3);
        const isUp = (id: string) => id === 'm0' || !down[Number(id.slice(1))];
        const core = new WriteCore(w, 0, primaries, ids.slice(3), 'm0', isUp, target);
        // Receivers are sent the write and never stand in for anyone.
        for (const t of core.initial) if (t.receiver) expect(target).toContain(t.node);
        for (const t of core.initial) if (t.hintFor !== undefined) expect(target).not.toContain(t.node);
        const acked = new Set<string>();
        const pending: Array<{ node: string; hintFor?: string }> = [{ node: 'm0' }, ...core.initial];
        for (const ok of answers) {
          const t = pending.shift();
          if (!t) break;
          const replacement = core.add(t.node, ok);
          if (ok) acked.add(t.hintFor ?? t.node);
          if (replacement) pending.push(replacement);
        }
        const outcome = core.outcome;
        const inCurrent = [...acked].filter((m) => primaries.includes(m)).length;
        const inTarget = [...acked].filter((m) => target.includes(m)).length;
        if (outcome === 'success') {
          expect(inCurrent).toBeGreaterThanOrEqual(w);
          expect(inTarget).toBeGreaterThanOrEqual(Math.min(w, target.length));
        }
        if (pending.length === 0) expect(outcome).not.toBe('pending');
      }),
      { numRuns: 500 },
    );
  });

  test('a failed receiver is made up for by the other target primaries or their stand-ins; with none left the write fails', () => {
    // Current m0 m1 m2, target m3 m1 m2: W=2 there needs two of m3, m1, m2.
    const core = new WriteCore(2, 0, ['m0', 'm1', 'm2'], ['m3', 'm4'], 'm0', () => true, ['m3', 'm1', 'm2']);
    expect(core.initial.map((t) => `${t.node}${t.receiver ? '(receiver)' : ''}`)).toEqual(['m1', 'm2', 'm3(receiver)']);
    core.add('m0', true);
    core.add('m1', true);
    expect(core.outcome).toBe('pending'); // current has 2 (m0, m1); the target has 1 (m1)
    core.add('m3', false, 'unreachable');
    core.add('m2', false, 'unreachable');
    // m2 was replaced by the fallback m4 with a hint for it, which counts for the target.
    expect(core.outcome).toBe('pending');
    core.add('m4', true);
    expect(core.outcome).toBe('success');
    expect(core.tally).toMatchObject({ targetAcks: 2, targetNeeded: 2 });

    // The same with no fallback to stand in: the current quorum forms, the target's cannot.
    const strict = new WriteCore(2, 0, ['m0', 'm1', 'm2'], ['m3'], 'm0', () => true, ['m3', 'm1', 'm2']);
    strict.add('m0', true);
    strict.add('m1', true);
    strict.add('m3', false, 'unreachable');
    strict.add('m2', false, 'unreachable');
    expect(strict.outcome).toBe('failure');
    expect(strict.tally.failures).toEqual(['m3 (receiving the partition): unreachable', 'm2: unreachable', 'm2: down, and no fallback left to stand in']);
  });

  test('without a move, the target changes nothing', () => {
    const plain = new WriteCore(2, 0, ['m0', 'm1', 'm2'], ['m3'], 'm0', () => true);
    const same = new WriteCore(2, 0, ['m0', 'm1', 'm2'], ['m3'], 'm0', () => true, ['m0', 'm1', 'm2']);
    expect(same.initial).toEqual(plain.initial);
    for (const node of ['m0', 'm1']) {
      plain.add(node, true);
      same.add(node, true);
    }
    expect(same.outcome).toBe(plain.outcome);
  });
});

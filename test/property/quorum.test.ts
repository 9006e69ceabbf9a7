import * as fc from 'fast-check';
import { QuorumCounter, ReadCore, ReadReply } from '../../app/replication/quorum';
import { mergeAll, VersionedObject } from '../../app/versioning/dvv';
import { encodeObject } from '../../app/versioning/codec';
import { historyArb, replay } from './dvv-history';

const counterCaseArb = fc
  .integer({ min: 1, max: 7 })
  .chain((asked) => fc.record({ asked: fc.constant(asked), needed: fc.integer({ min: 1, max: asked }), replies: fc.array(fc.boolean(), { maxLength: asked }) }));

describe('QuorumCounter', () => {
  test('after every reply: success iff oks >= needed, failure iff oks + outstanding < needed, else pending', () => {
    fc.assert(
      fc.property(counterCaseArb, ({ asked, needed, replies }) => {
        const q = new QuorumCounter(needed, asked);
        expect(q.outcome).toBe('pending');
        let oks = 0;
        replies.forEach((ok, i) => {
          q.add(ok);
          if (ok) oks++;
          const outstanding = asked - (i + 1);
          expect(q.okCount).toBe(oks);
          expect(q.outstanding).toBe(outstanding);
          expect(q.outcome).toBe(oks >= needed ? 'success' : oks + outstanding < needed ? 'failure' : 'pending');
        });
      }),
      { numRuns: 500 },
    );
  });

  test('reaches a decision once every asked replica replied', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }).chain((asked) => fc.tuple(fc.constant(asked), fc.integer({ min: 1, max: asked }), fc.array(fc.boolean(), { minLength: asked, maxLength: asked }))),
        ([asked, needed, replies]) => {
          const q = new QuorumCounter(needed, asked);
          for (const ok of replies) q.add(ok);
          expect(q.outcome).not.toBe('pending');
        },
      ),
    );
  });

  test('rejects a reply beyond the number asked', () => {
    const q = new QuorumCounter(1, 2);
    q.add(true);
    q.add(false);
    expect(() => q.add(true)).toThrow(/more replies than the 2 asked/);
  });

  test.each([
    [0, 3],
    [4, 3],
    [-1, 3],
    [1.5, 3],
    [Number.NaN, 3],
    [1, 0],
  ])('rejects needed %p with %p asked', (needed, asked) => {
    expect(() => new QuorumCounter(needed, asked)).toThrow(/needed .* must be within 1\.\.asked/);
  });

  test('accepts needed at both ends of 1..asked', () => {
    expect(new QuorumCounter(1, 3).outcome).toBe('pending');
    expect(new QuorumCounter(3, 3).outcome).toBe('pending');
  });
});

const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];

/** Replies from the replicas of one history: each node answers ok with some replica's object, not found, or fails. */
const readCaseArb = historyArb.chain((h) => {
  const { replicas } = replay(h);
  const replyArb: fc.Arbitrary<ReadReply> = fc.oneof(
    fc.constantFrom(...replicas).map((object) => ({ ok: true as const, object })),
    fc.constant({ ok: false as const }),
  );
  return fc.integer({ min: 1, max: NODES.length }).chain((asked) =>
    fc.record({
      nodes: fc.constant(NODES.slice(0, asked)),
      needed: fc.integer({ min: 1, max: asked }),
      replies: fc.array(replyArb, { minLength: asked, maxLength: asked }),
      answered: fc.integer({ min: 0, max: asked }),
    }),
  );
});

const bytesOf = (o: VersionedObject | undefined): string | undefined => (o === undefined ? undefined : encodeObject(o).toString('hex'));

describe('ReadCore', () => {
  test('answers with the merge of the ok replies and repairs exactly the ok replicas that differ from it', () => {
    fc.assert(
      fc.property(readCaseArb, ({ nodes, needed, replies, answered }) => {
        const core = new ReadCore(needed, nodes);
        const got = nodes.slice(0, answered).map((node, i) => ({ node, reply: replies[i]! }));
        // The merge is cached between replies: after every reply it is the merge of all so far.
        got.forEach(({ node, reply }, i) => {
          core.add(node, reply);
          const soFar = got.slice(0, i + 1).flatMap(({ reply: r }) => (r.ok ? [r.object] : []));
          expect(bytesOf(core.response())).toBe(bytesOf(mergeAll(soFar)));
        });
        const okObjects = got.flatMap(({ reply }) => (reply.ok ? [reply.object] : []));
        const merged = mergeAll(okObjects);
        expect(bytesOf(core.response())).toBe(bytesOf(merged));
        expect(core.okCount).toBe(okObjects.length);
        expect(core.complete).toBe(answered === nodes.length);

        const orders = core.finalAction();
        const expected =
          merged === undefined
            ? []
            : got.filter(({ reply }) => reply.ok && bytesOf(reply.object) !== bytesOf(merged)).map(({ node }) => node);
        expect(orders.map((o) => o.node)).toEqual(expected);
        for (const o of orders) expect(bytesOf(o.object)).toBe(bytesOf(merged));
        // Failed replicas are never repaired: their state is unknown.
        const failed = got.filter(({ reply }) => !reply.ok).map(({ node }) => node);
        for (const o of orders) expect(failed).not.toContain(o.node);
      }),
      { numRuns: 300 },
    );
  });

  test('repairs a replica that answered not found once another holds the key', () => {
    const { replicas } = replay([{ t: 'write', at: 0, readFrom: null, value: Buffer.from('v') }]);
    const core = new ReadCore(2, ['n1', 'n2', 'n3']);
    core.add('n1', { ok: true, object: replicas[0] });
    core.add('n2', { ok: true, object: undefined });
    core.add('n3', { ok: false });
    expect(core.outcome).toBe('success');
    expect(core.finalAction().map((o) => o.node)).toEqual(['n2']);
  });

  test('has nothing to repair when no replica holds the key', () => {
    const core = new ReadCore(1, ['n1', 'n2']);
    core.add('n1', { ok: true, object: undefined });
    core.add('n2', { ok: true, object: undefined });
    expect(core.response()).toBeUndefined();
    expect(core.finalAction()).toEqual([]);
  });

  test('fails as soon as too few replicas are left to reach R', () => {
    const core = new ReadCore(2, ['n1', 'n2', 'n3']);
    core.add('n1', { ok: false });
    expect(core.outcome).toBe('pending');
    core.add('n2', { ok: false });
    expect(core.outcome).toBe('failure');
  });

  test('rejects a reply from a replica that was not asked', () => {
    const core = new ReadCore(1, ['n1']);
    expect(() => core.add('n9', { ok: true, object: undefined })).toThrow(/reply from n9, which was not asked/);
  });

  test('rejects needed outside 1..replicas', () => {
    expect(() => new ReadCore(0, ['n1'])).toThrow(/within 1\.\.asked/);
    expect(() => new ReadCore(2, ['n1'])).toThrow(/within 1\.\.asked/);
  });
});

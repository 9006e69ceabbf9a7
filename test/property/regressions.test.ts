/**
 * Regressions for defects the property tests found: the placement's balance, the codec's acceptance
 * of runaway, over-long and non-UTF-8 input, duplicate read replies, and peer ports out of range.
 */
import * as fc from 'fast-check';
import { parsePeers } from '../../app/node/config';
import { ReadCore } from '../../app/replication/quorum';
import { place } from '../../app/ring/placement';
import { CodecError, decodeContext, decodeObject, encodeObject } from '../../app/versioning/codec';

describe('placement balance', () => {
  test('gives every member floor(Q/k) or ceil(Q/k) owned partitions, so none is left empty when Q >= k', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,8}$/), { minLength: 1, maxLength: 20 }), fc.constantFrom(16, 32, 64, 128), fc.integer({ min: 1, max: 3 }), (members, q, n) => {
        fc.pre(q >= members.length);
        const placement = place(members.map((id) => ({ id, zone: '' })), q, n);
        const load = new Map(members.map((m) => [m, 0]));
        for (const row of placement.primaries) load.set(row[0]!, load.get(row[0]!)! + 1);
        for (const count of load.values()) {
          expect(count).toBeGreaterThanOrEqual(Math.floor(q / members.length));
          expect(count).toBeLessThanOrEqual(Math.ceil(q / members.length));
        }
      }),
      { numRuns: 200 },
    );
  });

  test('the seven-member, eight-partition case that once left two members empty gives each at least one', () => {
    const placement = place(['dg00e', '9n219x4h', 'f507csc', 'c', '65p9z7l', 've84', '6531s'].map((id) => ({ id, zone: '' })), 8, 3);
    expect(new Set(placement.primaries.map((row) => row[0])).size).toBe(7);
  });
});

describe('codec hardening', () => {
  test('rejects a runaway varint instead of decoding it to NaN', () => {
    expect(() => decodeObject(Buffer.from([1, ...Array(150).fill(0x80), 0, ...Array(150).fill(0x80), 0]))).toThrow(CodecError);
    expect(() => decodeContext(Buffer.from([2, 1, 1, 0x61, ...Array(150).fill(0x80), 0]))).toThrow(CodecError);
  });

  test('rejects an over-long varint and an actor that is not valid UTF-8', () => {
    expect(() => decodeContext(Buffer.from([2, 1, 1, 0x61, 0x81, 0x00]))).toThrow(/shortest form/);
    expect(() => decodeContext(Buffer.from([2, 1, 1, 0xff, 1]))).toThrow(/UTF-8/);
  });

  test('rejects encoding an actor longer than 255 bytes', () => {
    const actor = 'a'.repeat(256);
    expect(() => encodeObject({ vv: new Map([[actor, 1]]), siblings: [{ dot: { actor, counter: 1 }, value: null, writtenAtMs: 0 }] })).toThrow(CodecError);
  });
});

test('ReadCore rejects a second reply from the same replica', () => {
  const core = new ReadCore(2, ['n1', 'n2', 'n3']);
  core.add('n1', { ok: true, object: undefined });
  expect(() => core.add('n1', { ok: true, object: undefined })).toThrow(/second reply from n1/);
  expect(core.outcome).toBe('pending');
});

test('parsePeers rejects a port above 65535', () => {
  expect(() => parsePeers('a=h:99999', 'KV_PEERS')).toThrow(/port 0\.\.65535/);
});

test('ReadCore counts a corrupt reply as a failure and repairs that replica with the merge', () => {
  const obj = { vv: new Map([['a.1', 1]]), siblings: [{ dot: { actor: 'a.1', counter: 1 }, value: Buffer.from('v'), writtenAtMs: 0 }] };
  const core = new ReadCore(2, ['n1', 'n2', 'n3']);
  core.add('n1', { ok: true, object: obj });
  core.add('n2', { ok: false, repair: true });
  expect(core.outcome).toBe('pending');
  core.add('n3', { ok: true, object: obj });
  expect(core.outcome).toBe('success');
  expect(core.finalAction().map((o) => o.node)).toEqual(['n2']);
});

test('ReadCore does not repair a replica that merely failed', () => {
  const obj = { vv: new Map([['a.1', 1]]), siblings: [{ dot: { actor: 'a.1', counter: 1 }, value: Buffer.from('v'), writtenAtMs: 0 }] };
  const core = new ReadCore(1, ['n1', 'n2']);
  core.add('n1', { ok: true, object: obj });
  core.add('n2', { ok: false });
  expect(core.finalAction()).toEqual([]);
});

import * as fc from 'fast-check';
import { CodecError, decodeContext, decodeObject, encodeContext, encodeObject } from '../../app/versioning/codec';
import { ContextSeal } from '../../app/versioning/context-seal';
import { Sibling, VersionedObject, VersionVector } from '../../app/versioning/dvv';
import { historyArb, replay, vvArb } from './dvv-history';

const RUNS = 300;

/** Canonical objects built directly: sorted distinct actors, dots covered by the vector, sorted distinct siblings. */
const objectArb: fc.Arbitrary<VersionedObject> = fc
  .uniqueArray(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 5 })
  .chain((actors) =>
    fc.tuple(
      fc.tuple(...actors.map(() => fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })))),
      fc.array(
        fc.record({
          actor: fc.nat({ max: actors.length - 1 }),
          fraction: fc.double({ min: 0, max: 1, noNaN: true }),
          value: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
          writtenAtMs: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
        }),
        { minLength: 1, maxLength: 6 },
      ),
    ).map(([counters, raw]) => {
      const sorted = [...actors].sort((x, y) => (x < y ? -1 : 1));
      const vv: VersionVector = new Map(sorted.map((a) => [a, counters[actors.indexOf(a)]!]));
      const byDot = new Map<string, Sibling>();
      for (const s of raw) {
        const actor = actors[s.actor]!;
        const counter = Math.max(1, Math.ceil(s.fraction * vv.get(actor)!));
        byDot.set(`${actor}\0${counter}`, { dot: { actor, counter }, value: s.value, writtenAtMs: s.writtenAtMs });
      }
      const siblings = [...byDot.values()].sort((x, y) =>
        x.dot.actor !== y.dot.actor ? (x.dot.actor < y.dot.actor ? -1 : 1) : x.dot.counter - y.dot.counter,
      );
      return { vv, siblings };
    }),
  );

const historyObjectArb = historyArb.chain((h) => {
  const seen = replay(h).seen;
  return seen.length === 0 ? objectArb : fc.constantFrom(...seen);
});

function plain(obj: VersionedObject): unknown {
  return {
    vv: [...obj.vv],
    siblings: obj.siblings.map((s) => ({ dot: s.dot, value: s.value === null ? null : Buffer.from(s.value).toString('hex'), at: s.writtenAtMs })),
  };
}

/** Runs a decoder; returns 'codec-error' or the value, and fails the test on any other exception. */
function attempt<T>(decode: () => T): T | 'codec-error' {
  try {
    return decode();
  } catch (e) {
    if (e instanceof CodecError) return 'codec-error';
    throw new Error(`decoder threw ${String(e)} instead of a CodecError`, { cause: e });
  }
}

describe('object codec', () => {
  test('decoding an encoded object gives the object back, and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(fc.oneof(objectArb, historyObjectArb), (obj) => {
        const bytes = encodeObject(obj);
        const decoded = decodeObject(bytes);
        expect(plain(decoded)).toEqual(plain(obj));
        expect(encodeObject(decoded).equals(bytes)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  test('rejects every truncation of a valid encoding with a CodecError', () => {
    fc.assert(
      fc.property(objectArb, (obj) => {
        const bytes = encodeObject(obj);
        for (let len = 0; len < bytes.length; len++) expect(attempt(() => decodeObject(bytes.subarray(0, len)))).toBe('codec-error');
      }),
      { numRuns: 100 },
    );
  });

  test('rejects trailing bytes after a valid encoding', () => {
    fc.assert(
      fc.property(objectArb, fc.uint8Array({ minLength: 1, maxLength: 8 }), (obj, extra) => {
        expect(attempt(() => decodeObject(Buffer.concat([encodeObject(obj), extra])))).toBe('codec-error');
      }),
      { numRuns: 100 },
    );
  });

  test('rejects random bytes and corrupted encodings with CodecError and no other exception', () => {
    const corrupted = fc
      .tuple(objectArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }))
      .map(([obj, flips]) => {
        const bytes = Buffer.from(encodeObject(obj));
        for (const [at, mask] of flips) bytes[at % bytes.length]! ^= mask;
        return bytes;
      });
    const random = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from([1, ...b]));
    fc.assert(
      fc.property(fc.oneof(corrupted, random, fc.uint8Array({ maxLength: 64 })), (bytes) => {
        const out = attempt(() => decodeObject(bytes));
        // Whatever decodes must at least satisfy the invariants the decoder promises to check.
        if (out !== 'codec-error') {
          expect(out.siblings.length).toBeGreaterThan(0);
          for (const s of out.siblings) expect(s.dot.counter).toBeLessThanOrEqual(out.vv.get(s.dot.actor)!);
        }
      }),
      { numRuns: 2000 },
    );
  });

  const one = (actor = 'a'): VersionedObject => ({ vv: new Map([[actor, 2]]), siblings: [{ dot: { actor, counter: 2 }, value: Buffer.from('v'), writtenAtMs: 7 }] });

  test.each([
    ['an unknown format byte', (b: Buffer) => Buffer.concat([Buffer.from([9]), b.subarray(1)])],
    ['an empty buffer', () => Buffer.alloc(0)],
  ])('rejects %s', (_name, corrupt) => {
    expect(() => decodeObject(corrupt(encodeObject(one())))).toThrow(CodecError);
  });

  test('rejects hand-made objects that break an invariant, naming the problem', () => {
    // [format 1][1 actor "a" counter 2][n siblings] then siblings as [actor index][counter][ms][kind][len][bytes]
    const head = [1, 1, 1, 0x61, 2];
    const cases: [number[], RegExp][] = [
      [[...head, 0], /at least one sibling/],
      [[...head, 1, 0, 3, 0, 0], /not covered/],
      [[...head, 1, 0, 0, 0, 0], /not covered/],
      [[...head, 1, 1, 1, 0, 0], /actor index 1 out of range/],
      [[...head, 1, 0, 1, 0, 2], /neither value/],
      [[...head, 2, 0, 1, 0, 0, 0, 1, 0, 0], /not sorted and distinct/],
      [[...head, 2, 0, 2, 0, 0, 0, 1, 0, 0], /not sorted and distinct/],
      [[1, 2, 1, 0x62, 1, 1, 0x61, 1, 1, 0, 1, 0, 0], /vector entries are not sorted/],
      [[1, 1, 1, 0x61, 0, 1, 0, 1, 0, 0], /counter 0 must be >= 1/],
    ];
    for (const [bytes, message] of cases) expect(() => decodeObject(Buffer.from(bytes))).toThrow(message);
  });

  test('rejects an actor longer than 255 bytes on decode', () => {
    const actor = 'x'.repeat(256);
    const bytes = Buffer.concat([Buffer.from([2, 1, 0x80, 0x02]), Buffer.from(actor), Buffer.from([1])]);
    expect(() => decodeContext(bytes)).toThrow(/actor: length 256 exceeds 255/);
  });

  test('rejects encoding a sibling whose dot the vector does not cover', () => {
    const bad: VersionedObject = { vv: new Map([['a', 1]]), siblings: [{ dot: { actor: 'b', counter: 1 }, value: null, writtenAtMs: 0 }] };
    expect(() => encodeObject(bad)).toThrow(CodecError);
  });
});

describe('context codec', () => {
  test('decoding an encoded context gives the vector back', () => {
    const bigVvArb = fc
      .dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { maxKeys: 8 })
      .map((d) => new Map(Object.entries(d).sort(([x], [y]) => (x < y ? -1 : 1))));
    fc.assert(
      fc.property(fc.oneof(vvArb, bigVvArb), (vv) => {
        const bytes = encodeContext(vv);
        const decoded = decodeContext(bytes);
        expect([...decoded]).toEqual([...vv]);
        expect(encodeContext(decoded).equals(bytes)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  test('an empty context (no bytes) is the empty vector', () => {
    expect(decodeContext(new Uint8Array(0)).size).toBe(0);
  });

  test('rejects truncated, trailing and random context bytes with CodecError only', () => {
    fc.assert(
      fc.property(vvArb, fc.uint8Array({ maxLength: 32 }), (vv, noise) => {
        const bytes = encodeContext(vv);
        for (let len = 1; len < bytes.length; len++) expect(attempt(() => decodeContext(bytes.subarray(0, len)))).toBe('codec-error');
        expect(attempt(() => decodeContext(Buffer.concat([bytes, Buffer.from([0])])))).toBe('codec-error');
        attempt(() => decodeContext(noise));
        attempt(() => decodeContext(Buffer.from([2, ...noise])));
      }),
      { numRuns: 500 },
    );
  });

  test('rejects an object encoding passed as a context', () => {
    const obj: VersionedObject = { vv: new Map([['a', 1]]), siblings: [{ dot: { actor: 'a', counter: 1 }, value: null, writtenAtMs: 0 }] };
    expect(() => decodeContext(encodeObject(obj))).toThrow(/context format 1, expected 2/);
  });
});

describe('sealed contexts', () => {
  const seal = new ContextSeal([Buffer.alloc(32, 1)]);
  const keyArb = fc.uint8Array({ minLength: 1, maxLength: 40 });

  test('opening a sealed context on its own key gives the vector back', () => {
    fc.assert(
      fc.property(vvArb, keyArb, (vv, key) => {
        const opened = seal.open(key, seal.seal(key, vv));
        expect(opened.ok && [...opened.value]).toEqual([...vv]);
      }),
      { numRuns: RUNS },
    );
  });

  test('rejects any change to a sealed context, and random bytes, with InvalidArgument', () => {
    fc.assert(
      fc.property(vvArb, keyArb, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), (vv, key, at, xor, noise) => {
        const bytes = Buffer.from(seal.seal(key, vv));
        bytes[at % bytes.length]! ^= xor;
        for (const forged of [bytes, noise, Buffer.from([3, ...noise])]) {
          const opened = seal.open(key, forged);
          expect(opened.ok).toBe(false);
          if (!opened.ok) expect(opened.error.condition).toBe('InvalidArgument');
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('rejects a context of another key', () => {
    fc.assert(
      fc.property(vvArb, keyArb, keyArb, (vv, a, b) => {
        fc.pre(!Buffer.from(a).equals(Buffer.from(b)));
        expect(seal.open(b, seal.seal(a, vv)).ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});

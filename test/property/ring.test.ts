import * as fc from 'fast-check';
import { partitionOf } from '../../app/ring/ring';

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

import * as fc from 'fast-check';
import { CorruptRecordError, MAX_RECORD_BYTES_DEFAULT, MAX_RECORD_BYTES_LIMIT, PARTITION_MAX, RecordTooLargeError } from '../../app/storage/local-store';
import {
  FRAME_HEADER_BYTES,
  FRAME_VERSION,
  decodeFrame,
  encodeFrame,
  frameForWrite,
  metaFrameForWrite,
  metaValueFromRead,
  partitionPrefix,
  payloadFromRead,
  recordKey,
  resolveRecordChecks,
} from '../../app/storage/record-frame';

const payloadArb = fc.uint8Array({ maxLength: 300 });

describe('record frame', () => {
  test('decoding an encoded payload gives the payload back', () => {
    fc.assert(
      fc.property(payloadArb, (payload) => {
        const decoded = decodeFrame(encodeFrame(payload));
        expect(decoded.ok && Buffer.from(decoded.payload).equals(Buffer.from(payload))).toBe(true);
      }),
    );
  });

  test('the frame is [version][crc32 big-endian][payload]', () => {
    const frame = encodeFrame(Buffer.from('123456789'));
    expect(frame[0]).toBe(FRAME_VERSION);
    expect(frame.readUInt32BE(1)).toBe(0xcbf43926); // the CRC-32 check value for "123456789"
    expect(frame.subarray(FRAME_HEADER_BYTES).toString()).toBe('123456789');
  });

  test('fails any frame with one bit flipped', () => {
    fc.assert(
      fc.property(payloadArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (payload, at, bit) => {
        const frame = encodeFrame(payload);
        frame[at % frame.length] ^= 1 << bit;
        expect(decodeFrame(frame).ok).toBe(false);
      }),
    );
  });

  test('fails an unknown format version, naming it', () => {
    const frame = encodeFrame(Buffer.from('x'));
    frame[0] = 9;
    expect(decodeFrame(frame)).toEqual({ ok: false, reason: 'unknown frame format version 9 (expected 1)' });
  });

  test('fails a frame shorter than its header', () => {
    expect(decodeFrame(new Uint8Array([FRAME_VERSION, 0, 0]))).toEqual({ ok: false, reason: 'frame is 3 bytes, shorter than its 5-byte header' });
  });

  test('decodes a frame that is a view into a larger buffer', () => {
    const frame = encodeFrame(Buffer.from('inner'));
    const outer = Buffer.concat([Buffer.from('xx'), frame, Buffer.from('yy')]);
    const decoded = decodeFrame(outer.subarray(2, 2 + frame.length));
    expect(decoded.ok && Buffer.from(decoded.payload).toString()).toBe('inner');
  });
});

describe('record checks', () => {
  test('defaults maxRecordBytes to 1 MiB', () => {
    expect(resolveRecordChecks({}).maxRecordBytes).toBe(MAX_RECORD_BYTES_DEFAULT);
  });

  test.each([0, -1, 1.5, MAX_RECORD_BYTES_LIMIT + 1, Number.NaN])('rejects maxRecordBytes %p', (maxRecordBytes) => {
    expect(() => resolveRecordChecks({ maxRecordBytes })).toThrow(/maxRecordBytes must be an integer in 1\.\.68157440/);
  });

  test('frameForWrite rejects a payload over the limit with RecordTooLargeError', () => {
    const checks = resolveRecordChecks({ maxRecordBytes: 3 });
    expect(() => frameForWrite(checks, new Uint8Array(4))).toThrow(RecordTooLargeError);
    expect(() => frameForWrite(checks, new Uint8Array(4))).toThrow('record of 4 bytes exceeds maxRecordBytes (3 bytes)');
    expect(decodeFrame(frameForWrite(checks, new Uint8Array(3))).ok).toBe(true);
  });

  test('payloadFromRead fails a bad frame with CorruptRecordError carrying partition and key', () => {
    const checks = resolveRecordChecks({});
    const frame = encodeFrame(Buffer.from('abc'));
    frame[FRAME_HEADER_BYTES] ^= 0xff;
    const key = Uint8Array.of(1, 2);
    let error: unknown;
    try {
      payloadFromRead(checks, 7, key, frame);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error).toMatchObject({ partition: 7, key, reason: expect.stringMatching(/^checksum mismatch/) });
    expect((error as Error).message).toMatch(/^corrupt record in partition 7, key 0102: checksum mismatch/);
  });

  test('meta values round-trip through their frame, and a bad frame is reported by name', () => {
    const frame = metaFrameForWrite('epoch', 'zwölf');
    expect(metaValueFromRead('epoch', frame)).toBe('zwölf');
    frame[frame.length - 1] ^= 1;
    expect(() => metaValueFromRead('epoch', frame)).toThrow(/corrupt metadata value 'epoch': checksum mismatch/);
  });

  test('rejects a meta value over 64 KiB', () => {
    expect(() => metaFrameForWrite('big', 'x'.repeat(64 * 1024 + 1))).toThrow("meta value for 'big' is 65537 bytes, more than the 65536-byte limit");
  });
});

describe('record keys', () => {
  const keyArb = fc.record({ partition: fc.integer({ min: 0, max: PARTITION_MAX }), key: fc.uint8Array({ minLength: 1, maxLength: 8 }) });

  test('engine keys order by partition, then bytewise by key', () => {
    fc.assert(
      fc.property(keyArb, keyArb, (a, b) => {
        const expected = Math.sign(a.partition - b.partition) || Math.sign(Buffer.compare(a.key, b.key));
        expect(Math.sign(Buffer.compare(recordKey(a.partition, a.key), recordKey(b.partition, b.key)))).toBe(expected);
      }),
    );
  });

  test("every key of a partition lies in [prefix(p), prefix(p + 1))", () => {
    fc.assert(
      fc.property(keyArb.filter((k) => k.partition < PARTITION_MAX), ({ partition, key }) => {
        const engineKey = recordKey(partition, key);
        expect(Buffer.compare(engineKey, partitionPrefix(partition))).toBe(1);
        expect(Buffer.compare(engineKey, partitionPrefix(partition + 1))).toBe(-1);
      }),
    );
  });
});

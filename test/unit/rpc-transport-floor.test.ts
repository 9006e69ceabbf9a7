import { decodeRecords, encodeRecords, FLOOR_GET, FLOOR_PUT, FloorKind } from '../../app/rpc/transport-floor';

describe('floor records', () => {
  test('round-trip ids, kinds and payloads in order', () => {
    const records = [
      { id: 1, kind: FLOOR_PUT as FloorKind, payload: Buffer.from('abc') },
      { id: 0xffffffff, kind: FLOOR_GET as FloorKind, payload: Buffer.alloc(0) },
      { id: 7, kind: FLOOR_PUT as FloorKind, payload: Buffer.alloc(1024, 9) },
    ];
    const seen: Array<{ id: number; kind: FloorKind; payload: Buffer }> = [];
    decodeRecords(encodeRecords(records), (id, kind, payload) => seen.push({ id, kind, payload: Buffer.from(payload) }));
    expect(seen).toEqual(records);
  });

  test('rejects a message cut inside a header or a payload, naming the offset', () => {
    const message = encodeRecords([{ id: 1, kind: FLOOR_PUT, payload: Buffer.from('abcdef') }]);
    expect(() => decodeRecords(message.subarray(0, 5), () => {})).toThrow('floor: a record header is cut short at byte 0 of 5');
    expect(() => decodeRecords(message.subarray(0, 12), () => {})).toThrow('floor: a record of 6 bytes at byte 0 runs past the message (12 bytes)');
  });
});

test('floor records: rejects a record of an unknown kind, naming it', () => {
  const message = encodeRecords([{ id: 1, kind: FLOOR_GET, payload: Buffer.alloc(0) }]);
  message[4] = 7;
  expect(() => decodeRecords(message, () => {})).toThrow('floor: record kind 7 at byte 0 is neither put (0) nor get (1)');
});

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { LogWrite, SPARE_SEGMENT, WriteAheadLog, decodeSegment, encodeRecord, listSegments, segmentName } from '../../app/storage/write-ahead-log';
import { testOnTmpfs } from '../support/disk';

const put = (key: string, value: string, space = 0): LogWrite => ({ space, engineKey: Buffer.from(key), frame: Buffer.from(value) });
const remove = (key: string, space = 0): LogWrite => ({ space, engineKey: Buffer.from(key), frame: null });
/** Writes as comparable plain values. */
const plain = (writes: readonly LogWrite[]) => writes.map((w) => ({ space: w.space, key: Buffer.from(w.engineKey).toString(), frame: w.frame === null ? null : Buffer.from(w.frame).toString() }));

describe('WriteAheadLog', () => {
  let dir: string;
  const logs: WriteAheadLog[] = [];
  const open = () => {
    const opened = WriteAheadLog.open(dir);
    logs.push(opened.log);
    return opened;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wal-'));
  });
  afterEach(() => {
    for (const log of logs.splice(0)) log.close(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('gives back every appended record, in order, after the process goes away without closing', () => {
    const { log, recovered } = open();
    expect(recovered).toEqual([]);
    expect(log.activeSeq).toBe(1);
    log.append([put('a', '1'), put('b', '2', 1)]);
    log.append([remove('a')]);
    log.append([put('a', '3'), put('', '')]);
    // No close: what a SIGKILL leaves.
    const again = open();
    expect(again.recovered).toHaveLength(1);
    expect(again.recovered[0]).toMatchObject({ seq: 1, records: 3, ignoredBytes: 0 });
    expect(plain(again.recovered[0]!.writes)).toEqual([
      { space: 0, key: 'a', frame: '1' },
      { space: 1, key: 'b', frame: '2' },
      { space: 0, key: 'a', frame: null },
      { space: 0, key: 'a', frame: '3' },
      { space: 0, key: '', frame: '' },
    ]);
    // Appends after a reopen go to a new segment.
    expect(again.log.activeSeq).toBe(2);
  });

  test('a record torn at any byte ends its segment: the records before it are whole, the torn one is not taken', () => {
    const first = encodeRecord(1, [put('k1', 'v1')]);
    const second = encodeRecord(1, [put('k2', 'value two'), remove('k1')]);
    for (let cut = 0; cut < second.length; cut++) {
      const decoded = decodeSegment(1, Buffer.concat([first, second.subarray(0, cut)]));
      expect(decoded.records).toBe(1);
      expect(decoded.validBytes).toBe(first.length);
      expect(plain(decoded.writes)).toEqual([{ space: 0, key: 'k1', frame: 'v1' }]);
    }
    expect(decodeSegment(1, Buffer.concat([first, second])).records).toBe(2);
  });

  test('a flipped bit in a record ends the segment there', () => {
    const first = encodeRecord(7, [put('k1', 'v1')]);
    const second = encodeRecord(7, [put('k2', 'v2')]);
    const third = encodeRecord(7, [put('k3', 'v3')]);
    for (let at = 0; at < second.length; at++) {
      const bytes = Buffer.concat([first, second, third]);
      bytes[first.length + at]! ^= 0x10;
      const decoded = decodeSegment(7, bytes);
      expect(decoded.records).toBe(1);
      expect(plain(decoded.writes)).toEqual([{ space: 0, key: 'k1', frame: 'v1' }]);
    }
  });

  test('records of another segment number are not taken, so old bytes in a reused file never pass for new records', () => {
    const bytes = Buffer.concat([encodeRecord(3, [put('k', 'v')]), encodeRecord(3, [put('k', 'w')])]);
    expect(decodeSegment(3, bytes).records).toBe(2);
    expect(decodeSegment(4, bytes).records).toBe(0);
    expect(decodeSegment(3 + 2 ** 32, bytes).records).toBe(0);
  });

  test('for any writes, a record decodes to exactly those writes', () => {
    const write = fc.record({
      space: fc.integer({ min: 0, max: 1 }),
      engineKey: fc.uint8Array({ minLength: 0, maxLength: 300 }),
      frame: fc.option(fc.uint8Array({ minLength: 0, maxLength: 3000 }), { nil: null }),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.array(write, { maxLength: 20 }), (seq, writes) => {
        const decoded = decodeSegment(seq, encodeRecord(seq, writes));
        expect(decoded.records).toBe(1);
        expect(decoded.writes.map((w) => ({ ...w, engineKey: Array.from(w.engineKey), frame: w.frame && Array.from(w.frame) }))).toEqual(
          writes.map((w) => ({ ...w, engineKey: Array.from(w.engineKey), frame: w.frame && Array.from(w.frame) })),
        );
      }),
      { numRuns: 200 },
    );
  });

  test('roll starts the next segment; dropBefore removes the older ones and keeps one file as the spare, which the next roll reuses', () => {
    const { log } = open();
    log.append([put('a', 'x'.repeat(5000))]);
    log.roll();
    log.append([put('b', '2')]);
    log.roll();
    expect(listSegments(dir).map((s) => s.seq)).toEqual([1, 2, 3]);
    log.dropBefore(3);
    expect(listSegments(dir).map((s) => s.seq)).toEqual([3]);
    expect(fs.existsSync(path.join(dir, SPARE_SEGMENT))).toBe(true);
    // Segment 4 is segment 1's file: its 5,000 bytes of old records are overwritten from the start.
    log.roll();
    expect(fs.existsSync(path.join(dir, SPARE_SEGMENT))).toBe(false);
    expect(fs.statSync(path.join(dir, segmentName(4))).size).toBeGreaterThan(5000);
    log.append([put('c', '3')]);
    const again = open();
    expect(again.recovered.map((s) => [s.seq, plain(s.writes)])).toEqual([
      [3, []],
      [4, [{ space: 0, key: 'c', frame: '3' }]],
    ]);
    // What is left of the old records is ignored, as a torn tail is.
    expect(again.recovered[1]!.ignoredBytes).toBeGreaterThan(4000);
  });

  test('a reused file whose first record was not written yet holds no record', () => {
    const { log } = open();
    log.append([put('old', 'x'.repeat(100))]);
    log.roll();
    log.dropBefore(2);
    log.roll();
    // Segment 3 is segment 1's file, with segment 1's record still whole in it.
    expect(open().recovered.map((s) => [s.seq, s.records])).toEqual([
      [2, 0],
      [3, 0],
    ]);
  });

  test('close(true) removes every segment and the spare', () => {
    const { log } = open();
    log.append([put('a', '1')]);
    log.roll();
    log.dropBefore(2);
    log.close(true);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('an append to a closed log throws, naming the directory', () => {
    const { log } = open();
    log.close(false);
    expect(() => log.append([put('a', '1')])).toThrow(`write-ahead log in ${dir} is closed`);
  });

  testOnTmpfs('on a disk that fills up, a failed append throws and leaves nothing; appends after space comes back go to a new segment, and a reopen finds every record that was appended', 1, async (mountPoint) => {
    const logDir = path.join(mountPoint, 'log');
    fs.mkdirSync(logDir);
    // Most of the disk is taken; deleting this gives the room back.
    const filler = path.join(mountPoint, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(512 * 1024));
    const { log } = WriteAheadLog.open(logDir);
    try {
      const appended: string[] = [];
      let failure: unknown;
      for (let i = 0; i < 1000 && failure === undefined; i++) {
        try {
          log.append([put(`k${i}`, 'v'.repeat(3000))]);
          appended.push(`k${i}`);
        } catch (error) {
          failure = error;
        }
      }
      expect((failure as NodeJS.ErrnoException).code).toBe('ENOSPC');
      expect(appended.length).toBeGreaterThan(50);
      // The failed record's bytes were cut off: the segment holds the appended records exactly.
      expect(decodeSegment(1, fs.readFileSync(listSegments(logDir)[0]!.file)).validBytes).toBe(fs.statSync(listSegments(logDir)[0]!.file).size);
      // Room again: the next append goes to segment 2, never after a torn record of segment 1.
      fs.rmSync(filler);
      log.append([put('after', 'space')]);
      expect(log.activeSeq).toBe(2);
      const reopened = WriteAheadLog.open(logDir);
      reopened.log.close(false);
      expect(reopened.recovered.map((s) => s.seq)).toEqual([1, 2]);
      expect(reopened.recovered[0]!.writes.map((w) => Buffer.from(w.engineKey).toString())).toEqual(appended);
      expect(plain(reopened.recovered[1]!.writes)).toEqual([{ space: 0, key: 'after', frame: 'space' }]);
    } finally {
      log.close(false);
    }
  });
});

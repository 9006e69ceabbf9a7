/**
 * An append-only write-ahead log: the durable commit of the LMDB engine (lmdb-store.ts) in
 * 'durable' mode. A group of writes is one record, appended and synced (O_DSYNC) before the
 * writes resolve; the engine copies them into LMDB later, many groups at a time (a checkpoint),
 * and then drops the log segments the checkpoint covered.
 *
 * Why: an LMDB commit that syncs writes every page the commit touched (a leaf per key, its
 * branches, free-list pages, 7 to 11 pages for one or two updates) and syncs twice (data, then
 * the meta page). One record here is the writes' own bytes, appended and synced by one call. A
 * checkpoint writes a page once however many groups changed it meanwhile.
 *
 * Files: `wal-<seq>.log` in the store's directory, seq a 12-digit decimal that only grows. Records
 * are appended to the newest segment; `roll` starts the next one. A segment a checkpoint covered
 * is kept as `wal-spare.log` and renamed to be the next segment rather than deleted: appends
 * then overwrite blocks the file already has, and their sync need not commit the file's new size
 * to the file system's journal (on this machine's ext4, 0.05 against 0.08 CPU-ms per 10 KiB
 * record). What it held is never taken for records of its new life (the seq check below).
 * A record:
 *
 *   [u32 body length][u32 crc32 of body][body]
 *   body: [u32 segment seq, low bits][u32 segment seq, high bits][u32 write count] then per write
 *         [u8 space][u16 key length][key][u32 frame length, 0xffffffff = remove][frame]
 *
 * all big-endian. A record counts only if its length, checksum and segment seq all match, so a
 * record torn by a crash in the middle of an append (never acknowledged: the append had not
 * synced) ends its segment, and bytes left from a file's earlier life can never pass for a
 * record of this one.
 *
 * Replaying is idempotent: each write is the key's whole new state, so replaying segments in
 * order over any LMDB state that already holds a prefix of them gives the same result. The one
 * order that matters is that a checkpoint's LMDB commit is synced before the segments it covers
 * are removed, and that they are removed oldest first, each removal synced (see dropBefore).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

const crc32: (data: Uint8Array) => number = zlib.crc32;

/** One write of a record: a key's new frame in a key space, or null to remove it. */
export interface LogWrite {
  /** The key space: 0 data, 1 hints (the engine's own numbering). */
  readonly space: number;
  /** The engine key: [partition][user key]. */
  readonly engineKey: Uint8Array;
  readonly frame: Uint8Array | null;
}

/** What a segment held when the log was opened. */
export interface RecoveredSegment {
  readonly seq: number;
  readonly file: string;
  /** The writes of its valid records, in log order. */
  readonly writes: LogWrite[];
  /** Records that passed their checks. */
  readonly records: number;
  /** Bytes after the last valid record (a torn tail), 0 if none. */
  readonly ignoredBytes: number;
}

const RECORD_HEADER_BYTES = 8;
const BODY_HEADER_BYTES = 12;
const WRITE_HEADER_BYTES = 1 + 2 + 4;
/** The frame length that marks a removal in the write layout (encodeWrites). */
export const REMOVE_FRAME_LENGTH = 0xffffffff;
/** The largest record body we read back; larger is taken for garbage (a torn length). */
const RECORD_BYTES_MAX = 1024 ** 3;
const SEGMENT_PATTERN = /^wal-(\d{12})\.log$/;
/** A dropped segment kept to be the next one. */
export const SPARE_SEGMENT = 'wal-spare.log';
const SEQ_DIGITS = 12;
const SEQ_MAX = 10 ** SEQ_DIGITS - 1;

export function segmentName(seq: number): string {
  return `wal-${String(seq).padStart(SEQ_DIGITS, '0')}.log`;
}

/** The log's segments in `dir`, oldest first. */
export function listSegments(dir: string): { seq: number; file: string }[] {
  const out: { seq: number; file: string }[] = [];
  for (const name of fs.readdirSync(dir)) {
    const match = SEGMENT_PATTERN.exec(name);
    if (match !== null) out.push({ seq: Number(match[1]), file: path.join(dir, name) });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** Bytes the writes take in the log's write layout (encodeWrites). */
export function writesByteLength(writes: readonly LogWrite[]): number {
  let bytes = 0;
  for (const w of writes) bytes += WRITE_HEADER_BYTES + w.engineKey.length + (w.frame === null ? 0 : w.frame.length);
  return bytes;
}

/**
 * Writes the writes into `out` from `at`, each `[u8 space][u16 key length][key][u32 frame length,
 * or 0xffffffff to remove][frame]`, big-endian; answers where they end. A log record's body
 * carries them, and so does a checkpoint's batch for its worker thread (checkpoint-worker.ts).
 */
export function encodeWrites(writes: readonly LogWrite[], out: Buffer, at: number): number {
  for (const w of writes) {
    at = out.writeUInt8(w.space, at);
    at = out.writeUInt16BE(w.engineKey.length, at);
    out.set(w.engineKey, at);
    at += w.engineKey.length;
    if (w.frame === null) {
      at = out.writeUInt32BE(REMOVE_FRAME_LENGTH, at);
    } else {
      at = out.writeUInt32BE(w.frame.length, at);
      out.set(w.frame, at);
      at += w.frame.length;
    }
  }
  return at;
}

/** Encodes the writes as one record of segment `seq`. */
export function encodeRecord(seq: number, writes: readonly LogWrite[]): Buffer {
  const bodyBytes = BODY_HEADER_BYTES + writesByteLength(writes);
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + bodyBytes);
  record.writeUInt32BE(bodyBytes, 0);
  let at = RECORD_HEADER_BYTES;
  at = record.writeUInt32BE(seq % 2 ** 32, at);
  at = record.writeUInt32BE(Math.floor(seq / 2 ** 32), at);
  at = record.writeUInt32BE(writes.length, at);
  encodeWrites(writes, record, at);
  record.writeUInt32BE(crc32(record.subarray(RECORD_HEADER_BYTES)), 4);
  return record;
}

/**
 * Reads the valid records of a segment's bytes: stops at the first record that is short, fails
 * its checksum, names another segment or does not parse.
 */
export function decodeSegment(seq: number, bytes: Buffer): { writes: LogWrite[]; records: number; validBytes: number } {
  const writes: LogWrite[] = [];
  let records = 0;
  let at = 0;
  for (;;) {
    if (bytes.length - at < RECORD_HEADER_BYTES) break;
    const bodyBytes = bytes.readUInt32BE(at);
    if (bodyBytes < BODY_HEADER_BYTES || bodyBytes > RECORD_BYTES_MAX || bytes.length - at - RECORD_HEADER_BYTES < bodyBytes) break;
    const body = bytes.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + bodyBytes);
    if (crc32(body) !== bytes.readUInt32BE(at + 4)) break;
    if (body.readUInt32BE(0) + body.readUInt32BE(4) * 2 ** 32 !== seq) break;
    const parsed = parseWrites(body);
    if (parsed === undefined) break;
    writes.push(...parsed);
    records++;
    at += RECORD_HEADER_BYTES + bodyBytes;
  }
  return { writes, records, validBytes: at };
}

function parseWrites(body: Buffer): LogWrite[] | undefined {
  const count = body.readUInt32BE(8);
  const writes: LogWrite[] = [];
  let at = BODY_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (body.length - at < WRITE_HEADER_BYTES) return undefined;
    const space = body.readUInt8(at);
    const keyBytes = body.readUInt16BE(at + 1);
    at += 3;
    if (body.length - at < keyBytes + 4) return undefined;
    const engineKey = Uint8Array.prototype.slice.call(body, at, at + keyBytes);
    at += keyBytes;
    const frameBytes = body.readUInt32BE(at);
    at += 4;
    if (frameBytes === REMOVE_FRAME_LENGTH) {
      writes.push({ space, engineKey, frame: null });
      continue;
    }
    if (body.length - at < frameBytes) return undefined;
    writes.push({ space, engineKey, frame: Uint8Array.prototype.slice.call(body, at, at + frameBytes) });
    at += frameBytes;
  }
  return at === body.length ? writes : undefined;
}

/** Makes the directory's entries (files created, renamed or removed in it) durable. */
export function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The log of one store directory. Every call is synchronous and runs on the caller's thread: an
 * append returns once its record is on disk.
 *
 * The event loop waits for the synced write (1.4 ms on average, up to 25 ms, on the bench
 * machine: about a third of each node's time at 1,000 YCSB-A operations a second). Appending on
 * libuv's thread pool instead, one append in flight and the next record gathering meanwhile, was
 * built and measured side by side (2026-12-01, 3 nodes, 5 rounds each): 7 to 14 % more node CPU
 * per operation at 1,000 ops/s, p99 no better (within the rounds' spread), the same throughput at
 * saturation. Gets wait behind a sync less, but the thread-pool hand-off and the smaller groups
 * it commits cost more than the waiting did, on two cores shared by three nodes and the load.
 */
export class WriteAheadLog {
  private fd: number | undefined;
  /** Bytes in the active segment. */
  private offset = 0;
  /** Set by a failed append: the next append starts a new segment rather than follow a torn record. */
  private torn = false;
  /** Bytes appended since open, for write-amplification figures. */
  bytesWritten = 0;

  private constructor(
    private readonly dir: string,
    private seq: number,
    /** A dropped segment's file, to be the next segment. */
    private spare: string | undefined,
  ) {}

  /**
   * Reads every segment in `dir` (oldest first) and opens the log for appends in a new segment
   * after them. The caller replays what was recovered, makes it durable elsewhere, and then drops
   * the recovered segments with `dropBefore(log.activeSeq)`.
   */
  static open(dir: string): { log: WriteAheadLog; recovered: RecoveredSegment[] } {
    const recovered: RecoveredSegment[] = [];
    for (const { seq, file } of listSegments(dir)) {
      const bytes = fs.readFileSync(file);
      const { writes, records, validBytes } = decodeSegment(seq, bytes);
      recovered.push({ seq, file, writes, records, ignoredBytes: bytes.length - validBytes });
    }
    const next = recovered.length === 0 ? 1 : recovered[recovered.length - 1]!.seq + 1;
    if (next > SEQ_MAX) throw new Error(`write-ahead log in ${dir}: segment number ${next} is past ${SEQ_MAX}`);
    const spare = path.join(dir, SPARE_SEGMENT);
    const log = new WriteAheadLog(dir, next, fs.existsSync(spare) ? spare : undefined);
    log.startSegment();
    return { log, recovered };
  }

  /** The segment appends go to. */
  get activeSeq(): number {
    return this.seq;
  }

  /**
   * Appends one record of `writes`, on disk when it returns (the segment is open with O_DSYNC: a
   * write returns once its data is synced, one system call). Throws the file system's error; the
   * record is then not in the log (a partial one is cut off, or left as a torn tail of a segment
   * no later record follows).
   */
  append(writes: readonly LogWrite[]): number {
    if (this.torn) this.roll();
    const fd = this.fd;
    if (fd === undefined) throw new Error(`write-ahead log in ${this.dir} is closed`);
    const record = encodeRecord(this.seq, writes);
    try {
      let done = 0;
      while (done < record.length) done += fs.writeSync(fd, record, done, record.length - done, this.offset + done);
    } catch (error) {
      this.torn = true;
      try {
        fs.ftruncateSync(fd, this.offset);
      } catch {
        // The next append starts a new segment anyway.
      }
      throw error;
    }
    this.offset += record.length;
    this.bytesWritten += record.length;
    return record.length;
  }

  /** Closes the active segment and starts the next: records appended from now on are in it. */
  roll(): void {
    const old = this.fd;
    this.fd = undefined;
    if (old !== undefined) fs.closeSync(old);
    this.seq++;
    this.startSegment();
  }

  /**
   * Removes every segment older than `seq`, oldest first, syncing the directory after each, so
   * that a crash in the middle leaves the newest of them (a suffix of the log, whose replay is
   * still right), never an older one alone (whose replay would bring back values a newer, dropped
   * segment had replaced). The first is kept as the spare if there is none.
   */
  dropBefore(seq: number): void {
    for (const segment of listSegments(this.dir)) {
      if (segment.seq >= seq) break;
      if (this.spare === undefined) {
        const spare = path.join(this.dir, SPARE_SEGMENT);
        fs.renameSync(segment.file, spare);
        this.spare = spare;
      } else {
        fs.unlinkSync(segment.file);
      }
      fsyncDirectory(this.dir);
    }
  }

  /**
   * Closes the active segment; with `remove`, deletes every segment and the spare (the caller
   * made what they held durable elsewhere).
   */
  close(remove: boolean): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) fs.closeSync(fd);
    if (!remove) return;
    for (const { file } of listSegments(this.dir)) {
      fs.unlinkSync(file);
      fsyncDirectory(this.dir);
    }
    if (this.spare !== undefined) fs.rmSync(this.spare, { force: true });
    this.spare = undefined;
  }

  private startSegment(): void {
    const file = path.join(this.dir, segmentName(this.seq));
    if (this.spare !== undefined) {
      // Its bytes stay and are overwritten; none of them passes for a record of this seq.
      fs.renameSync(this.spare, file);
      this.spare = undefined;
      this.fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_DSYNC);
    } else {
      // O_TRUNC: a leftover file of this number (a crash right after creating it) is emptied.
      this.fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_DSYNC, 0o644);
    }
    this.offset = 0;
    this.torn = false;
    // The file's name must survive a crash as surely as the records appended to it.
    fsyncDirectory(this.dir);
  }
}

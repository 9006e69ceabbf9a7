/**
 * The shape of a stored record, shared by every engine so that they order keys and check values
 * the same way:
 *
 * - key:   [2-byte big-endian partition][user key bytes]. Bytewise order then groups a partition's
 *          keys together, in user-key order, and one partition is the range [p] .. [p + 1].
 * - value: [1-byte format version][4-byte big-endian CRC32 of payload][payload].
 *
 * Writes are checked right before they are framed (size bound, payload shape), reads right after
 * they are unframed (version, length, checksum, payload shape). Meta values use the same frame.
 * The argument checks (partition range, key length, fold limit) live here too, so that every
 * engine rejects the same calls with the same messages.
 */
import * as zlib from 'node:zlib';
import {
  CorruptRecordError,
  FOLD_LIMIT_MAX,
  FoldOptions,
  KEY_BYTES_MAX,
  MAX_RECORD_BYTES_DEFAULT,
  MAX_RECORD_BYTES_LIMIT,
  PARTITION_MAX,
  PayloadValidator,
  RecordTooLargeError,
  StoreOptions,
} from './local-store';

export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 5;
export const PARTITION_PREFIX_BYTES = 2;

// zlib.crc32 arrived in Node 20.15; fail at load rather than on the first write.
const crc32: (data: Uint8Array) => number = zlib.crc32;
if (typeof crc32 !== 'function') {
  throw new Error(`app/storage needs zlib.crc32 (Node >= 20.15); this is Node ${process.versions.node}`);
}

/** StoreOptions with defaults applied and bounds checked. */
export interface RecordChecks {
  readonly maxRecordBytes: number;
  readonly validate: PayloadValidator | undefined;
  readonly onCorrupt: (() => void) | undefined;
}

export function resolveRecordChecks(options: StoreOptions): RecordChecks {
  const maxRecordBytes = options.maxRecordBytes ?? MAX_RECORD_BYTES_DEFAULT;
  if (!Number.isInteger(maxRecordBytes) || maxRecordBytes < 1 || maxRecordBytes > MAX_RECORD_BYTES_LIMIT) {
    throw new Error(`maxRecordBytes must be an integer in 1..${MAX_RECORD_BYTES_LIMIT}, got ${String(maxRecordBytes)}`);
  }
  const observer = options.observer;
  return { maxRecordBytes, validate: options.validate, onCorrupt: observer?.corruptRecord?.bind(observer) };
}

export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame[0] = FRAME_VERSION;
  frame.writeUInt32BE(crc32(payload), 1);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export type FrameCheck = { readonly ok: true; readonly payload: Uint8Array } | { readonly ok: false; readonly reason: string };

/** The payload of a frame, as a view into `frame` (no copy), or why the frame is bad. */
export function decodeFrame(frame: Uint8Array): FrameCheck {
  if (frame.length < FRAME_HEADER_BYTES) {
    return { ok: false, reason: `frame is ${frame.length} bytes, shorter than its ${FRAME_HEADER_BYTES}-byte header` };
  }
  if (frame[0] !== FRAME_VERSION) {
    return { ok: false, reason: `unknown frame format version ${frame[0]} (expected ${FRAME_VERSION})` };
  }
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const expected = view.getUint32(1);
  const payload = new Uint8Array(frame.buffer, frame.byteOffset + FRAME_HEADER_BYTES, frame.length - FRAME_HEADER_BYTES);
  const actual = crc32(payload);
  if (actual !== expected) {
    return { ok: false, reason: `checksum mismatch: stored crc32 ${hex32(expected)}, computed ${hex32(actual)}` };
  }
  return { ok: true, payload };
}

/** Checks a payload and frames it; throws (and so writes nothing) when it may not be stored. */
export function frameForWrite(checks: RecordChecks, payload: unknown): Buffer {
  if (!(payload instanceof Uint8Array)) {
    throw new Error(`update decision.write must be a Uint8Array, null or undefined, got ${typeName(payload)}`);
  }
  if (payload.length > checks.maxRecordBytes) {
    throw new RecordTooLargeError(payload.length, checks.maxRecordBytes);
  }
  const problem = checks.validate?.(payload);
  if (problem !== undefined) {
    throw new Error(`refusing to write a malformed payload (${payload.length} bytes): ${problem}`);
  }
  return encodeFrame(payload);
}

/** The checked payload of a stored frame, as a view into `frame`; throws CorruptRecordError. */
export function payloadFromRead(checks: RecordChecks, partition: number, key: Uint8Array, frame: Uint8Array): Uint8Array {
  const decoded = decodeFrame(frame);
  const problem = decoded.ok ? checks.validate?.(decoded.payload) : undefined;
  if (!decoded.ok || problem !== undefined) {
    try {
      checks.onCorrupt?.();
    } catch {
      // An observer that fails must not hide the corruption.
    }
    throw new CorruptRecordError(partition, key, decoded.ok ? `payload failed validation: ${problem}` : decoded.reason);
  }
  return decoded.payload;
}

/** [2-byte big-endian partition][key]: the engine key. */
export function recordKey(partition: number, key: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PARTITION_PREFIX_BYTES + key.length);
  out.writeUInt16BE(partition, 0);
  out.set(key, PARTITION_PREFIX_BYTES);
  return out;
}

/** The smallest engine key of a partition: every key of partition p is > [p], and < [p + 1]. */
export function partitionPrefix(partition: number): Buffer {
  return recordKey(partition, new Uint8Array(0));
}

export function assertPartition(partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition > PARTITION_MAX) {
    throw new Error(`partition must be an integer in 0..${PARTITION_MAX}, got ${String(partition)}`);
  }
}

export function assertKey(key: Uint8Array, keyBytesMax: number = KEY_BYTES_MAX): void {
  if (!(key instanceof Uint8Array)) throw new Error(`key must be a Uint8Array, got ${typeName(key)}`);
  if (key.length < 1 || key.length > keyBytesMax) {
    throw new Error(`key must be 1..${keyBytesMax} bytes, got ${key.length} bytes`);
  }
}

export function assertFoldOptions(options: FoldOptions, keyBytesMax: number = KEY_BYTES_MAX): void {
  const { limit, startAfter } = options;
  if (!Number.isInteger(limit) || limit < 1 || limit > FOLD_LIMIT_MAX) {
    throw new Error(`fold limit must be an integer in 1..${FOLD_LIMIT_MAX}, got ${String(limit)}`);
  }
  // startAfter need not name a stored key, but it must be a key that could be stored.
  if (startAfter !== undefined) assertKey(startAfter, keyBytesMax);
}

/** Meta names are short identifiers; values are bounded like everything else. */
const META_NAME_CHARS_MAX = 256;
const META_VALUE_BYTES_MAX = 64 * 1024;

export function assertMetaName(name: string): void {
  if (typeof name !== 'string' || name.length < 1 || name.length > META_NAME_CHARS_MAX) {
    throw new Error(`meta name must be a string of 1..${META_NAME_CHARS_MAX} characters, got ${JSON.stringify(name)}`);
  }
}

/** Meta values are framed like records: UTF-8 bytes behind the same version and checksum. */
export function metaFrameForWrite(name: string, value: string): Buffer {
  if (typeof value !== 'string') throw new Error(`meta value for '${name}' must be a string, got ${typeof value}`);
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > META_VALUE_BYTES_MAX) {
    throw new Error(`meta value for '${name}' is ${bytes.length} bytes, more than the ${META_VALUE_BYTES_MAX}-byte limit`);
  }
  return encodeFrame(bytes);
}

export function metaValueFromRead(name: string, frame: Uint8Array): string {
  const decoded = decodeFrame(frame);
  if (!decoded.ok) throw new Error(`corrupt metadata value '${name}': ${decoded.reason}`);
  return Buffer.from(decoded.payload.buffer, decoded.payload.byteOffset, decoded.payload.byteLength).toString('utf8');
}

/** A copy that owns its memory, as a plain Uint8Array (engines return Buffers and views). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function typeName(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}

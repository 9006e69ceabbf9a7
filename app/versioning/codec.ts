/**
 * Binary encodings of versioned objects (what replicas store and exchange) and of contexts (what
 * clients carry between a get and a put). Compact varints, actor names written once per object.
 * Decoding checks every length and invariant and throws CodecError: data is checked right after
 * it is read and right before it is written.
 */
import { Sibling, VersionedObject, VersionVector } from './dvv';

const OBJECT_FORMAT = 1;
/** An unsigned context, as nodes before context signing handed out; no longer accepted by a node (see ./context-seal.ts). */
const CONTEXT_FORMAT = 2;
/** A sealed context: the format byte, the vector, then the seal (./context-seal.ts). */
export const SEALED_CONTEXT_FORMAT = 3;
/** Largest counter or timestamp a varint may carry (JavaScript's safe integers). */
const VARINT_MAX = Number.MAX_SAFE_INTEGER;
const ACTOR_BYTES_MAX = 255;
/** 8 varint bytes carry 56 bits, more than any safe integer needs. */
const VARINT_BYTES_MAX = 8;

export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

class Writer {
  private buf: Buffer;
  private pos = 0;
  /** `sizeHint`: the bytes expected, so that the buffer rarely has to grow. */
  constructor(sizeHint = 256) {
    this.buf = Buffer.allocUnsafe(sizeHint);
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }
  varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new CodecError(`varint: ${n} is not a non-negative safe integer`);
    this.ensure(8);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }
  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  byte(): number {
    if (this.pos >= this.buf.length) throw new CodecError('truncated: expected a byte');
    return this.buf[this.pos++]!;
  }
  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (n > VARINT_MAX) throw new CodecError('varint overflows 2^53');
      if (b < 0x80) {
        // Canonical form only: an over-long encoding would decode and re-encode differently.
        if (b === 0 && i > 0) throw new CodecError('varint is not in its shortest form');
        return n;
      }
      scale *= 0x80;
    }
    throw new CodecError(`varint longer than ${VARINT_BYTES_MAX} bytes`);
  }
  bytes(limit: number, what: string): Uint8Array {
    const len = this.varint();
    if (len > limit) throw new CodecError(`${what}: length ${len} exceeds ${limit}`);
    if (this.pos + len > this.buf.length) throw new CodecError(`${what}: truncated`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new CodecError(`${this.buf.length - this.pos} trailing bytes`);
  }
}

function writeVv(w: Writer, vv: VersionVector): string[] {
  const actors = [...vv.keys()];
  w.varint(actors.length);
  for (const actor of actors) {
    const bytes = Buffer.from(actor, 'utf8');
    if (bytes.length === 0 || bytes.length > ACTOR_BYTES_MAX) throw new CodecError(`actor ${JSON.stringify(actor.slice(0, 40))}: ${bytes.length} bytes, must be 1..${ACTOR_BYTES_MAX}`);
    w.bytes(bytes);
    w.varint(vv.get(actor)!);
  }
  return actors;
}

function readVv(r: Reader): { vv: VersionVector; actors: string[] } {
  const count = r.varint();
  const actors: string[] = [];
  const vv = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const raw = r.bytes(ACTOR_BYTES_MAX, 'actor');
    const actor = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('utf8');
    // Two byte strings must never collapse into one actor (invalid UTF-8 decodes to U+FFFD).
    if (raw.length === 0 || !Buffer.from(actor, 'utf8').equals(raw)) throw new CodecError('actor is empty or not valid UTF-8');
    const counter = r.varint();
    if (counter < 1) throw new CodecError(`vector entry ${actor}: counter ${counter} must be >= 1`);
    if (i > 0 && actors[i - 1]! >= actor) throw new CodecError('vector entries are not sorted and distinct');
    actors.push(actor);
    vv.set(actor, counter);
  }
  return { vv, actors };
}

/** Room for the vector, and for each sibling its value plus a dot, a timestamp and a length. */
function encodedSizeHint(obj: VersionedObject): number {
  let bytes = 16 + obj.vv.size * 64;
  for (const s of obj.siblings) bytes += 32 + (s.value?.length ?? 0);
  return bytes;
}

export function encodeObject(obj: VersionedObject): Buffer {
  const w = new Writer(encodedSizeHint(obj));
  w.byte(OBJECT_FORMAT);
  const actors = writeVv(w, obj.vv);
  const index = new Map(actors.map((a, i) => [a, i]));
  w.varint(obj.siblings.length);
  for (const s of obj.siblings) {
    const i = index.get(s.dot.actor);
    if (i === undefined) throw new CodecError(`sibling dot ${s.dot.actor}:${s.dot.counter} is not covered by the vector`);
    w.varint(i);
    w.varint(s.dot.counter);
    w.varint(s.writtenAtMs);
    if (s.value === null) {
      w.byte(0);
    } else {
      w.byte(1);
      w.bytes(s.value);
    }
  }
  return w.done();
}

/** Decodes and checks an object: sorted vector, dots covered by it, distinct sorted siblings. */
export function decodeObject(bytes: Uint8Array): VersionedObject {
  const r = new Reader(bytes);
  const format = r.byte();
  if (format !== OBJECT_FORMAT) throw new CodecError(`object format ${format}, expected ${OBJECT_FORMAT}`);
  const { vv, actors } = readVv(r);
  const count = r.varint();
  const siblings: Sibling[] = [];
  for (let i = 0; i < count; i++) {
    const actorIndex = r.varint();
    const actor = actors[actorIndex];
    if (actor === undefined) throw new CodecError(`sibling ${i}: actor index ${actorIndex} out of range`);
    const counter = r.varint();
    if (counter < 1 || counter > vv.get(actor)!) throw new CodecError(`sibling ${i}: dot ${actor}:${counter} not covered by the vector`);
    const writtenAtMs = r.varint();
    const kind = r.byte();
    if (kind !== 0 && kind !== 1) throw new CodecError(`sibling ${i}: kind ${kind} is neither value (1) nor tombstone (0)`);
    const value = kind === 1 ? r.bytes(Number.MAX_SAFE_INTEGER, 'value') : null;
    const prev = siblings[i - 1];
    if (prev && (prev.dot.actor > actor || (prev.dot.actor === actor && prev.dot.counter >= counter))) {
      throw new CodecError('siblings are not sorted and distinct');
    }
    siblings.push({ dot: { actor, counter }, value, writtenAtMs });
  }
  r.end();
  if (count === 0) throw new CodecError('an object has at least one sibling');
  return { vv, siblings };
}

/** A context: the version vector a client read, as opaque bytes. */
export function encodeContext(vv: VersionVector): Buffer {
  const w = new Writer();
  w.byte(CONTEXT_FORMAT);
  writeVv(w, vv);
  return w.done();
}

/** Entries in an encoded context, sealed or not, read from its header alone (the count precedes the entries). */
export function contextEntries(bytes: Uint8Array): number {
  if (bytes.length === 0) return 0;
  const r = new Reader(bytes);
  const format = r.byte();
  if (format !== CONTEXT_FORMAT && format !== SEALED_CONTEXT_FORMAT) throw new CodecError(`context format ${format}, expected ${SEALED_CONTEXT_FORMAT} (or ${CONTEXT_FORMAT}, unsigned)`);
  return r.varint();
}

/**
 * The vector of a context body (format byte, then the vector) that a caller has already
 * authenticated: ./context-seal.ts checks the seal first. `format` is the byte expected first.
 */
export function decodeContextBody(bytes: Uint8Array, format: number): VersionVector {
  const r = new Reader(bytes);
  const found = r.byte();
  if (found !== format) throw new CodecError(`context format ${found}, expected ${format}`);
  const { vv } = readVv(r);
  r.end();
  return vv;
}

/** A context body: the format byte, then the vector (./context-seal.ts appends its seal). */
export function encodeContextBody(vv: VersionVector, format: number): Buffer {
  const w = new Writer(16 + vv.size * 24);
  w.byte(format);
  writeVv(w, vv);
  return w.done();
}

export function decodeContext(bytes: Uint8Array): VersionVector {
  if (bytes.length === 0) return new Map();
  const r = new Reader(bytes);
  const format = r.byte();
  if (format !== CONTEXT_FORMAT) throw new CodecError(`context format ${format}, expected ${CONTEXT_FORMAT}`);
  const { vv } = readVv(r);
  r.end();
  return vv;
}

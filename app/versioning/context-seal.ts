/**
 * Sealed contexts: a context is what a get, put or delete of this cluster returned for this key,
 * and nothing else.
 *
 * A context carries a version vector, and a put trusts it: the new dot is one past the context's
 * counter for the coordinator, and the vector joins the object's. A vector a client made up could
 * claim a counter near 2^53 (every later write to the key would overflow) or dozens of invented
 * actors (the key's clock would stay full). So every node seals each context it hands out with a
 * keyed MAC (HMAC-SHA256, truncated to 16 bytes) over the format byte, the key it belongs to and
 * the vector, under the cluster's context key, and a coordinator opens (verifies, in constant
 * time) every context before it decodes it: a context of another key, another cluster, or one
 * with any bit changed is refused with InvalidArgument and nothing is written.
 *
 * Layout: format (1 byte, 3) | vector (as ./codec.ts writes it) | key tag (4 bytes) | MAC (16 bytes).
 * The key tag (FNV-1a of the key, 32 bits) only tells a context of another key apart from a forged
 * one in the error message; the MAC covers the key itself, so the tag needs no cryptographic
 * strength. (Contexts sealed when the tag was the first bytes of SHA-256 still open: the MAC covers
 * the tag as it was written, and a tag is recomputed only to word a refusal.)
 *
 * Cost: every get and put answer is sealed and every put with a context opened, on the
 * coordinator. Node's Hmac object (a stream, with one native call per update) cost several times
 * the hashing itself on a loaded node, so the MAC is HMAC-SHA256 computed as RFC 2104 defines it,
 * from two one-shot SHA-256 digests (crypto.hash) over the key's padded blocks, made once.
 * test/unit/context-seal.test.ts checks it against createHmac.
 *
 * Rotation: a node holds one or more keys; the first seals, every one opens. Add the new key
 * second on every node, then move it first, then drop the old one once contexts sealed with it
 * no longer matter (a client holding one gets InvalidArgument and reads again).
 */
import { createHash, hash, timingSafeEqual } from 'node:crypto';
import { err, KvError, ok, Result } from '../errors';
import { decodeContextBody, encodeContextBody, SEALED_CONTEXT_FORMAT } from './codec';
import { VersionVector } from './dvv';

/** The format of the unsigned contexts nodes handed out before contexts were sealed. */
const UNSIGNED_CONTEXT_FORMAT = 2;
/** Bytes of the truncated HMAC-SHA256 (128 bits: forging one takes about 2^128 tries). */
export const CONTEXT_MAC_BYTES = 16;
/** Bytes of the key tag (for the error message only). */
const KEY_TAG_BYTES = 4;
/** Shortest context key, in bytes (HMAC-SHA256's own output size). */
export const CONTEXT_KEY_BYTES_MIN = 32;
/** Most context keys a node holds (one seals, all open: every open tries each in turn). */
export const CONTEXT_KEYS_MAX = 8;
/** Bytes a sealed context adds to the encoded vector: format byte, key tag and MAC. */
export const CONTEXT_SEAL_OVERHEAD_BYTES = 1 + KEY_TAG_BYTES + CONTEXT_MAC_BYTES;

export class ContextSeal {
  /** Each key's HMAC state, made once. */
  private readonly keys: readonly MacKey[];

  /** `keys`: the first seals, every one opens. 1..CONTEXT_KEYS_MAX keys of at least CONTEXT_KEY_BYTES_MIN bytes. */
  constructor(keys: readonly Uint8Array[]) {
    if (keys.length < 1 || keys.length > CONTEXT_KEYS_MAX) throw new Error(`context keys: ${keys.length} given, must be 1..${CONTEXT_KEYS_MAX}`);
    for (const [i, k] of keys.entries()) {
      if (k.length < CONTEXT_KEY_BYTES_MIN) throw new Error(`context key ${i + 1}: ${k.length} bytes, must be at least ${CONTEXT_KEY_BYTES_MIN}`);
    }
    this.keys = keys.map((k) => new MacKey(k));
  }

  /** The context a node hands out for `key` whose object has vector `vv`. */
  seal(key: Uint8Array, vv: VersionVector): Buffer {
    const body = encodeContextBody(vv, SEALED_CONTEXT_FORMAT);
    const tag = keyTag(key);
    const mac = macOf(this.keys[0]!, key, body, tag);
    return Buffer.concat([body, tag, mac]);
  }

  /**
   * The vector of a context a client passed back with an operation on `key`; empty for an empty
   * context (a blind write). InvalidArgument, naming the field and the reason, for anything that
   * is not a context this cluster handed out for this key.
   */
  open(key: Uint8Array, context: Uint8Array): Result<VersionVector> {
    if (context.length === 0) return ok(new Map());
    const refuse = (why: string) => err(new KvError('InvalidArgument', `context: ${context.length} bytes ${why}`));
    if (context[0] === UNSIGNED_CONTEXT_FORMAT) return refuse('is an unsigned context (format 2) from a node before contexts were signed; read the key again and pass the new context back unchanged');
    if (context[0] !== SEALED_CONTEXT_FORMAT || context.length < CONTEXT_SEAL_OVERHEAD_BYTES + 1) {
      return refuse(`is not a context returned by a get, put or delete (format ${context[0]}, expected ${SEALED_CONTEXT_FORMAT}, at least ${CONTEXT_SEAL_OVERHEAD_BYTES + 1} bytes); pass it back unchanged`);
    }
    const macAt = context.length - CONTEXT_MAC_BYTES;
    const tagAt = macAt - KEY_TAG_BYTES;
    const body = context.subarray(0, tagAt);
    const tag = context.subarray(tagAt, macAt);
    const mac = context.subarray(macAt);
    if (!this.keys.some((k) => timingSafeEqual(macOf(k, key, body, tag), mac))) {
      if (!keyTag(key).equals(tag)) return refuse('is not signed by this cluster for this key: it is for another key (or was altered); a context is valid only with the key whose get, put or delete returned it');
      return refuse(`is not signed by this cluster (its MAC matches none of this node's ${this.keys.length} context key${this.keys.length === 1 ? '' : 's'}): pass back the context a get returned, unchanged`);
    }
    try {
      return ok(decodeContextBody(body, SEALED_CONTEXT_FORMAT));
    } catch (e) {
      // Sealed by a node of this cluster yet not decodable: a bug, not a client's doing.
      return err(new KvError('Internal', `context: ${context.length} bytes carry a valid MAC but do not decode (${(e as Error).message})`));
    }
  }
}

/** SHA-256's block size, in bytes (HMAC pads its key to one block). */
const SHA256_BLOCK_BYTES = 64;
/** SHA-256's output size, in bytes. */
const SHA256_BYTES = 32;

/**
 * One context key, ready for HMAC-SHA256 (RFC 2104): H((K ^ opad) || H((K ^ ipad) || m)), with K
 * hashed first when longer than a block. The padded blocks are made once; each MAC is then two
 * one-shot digests of buffers that start with them.
 */
export class MacKey {
  private readonly inner: Buffer;
  private readonly outer: Buffer;

  constructor(key: Uint8Array) {
    const k = key.length > SHA256_BLOCK_BYTES ? createHash('sha256').update(key).digest() : key;
    this.inner = Buffer.alloc(SHA256_BLOCK_BYTES, 0x36);
    this.outer = Buffer.alloc(SHA256_BLOCK_BYTES, 0x5c);
    for (let i = 0; i < k.length; i++) {
      this.inner[i]! ^= k[i]!;
      this.outer[i]! ^= k[i]!;
    }
  }

  /** HMAC-SHA256 of the concatenation of `parts` (32 bytes). */
  mac(parts: readonly Uint8Array[]): Buffer {
    let length = SHA256_BLOCK_BYTES;
    for (const p of parts) length += p.length;
    const message = Buffer.allocUnsafe(length);
    this.inner.copy(message, 0);
    let at = SHA256_BLOCK_BYTES;
    for (const p of parts) {
      message.set(p, at);
      at += p.length;
    }
    const outer = Buffer.allocUnsafe(SHA256_BLOCK_BYTES + SHA256_BYTES);
    this.outer.copy(outer, 0);
    outer.set(hash('sha256', message, 'buffer') as Buffer, SHA256_BLOCK_BYTES);
    return hash('sha256', outer, 'buffer') as Buffer;
  }
}

/** FNV-1a (32 bits) of the key, big-endian: a tag for error messages only (see the header). */
function keyTag(key: Uint8Array): Buffer {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i]!, 0x01000193);
  const tag = Buffer.allocUnsafe(KEY_TAG_BYTES);
  tag.writeUInt32BE(h >>> 0);
  return tag;
}

/** HMAC-SHA256 over the key's length and bytes, the body (format byte and vector) and the tag, truncated. */
function macOf(secret: MacKey, key: Uint8Array, body: Uint8Array, tag: Uint8Array): Buffer {
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(key.length);
  return secret.mac([length, key, body, tag]).subarray(0, CONTEXT_MAC_BYTES);
}

/**
 * Counts a repeated field of an encoded protobuf message without decoding it. Decoding a 40 MB
 * message of two million tiny requests builds two million objects (gigabytes, for a while) before
 * any handler can look at the count; walking the top-level tags costs nothing and lets the server
 * refuse the message first (see countedRequests in ./server.ts).
 */

/** Wire types (protobuf encoding). */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** The varint at `at` and the offset after it, or undefined when it runs past the end or 10 bytes. */
function varint(bytes: Uint8Array, at: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    const b = bytes[i]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, i + 1];
    scale *= 128;
  }
  return undefined;
}

/**
 * How many times field `field` occurs at the top level of `bytes`, in any wire type, counting no
 * further than `stopAfter + 1` (past the limit the exact count does not matter). Every wire type
 * counts: protobufjs's decoder reads a repeated message field whatever wire type its tag says
 * (`08 00`, a varint 0, decodes as one empty operation), so counting only the length-delimited
 * ones let a message of varint tags through uncounted. undefined when the top level is not well
 * formed (a truncated tag or length, a group, an unknown wire type): the caller refuses such a
 * message without decoding it.
 */
export function countField(bytes: Uint8Array, field: number, stopAfter: number): number | undefined {
  let count = 0;
  let at = 0;
  while (at < bytes.length) {
    const tag = varint(bytes, at);
    if (tag === undefined) return undefined;
    at = tag[1];
    const wireType = tag[0] % 8;
    const number = Math.floor(tag[0] / 8);
    if (number === field && ++count > stopAfter) return count;
    if (wireType === VARINT) {
      const v = varint(bytes, at);
      if (v === undefined) return undefined;
      at = v[1];
    } else if (wireType === FIXED64) {
      at += 8;
    } else if (wireType === FIXED32) {
      at += 4;
    } else if (wireType === LENGTH_DELIMITED) {
      const length = varint(bytes, at);
      if (length === undefined) return undefined;
      at = length[1] + length[0];
    } else {
      return undefined;
    }
    if (at > bytes.length) return undefined;
  }
  return count;
}

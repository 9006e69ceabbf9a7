/**
 * Dotted version vectors (Preguiça, Baquero et al.), as riak_kv's dvvset uses them.
 *
 * Actors are replica nodes, each id carrying the epoch of its data directory. Every sibling
 * carries the dot (actor, counter) of the write that made it; the object carries a version vector
 * summarising everything it has seen. Siblings therefore never outnumber truly concurrent writes.
 * Deletes are siblings too (tombstones, value null), merged like values.
 *
 * Everything here is pure; objects are immutable and kept in a canonical form (vector entries and
 * siblings sorted), so that equal histories have equal encodings.
 */

/** actor -> highest counter seen. Canonical: sorted by actor, counters >= 1. */
export type VersionVector = ReadonlyMap<string, number>;

export interface Dot {
  readonly actor: string;
  readonly counter: number;
}

export interface Sibling {
  readonly dot: Dot;
  /** The value, or null for a tombstone. */
  readonly value: Uint8Array | null;
  /** Wall-clock time the coordinator wrote it: informational only, never used to order writes. */
  readonly writtenAtMs: number;
}

export interface VersionedObject {
  readonly vv: VersionVector;
  readonly siblings: readonly Sibling[];
}

export const EMPTY_VV: VersionVector = new Map();

/** The largest dot counter: what a varint of the codec carries (JavaScript's safe integers, 2^53 - 1). */
export const DOT_COUNTER_MAX = Number.MAX_SAFE_INTEGER;

export function covers(vv: VersionVector, dot: Dot): boolean {
  return (vv.get(dot.actor) ?? 0) >= dot.counter;
}

/** a descends b: a has seen everything b has (a >= b pointwise). Reflexive, antisymmetric, transitive. */
export function descends(a: VersionVector, b: VersionVector): boolean {
  for (const [actor, counter] of b) if ((a.get(actor) ?? 0) < counter) return false;
  return true;
}

export function concurrent(a: VersionVector, b: VersionVector): boolean {
  return !descends(a, b) && !descends(b, a);
}

function canonicalVv(entries: Iterable<[string, number]>): VersionVector {
  return new Map([...entries].filter(([, c]) => c > 0).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/** Pointwise maximum. */
export function mergeVv(...vvs: VersionVector[]): VersionVector {
  const out = new Map<string, number>();
  for (const vv of vvs) for (const [actor, counter] of vv) out.set(actor, Math.max(out.get(actor) ?? 0, counter));
  return canonicalVv(out);
}

function dotKey(dot: Dot): string {
  return `${dot.actor}\0${dot.counter}`;
}

function compareSiblings(a: Sibling, b: Sibling): number {
  if (a.dot.actor !== b.dot.actor) return a.dot.actor < b.dot.actor ? -1 : 1;
  return a.dot.counter - b.dot.counter;
}

/**
 * A write at coordinator `actor` based on client context `context` (the vector of the get it is
 * based on; empty for a blind write). The new dot is (actor, max(object.vv[actor], ctx[actor]) + 1);
 * siblings the context covers are replaced; siblings it does not cover stay (so a blind write on an
 * existing key adds a sibling instead of overwriting); the vector becomes max(object.vv, ctx, dot).
 */
export function applyWrite(
  current: VersionedObject | undefined,
  context: VersionVector,
  actor: string,
  value: Uint8Array | null,
  nowMs: number,
): VersionedObject {
  const vv = current?.vv ?? EMPTY_VV;
  const counter = Math.max(vv.get(actor) ?? 0, context.get(actor) ?? 0) + 1;
  const dot: Dot = { actor, counter };
  const kept = (current?.siblings ?? []).filter((s) => !covers(context, s.dot));
  const siblings = [...kept, { dot, value, writtenAtMs: nowMs }].sort(compareSiblings);
  return { vv: mergeVv(vv, context, new Map([[actor, counter]])), siblings };
}

/**
 * The actor a coordinator whose actor is `actor` writes a key with: its own, unless its next
 * counter for the key would pass DOT_COUNTER_MAX (an object or a context from before contexts
 * were sealed claimed a counter near 2^53). Then it takes a per-key epoch, `<actor>/k<i>` with
 * the first i whose next counter fits: a new actor for this key only, so no dot is reused (its
 * counter, like any actor's, is one past what the object and the context have seen for it) and
 * the key takes writes again. Other keys keep `actor`.
 */
export function writingActor(vv: VersionVector, context: VersionVector, actor: string): string {
  const fits = (a: string) => Math.max(vv.get(a) ?? 0, context.get(a) ?? 0) < DOT_COUNTER_MAX;
  if (fits(actor)) return actor;
  // Each i that does not fit is an entry of vv or context, so this ends within their sizes.
  for (let i = 1; ; i++) if (fits(`${actor}/k${i}`)) return `${actor}/k${i}`;
}

/**
 * Merge two replicas' objects (read repair, handoff, anti-entropy). Keep a sibling of one side if
 * the other holds the same dot or has not seen it; the vector is the pointwise max. Commutative,
 * associative and idempotent.
 */
export function merge(a: VersionedObject | undefined, b: VersionedObject | undefined): VersionedObject | undefined {
  if (a === undefined || a === b) return b;
  if (b === undefined) return a;
  const bDots = new Set(b.siblings.map((s) => dotKey(s.dot)));
  const aDots = new Set<string>();
  const out = new Map<string, Sibling>();
  for (const s of a.siblings) {
    const key = dotKey(s.dot);
    aDots.add(key);
    if (bDots.has(key) || !covers(b.vv, s.dot)) out.set(key, s);
  }
  for (const s of b.siblings) {
    const key = dotKey(s.dot);
    if (!out.has(key) && (aDots.has(key) || !covers(a.vv, s.dot))) out.set(key, s);
  }
  return { vv: mergeVv(a.vv, b.vv), siblings: [...out.values()].sort(compareSiblings) };
}

export function mergeAll(objects: Iterable<VersionedObject | undefined>): VersionedObject | undefined {
  let acc: VersionedObject | undefined;
  for (const o of objects) acc = merge(acc, o);
  return acc;
}

/** Same history: same vector and same set of dots (a dot names one write, hence one value). */
export function sameHistory(a: VersionedObject | undefined, b: VersionedObject | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (a.vv.size !== b.vv.size || a.siblings.length !== b.siblings.length) return false;
  for (const [actor, counter] of a.vv) if (b.vv.get(actor) !== counter) return false;
  return a.siblings.every((s, i) => s.dot.actor === b.siblings[i]!.dot.actor && s.dot.counter === b.siblings[i]!.dot.counter);
}

/** The values a reader sees: siblings that are not tombstones. */
export function liveValues(obj: VersionedObject | undefined): Uint8Array[] {
  return (obj?.siblings ?? []).flatMap((s) => (s.value === null ? [] : [s.value]));
}

/** Whether every sibling is a tombstone (the key reads as not found, but its context matters). */
export function isDeleted(obj: VersionedObject | undefined): boolean {
  return obj !== undefined && obj.siblings.every((s) => s.value === null);
}

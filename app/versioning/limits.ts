/**
 * Bounds on a stored object (Riak warns at 25 siblings and rejects at 100). A client write that
 * would cross a reject bound fails with FAILED_PRECONDITION and changes nothing; merges from other
 * replicas are never refused (replicas must converge), only counted.
 */
import { KvError } from '../errors';
import { VersionedObject } from './dvv';

export interface ObjectLimits {
  readonly siblingsWarn: number;
  readonly siblingsMax: number;
  readonly clockEntriesWarn: number;
  readonly clockEntriesMax: number;
  /** Largest encoded object (every sibling and the clock), in bytes. */
  readonly objectBytesMax: number;
}

export const OBJECT_LIMITS_DEFAULT: ObjectLimits = {
  siblingsWarn: 25,
  siblingsMax: 100,
  clockEntriesWarn: 32,
  clockEntriesMax: 64,
  objectBytesMax: 8 * 1024 * 1024,
};

export type LimitCheck = { readonly ok: true; readonly warnings: string[] } | { readonly ok: false; readonly error: KvError };

export function checkLimits(obj: VersionedObject, limits: ObjectLimits): LimitCheck {
  const siblings = obj.siblings.length;
  const entries = obj.vv.size;
  if (siblings > limits.siblingsMax) {
    return {
      ok: false,
      error: new KvError(
        'TooManySiblings',
        `siblings: the write would leave ${siblings} siblings, above the limit of ${limits.siblingsMax}; read the key, resolve its siblings and write with the context`,
      ),
    };
  }
  if (entries > limits.clockEntriesMax) {
    return {
      ok: false,
      error: new KvError('ClockTooLarge', `clock: the write would leave ${entries} vector entries, above the limit of ${limits.clockEntriesMax} (clockEntriesMax); entries are never pruned, since an actor that writes again could reuse a dot: raise --clock-entries-max on every node (at most 10000) for this key to take writes again`),
    };
  }
  const warnings: string[] = [];
  if (siblings > limits.siblingsWarn) warnings.push(`siblings: ${siblings} above the warning level ${limits.siblingsWarn}`);
  if (entries > limits.clockEntriesWarn) warnings.push(`clock: ${entries} entries above the warning level ${limits.clockEntriesWarn}`);
  return { ok: true, warnings };
}

/**
 * The bound on an object made by merging replicas (read repair, handoff, anti-entropy): four times
 * objectBytesMax, at most 64 MiB.
 *
 * Why a separate, larger bound: a merge is the union of concurrent siblings, so replicas that each
 * hold an object within objectBytesMax can merge into one above it. Refusing such a merge would
 * leave the replicas apart for good (nothing converges until a client resolves, and the client
 * cannot see every sibling until they converge). So merges go through up to this bound, and a
 * client write to an object above objectBytesMax still fails until it resolves the siblings (a
 * write with the read's context replaces them and shrinks the object). Past this bound a merge
 * fails with ObjectTooLarge, is logged, and the replicas stay apart until a client resolves.
 */
export function mergedObjectBytesMax(limits: Pick<ObjectLimits, 'objectBytesMax'>): number {
  return Math.max(limits.objectBytesMax, Math.min(4 * limits.objectBytesMax, MERGED_OBJECT_BYTES_CAP));
}

/** The largest merged object on any configuration: 64 MiB. */
export const MERGED_OBJECT_BYTES_CAP = 64 * 1024 * 1024;

/** The bound on an encoded object's size; checked once the object is encoded. */
export function checkObjectBytes(bytes: number, limits: ObjectLimits): KvError | undefined {
  if (bytes <= limits.objectBytesMax) return undefined;
  return new KvError(
    'ObjectTooLarge',
    `object: the write would leave ${bytes} bytes (every sibling and the clock), above the limit of ${limits.objectBytesMax} (objectBytesMax); read the key, resolve its siblings and write with the context, or write a smaller value`,
  );
}

/**
 * This node's own replica: the versioned-object operations over a LocalStore. Every write is a
 * read-modify-write in one store transaction, so concurrent writes to a key merge, never clobber.
 */
import { KvError, Result, ok, err } from '../errors';
import { LocalStore } from '../storage/local-store';
import { decodeObject, encodeObject } from '../versioning/codec';
import { applyWrite, merge, sameHistory, VersionedObject, VersionVector } from '../versioning/dvv';
import { checkLimits, checkObjectBytes, ObjectLimits } from '../versioning/limits';

export interface WriteOutcome {
  readonly object: VersionedObject;
  readonly encoded: Buffer;
  readonly warnings: string[];
}

export class LocalReplica {
  constructor(
    private readonly store: LocalStore,
    readonly actor: string,
    private readonly limits: ObjectLimits,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async fetch(partition: number, key: Uint8Array): Promise<VersionedObject | undefined> {
    const bytes = await this.store.get(partition, key);
    return bytes === undefined ? undefined : decodeObject(bytes);
  }

  async fetchEncoded(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.store.get(partition, key);
  }

  /**
   * A client write coordinated here: a new dot for this node's actor, within the object limits.
   * A corrupt local record rejects (CorruptRecordError) rather than being replaced: its lost
   * counter could make the new dot collide with an existing one. A read repairs it first.
   */
  coordinateWrite(partition: number, key: Uint8Array, context: VersionVector, value: Uint8Array | null): Promise<Result<WriteOutcome, KvError>> {
    return this.store.update<Result<WriteOutcome, KvError>>(partition, key, (current) => {
      const object = applyWrite(current === undefined ? undefined : decodeObject(current), context, this.actor, value, this.nowMs());
      const check = checkLimits(object, this.limits);
      if (!check.ok) return { result: err(check.error) };
      const encoded = encodeObject(object);
      const tooLarge = checkObjectBytes(encoded.length, this.limits);
      if (tooLarge) return { result: err(tooLarge) };
      return { write: encoded, result: ok({ object, encoded, warnings: check.warnings }) };
    });
  }

  /**
   * Merge an object from another replica; writes only when it adds something. A local record
   * that fails its integrity check is replaced: it cannot be read, and the other replicas hold
   * its history (this is how read repair heals corruption).
   */
  mergeEncoded(partition: number, key: Uint8Array, incoming: Uint8Array): Promise<VersionedObject> {
    const theirs = decodeObject(incoming);
    return this.store.update(
      partition,
      key,
      (current) => {
        // The common case of a repair or a replicated write that is already here: nothing to do.
        if (current !== undefined && Buffer.compare(current, incoming) === 0) return { result: theirs };
        const mine = current === undefined ? undefined : decodeObject(current);
        const merged = merge(mine, theirs)!;
        if (sameHistory(merged, mine)) return { result: merged };
        // Usually the incoming object supersedes ours: its bytes are already the canonical encoding.
        return { write: sameHistory(merged, theirs) ? incoming : encodeObject(merged), result: merged };
      },
      { corrupt: 'replace' },
    );
  }
}

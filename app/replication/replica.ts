/**
 * This node's own replica: the versioned-object operations over a LocalStore. Every write is a
 * read-modify-write in one store transaction, so concurrent writes to a key merge, never clobber.
 *
 * This is the one layer that decodes and encodes objects: the store below checks only each
 * record's frame (its checksum), and every replica operation decodes each object it touches once
 * (the stored one, and an incoming one) and encodes at most once.
 */
import { KvError, Result, err, ok, storeFailureCondition } from '../errors';
import { LocalStore, UpdateOptions } from '../storage/local-store';
import { decodeObject, encodeObject } from '../versioning/codec';
import { applyWrite, DOT_COUNTER_MAX, EMPTY_VV, VersionedObject, VersionVector, writingActor } from '../versioning/dvv';
import { checkLimits, checkObjectBytes, ObjectLimits } from '../versioning/limits';
import { mergeIncoming } from '../versioning/merge-incoming';
import { HashTrees } from './hash-trees';
import { HintStore } from './hints';
import { decodeIncoming } from './incoming-object';

export interface WriteOutcome {
  readonly object: VersionedObject;
  readonly encoded: Buffer;
  readonly warnings: string[];
}

/** A coordinated write, decided: `durable` settles when this node's commit does. */
export interface DecidedWrite extends WriteOutcome {
  readonly durable: Promise<void>;
}

export interface LocalReplicaOptions {
  /**
   * Where this node keeps the writes it accepts as a fallback for other nodes.
   * @default - none: a write sent here as a hint fails with Internal
   */
  readonly hints?: HintStore;
  /**
   * Anti-entropy's hash trees, told of every change to this node's data as it is decided.
   * @default - none
   */
  readonly trees?: HashTrees;
  /** @default Date.now */
  readonly nowMs?: () => number;
}

export class LocalReplica {
  private readonly nowMs: () => number;
  readonly hints: HintStore | undefined;
  private readonly trees: HashTrees | undefined;

  constructor(
    private readonly store: LocalStore,
    readonly actor: string,
    private readonly limits: ObjectLimits,
    options: LocalReplicaOptions | (() => number) = {},
  ) {
    const o = typeof options === 'function' ? { nowMs: options } : options;
    this.nowMs = o.nowMs ?? Date.now;
    this.hints = o.hints;
    this.trees = o.trees;
  }

  /**
   * A store update of this node's data, with the hash trees told of the key in the same
   * synchronous step that decides the write (its segment is recomputed before it is compared, so
   * a write that then fails leaves the tree right too), and again once the write has committed
   * (a segment recomputed in between read the store without it).
   */
  private update<T>(partition: number, key: Uint8Array, decide: (current: Uint8Array | undefined) => { write?: Uint8Array | null; result: T }, options?: UpdateOptions<T>): Promise<T> {
    const trees = this.trees;
    if (trees === undefined) return this.store.update(partition, key, decide, options);
    let wrote = false;
    const committed = this.store.update(
      partition,
      key,
      (current) => {
        const decision = decide(current);
        if (decision.write !== undefined) {
          wrote = true;
          trees.touch(partition, key);
        }
        return decision;
      },
      options,
    );
    // Touched again once committed: a segment recomputed between the decision and the commit
    // read the store without this write (reads see committed state only), and must not stay so.
    return committed.then((r) => {
      if (wrote) trees.touch(partition, key);
      return r;
    });
  }

  async fetch(partition: number, key: Uint8Array): Promise<VersionedObject | undefined> {
    const bytes = await this.store.get(partition, key);
    return bytes === undefined ? undefined : decodeObject(bytes);
  }

  /** The stored bytes as they are: the coordinator decodes each distinct answer once. */
  async fetchEncoded(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.store.get(partition, key);
  }

  /**
   * A client write coordinated here: a new dot for this node's actor, within the object limits.
   * Resolves as soon as the write is decided, before it is durable here: `durable` settles when
   * the commit does, so the coordinator sends the object to the other replicas meanwhile and a
   * put waits for one flush, not two. Its dot is safe without the wait: a commit that fails after
   * the decision stops the node, and a node that stopped without a clean shutdown (a crash
   * between the send and the commit) starts with a new actor epoch (app/node/identity.ts), so no
   * dot is ever decided twice. Writes to one key are decided in call order, each on the last.
   *
   * A corrupt local record rejects (CorruptRecordError, or CodecError for a record whose frame is
   * sound but whose object is not) rather than being replaced: its lost counter could make the new
   * dot collide with an existing one. A read repairs it first.
   */
  coordinateWrite(partition: number, key: Uint8Array, context: VersionVector, value: Uint8Array | null): Promise<Result<DecidedWrite, KvError>> {
    return new Promise((resolve, reject) => {
      let markDurable!: () => void;
      let failDurable!: (error: unknown) => void;
      const durable = new Promise<void>((res, rej) => {
        markDurable = res;
        failDurable = rej;
      });
      // Whoever takes the decision handles `durable`; a refusal (limits) has nobody to tell.
      durable.catch(() => {});
      const decide = (current: Uint8Array | undefined) => {
        const stored = current === undefined ? undefined : decodeObject(current);
        // A key whose counter for this node would pass 2^53 (from before contexts were sealed, or
        // any other cause) still takes writes: see writingActor. A clock is never pruned: dropping
        // the entry of an actor that may write again lets it reuse a dot that replicas which kept
        // the entry count as seen, and they would drop that write (README, Versioning).
        const actor = writingActor(stored?.vv ?? EMPTY_VV, context, this.actor);
        const object = applyWrite(stored, context, actor, value, this.nowMs());
        const check = checkLimits(object, this.limits);
        if (!check.ok) return { result: err(check.error) };
        if (actor !== this.actor) check.warnings.push(`clock: the counter of ${this.actor} for this key would pass ${DOT_COUNTER_MAX}; the write took the per-key actor ${actor}`);
        const encoded = encodeObject(object);
        const tooLarge = checkObjectBytes(encoded.length, this.limits);
        if (tooLarge) return { result: err(tooLarge) };
        return { write: encoded, result: ok({ object, encoded, warnings: check.warnings }) };
      };
      const onDecided = (r: Result<WriteOutcome, KvError>) => resolve(r.ok ? ok({ ...r.value, durable }) : r);
      this.update<Result<WriteOutcome, KvError>>(partition, key, decide, { onDecided }).then(
        () => markDurable(),
        (error) => {
          failDurable(error);
          reject(error);
        },
      );
    });
  }

  /**
   * Merge an object from another replica; writes only when it adds something. A local record
   * that fails its integrity check (its frame, or its decoding) is replaced: it cannot be read,
   * and the other replicas hold its history (this is how read repair heals corruption).
   */
  mergeEncoded(partition: number, key: Uint8Array, incoming: Uint8Array): Promise<VersionedObject> {
    const theirs = decodeIncoming(incoming);
    return this.update(
      partition,
      key,
      (current) => {
        // The common case of a repair or a replicated write that is already here: nothing to do.
        if (current !== undefined && Buffer.compare(current, incoming) === 0) return { result: theirs };
        const { merged, write } = mergeIncoming(decodeOrUndefined(current), theirs, incoming);
        return { write, result: merged };
      },
      { corrupt: 'replace' },
    );
  }

  /**
   * What this node holds for the key as hints, asked as a fallback: its hints for every primary,
   * merged (whichever primary a hint stands in for, it is a write the cluster acknowledged).
   */
  async fetchHints(partition: number, key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.hintStore().fetchAny(partition, key);
  }

  /** Whether this node holds a hint for the key, for any primary. */
  async holdsHint(partition: number, key: Uint8Array): Promise<boolean> {
    return this.hints !== undefined && (await this.hints.fetchAny(partition, key)) !== undefined;
  }

  /**
   * Removes a key whose stored bytes are exactly `expected` (a tombstone the reaper checked on
   * every primary); leaves anything else, such as a write that raced the reap. Resolves whether
   * it removed the key.
   */
  reapIfUnchanged(partition: number, key: Uint8Array, expected: Uint8Array): Promise<boolean> {
    return this.update(partition, key, (current) => {
      if (current === undefined || Buffer.compare(current, expected) !== 0) return { result: false };
      return { write: null, result: true };
    });
  }

  /** Stores a replicated object as a hint for `target` (this node stands in for it). */
  storeHint(target: string, partition: number, key: Uint8Array, object: Uint8Array): Promise<Result<void>> {
    return this.hintStore().store(target, partition, key, object);
  }

  /** A failure of a local replica operation as the condition callers see. */
  failure(operation: string, e: unknown): KvError {
    if (e instanceof KvError) return e;
    const condition = isCorrupt(e) ? 'CorruptRecord' : (storeFailureCondition(e) ?? 'Internal');
    return new KvError(condition, `${operation} failed on the local replica (${this.actor}): ${(e as Error).message ?? String(e)}`);
  }

  private hintStore(): HintStore {
    if (this.hints === undefined) throw new KvError('Internal', `node ${this.actor} keeps no hints`);
    return this.hints;
  }
}

/** The stored object, or undefined when there is none or its bytes do not decode (to be replaced). */
function decodeOrUndefined(current: Uint8Array | undefined): VersionedObject | undefined {
  if (current === undefined) return undefined;
  try {
    return decodeObject(current);
  } catch {
    return undefined;
  }
}

/** A record that failed its checksum, or whose payload is not a well-formed object. */
export function isCorrupt(e: unknown): boolean {
  return e instanceof Error && (e.name === 'CorruptRecordError' || e.name === 'CodecError');
}

/**
 * Restore: objects read from a backup go back into the cluster through the write path's merge.
 * Each goes to every primary of its key in this cluster's placement (and, while a membership
 * change moves the partition, to the members it adds), which merges it with what it holds, as
 * it merges a replicated write or a read repair: never an overwrite, so siblings, clocks and
 * tombstones survive, a value written since the backup is kept beside the restored one as a
 * sibling or supersedes it, and sending an object twice changes nothing. The backup's ring
 * layout does not matter: the key is placed again here.
 *
 * A restore request is bounded (RESTORE_OBJECTS_MAX objects) and works on a bounded number of
 * objects at once (RESTORE_OBJECTS_IN_FLIGHT_MAX); an object that fails is reported with its
 * reason and the caller sends it again.
 */
import { err, invalidArgument, KvError, ok, Result } from '../errors';
import { mapBounded } from '../parallel';
import { partitionOf, Routing } from '../ring/ring';
import { decodeObject } from '../versioning/codec';
import { ReplicaTransport } from './transport';

/** Objects one restore request may carry at most. */
export const RESTORE_OBJECTS_MAX = 1000;

/** Objects of one request being merged at once at most (each to its N primaries). */
export const RESTORE_OBJECTS_IN_FLIGHT_MAX = 64;

/** Restore requests one node works on at once at most; beyond it they fail with Overloaded. */
export const RESTORE_REQUESTS_IN_FLIGHT_MAX = 4;

export interface RestoreObject {
  readonly key: Uint8Array;
  readonly object: Uint8Array;
}

export interface RestoreFailure {
  readonly key: Uint8Array;
  readonly reason: string;
}

export interface RestoreOutcome {
  readonly merged: number;
  readonly failed: RestoreFailure[];
}

export interface RestoreDeps {
  readonly replicas: ReplicaTransport;
  readonly routing: () => Routing;
  readonly keyBytesMax: number;
  /** The cluster's W, and its N (the largest w a request may ask for). */
  readonly w: number;
  readonly n: number;
  readonly timeoutMs: number;
}

/** A node's restore requests, RESTORE_REQUESTS_IN_FLIGHT_MAX at a time. */
export class Restorer {
  private inFlight = 0;

  constructor(private readonly deps: RestoreDeps) {}

  async restore(objects: readonly RestoreObject[], w: number): Promise<Result<RestoreOutcome, KvError>> {
    if (this.inFlight >= RESTORE_REQUESTS_IN_FLIGHT_MAX) return err(new KvError('Overloaded', `${RESTORE_REQUESTS_IN_FLIGHT_MAX} restore requests are in flight on this node already (RESTORE_REQUESTS_IN_FLIGHT_MAX); wait for an answer before sending more`));
    this.inFlight++;
    try {
      return await restoreObjects(this.deps, objects, w);
    } finally {
      this.inFlight--;
    }
  }
}

/**
 * Merges `objects` into the primaries of their keys; an object counts as merged once `w` of them
 * (0: the cluster's W) have it durably. Malformed objects are reported, never sent.
 */
export async function restoreObjects(deps: RestoreDeps, objects: readonly RestoreObject[], w: number): Promise<Result<RestoreOutcome, KvError>> {
  if (objects.length > RESTORE_OBJECTS_MAX) return err(invalidArgument('objects', objects.length, `objects in one request; at most ${RESTORE_OBJECTS_MAX} (RESTORE_OBJECTS_MAX): send them in smaller requests`));
  if (!Number.isInteger(w) || w < 0 || w > deps.n) return err(invalidArgument('w', w, `must be 0 (the cluster's W, ${deps.w}) to N (${deps.n})`));
  const quorum = w === 0 ? deps.w : w;
  const reasons = await mapBounded(objects, RESTORE_OBJECTS_IN_FLIGHT_MAX, ({ key, object }) => restoreOne(deps, key, object, quorum));
  // In the order they came.
  const failed = reasons.flatMap((reason, i) => (reason === undefined ? [] : [{ key: objects[i]!.key, reason }]));
  return ok({ merged: objects.length - failed.length, failed });
}

/** Why the object was not merged by `quorum` primaries, or undefined when it was. */
async function restoreOne(deps: RestoreDeps, key: Uint8Array, object: Uint8Array, quorum: number): Promise<string | undefined> {
  if (key.length === 0 || key.length > deps.keyBytesMax) return `key: ${key.length} bytes; must be 1 to ${deps.keyBytesMax} bytes`;
  try {
    decodeObject(object);
  } catch (e) {
    return `object: does not decode (${(e as Error).message}); nothing was written`;
  }
  const routing = deps.routing();
  const partition = partitionOf(key, routing.partitions);
  const placement = routing.replicas(partition);
  const targets = [...new Set([...placement.primaries, ...(placement.target ?? [])])];
  const results = await Promise.all(targets.map((node) => deps.replicas.replicate(node, partition, key, object, deps.timeoutMs)));
  const acks = results.filter((r) => r.ok).length;
  if (acks >= Math.min(quorum, targets.length)) return undefined;
  const errors = results.flatMap((r, i) => (r.ok ? [] : [`${targets[i]}: ${r.error.condition}: ${r.error.message}`]));
  return `merged by ${acks} of ${targets.length} primaries, ${quorum} needed (${errors.join('; ')}); send it again`;
}

/**
 * Stores for testing the chaos checker (chaos/checker/) without processes: the real coordinators
 * of a MemoryCluster behind the checker's narrow store interface, and two wrappers broken on
 * purpose that the checker must catch:
 * - droppingEveryTenthWrite: acknowledges every tenth put of each key without applying it (a
 *   lost write; counted per key, so that no workload's rhythm hides it);
 * - resurrectingDeletes: applies each delete, then writes the deleted values back before it
 *   acknowledges, as a replica that missed the delete hands them back once the tombstone was
 *   reaped too early.
 * And one that is not broken but leaves the client in doubt, as a coordinator cut off or frozen
 * mid-write does: answeringMayHaveApplied answers chosen puts and deletes with a failure that may
 * have applied, after carrying them out or without.
 */
import { encodeContextString, decodeContextString } from '../../app/client/client';
import { KvError, Result } from '../../app/errors';
import { OpResult } from '../../app/api/ops';
import { VersionedObject } from '../../app/versioning/dvv';
import { CHECKER_DEFAULTS, CheckerOptions } from '../../chaos/checker/checker';
import { CheckedStore, ReplicaState, StoreError, StoreOutcome, WriteReply } from '../../chaos/checker/store';
import { MemoryCluster } from './memory-cluster';

const RETRYABLE = new Set(['unavailable', 'deadline-exceeded', 'resource-exhausted']);

function outcome<T>(r: Result<OpResult>, pick: (v: OpResult) => T): StoreOutcome<T> {
  if (r.ok) return { ok: true, value: pick(r.value) };
  const e: KvError = r.error;
  const error: StoreError = { code: e.condition, retryable: RETRYABLE.has(e.kind), mayHaveApplied: e.writeMayHaveApplied, message: e.message };
  return { ok: false, error };
}

const text = (values: readonly Uint8Array[]) => values.map((v) => Buffer.from(v).toString('utf8'));

function versionOf(o: VersionedObject | undefined): string {
  if (o === undefined) return '';
  const dots = o.siblings.map((s) => `${s.dot.actor}:${s.dot.counter}${s.value === null ? 't' : ''}`).sort();
  return `${dots.join(',')}|${[...o.vv].map(([a, c]) => `${a}:${c}`).sort().join(',')}`;
}

/** The checker's store over a MemoryCluster: each call goes to the next node that is up. */
export function memoryClusterStore(cluster: MemoryCluster): CheckedStore {
  let next = 0;
  const via = () => {
    const up = [...cluster.nodes.keys()].filter((id) => !cluster.down.has(id));
    return up[next++ % up.length]!;
  };
  const write = async (kind: 'put' | 'delete', key: string, value: string, context: string | undefined): Promise<StoreOutcome<WriteReply>> => {
    const op = { kind, key: Buffer.from(key), value: Buffer.from(value), context: decodeContextString(context), w: 0, pw: 0 } as const;
    return outcome(await cluster.execute(via(), op), (v) => ({ context: encodeContextString(v.context) }));
  };
  return {
    get: async (key, options = {}) =>
      outcome(await cluster.execute(via(), { kind: 'get', key: Buffer.from(key), r: options.r ?? 0, pr: 0 }), (v) => ({
        values: v.kind === 'get' ? text(v.values) : [],
        context: encodeContextString(v.context),
      })),
    put: (key, value, context) => write('put', key, value, context),
    delete: (key, context) => write('delete', key, '', context),
    replicas: async (key) => {
      const { partition, primaries, fallbacks } = cluster.placement(key);
      const states: ReplicaState[] = [];
      for (const node of [...primaries, ...fallbacks]) {
        const primary = primaries.includes(node);
        if (cluster.down.has(node)) {
          states.push({ node, primary, answered: false, holds: false, version: '', values: [] });
          continue;
        }
        const replica = cluster.node(node).replica;
        if (!primary) {
          const holds = await replica.holdsHint(partition, Buffer.from(key));
          states.push({ node, primary, answered: true, holds, version: '', values: [] });
          continue;
        }
        const o = await replica.fetch(partition, Buffer.from(key));
        states.push({ node, primary, answered: true, holds: o !== undefined, version: versionOf(o), values: text(o?.siblings.flatMap((s) => (s.value === null ? [] : [s.value])) ?? []) });
      }
      return { ok: true, value: states };
    },
  };
}

/** Acknowledges every tenth put of each key without applying it. */
export function droppingEveryTenthWrite(inner: CheckedStore): CheckedStore & { readonly dropped: number } {
  const puts = new Map<string, number>();
  const store = {
    dropped: 0,
    get: inner.get.bind(inner),
    delete: inner.delete.bind(inner),
    replicas: inner.replicas.bind(inner),
    put: async (key: string, value: string, context: string | undefined): Promise<StoreOutcome<WriteReply>> => {
      const n = (puts.get(key) ?? 0) + 1;
      puts.set(key, n);
      if (n % 10 === 0) {
        store.dropped++;
        return { ok: true, value: { context: context ?? '' } };
      }
      return inner.put(key, value, context);
    },
  };
  return store;
}

/** Applies each delete, then puts the values it removed back (without a context), then acknowledges. */
export function resurrectingDeletes(inner: CheckedStore): CheckedStore & { readonly resurrected: number } {
  const store = {
    resurrected: 0,
    get: inner.get.bind(inner),
    put: inner.put.bind(inner),
    replicas: inner.replicas.bind(inner),
    delete: async (key: string, context: string): Promise<StoreOutcome<WriteReply>> => {
      const before = await inner.get(key);
      const r = await inner.delete(key, context);
      if (r.ok && before.ok) {
        for (const v of before.value.values) if ((await inner.put(key, v, undefined)).ok) store.resurrected++;
      }
      return r;
    },
  };
  return store;
}

/** What answeringMayHaveApplied does with a put or delete: answer may-have-applied after carrying it out, or without; or pass it on (undefined). */
export type Doubt = 'applied' | 'not-applied' | undefined;

export interface DoubtingStore extends CheckedStore {
  /** Writes answered may-have-applied, carried out or not. */
  readonly doubted: { applied: number; notApplied: number };
  /** Per key, the values of the puts answered ok. */
  readonly okValues: ReadonlyMap<string, readonly string[]>;
  /** Per key, the values of the puts answered may-have-applied. */
  readonly doubtedValues: ReadonlyMap<string, readonly string[]>;
}

const MAY_HAVE_APPLIED: StoreError = { code: 'DEADLINE_EXCEEDED', retryable: true, mayHaveApplied: true, message: 'the coordinator did not answer in time; the write may have applied' };

/**
 * Answers the puts and deletes `doubt` picks (given the kind and the count of that kind on that
 * key, from 1) with a failure that may have applied: 'applied' carries the write out first,
 * 'not-applied' does not.
 */
export function answeringMayHaveApplied(inner: CheckedStore, doubt: (kind: 'put' | 'delete', n: number) => Doubt): DoubtingStore {
  const counts = new Map<string, number>();
  const okValues = new Map<string, string[]>();
  const doubtedValues = new Map<string, string[]>();
  const push = (m: Map<string, string[]>, key: string, value: string) => m.set(key, [...(m.get(key) ?? []), value]);
  const doubted = { applied: 0, notApplied: 0 };
  const write = async (kind: 'put' | 'delete', key: string, run: () => Promise<StoreOutcome<WriteReply>>, value?: string): Promise<StoreOutcome<WriteReply>> => {
    const n = (counts.get(`${kind} ${key}`) ?? 0) + 1;
    counts.set(`${kind} ${key}`, n);
    const how = doubt(kind, n);
    if (how === 'not-applied') {
      doubted.notApplied++;
      if (value !== undefined) push(doubtedValues, key, value);
      return { ok: false, error: MAY_HAVE_APPLIED };
    }
    const r = await run();
    if (!r.ok || how === undefined) {
      if (r.ok && value !== undefined) push(okValues, key, value);
      return r;
    }
    doubted.applied++;
    if (value !== undefined) push(doubtedValues, key, value);
    return { ok: false, error: MAY_HAVE_APPLIED };
  };
  return {
    doubted,
    okValues,
    doubtedValues,
    get: inner.get.bind(inner),
    replicas: inner.replicas.bind(inner),
    put: (key, value, context) => write('put', key, () => inner.put(key, value, context), value),
    delete: (key, context) => write('delete', key, () => inner.delete(key, context)),
  };
}

/** Checker settings for runs of a second or two against in-process stores: few keys, fast retries. */
export const FAST_CHECKER_OPTIONS: CheckerOptions = {
  ...CHECKER_DEFAULTS,
  keys: 4,
  ratePerS: 150,
  concurrency: 4,
  convergeWithinS: 2,
  retry: { attemptsMax: 4, backoffInitialMs: 5, backoffMaxMs: 20 },
  historyOpsMax: 10_000,
  keyPrefix: 'test/',
};

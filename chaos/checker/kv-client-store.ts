/**
 * The checker's store over the real client: KvClient's get, put, delete and inspect, with its
 * errors made into StoreErrors.
 */
import { InspectReply, KvClient, KvClientError } from '../../app/client/client';
import { CheckedStore, ReplicaState, StoreError, StoreOutcome } from './store';

/**
 * Statuses after which another attempt may succeed: UNAVAILABLE, RESOURCE_EXHAUSTED,
 * DEADLINE_EXCEEDED, ABORTED. A node that could not be reached at all is retryable too.
 */
const RETRYABLE_CODES = new Set([14, 8, 4, 10]);

function storeError(e: unknown): StoreError {
  // Anything but the client's own error is a bug in the checker or the client: crash.
  if (!(e instanceof KvClientError)) throw e;
  // The client's message starts with the code, which StoreError keeps apart.
  const message = e.message.startsWith(`${e.codeName}: `) ? e.message.slice(e.codeName.length + 2) : e.message;
  return { code: e.codeName, retryable: e.unreachable || RETRYABLE_CODES.has(e.code), mayHaveApplied: e.writeMayHaveApplied, message };
}

async function attempt<T>(run: () => Promise<T>): Promise<StoreOutcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (e) {
    return { ok: false, error: storeError(e) };
  }
}

/** Inspect's answer as replica states: a version is the replica's dots and clock, sorted. */
export function replicaStates(view: InspectReply): ReplicaState[] {
  return view.replicas.map((r) => {
    const dots = r.siblings.map((s) => `${s.actor}:${s.counter}${s.tombstone ? 't' : ''}`).sort();
    const clock = r.clock.map((c) => `${c.actor}:${c.counter}`).sort();
    return {
      node: r.node,
      primary: r.role === 'primary',
      answered: r.answered,
      holds: r.found,
      version: r.found ? `${dots.join(',')}|${clock.join(',')}` : '',
      values: r.siblings.filter((s) => !s.tombstone).map((s) => Buffer.from(s.value).toString('utf8')),
    };
  });
}

export function kvClientStore(client: KvClient): CheckedStore {
  return {
    get: (key, options = {}) => attempt(async () => {
      const r = await client.get(key, { r: options.r });
      return { values: r.values.map((v) => v.toString('utf8')), context: r.context };
    }),
    put: (key, value, context) => attempt(async () => ({ context: (await client.put(key, value, { context })).context })),
    delete: (key, context) => attempt(async () => ({ context: (await client.delete(key, { context })).context })),
    replicas: (key) => attempt(async () => replicaStates(await client.inspect(key))),
  };
}

/**
 * The Secret that holds the cluster's context keys (app/node/context-keys.ts), created by the
 * store chart's Job (`kv k8s context-keys`) so that a fresh deploy needs no kubectl step and no
 * key is ever in a manifest. Created only when missing: an existing Secret is never changed, so
 * a second run, a redeploy or an operator's own Secret (rotation, External Secrets) is left alone.
 */
import { createSecret, KubeApi, KubeResult, secretItems } from './kube-api';

/** What happened: the Secret was there, this run made it, or another made it between our read and our create. */
export type ContextKeysSecretOutcome = 'exists' | 'created' | 'created-meanwhile';

export interface ContextKeysSecretTarget {
  readonly namespace: string;
  readonly name: string;
}

/** The Secret's item the pods mount as their key file (KV_CONTEXT_KEYS_FILE). */
export const CONTEXT_KEYS_ITEM = 'keys';

/** Labels and an annotation that say where the Secret came from (no CDK prune label: a deploy must never delete it). */
export const CONTEXT_KEYS_SECRET_METADATA = {
  labels: { 'app.kubernetes.io/name': 'dynamo-kv', 'app.kubernetes.io/component': 'context-keys' },
  annotations: { 'dynamo-kv/created-by': 'kv k8s context-keys' },
} as const;

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

/**
 * Makes sure the Secret exists, creating it with `newKeysText()` as its one item only when the
 * API has none. An existing Secret without the item is an error (the pods could not mount it),
 * and is left as it is.
 */
export async function ensureContextKeysSecret(api: KubeApi, target: ContextKeysSecretTarget, newKeysText: () => string): Promise<KubeResult<ContextKeysSecretOutcome>> {
  const { namespace, name } = target;
  const item = CONTEXT_KEYS_ITEM;
  const checked = (items: readonly string[], outcome: ContextKeysSecretOutcome): KubeResult<ContextKeysSecretOutcome> =>
    items.includes(item)
      ? { ok: true, value: outcome }
      : fail(
          `the Secret ${namespace}/${name} exists but has no item "${item}" (its items: ${items.length === 0 ? 'none' : items.join(', ')}), so the store's pods cannot mount their context keys; it was left unchanged: add the item (one hex key a line, openssl rand -hex 32) or delete the Secret so that this job creates it`,
        );
  const before = await secretItems(api, namespace, name);
  if (!before.ok) return before;
  if (before.value !== undefined) return checked(before.value, 'exists');
  const created = await createSecret(api, namespace, name, { [item]: newKeysText() }, CONTEXT_KEYS_SECRET_METADATA);
  if (!created.ok) return created;
  if (created.value === 'created') return { ok: true, value: 'created' };
  // 409 Conflict: another run made it between the read and the create; theirs stands.
  const after = await secretItems(api, namespace, name);
  if (!after.ok) return after;
  if (after.value === undefined) return fail(`the API refused to create the Secret ${namespace}/${name} as already existing (409 Conflict), yet a read finds none: retry`);
  return checked(after.value, 'created-meanwhile');
}

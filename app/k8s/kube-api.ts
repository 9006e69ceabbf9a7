/**
 * The few calls to the Kubernetes API the store's pods make: its Kubernetes node's zone label, the
 * desired replica count of its StatefulSet, and (the chart's context keys Job) whether a Secret
 * exists and its creation. Dependency-free (node:https with the pod's service-account token and
 * CA), because these few requests do not justify a client library and its transitive dependencies
 * in the node image.
 *
 * Failures are values, not exceptions: every caller must decide what a refusal means (the
 * pre-stop hook, for one, must not hand off data because it could not read the API). Each error
 * names the URL, the HTTP status and what to check.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';

/** Where the kubelet mounts the pod's service-account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The well-known node label that names the node's availability zone. */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
/** Budget of one API request, from connect to the last byte of the body. */
export const KUBE_API_TIMEOUT_MS = 5000;
/** Largest response body read (a Node object with many images listed is tens of KiB). */
export const KUBE_API_RESPONSE_BYTES_MAX = 4 * 1024 * 1024;

export type KubeResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export interface KubeApi {
  /** `https://host:port`, IPv6 hosts in brackets. */
  readonly baseUrl: string;
  readonly token: string;
  /** PEM of the CA that signed the API server's certificate. */
  readonly ca: string;
  readonly timeoutMs: number;
}

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

/**
 * The API as a pod reaches it: host and port from KUBERNETES_SERVICE_HOST/PORT (the kubelet sets
 * them in every container), token and CA from the mounted service account.
 */
export function inClusterApi(env: Readonly<Record<string, string | undefined>>, dir = SERVICE_ACCOUNT_DIR, timeoutMs = KUBE_API_TIMEOUT_MS): KubeResult<KubeApi> {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    return fail(`KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set (${JSON.stringify(host)}, ${JSON.stringify(port)}): this command runs inside a Kubernetes pod, where the kubelet sets them`);
  }
  const files: Record<'token' | 'ca', string> = { token: '', ca: '' };
  for (const [key, file] of [['token', 'token'], ['ca', 'ca.crt']] as const) {
    const where = path.join(dir, file);
    try {
      files[key] = fs.readFileSync(where, 'utf8').trim();
    } catch (e) {
      return fail(`cannot read the service account ${key === 'token' ? 'token' : 'CA certificate'} at ${where} (${(e as Error).message}): the pod must mount its service account token (automountServiceAccountToken: true in the pod spec)`);
    }
    if (files[key] === '') return fail(`the service account ${key === 'token' ? 'token' : 'CA certificate'} at ${where} is empty: check the pod's service account token mount`);
  }
  const bracketed = host.includes(':') ? `[${host}]` : host;
  return { ok: true, value: { baseUrl: `https://${bracketed}:${port}`, token: files.token, ca: files.ca, timeoutMs } };
}

/** An answer of the API server, whatever its status: callers decide what each status means. */
export interface KubeAnswer {
  readonly status: number;
  readonly body: string;
}

/**
 * One request, its body (if any) sent as JSON. Fails only when no complete answer came: refused,
 * broken off, too large, or not within the budget; each error names the method, the URL and what
 * to check. The request body is never quoted in an error (a Secret's data travels in it).
 */
export function send(api: KubeApi, method: 'GET' | 'POST', apiPath: string, body?: unknown): Promise<KubeResult<KubeAnswer>> {
  const url = `${api.baseUrl}${apiPath}`;
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
  const headers: Record<string, string | number> = { Authorization: `Bearer ${api.token}`, Accept: 'application/json' };
  if (payload) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': payload.length });
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: KubeResult<KubeAnswer>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const request = https.request(url, { method, ca: api.ca, headers }, (response) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > KUBE_API_RESPONSE_BYTES_MAX) {
          request.destroy();
          done(fail(`${method} ${url}: the response exceeds ${KUBE_API_RESPONSE_BYTES_MAX} bytes (KUBE_API_RESPONSE_BYTES_MAX); this is not the object asked for`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', (e) => done(fail(`${method} ${url}: the response broke off (${e.message}); retry`)));
      response.on('end', () => done({ ok: true, value: { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') } }));
    });
    const timer = setTimeout(() => {
      request.destroy();
      done(fail(`${method} ${url}: no complete answer within ${api.timeoutMs} ms: check that the pod reaches the API server (egress NetworkPolicy, KUBERNETES_SERVICE_HOST) and that it is healthy`));
    }, api.timeoutMs);
    request.on('error', (e: NodeJS.ErrnoException) => {
      const tls = e.code !== undefined && /CERT|SELF_SIGNED|TLS|SSL/.test(e.code);
      const check = tls
        ? `that the API server's certificate is signed by the service account's CA (${SERVICE_ACCOUNT_DIR}/ca.crt)`
        : 'that the pod reaches the API server (egress NetworkPolicy, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT)';
      done(fail(`${method} ${url}: ${e.message}${e.code && !e.message.includes(e.code) ? ` (${e.code})` : ''}: check ${check}`));
    });
    request.end(payload);
  });
}

/**
 * GET one object as JSON. `permission` says in RBAC terms what the request needs (`get on nodes`),
 * so that a 403 tells the operator which rule is missing.
 */
export async function getJson(api: KubeApi, apiPath: string, permission: string): Promise<KubeResult<unknown>> {
  const got = await send(api, 'GET', apiPath);
  if (!got.ok) return got;
  const url = `${api.baseUrl}${apiPath}`;
  if (got.value.status !== 200) return refusal('GET', url, got.value, permission);
  return parseBody('GET', url, got.value.body);
}

function parseBody(method: string, url: string, body: string): KubeResult<unknown> {
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch {
    return fail(`${method} ${url}: HTTP 200 but the body is not JSON (${JSON.stringify(body.slice(0, 80))}): is KUBERNETES_SERVICE_HOST the API server?`);
  }
}

/** The Kubernetes Status message of an error answer, if the body is one. */
function statusMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: quote the start of the body below
  }
  return body.slice(0, 200);
}

/** The error for an answer the caller did not expect, with what to check for the usual statuses. */
export function refusal(method: string, url: string, answer: KubeAnswer, permission: string): { ok: false; error: string } {
  const check: Record<number, string> = {
    401: `the API server did not accept the service account token (${SERVICE_ACCOUNT_DIR}/token): check that the pod mounts a current token`,
    403: `the pod's ServiceAccount lacks ${permission}: check the chart's Role, ClusterRole and their bindings (kubectl auth can-i)`,
    404: 'the object does not exist: check its name and namespace',
  };
  return fail(`${method} ${url}: HTTP ${answer.status} (${statusMessage(answer.body)}): ${check[answer.status] ?? 'the API server refused the request; retry, and check its health if this persists'}`);
}

/** The zone label of a Kubernetes node; an error when the node has none. */
export async function nodeZone(api: KubeApi, nodeName: string): Promise<KubeResult<string>> {
  const apiPath = `/api/v1/nodes/${encodeURIComponent(nodeName)}`;
  const got = await getJson(api, apiPath, '"get" on "nodes" (a ClusterRole)');
  if (!got.ok) return got;
  const labels = (got.value as { metadata?: { labels?: Record<string, unknown> } }).metadata?.labels ?? {};
  const zone = labels[ZONE_LABEL];
  if (typeof zone !== 'string' || zone === '') {
    return fail(`node ${nodeName} (${api.baseUrl}${apiPath}) has no ${ZONE_LABEL} label: label it (kubectl label node ${nodeName} ${ZONE_LABEL}=<zone>), as cloud providers do`);
  }
  return { ok: true, value: zone };
}

/** `.spec.replicas` of a StatefulSet: the number of pods it is meant to have now. */
export async function statefulSetReplicas(api: KubeApi, namespace: string, name: string): Promise<KubeResult<number>> {
  const apiPath = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/statefulsets/${encodeURIComponent(name)}`;
  const got = await getJson(api, apiPath, `"get" on the statefulset ${name} in ${namespace} (a Role)`);
  if (!got.ok) return got;
  // The API server defaults an absent spec.replicas to 1; a missing or odd value here means
  // something other than a StatefulSet answered, and nothing may be decided from it.
  const replicas = (got.value as { spec?: { replicas?: unknown } }).spec?.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    return fail(`GET ${api.baseUrl}${apiPath}: spec.replicas is ${JSON.stringify(replicas)}, not a whole number: this is not a StatefulSet as the API server serves it`);
  }
  return { ok: true, value: replicas };
}

/** Where the API serves the Secrets of a namespace. */
function secretsPath(namespace: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
}

/**
 * The item names of a Secret (never their values), or undefined when the API says there is no
 * such Secret (404).
 */
export async function secretItems(api: KubeApi, namespace: string, name: string): Promise<KubeResult<readonly string[] | undefined>> {
  const apiPath = `${secretsPath(namespace)}/${encodeURIComponent(name)}`;
  const url = `${api.baseUrl}${apiPath}`;
  const got = await send(api, 'GET', apiPath);
  if (!got.ok) return got;
  if (got.value.status === 404) return { ok: true, value: undefined };
  if (got.value.status !== 200) return refusal('GET', url, got.value, `"get" on the secret ${name} in ${namespace} (a Role with resourceNames: [${name}])`);
  const parsed = parseBody('GET', url, got.value.body);
  if (!parsed.ok) return parsed;
  const secret = parsed.value as { kind?: unknown; data?: unknown };
  if (secret.kind !== 'Secret' || (secret.data !== undefined && secret.data !== null && typeof secret.data !== 'object')) {
    return fail(`GET ${url}: the answer is not a Secret (kind ${JSON.stringify(secret.kind)}): is KUBERNETES_SERVICE_HOST the API server?`);
  }
  return { ok: true, value: Object.keys((secret.data ?? {}) as Record<string, unknown>) };
}

/**
 * Creates a Secret with the given items (text, sent base64-encoded as the API wants). 'exists'
 * when the API answers 409 Conflict: a Secret of that name is there, and it was not touched.
 */
export async function createSecret(
  api: KubeApi,
  namespace: string,
  name: string,
  items: Readonly<Record<string, string>>,
  metadata: { readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> } = {},
): Promise<KubeResult<'created' | 'exists'>> {
  const apiPath = secretsPath(namespace);
  const data = Object.fromEntries(Object.entries(items).map(([key, text]) => [key, Buffer.from(text, 'utf8').toString('base64')]));
  const sent = await send(api, 'POST', apiPath, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, ...metadata }, type: 'Opaque', data });
  if (!sent.ok) return sent;
  if (sent.value.status === 201 || sent.value.status === 200) return { ok: true, value: 'created' };
  if (sent.value.status === 409) return { ok: true, value: 'exists' };
  return refusal('POST', `${api.baseUrl}${apiPath}`, sent.value, `"create" on "secrets" in ${namespace} (a Role)`);
}

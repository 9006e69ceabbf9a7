/**
 * `kv k8s context-keys` as the store chart's Job runs it, in-process, against a loopback HTTPS
 * server that keeps Secrets as the API server does (GET 200/404, POST 201/409); only the HTTP API
 * is a stand-in. What is created, what is left alone, and what each refusal says.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { CliError } from '../../app/cli/cli-error';
import { k8sCommand } from '../../app/cli/k8s';
import { ensureContextKeysSecret } from '../../app/k8s/context-keys-secret';
import { parseContextKeys } from '../../app/node/context-keys';
import { fakeServiceAccountDir, LoopbackHttps, selfSigned, SelfSigned, startLoopbackHttps } from '../support/https-server';

const SECRETS = '/api/v1/namespaces/kv/secrets';
const SECRET = `${SECRETS}/kv-context-keys`;

interface StoredSecret {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

let tls: SelfSigned;
let server: LoopbackHttps;
let dir: string;
let saDir: string;
/** The Secrets the stand-in API holds, by name. */
let secrets: Map<string, StoredSecret>;
/** Answers that override the stand-in's, by method. */
let refuse: Partial<Record<'GET' | 'POST', { status: number; message: string }>>;
/** Runs before a POST is handled: another Job's create landing first. */
let beforePost: (() => void) | undefined;
const posted: StoredSecret[] = [];
const savedEnv = { ...process.env };
let stdout: string[];

function answer(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function status(res: http.ServerResponse, code: number, message: string): void {
  answer(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });
}

beforeAll(async () => {
  tls = selfSigned();
  server = await startLoopbackHttps(tls, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method as 'GET' | 'POST';
      const override = refuse[method];
      if (override) return status(res, override.status, override.message);
      if (method === 'GET' && req.url?.startsWith(`${SECRETS}/`)) {
        const name = req.url.slice(SECRETS.length + 1);
        const found = secrets.get(name);
        if (!found) return status(res, 404, `secrets "${name}" not found`);
        return answer(res, 200, { kind: 'Secret', apiVersion: 'v1', type: 'Opaque', ...found });
      }
      if (method === 'POST' && req.url === SECRETS) {
        beforePost?.();
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as StoredSecret & { kind: string };
        posted.push(body);
        if (secrets.has(body.metadata.name)) return status(res, 409, `secrets "${body.metadata.name}" already exists`);
        secrets.set(body.metadata.name, body);
        return answer(res, 201, body);
      }
      status(res, 404, `${req.method} ${req.url} not served`);
    });
  });
  ({ dir, saDir } = fakeServiceAccountDir(tls, 'kv-context-keys-'));
});

afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  secrets = new Map();
  refuse = {};
  beforePost = undefined;
  posted.length = 0;
  server.requests.length = 0;
  process.env = { ...savedEnv, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(server.port) };
  stdout = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (stdout.push(String(chunk)), true));
});

afterEach(() => {
  jest.restoreAllMocks();
  process.env = { ...savedEnv };
});

function args(extra: string[] = []): string[] {
  return ['context-keys', '--namespace', 'kv', '--secret', 'kv-context-keys', '--service-account-dir', saDir, ...extra];
}

async function rejection(argv: string[]): Promise<CliError> {
  try {
    await k8sCommand(argv, 'unused');
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error(`expected kv k8s ${argv.join(' ')} to fail`);
}

function keysOf(secret: StoredSecret): Buffer[] {
  return parseContextKeys(Buffer.from(secret.data!.keys!, 'base64').toString('utf8'), 'the created Secret');
}

describe('kv k8s context-keys', () => {
  test('creates the missing Secret with one random 32-byte key the nodes parse, and says so without printing it', async () => {
    await k8sCommand(args(), 'unused');
    const created = secrets.get('kv-context-keys')!;
    const keys = keysOf(created);
    expect(keys).toHaveLength(1);
    expect(keys[0]!.length).toBe(32);
    expect(created.metadata).toEqual({
      name: 'kv-context-keys',
      namespace: 'kv',
      labels: { 'app.kubernetes.io/name': 'dynamo-kv', 'app.kubernetes.io/component': 'context-keys' },
      annotations: { 'dynamo-kv/created-by': 'kv k8s context-keys' },
    });
    expect(Object.keys(created.data!)).toEqual(['keys']);
    expect(stdout.join('')).toBe('context keys Secret kv/kv-context-keys (item keys): created it with one new context key\n');
    expect(stdout.join('')).not.toContain(keys[0]!.toString('hex'));
    expect(server.requests.map((r) => `${r.method} ${r.url} ${r.authorization}`)).toEqual([`GET ${SECRET} Bearer token-1`, `POST ${SECRETS} Bearer token-1`]);
  });

  test('two runs make two different keys (random, not derived from anything in the manifest)', async () => {
    await k8sCommand(args(), 'unused');
    const first = keysOf(secrets.get('kv-context-keys')!)[0]!;
    secrets.clear();
    await k8sCommand(args(), 'unused');
    expect(keysOf(secrets.get('kv-context-keys')!)[0]!.equals(first)).toBe(false);
  });

  test('leaves an existing Secret unchanged, without trying to create one', async () => {
    const existing: StoredSecret = { metadata: { name: 'kv-context-keys', namespace: 'kv' }, data: { keys: Buffer.from(`${'ab'.repeat(32)}\n`).toString('base64') } };
    secrets.set('kv-context-keys', structuredClone(existing));
    await k8sCommand(args(), 'unused');
    expect(secrets.get('kv-context-keys')).toEqual(existing);
    expect(posted).toEqual([]);
    expect(server.requests.map((r) => r.method)).toEqual(['GET']);
    expect(stdout.join('')).toBe('context keys Secret kv/kv-context-keys (item keys): it exists; left unchanged\n');
  });

  test('a Secret another run creates between the read and the create (409 Conflict) stands, and the run succeeds', async () => {
    const theirs: StoredSecret = { metadata: { name: 'kv-context-keys', namespace: 'kv' }, data: { keys: Buffer.from(`${'cd'.repeat(32)}\n`).toString('base64') } };
    beforePost = () => secrets.set('kv-context-keys', structuredClone(theirs));
    await k8sCommand(args(), 'unused');
    expect(posted).toHaveLength(1);
    expect(secrets.get('kv-context-keys')).toEqual(theirs);
    expect(server.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'GET']);
    expect(stdout.join('')).toBe('context keys Secret kv/kv-context-keys (item keys): another run created it meanwhile; left unchanged\n');
  });

  test('fails with exit 1 on a 403 to the create, naming the RBAC rule it lacks, creating nothing', async () => {
    refuse.POST = { status: 403, message: 'secrets is forbidden: User "system:serviceaccount:kv:kv-context-keys" cannot create resource "secrets" in API group "" in the namespace "kv"' };
    const e = await rejection(args());
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(
      `kv k8s context-keys: POST ${server.baseUrl}${SECRETS}: HTTP 403 (${refuse.POST.message}): the pod's ServiceAccount lacks "create" on "secrets" in kv (a Role): check the chart's Role, ClusterRole and their bindings (kubectl auth can-i)`,
    );
    expect(secrets.size).toBe(0);
    expect(stdout).toEqual([]);
  });

  test('fails with exit 1 on a 403 to the read, naming the one Secret the Role must allow', async () => {
    refuse.GET = { status: 403, message: 'forbidden' };
    const e = await rejection(args());
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(/^kv k8s context-keys: GET https:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/kv\/secrets\/kv-context-keys: HTTP 403 \(forbidden\): the pod's ServiceAccount lacks "get" on the secret kv-context-keys in kv \(a Role with resourceNames: \[kv-context-keys\]\)/);
    expect(posted).toEqual([]);
  });

  test('fails with exit 1 when the API cannot be reached, saying what to check', async () => {
    const closed = await startLoopbackHttps(tls, () => undefined);
    await closed.close();
    process.env.KUBERNETES_SERVICE_PORT = String(closed.port);
    const e = await rejection(args());
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(/^kv k8s context-keys: GET https:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/kv\/secrets\/kv-context-keys: .*ECONNREFUSED.*check that the pod reaches the API server/);
  });

  test('fails with exit 1 outside a pod, without a service account token', async () => {
    const e = await rejection(args(['--service-account-dir', path.join(dir, 'none')]));
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(/^kv k8s context-keys: cannot read the service account token at .*automountServiceAccountToken: true/);
  });

  test('rejects a missing or malformed flag, naming it, before any request', async () => {
    expect((await rejection(['context-keys', '--namespace', 'kv'])).message).toBe('kv k8s context-keys: --secret is required; see kv k8s --help');
    expect((await rejection(['context-keys', '--namespace', 'kv', '--secret', 'Keys_1'])).message).toBe(
      'kv k8s context-keys: --secret "Keys_1" is not a Secret name (1-253 of [a-z0-9.-], starting and ending with a letter or digit)',
    );
    expect((await rejection(['context-keys', '--namespace', 'KV', '--secret', 'k'])).message).toMatch(/--namespace "KV" is not a namespace name/);
    expect(server.requests).toEqual([]);
  });
});

describe('ensureContextKeysSecret', () => {
  const api = () => ({ baseUrl: server.baseUrl, token: 'token-1', ca: tls.cert, timeoutMs: 2000 });

  test('fails for an existing Secret without the item the pods mount, leaving it unchanged', async () => {
    const other: StoredSecret = { metadata: { name: 'kv-context-keys', namespace: 'kv' }, data: { key: 'YWI=' } };
    secrets.set('kv-context-keys', structuredClone(other));
    const r = await ensureContextKeysSecret(api(), { namespace: 'kv', name: 'kv-context-keys' }, () => 'unused');
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/^the Secret kv\/kv-context-keys exists but has no item "keys" \(its items: key\).*left unchanged/) });
    expect(secrets.get('kv-context-keys')).toEqual(other);
    expect(posted).toEqual([]);
  });

  test('rejects a 409 after which no Secret can be read', async () => {
    refuse.POST = { status: 409, message: 'conflict' };
    const r = await ensureContextKeysSecret(api(), { namespace: 'kv', name: 'kv-context-keys' }, () => `${'ef'.repeat(32)}\n`);
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/409 Conflict\), yet a read finds none: retry/) });
  });
});

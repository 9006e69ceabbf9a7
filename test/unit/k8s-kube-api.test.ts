/**
 * The pod's reads of the Kubernetes API, against a loopback HTTPS server with a self-signed
 * certificate (no network other than 127.0.0.1): what is sent, what is read, and what each
 * refusal says.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inClusterApi, KUBE_API_RESPONSE_BYTES_MAX, KubeApi, nodeZone, statefulSetReplicas } from '../../app/k8s/kube-api';
import { LoopbackHttps, selfSigned, SelfSigned, startLoopbackHttps } from '../support/https-server';

const TOKEN = 'test-token-123';
let tls: SelfSigned;
let server: LoopbackHttps;
/** What the server answers next, by path. */
let routes: Record<string, { status: number; body: unknown } | 'never answer'> = {};

function api(overrides: Partial<KubeApi> = {}): KubeApi {
  return { baseUrl: server.baseUrl, token: TOKEN, ca: tls.cert, timeoutMs: 2000, ...overrides };
}

beforeAll(async () => {
  tls = selfSigned();
  server = await startLoopbackHttps(tls, (req, res) => {
    const route = routes[req.url ?? ''] ?? { status: 404, body: { kind: 'Status', message: `${req.url} not found` } };
    if (route === 'never answer') return;
    res.writeHead(route.status, { 'content-type': 'application/json' });
    res.end(typeof route.body === 'string' ? route.body : JSON.stringify(route.body));
  });
});

afterAll(() => server.close());

beforeEach(() => {
  routes = {};
  server.requests.length = 0;
});

describe('inClusterApi', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-sa-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('reads the token and CA of the mounted service account and the API address from the environment', () => {
    fs.writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`);
    fs.writeFileSync(path.join(dir, 'ca.crt'), tls.cert);
    expect(inClusterApi({ KUBERNETES_SERVICE_HOST: '10.100.0.1', KUBERNETES_SERVICE_PORT: '443' }, dir)).toEqual({
      ok: true,
      value: { baseUrl: 'https://10.100.0.1:443', token: TOKEN, ca: tls.cert.trim(), timeoutMs: 5000 },
    });
    const v6 = inClusterApi({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir);
    expect(v6.ok && v6.value.baseUrl).toBe('https://[fd00::1]:443');
  });

  test('fails outside a pod, naming the variables', () => {
    expect(inClusterApi({}, dir)).toEqual({ ok: false, error: expect.stringMatching(/KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set.*inside a Kubernetes pod/) });
  });

  test('fails without a mounted token, naming the file and the pod setting to check', () => {
    const r = inClusterApi({ KUBERNETES_SERVICE_HOST: '10.100.0.1', KUBERNETES_SERVICE_PORT: '443' }, dir);
    expect(r).toEqual({ ok: false, error: expect.stringContaining(`cannot read the service account token at ${path.join(dir, 'token')}`) });
    expect(!r.ok && r.error).toMatch(/automountServiceAccountToken: true/);
  });
});

describe('nodeZone', () => {
  test('reads the zone label of the node, sending the bearer token', async () => {
    routes['/api/v1/nodes/ip-10-0-1-5.ec2.internal'] = { status: 200, body: { kind: 'Node', metadata: { name: 'ip-10-0-1-5.ec2.internal', labels: { 'topology.kubernetes.io/zone': 'eu-west-1b' } } } };
    expect(await nodeZone(api(), 'ip-10-0-1-5.ec2.internal')).toEqual({ ok: true, value: 'eu-west-1b' });
    expect(server.requests).toEqual([{ method: 'GET', url: '/api/v1/nodes/ip-10-0-1-5.ec2.internal', authorization: `Bearer ${TOKEN}` }]);
  });

  test('fails for a node without the zone label, saying how to label it', async () => {
    routes['/api/v1/nodes/minikube'] = { status: 200, body: { kind: 'Node', metadata: { name: 'minikube', labels: { 'kubernetes.io/hostname': 'minikube' } } } };
    const r = await nodeZone(api(), 'minikube');
    expect(!r.ok && r.error).toMatch(/^node minikube \(https:\/\/127\.0\.0\.1:\d+\/api\/v1\/nodes\/minikube\) has no topology.kubernetes.io\/zone label: label it \(kubectl label node minikube topology.kubernetes.io\/zone=<zone>\)/);
  });

  test('rejects a 403 naming the URL, the status, the API server\'s message and the RBAC rule to check', async () => {
    routes['/api/v1/nodes/n1'] = { status: 403, body: { kind: 'Status', message: 'nodes "n1" is forbidden: User "system:serviceaccount:kv:kv" cannot get resource "nodes"' } };
    const r = await nodeZone(api(), 'n1');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toBe(
      `GET ${server.baseUrl}/api/v1/nodes/n1: HTTP 403 (nodes "n1" is forbidden: User "system:serviceaccount:kv:kv" cannot get resource "nodes"): the pod's ServiceAccount lacks "get" on "nodes" (a ClusterRole): check the chart's Role, ClusterRole and their bindings (kubectl auth can-i)`,
    );
  });

  test('rejects a 401 pointing at the token', async () => {
    routes['/api/v1/nodes/n1'] = { status: 401, body: { kind: 'Status', message: 'Unauthorized' } };
    const r = await nodeZone(api(), 'n1');
    expect(!r.ok && r.error).toMatch(/HTTP 401 \(Unauthorized\): the API server did not accept the service account token/);
  });

  test('rejects a server whose certificate the CA did not sign, naming the CA file', async () => {
    const other = selfSigned();
    const r = await nodeZone(api({ ca: other.cert }), 'n1');
    expect(!r.ok && r.error).toMatch(/^GET https:\/\/127\.0\.0\.1:\d+\/api\/v1\/nodes\/n1: .*check that the API server's certificate is signed by the service account's CA \(\/var\/run\/secrets\/kubernetes.io\/serviceaccount\/ca.crt\)/);
    expect(server.requests).toEqual([]);
  });

  test('rejects an address where nothing listens, saying what to check', async () => {
    const closed = await startLoopbackHttps(tls, () => undefined);
    await closed.close();
    const r = await nodeZone(api({ baseUrl: closed.baseUrl }), 'n1');
    expect(!r.ok && r.error).toMatch(/ECONNREFUSED.*check that the pod reaches the API server/);
  });
});

describe('statefulSetReplicas', () => {
  const SET_PATH = '/apis/apps/v1/namespaces/kv/statefulsets/kv';

  test('reads spec.replicas', async () => {
    routes[SET_PATH] = { status: 200, body: { kind: 'StatefulSet', spec: { replicas: 5 }, status: { replicas: 6 } } };
    expect(await statefulSetReplicas(api(), 'kv', 'kv')).toEqual({ ok: true, value: 5 });
  });

  test('rejects an answer without a whole spec.replicas', async () => {
    routes[SET_PATH] = { status: 200, body: { kind: 'StatefulSet', spec: {} } };
    const r = await statefulSetReplicas(api(), 'kv', 'kv');
    expect(!r.ok && r.error).toMatch(/spec.replicas is undefined, not a whole number/);
  });

  test('rejects a 403 naming the one statefulset the Role must allow', async () => {
    routes[SET_PATH] = { status: 403, body: { kind: 'Status', message: 'forbidden' } };
    const r = await statefulSetReplicas(api(), 'kv', 'kv');
    expect(!r.ok && r.error).toMatch(/HTTP 403 \(forbidden\): the pod's ServiceAccount lacks "get" on the statefulset kv in kv \(a Role\)/);
  });

  test('rejects a 404 and a body that is not JSON', async () => {
    expect(await statefulSetReplicas(api(), 'kv', 'gone')).toEqual({ ok: false, error: expect.stringMatching(/statefulsets\/gone: HTTP 404 .*the object does not exist/) });
    routes[SET_PATH] = { status: 200, body: '<html>' };
    expect(await statefulSetReplicas(api(), 'kv', 'kv')).toEqual({ ok: false, error: expect.stringMatching(/HTTP 200 but the body is not JSON/) });
  });

  test('gives up on a server that does not answer within the budget', async () => {
    const started = Date.now();
    routes[SET_PATH] = 'never answer';
    const r = await statefulSetReplicas(api({ timeoutMs: 200 }), 'kv', 'kv');
    expect(!r.ok && r.error).toMatch(/no complete answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('refuses a body beyond the size limit', async () => {
    routes[SET_PATH] = { status: 200, body: { spec: { replicas: 3 }, padding: 'x'.repeat(KUBE_API_RESPONSE_BYTES_MAX) } };
    const r = await statefulSetReplicas(api(), 'kv', 'kv');
    expect(!r.ok && r.error).toMatch(/exceeds 4194304 bytes/);
  });
});

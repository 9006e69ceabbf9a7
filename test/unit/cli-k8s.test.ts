/**
 * `kv k8s zone` and `kv k8s pre-stop` as the pod runs them, in-process, against a loopback HTTPS
 * API server; the leave is a stand-in script that records its arguments (the real
 * `kv admin leave --commit --wait` is the membership code's, tested with it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliError } from '../../app/cli/cli-error';
import { k8sCommand } from '../../app/cli/k8s';
import { fakeServiceAccountDir, LoopbackHttps, selfSigned, startLoopbackHttps } from '../support/https-server';

const SET_PATH = '/apis/apps/v1/namespaces/kv/statefulsets/kv';
let server: LoopbackHttps;
let routes: Record<string, { status: number; body: unknown }> = {};
let dir: string;
let saDir: string;
const savedEnv = { ...process.env };
let stdout: string[];
let stderr: string[];

beforeAll(async () => {
  const tls = selfSigned();
  server = await startLoopbackHttps(tls, (req, res) => {
    const route = routes[req.url ?? ''] ?? { status: 404, body: { kind: 'Status', message: 'not found' } };
    res.writeHead(route.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(route.body));
  });
  ({ dir, saDir } = fakeServiceAccountDir(tls, 'kv-cli-k8s-'));
});

afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  routes = {};
  server.requests.length = 0;
  process.env = { ...savedEnv, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(server.port), KV_NODE_ID: 'kv-3', KV_PEERS: 'kv-0=kv-0.kv-peer:7001,kv-1=kv-1.kv-peer:7001,kv-2=kv-2.kv-peer:7001', KV_N: '3', KV_JOIN: 'auto' };
  stdout = [];
  stderr = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (stdout.push(String(chunk)), true));
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
});

afterEach(() => {
  jest.restoreAllMocks();
  process.env = { ...savedEnv };
});

async function rejection(argv: string[], kvScript = 'unused'): Promise<CliError> {
  try {
    await k8sCommand(argv, kvScript);
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error(`expected kv k8s ${argv.join(' ')} to fail`);
}

describe('kv k8s zone', () => {
  test('writes the zone label of the Kubernetes node to the file', async () => {
    routes['/api/v1/nodes/node-a'] = { status: 200, body: { metadata: { labels: { 'topology.kubernetes.io/zone': 'eu-west-1c' } } } };
    const out = path.join(dir, 'zone');
    await k8sCommand(['zone', '--node-name', 'node-a', '--out', out, '--service-account-dir', saDir], 'unused');
    expect(fs.readFileSync(out, 'utf8')).toBe('eu-west-1c\n');
    expect(stdout.join('')).toBe(`zone eu-west-1c of Kubernetes node node-a written to ${out}\n`);
    expect(server.requests[0]!.authorization).toBe('Bearer token-1');
  });

  test('fails with exit 1 and the API\'s refusal when RBAC forbids the read, writing nothing', async () => {
    routes['/api/v1/nodes/node-b'] = { status: 403, body: { kind: 'Status', message: 'forbidden' } };
    const out = path.join(dir, 'zone-b');
    const e = await rejection(['zone', '--node-name', 'node-b', '--out', out, '--service-account-dir', saDir]);
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(/^kv k8s zone: GET https:\/\/127\.0\.0\.1:\d+\/api\/v1\/nodes\/node-b: HTTP 403 \(forbidden\): the pod's ServiceAccount lacks "get" on "nodes"/);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('rejects a missing flag, naming it', async () => {
    expect((await rejection(['zone', '--out', '/tmp/x'])).message).toBe('kv k8s zone: --node-name is required; see kv k8s --help');
  });
});

describe('kv k8s pre-stop', () => {
  /** A stand-in for kv: records its arguments, fails the first `failures` runs, then succeeds. */
  function fakeKv(failures: number): { script: string; calls: () => string[][] } {
    const record = path.join(dir, `calls-${Date.now()}-${Math.random()}.jsonl`);
    const script = path.join(dir, `fake-kv-${Date.now()}-${Math.random()}.js`);
    fs.writeFileSync(
      script,
      `const fs = require('fs');
       fs.appendFileSync(${JSON.stringify(record)}, JSON.stringify(process.argv.slice(2)) + '\\n');
       const runs = fs.readFileSync(${JSON.stringify(record)}, 'utf8').trim().split('\\n').length;
       if (runs <= ${failures}) { console.error('kv admin leave: FAILED_PRECONDITION: a change is in progress'); process.exit(1); }
       console.log('kv-3 holds nothing and is gone from the cluster state');`,
    );
    return { script, calls: () => (fs.existsSync(record) ? fs.readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]) : []) };
  }
  const args = (extra: string[] = []) => ['pre-stop', '--statefulset', 'kv', '--namespace', 'kv', '--sleep-s', '0', '--budget-s', '30', '--service-account-dir', saDir, ...extra];

  test('a scaled-in pod runs the leave against its own node, retrying a refused commit until it is accepted', async () => {
    routes[SET_PATH] = { status: 200, body: { spec: { replicas: 3 } } };
    const kv = fakeKv(1);
    await k8sCommand(args(), kv.script);
    const leave = ['admin', 'leave', 'kv-3', '--commit', '--wait', '--endpoint', '127.0.0.1:7001'];
    expect(kv.calls()).toEqual([leave, leave]);
    const log = stderr.join('');
    expect(log).toContain('"message":"pre-stop: the leave failed; retrying"');
    expect(log).toContain('FAILED_PRECONDITION: a change is in progress');
    expect(log).toContain('"line":"kv-3 holds nothing and is gone from the cluster state"');
    expect(log).toContain('"message":"pre-stop: left the cluster');
  });

  test('a pod within the desired replicas does not leave', async () => {
    routes[SET_PATH] = { status: 200, body: { spec: { replicas: 4 } } };
    const kv = fakeKv(0);
    await k8sCommand(args(), kv.script);
    expect(kv.calls()).toEqual([]);
    expect(stderr.join('')).toContain('within the 4 desired replicas');
  });

  test('a pod that cannot read its StatefulSet does not leave, and says why in the log file too', async () => {
    routes[SET_PATH] = { status: 403, body: { kind: 'Status', message: 'forbidden' } };
    const kv = fakeKv(0);
    const logFile = path.join(dir, 'pre-stop.log');
    await k8sCommand(args(['--log-file', logFile, '--endpoint', '127.0.0.1:7001,kv.kv.svc:7001']), kv.script);
    expect(kv.calls()).toEqual([]);
    expect(fs.readFileSync(logFile, 'utf8')).toMatch(/HTTP 403 \(forbidden\).*a restart must never hand off data/);
  });
});

/**
 * The first hour with the `kv` CLI, as a new user meets it: help for every command, flags before
 * the command, default endpoints that survive a dead node, deletes without a context, errors that
 * say what was tried, and `kv cluster` refusing taken ports, restarting one node, and stopping.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalCluster } from '../../app/local/local-cluster';
import { waitFor } from '../support/wait-for';
import { CliResult, Fixture, KV_SCRIPT, kv, startCluster } from './cluster-fixture';

const BASE_PORT = 18101; // 18101-18103: the shared cluster
const SECOND_BASE_PORT = 18111; // 18111-18113: a `kv cluster` in the foreground
const SPARE_PORT = 18121;

let f: Fixture;
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-cli-'));
  f = await startCluster({ basePort: BASE_PORT, nodes: 3 });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
  fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

/** Runs kv with its own working directory and environment (no KV_ENDPOINTS unless given). */
function kvIn(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const base = { ...process.env };
  delete base.KV_ENDPOINTS;
  return new Promise((resolve) => {
    execFile(process.execPath, [KV_SCRIPT, ...args], { cwd, env: { ...base, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const endpoints = () => f.cluster.endpoints.join(',');

describe('help', () => {
  test.each(['put', 'get', 'delete', 'status', 'call', 'cluster', 'node', 'bench', 'floor', 'backup', 'restore'])('kv %s --help prints its usage and exits 0', async (command) => {
    for (const flag of ['--help', '-h']) {
      const r = await kv([command, flag]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(new RegExp(`^kv ${command}`));
    }
  });

  test('kv cluster restart --help prints the cluster usage, which names restart', async () => {
    const r = await kv(['cluster', 'restart', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kv cluster restart <node>/);
  });

  test('rejects an unknown flag naming the command whose help to read', async () => {
    const r = await kv(['put', 'k', 'v', '--wat']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("kv put: Unknown option '--wat'; see kv put --help");
  });
});

describe('where client commands connect', () => {
  test('takes client flags before the command, as etcdctl users type them', async () => {
    const put = await kv(['--endpoint', endpoints(), 'put', 'before-flag', 'v1']);
    expect(put.code).toBe(0);
    const got = await kv([`--endpoint=${endpoints()}`, '--timeout-ms', '4000', 'get', 'before-flag']);
    expect(got.stdout.split('\n')[0]).toBe('v1');
  });

  test('rejects a flag before the command that is not a client flag', async () => {
    const r = await kv(['--json', 'get', 'k']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--json before the command is not a flag every client command takes/);
  });

  test('KV_ENDPOINTS is the default, and a dead first endpoint fails over to the next', async () => {
    const dead = `127.0.0.1:${SPARE_PORT}`;
    expect((await kvIn(tmp, ['put', 'env-key', 'v-env'], { KV_ENDPOINTS: `${dead},${endpoints()}` })).code).toBe(0);
    const got = await kvIn(tmp, ['get', 'env-key'], { KV_ENDPOINTS: `${dead},${endpoints()}` });
    expect(got.code).toBe(0);
    expect(got.stdout.split('\n')[0]).toBe('v-env');
  });

  test('rejects a malformed KV_ENDPOINTS naming the variable and the value', async () => {
    const r = await kvIn(tmp, ['get', 'k'], { KV_ENDPOINTS: '127.0.0.1' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('KV_ENDPOINTS: "127.0.0.1" is not host:port (port 1..65535)');
  });

  test('an unreachable cluster: says what was tried at each address, where the addresses came from, and what to check', async () => {
    const r = await kvIn(tmp, ['get', 'k'], { KV_ENDPOINTS: `127.0.0.1:${SPARE_PORT},127.0.0.1:${SPARE_PORT + 1}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(`could not reach any of the 2 nodes tried: 127.0.0.1:${SPARE_PORT}, 127.0.0.1:${SPARE_PORT + 1}: nothing listens there (connection refused)`);
    expect(r.stderr).toMatch(/came from KV_ENDPOINTS/);
    expect(r.stderr).not.toMatch(/Resolution note/);
  });

  test('pointed at an HTTP port (the metrics port), says that what answered does not speak gRPC', async () => {
    const server = http.createServer((_req, res) => res.end('metrics'));
    await new Promise<void>((resolve) => server.listen(SPARE_PORT, '127.0.0.1', resolve));
    try {
      const r = await kv(['status', '--endpoint', `127.0.0.1:${SPARE_PORT}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(`127.0.0.1:${SPARE_PORT}: something answered that does not speak gRPC`);
      expect(r.stderr).toMatch(/not its metrics port/);
    } finally {
      server.close();
    }
  });
});

describe('kv call: the gRPC API with JSON, where grpcurl is not installed', () => {
  test('a Put and a Get in protobuf JSON, bytes in base64, round-trip a value', async () => {
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    const put = await kv(['call', 'Put', JSON.stringify({ key: b64('json-key'), value: b64('json value') }), '--endpoint', endpoints()]);
    expect(put.code).toBe(0);
    expect(JSON.parse(put.stdout)).toMatchObject({ siblings: 1 });
    const got = await kv(['call', 'Get', '-', '--endpoint', endpoints()], JSON.stringify({ key: b64('json-key'), r: 2 }));
    const answer = JSON.parse(got.stdout) as { found: boolean; values: string[]; context: string };
    expect(answer.found).toBe(true);
    expect(answer.values.map((v) => Buffer.from(v, 'base64').toString())).toEqual(['json value']);
    expect(answer.context).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  test('a call the node rejects prints its status and message and exits 1', async () => {
    const r = await kv(['call', 'Get', '{"key":""}', '--endpoint', endpoints()]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^error: INVALID_ARGUMENT: key: 0 bytes is empty/);
  });

  test('rejects a method that is not a unary method of kv.v1.KV, and a request that is not a JSON object', async () => {
    expect((await kv(['call', 'Batch'])).stderr.trim()).toBe('kv call: method "Batch" is not a unary method of kv.v1.KV; use one of Get, Put, Delete, Status, Inspect');
    expect((await kv(['call', 'Get', '[1]'])).stderr.trim()).toBe('kv call: the request must be a JSON object, got "[1]"');
  });
});

describe('delete', () => {
  test('without a context reads first and deletes every sibling it read, so get finds nothing', async () => {
    const at = ['--endpoint', endpoints()];
    expect((await kv(['put', 'del-key', 'a', ...at])).code).toBe(0);
    expect((await kv(['put', 'del-key', 'b', ...at])).stdout).toMatch(/^ok \(2 siblings\)/);
    const del = await kv(['delete', 'del-key', ...at]);
    expect(del.code).toBe(0);
    expect(del.stdout.split('\n')[0]).toBe('deleted the 2 siblings read');
    const got = await kv(['get', 'del-key', '--json', ...at]);
    expect(JSON.parse(got.stdout)).toMatchObject({ found: false, values: [], deleted: true });
    const again = await kv(['delete', 'del-key', ...at]);
    expect(again.stdout.trim()).toBe('nothing to delete: the key is already deleted');
    expect((await kv(['delete', 'never-written', ...at])).stdout.trim()).toBe('nothing to delete: the key is not found');
  });

  test('with a stale context says which value written since survives, instead of a bare "deleted"', async () => {
    const at = ['--endpoint', endpoints()];
    await kv(['put', 'stale-key', 'old', ...at]);
    const context = (JSON.parse((await kv(['get', 'stale-key', '--json', ...at])).stdout) as { context: string }).context;
    // Written after the read whose context the delete names: the delete does not cover it.
    await kv(['put', 'stale-key', 'newer', '--context', context, ...at]);
    const del = await kv(['delete', 'stale-key', '--context', context, ...at]);
    expect(del.code).toBe(0);
    expect(del.stdout).toMatch(/^deleted, but 1 value written concurrently remains: "newer"\nrun kv delete "stale-key" again/);
    expect(JSON.parse((await kv(['get', 'stale-key', '--json', ...at])).stdout).values).toEqual(['newer']);
  });
});

describe('kv cluster and kv node', () => {
  test('a second kv cluster on taken ports fails at once with one line naming the port, and starts nothing', async () => {
    const r = await kvIn(tmp, ['cluster', '--nodes', '3', '--base-port', String(BASE_PORT), '--metrics-base-port', '0', '--data', path.join(tmp, 'second')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`kv cluster: 127.0.0.1:${BASE_PORT} (kv-1's client and peer port) is in use by another process (another kv cluster? \`ss -ltnp\` shows which); stop it, or choose other ports with --base-port / --metrics-base-port`);
    expect(r.stdout).not.toMatch(/ready/);
    expect(fs.existsSync(path.join(tmp, 'second', 'kv-1'))).toBe(false);
  });

  test('a launcher notices when the node answering on its address is not the process it started', async () => {
    const impostor = new LocalCluster({ ...f.cluster.options, nodes: 3 });
    // Pretend kv-1 of this launcher is some other process: the real kv-1 answers with its own pid.
    const other: ChildProcess = spawn('sleep', ['30']);
    impostor.node('kv-1').process = other;
    try {
      await expect(impostor.waitReady('kv-1', 5000)).rejects.toThrow(/is answered by another process \(node "kv-1", pid \d+\), not the kv-1 this cluster started/);
    } finally {
      other.kill();
    }
  });

  test('a node whose metrics port is taken exits with one line instead of serving', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(SPARE_PORT, '127.0.0.1', resolve));
    try {
      const r = await kvIn(tmp, ['node', '--node-id', 'solo', '--port', String(SPARE_PORT + 1), '--peers', `solo=127.0.0.1:${SPARE_PORT + 1}`, '--n', '1', '--r', '1', '--w', '1', '--data-dir', path.join(tmp, 'solo'), '--metrics-port', String(SPARE_PORT), '--log-level', 'error']);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`kv node solo: cannot serve metrics on 127.0.0.1:${SPARE_PORT}: listen EADDRINUSE: address already in use 127.0.0.1:${SPARE_PORT}`);
      // Nothing is left serving the client port.
      const probe = await kv(['status', '--endpoint', `127.0.0.1:${SPARE_PORT + 1}`, '--timeout-ms', '1000']);
      expect(probe.stderr).toMatch(/nothing listens there/);
    } finally {
      blocker.close();
    }
  });

  test('kv cluster stops and restarts one node on request, and Ctrl-C stops them all and cleans up', async () => {
    const dir = path.join(tmp, 'fg');
    const child = spawn(process.execPath, [KV_SCRIPT, 'cluster', '--nodes', '3', '--base-port', String(SECOND_BASE_PORT), '--metrics-base-port', '0', '--data', dir], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => /ready: 3 nodes serving/.test(out) || out, { timeoutMs: 30_000, what: 'kv cluster to print ready' });
      const clusterFile = JSON.parse(fs.readFileSync(path.join(dir, 'cluster.json'), 'utf8')) as { endpoints: string[] };
      expect(clusterFile.endpoints).toEqual([0, 1, 2].map((i) => `127.0.0.1:${SECOND_BASE_PORT + i}`));

      const stopped = await kvIn(tmp, ['cluster', 'stop', 'kv-3', '--data', dir]);
      expect(stopped.stdout.trim()).toBe('stopped kv-3');
      const down = await kv(['status', '--json', '--endpoint', clusterFile.endpoints[0]!]);
      expect((JSON.parse(down.stdout) as { members: { id: string; reachable: boolean }[] }).members.find((m) => m.id === 'kv-3')!.reachable).toBe(false);
      expect(out).not.toMatch(/kv-3 exited/); // a requested stop is not reported as a crash

      const restarted = await kvIn(tmp, ['cluster', 'restart', 'kv-3', '--data', dir]);
      expect(restarted.code).toBe(0);
      expect(restarted.stdout.trim()).toBe(`started kv-3: serving on 127.0.0.1:${SECOND_BASE_PORT + 2}`);
      expect((await kv(['status', '--endpoint', clusterFile.endpoints[2]!])).stdout).toMatch(/^node kv-3 /);

      const unknown = await kvIn(tmp, ['cluster', 'restart', 'kv-9', '--data', dir]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr.trim()).toBe('kv cluster restart: no node "kv-9" in this cluster (its nodes: kv-1, kv-2, kv-3)');
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/stopped\n/);
    expect(fs.existsSync(path.join(dir, 'cluster.json'))).toBe(false);
    const none = await kvIn(tmp, ['cluster', 'restart', 'kv-1', '--data', dir]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no kv cluster is running with this data directory/);
  }, 90_000);
});

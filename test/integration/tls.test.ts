/**
 * TLS, mutual TLS between nodes and client authorization, on real node processes over loopback
 * TLS with certificates the openssl command made (app/local/certificates.ts).
 *
 * Ports 19460-19462: the cluster with a client auth file (19465 its gateway); 19470-19472: the
 * rotation cluster; 19480-19481: kv cluster --tls in the foreground.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { KvClientError } from '../../app/client/client';
import { createCa, createLocalTls, issueCertificate, LocalTls, replaceFile } from '../../app/local/certificates';
import { partitionOf } from '../../app/ring/ring';
import { GrpcPeerTransport } from '../../app/rpc/peer-transport';
import type { ClientSecurity } from '../../app/rpc/tls';
import { Fixture, KV_SCRIPT, startCluster } from './cluster-fixture';
import { waitFor } from '../support/wait-for';

const PARTITIONS = 64;
const RELOAD_MS = 200;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function codeOf(p: Promise<unknown>): Promise<{ codeName: string; message: string } | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof KvClientError) return { codeName: e.codeName, message: e.message };
    throw e;
  }
}

function probe(cluster: Fixture['cluster'], security: ClientSecurity | undefined): GrpcPeerTransport {
  return new GrpcPeerTransport({ self: 'probe', peers: new Map(cluster.nodes.map((n) => [n.id, n.endpoint])), windowMax: 64, batchItemsMax: 64, messageBytesMax: 4 * 1024 * 1024, security });
}

describe('a TLS cluster with a client auth file', () => {
  let dir: string;
  let files: LocalTls;
  let f: Fixture;
  let authFile: string;
  const tokens = { reader: 'reader-token-1', writer: 'writer-token-1', later: 'later-token-1', tenantAdmin: 'tenant-admin-token-1' };
  const authLines = [
    { name: 'cli', role: 'admin', certificateCommonName: 'kv-cli' },
    { name: 'reader', role: 'read-only', tokenSha256: sha256(tokens.reader) },
    { name: 'writer', role: 'read-write', tokenSha256: sha256(tokens.writer), prefixes: ['users/'] },
    { name: 'tenant-admin', role: 'admin', tokenSha256: sha256(tokens.tenantAdmin), prefixes: ['tenant/'] },
  ];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-it-tls-'));
    const nodes = ['kv-1', 'kv-2', 'kv-3'].map((id) => ({ id, host: '127.0.0.1' }));
    files = createLocalTls(path.join(dir, 'tls'), nodes);
    authFile = path.join(dir, 'clients.jsonl');
    fs.writeFileSync(authFile, authLines.map((l) => JSON.stringify(l)).join('\n'));
    f = await startCluster({ basePort: 19460, nodes: 3, partitions: PARTITIONS, dataDir: dir, tls: files, extraArgs: ['--client-auth-file', authFile, '--tls-reload-interval-ms', String(RELOAD_MS)] });
  }, 90_000);

  afterAll(async () => {
    await f?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const caOnly = (): ClientSecurity => ({ tls: { caFile: files.caBundleFile } });
  const withToken = (token: string): ClientSecurity => ({ tls: { caFile: files.caBundleFile }, token });

  test('serves puts and gets with quorum across the nodes: the replicas answer each other over mutual TLS', async () => {
    const c = f.client({ security: f.cluster.clientSecurity });
    // W=3 needs every replica, so every peer connection must work.
    await c.put('tls/quorum', 'v1', { w: 3 });
    for (const n of f.cluster.nodes) {
      const one = f.client({ endpoints: [n.endpoint], security: f.cluster.clientSecurity });
      expect((await one.get('tls/quorum', { r: 3 })).values.map(String)).toEqual(['v1']);
    }
  });

  test('rejects kv.v1.Peer from a TLS client without a certificate, and stores nothing', async () => {
    const legit = probe(f.cluster, { tls: { caFile: files.caBundleFile, ...files.nodeFiles('kv-1') } });
    const c = f.client({ security: f.cluster.clientSecurity });
    await c.put('tls/template', 'template', { w: 3 });
    const key = Buffer.from('tls/template');
    const fetched = await legit.fetch('kv-2', partitionOf(key, PARTITIONS), key, 5000);
    legit.close();
    expect(fetched.ok && fetched.value !== undefined).toBe(true);
    const object = (fetched as { value: Uint8Array }).value;

    const forged = Buffer.from('tls/forged-no-cert');
    const attacker = probe(f.cluster, caOnly());
    const r = await attacker.replicate('kv-2', partitionOf(forged, PARTITIONS), forged, object, 3000);
    attacker.close();
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.message).toMatch(/UNAUTHENTICATED|node certificate/);
    expect(!r.ok && r.error.message).toMatch(/node certificate/);
    expect((await c.get(forged, { r: 3 })).found).toBe(false);
  });

  test('rejects kv.v1.Peer from a plaintext client, and stores nothing', async () => {
    const forged = Buffer.from('tls/forged-plaintext');
    const attacker = probe(f.cluster, undefined);
    const r = await attacker.replicate('kv-2', partitionOf(forged, PARTITIONS), forged, Buffer.from('x'), 3000);
    attacker.close();
    expect(r.ok).toBe(false);
    expect((await f.client({ security: f.cluster.clientSecurity }).get(forged, { r: 3 })).found).toBe(false);
  });

  test('rejects kv.v1.Peer from a client certificate that is not a node\'s (the CLI\'s)', async () => {
    const forged = Buffer.from('tls/forged-client-cert');
    const attacker = probe(f.cluster, f.cluster.clientSecurity);
    const r = await attacker.replicate('kv-2', partitionOf(forged, PARTITIONS), forged, Buffer.from('x'), 3000);
    attacker.close();
    expect(!r.ok && r.error.message).toMatch(/without the node marker/);
    expect((await f.client({ security: f.cluster.clientSecurity }).get(forged, { r: 3 })).found).toBe(false);
  });

  test('rejects a node whose certificate comes from another CA', async () => {
    const rogueCa = createCa(path.join(dir, 'rogue'), 'rogue-ca');
    const rogue = issueCertificate(rogueCa, path.join(dir, 'rogue'), 'kv-9', { commonName: 'kv-9', node: true, ips: ['127.0.0.1'] });
    const forged = Buffer.from('tls/forged-rogue-node');
    // It trusts the cluster's CA (to reach the node) but presents a node certificate of its own CA.
    const attacker = probe(f.cluster, { tls: { caFile: files.caBundleFile, ...rogue } });
    const r = await attacker.replicate('kv-2', partitionOf(forged, PARTITIONS), forged, Buffer.from('x'), 3000);
    attacker.close();
    expect(!r.ok && r.error.message).toMatch(/no client certificate that chains to the cluster CA/);
    expect((await f.client({ security: f.cluster.clientSecurity }).get(forged, { r: 3 })).found).toBe(false);
  });

  test('fails to connect when the client does not trust the cluster CA (the node is authenticated too)', async () => {
    const other = createCa(path.join(dir, 'other'), 'other-ca');
    const r = await codeOf(f.client({ security: { tls: { caFile: other.certFile } }, attemptsMax: 1 }).status());
    expect(r).toMatchObject({ codeName: 'UNAVAILABLE' });
  });

  test('a read-only token can get but fails to put with PERMISSION_DENIED naming its role', async () => {
    await f.client({ security: f.cluster.clientSecurity }).put('tls/readable', 'r');
    const reader = f.client({ security: withToken(tokens.reader) });
    expect((await reader.get('tls/readable')).values.map(String)).toEqual(['r']);
    const put = await codeOf(reader.put('tls/readable', 'no'));
    expect(put).toEqual({ codeName: 'PERMISSION_DENIED', message: expect.stringMatching(/"reader" has role read-only; kv\.v1\.KV\/Put needs read-write/) });
    expect((await reader.get('tls/readable', { r: 3 })).values.map(String)).toEqual(['r']);
  });

  test('rejects a wrong token with UNAUTHENTICATED', async () => {
    const r = await codeOf(f.client({ security: withToken('not-a-token') }).get('tls/readable'));
    expect(r).toEqual({ codeName: 'UNAUTHENTICATED', message: expect.stringMatching(/bearer token matches no client/) });
  });

  test('rejects a call without credentials with UNAUTHENTICATED naming what is missing', async () => {
    const r = await codeOf(f.client({ security: caOnly() }).get('tls/readable'));
    expect(r).toEqual({ codeName: 'UNAUTHENTICATED', message: expect.stringMatching(/needs client credentials.*Bearer.*client certificate/) });
  });

  test('rejects keys outside a client\'s prefixes, in unary calls and per operation in Batch', async () => {
    const writer = f.client({ security: withToken(tokens.writer) });
    await writer.put('users/1', 'u1');
    expect(await codeOf(writer.put('orders/1', 'o1'))).toEqual({ codeName: 'PERMISSION_DENIED', message: expect.stringMatching(/"writer" may use keys starting with "users\/" only .*key "orders\/1"/) });
    const batch = f.client({ security: withToken(tokens.writer), batch: true });
    const [ok, denied] = await Promise.all([codeOf(batch.put('users/2', 'u2')), codeOf(batch.put('orders/2', 'o2'))]);
    expect(ok).toBe('ok');
    expect(denied).toEqual({ codeName: 'PERMISSION_DENIED', message: expect.stringMatching(/prefixes rule/) });
    const admin = f.client({ security: f.cluster.clientSecurity });
    expect((await admin.get('users/2', { r: 3 })).values.map(String)).toEqual(['u2']);
    expect((await admin.get('orders/2', { r: 3 })).found).toBe(false);
    expect((await admin.get('orders/1', { r: 3 })).found).toBe(false);
  });

  test('a gateway with a node certificate serves the store over mutual TLS and applies its own client auth file', async () => {
    const gw = issueCertificate(files.ca, files.dir, 'gw-1', { commonName: 'gw-1', node: true, ips: ['127.0.0.1'] });
    const port = 19465;
    const child = spawn(process.execPath, [KV_SCRIPT, 'node', '--role', 'gateway', '--node-id', 'gw-1', '--port', String(port), '--metrics-port', '0', '--upstream', f.cluster.endpoints.join(','), '--tls-ca-file', files.caBundleFile, '--tls-cert-file', gw.certFile, '--tls-key-file', gw.keyFile, '--client-auth-file', authFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    try {
      const endpoints = [`127.0.0.1:${port}`];
      const reader = f.client({ endpoints, security: withToken(tokens.reader) });
      await waitFor(async () => (await codeOf(reader.get('tls/readable'))) === 'ok' || log.slice(-500), { timeoutMs: 20_000, what: 'the gateway serving a get' });
      expect((await reader.get('tls/readable')).values.map(String)).toEqual(['r']);
      expect(await codeOf(reader.put('tls/readable', 'no'))).toMatchObject({ codeName: 'PERMISSION_DENIED' });
      const writer = f.client({ endpoints, security: withToken(tokens.writer) });
      await writer.put('users/via-gateway', 'g', { w: 3 });
      expect(await codeOf(writer.put('orders/via-gateway', 'g'))).toMatchObject({ codeName: 'PERMISSION_DENIED' });
      expect((await f.client({ security: f.cluster.clientSecurity }).get('users/via-gateway', { r: 3 })).values.map(String)).toEqual(['g']);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 60_000);

  test('health stays open to a TLS client without credentials (probes)', async () => {
    const def = protoLoader.loadSync(healthProtoPath, { keepCase: true, defaults: true, enums: String });
    const Health = (grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: typeof grpc.Client } } } }).grpc.health.v1.Health;
    const client = new Health('localhost:19460', grpc.credentials.createSsl(fs.readFileSync(files.caBundleFile))) as grpc.Client & { Check: (req: unknown, cb: (e: grpc.ServiceError | null, r: { status: string }) => void) => void };
    const answer = await new Promise<{ status: string }>((resolve, reject) => client.Check({ service: 'kv.v1.KV' }, (e, r) => (e ? reject(e) : resolve(r))));
    client.close();
    expect(answer.status).toBe('SERVING');
  });

  test('refuses a membership change from an admin with a prefix rule: it moves every key', async () => {
    const r = await codeOf(f.client({ security: withToken(tokens.tenantAdmin) }).admin({ leave: 'kv-3' }));
    expect(r).toMatchObject({ codeName: 'PERMISSION_DENIED', message: expect.stringContaining('client "tenant-admin" may use keys starting with "tenant/" only') });
    expect((await f.client({ security: f.cluster.clientSecurity }).status()).members).toHaveLength(3);
  });

  test('takes a changed client auth file without a restart, on open Batch streams too', async () => {
    const later = f.client({ security: withToken(tokens.later) });
    expect(await codeOf(later.get('tls/readable'))).toMatchObject({ codeName: 'UNAUTHENTICATED' });
    const write = (lines: object[]) => fs.writeFileSync(authFile, lines.map((l) => JSON.stringify(l)).join('\n'));
    write([...authLines, { name: 'later', role: 'read-only', tokenSha256: sha256(tokens.later) }]);
    await waitFor(async () => (await codeOf(later.get('tls/readable'))) === 'ok', { timeoutMs: 10_000, what: 'every node taking the new client auth file' });
    // A Batch stream opened while the client was listed is checked again for each message.
    // One node, so that both gets go over the one stream (the fixture's client goes round robin).
    const batch = f.client({ endpoints: [f.cluster.nodes[0]!.endpoint], security: withToken(tokens.later), batch: true, attemptsMax: 1 });
    // That node may take the new file a little after the one the unary get reached.
    await waitFor(async () => (await codeOf(batch.get('tls/readable'))) === 'ok', { timeoutMs: 10_000, what: 'the Batch stream\'s node taking the new client auth file' });
    write(authLines);
    await waitFor(async () => (await codeOf(later.get('tls/readable'))) !== 'ok', { timeoutMs: 10_000, what: 'a node dropping the client' });
    // Every node re-reads the file within RELOAD_MS; a few intervals more cover the slowest.
    await new Promise((r) => setTimeout(r, 5 * RELOAD_MS));
    expect(await codeOf(batch.get('tls/readable'))).toMatchObject({ codeName: 'UNAUTHENTICATED', message: expect.stringContaining('checked again on this open Batch stream') });
  });
});

/** The TLS files reloaded (a log line per reload) in a node's log. */
function reloads(dataDir: string, id: string): number {
  const log = fs.readFileSync(path.join(dataDir, id, 'node.log'), 'utf8');
  return log.split('\n').filter((l) => l.includes('TLS files reloaded')).length;
}

describe('certificate rotation on a running TLS cluster', () => {
  let dir: string;
  let files: LocalTls;
  let f: Fixture;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-it-tls-rot-'));
    files = createLocalTls(path.join(dir, 'tls'), ['kv-1', 'kv-2', 'kv-3'].map((id) => ({ id, host: '127.0.0.1' })));
    f = await startCluster({ basePort: 19470, nodes: 3, partitions: PARTITIONS, dataDir: dir, tls: files, extraArgs: ['--tls-reload-interval-ms', String(RELOAD_MS)] });
  }, 90_000);

  afterAll(async () => {
    await f?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('swapping in a new CA and new node certificates never fails a write, and new connections get the new certificates', async () => {
    const ids = f.cluster.nodes.map((n) => n.id);
    const writer = f.client({ security: f.cluster.clientSecurity, routing: 'any' });
    let written = 0;
    const failures: string[] = [];
    let writing = true;
    const loop = (async () => {
      while (writing) {
        try {
          await writer.put(`rot/${written % 200}`, `v${written}`, { w: 3 });
          written++;
        } catch (e) {
          failures.push(String((e as Error).message));
          if (failures.length > 20) return;
        }
      }
    })();
    await waitFor(() => written >= 50, { timeoutMs: 20_000, what: 'the first 50 writes' });

    // 1. The bundle trusts the old and the new CA.
    const newCa = createCa(path.join(dir, 'tls-new'), 'new-ca');
    replaceFile(files.caBundleFile, Buffer.concat([fs.readFileSync(files.ca.certFile), fs.readFileSync(newCa.certFile)]));
    await waitFor(() => ids.every((id) => reloads(dir, id) >= 1) || ids.map((id) => `${id}: ${reloads(dir, id)}`).join(', '), { timeoutMs: 15_000, what: 'every node taking the CA bundle' });
    const before = written;
    await waitFor(() => written >= before + 50, { timeoutMs: 20_000, what: '50 writes after the new bundle' });

    // 2. Each node gets a certificate of the new CA: the certificate is written before its key,
    // so for a moment they do not match (the node keeps the old pair until they do).
    for (const id of ids) {
      const fresh = issueCertificate(newCa, path.join(dir, 'tls-new'), id, { commonName: id, node: true, ips: ['127.0.0.1'], dnsNames: ['localhost'] });
      const target = files.nodeFiles(id);
      replaceFile(target.certFile, fs.readFileSync(fresh.certFile));
      replaceFile(target.keyFile, fs.readFileSync(fresh.keyFile));
    }
    await waitFor(() => ids.every((id) => reloads(dir, id) >= 2) || ids.map((id) => `${id}: ${reloads(dir, id)}`).join(', '), { timeoutMs: 15_000, what: 'every node taking its new certificate' });
    const after = written;
    await waitFor(() => written >= after + 50, { timeoutMs: 20_000, what: '50 writes after the new certificates' });
    writing = false;
    await loop;
    expect(failures).toEqual([]);

    // A new connection that trusts only the new CA is served the new certificate.
    for (const n of f.cluster.nodes) {
      const issuer = await new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: n.host, port: n.port, ca: fs.readFileSync(newCa.certFile), servername: 'localhost', ALPNProtocols: ['h2'] }, () => {
          const cn = s.getPeerCertificate().issuer.CN;
          s.destroy();
          resolve(String(cn));
        });
        s.once('error', reject);
      });
      expect(issuer).toBe('new-ca');
    }
    // A node restarted now connects to its peers, and they to it, with the new certificates only.
    await f.cluster.kill('kv-2', 'SIGTERM');
    await f.cluster.restart('kv-2');
    const c = f.client({ security: f.cluster.clientSecurity });
    await waitFor(async () => (await codeOf(c.put('rot/after-restart', 'x', { w: 3 }))) === 'ok', { timeoutMs: 20_000, what: 'a W=3 write through the restarted kv-2 and its peers' });
  }, 120_000);
});

/** Runs kv in a working directory of its own, without KV_ENDPOINTS or KV_CLIENT_* variables. */
function kvIn(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'KV_ENDPOINTS' && !k.startsWith('KV_CLIENT_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [KV_SCRIPT, ...args], { cwd, env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('kv cluster --tls', () => {
  test('makes its certificates, serves over TLS, and the client commands find the files in the cluster file', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-it-tls-cli-'));
    const child = spawn(process.execPath, [KV_SCRIPT, 'cluster', '--tls', '--nodes', '2', '--n', '2', '--base-port', '19480', '--metrics-base-port', '0', '--data', path.join(tmp, 'data')], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => /ready: 2 nodes serving/.test(out) || out, { timeoutMs: 60_000, what: 'kv cluster --tls to print ready' });
      expect(out).toMatch(/TLS on \(mutual between nodes\)/);
      expect(out).toMatch(/--tls-ca \S+ca-bundle\.crt --tls-cert \S+kv-cli\.crt --tls-key \S+kv-cli\.key/);
      expect(out).not.toMatch(/DEP0123/);
      const put = await kvIn(tmp, ['put', 'hello', 'world', '--w', '2']);
      expect(put).toMatchObject({ code: 0, stderr: '' });
      const got = await kvIn(tmp, ['get', 'hello', '--r', '2']);
      expect(got.stdout).toMatch(/^world\n/);
      // Named endpoints without TLS options: plaintext to a TLS port fails.
      const plain = await kvIn(tmp, ['get', 'hello', '--endpoint', '127.0.0.1:19480', '--timeout-ms', '2000']);
      expect(plain.code).toBe(1);
      const tlsDir = path.join(tmp, 'data', 'tls');
      const explicit = await kvIn(tmp, ['get', 'hello', '--endpoint', '127.0.0.1:19481', '--tls-ca', path.join(tlsDir, 'ca-bundle.crt'), '--tls-cert', path.join(tlsDir, 'kv-cli.crt'), '--tls-key', path.join(tlsDir, 'kv-cli.key')]);
      expect(explicit.stdout).toMatch(/^world\n/);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    fs.rmSync(tmp, { recursive: true, force: true });
  }, 120_000);
});

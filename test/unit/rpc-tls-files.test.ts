/** The TLS file watcher (app/rpc/tls.ts) and the node's TLS settings, with certificates made by openssl. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createCa, issueCertificate, replaceFile } from '../../app/local/certificates';
import { ConfigError, parseNodeConfig } from '../../app/node/config';
import { TlsFileWatcher } from '../../app/rpc/tls';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-tls-unit-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const subjectOf = (pem: Buffer | undefined) => new X509Certificate(pem!).subject;

test('a node certificate carries the node marker and both server and client use', () => {
  const ca = createCa(dir, 'marker-ca');
  const node = issueCertificate(ca, dir, 'marker-node', { commonName: 'kv-1', node: true, ips: ['127.0.0.1'] });
  const x = new X509Certificate(fs.readFileSync(node.certFile));
  expect(x.subjectAltName).toContain('URI:urn:dynamo-kv:node');
  expect(x.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
  expect(x.verify(new X509Certificate(fs.readFileSync(ca.certFile)).publicKey)).toBe(true);
});

test('keeps the previous files while a certificate and its key do not match, and takes them once they do', () => {
  const ca = createCa(dir, 'rot-ca');
  const first = issueCertificate(ca, dir, 'first', { commonName: 'first', node: true });
  const second = issueCertificate(ca, dir, 'second', { commonName: 'second', node: true });
  const certFile = path.join(dir, 'live.crt');
  const keyFile = path.join(dir, 'live.key');
  replaceFile(certFile, fs.readFileSync(first.certFile));
  replaceFile(keyFile, fs.readFileSync(first.keyFile));
  const w = new TlsFileWatcher({ caFile: ca.certFile, certFile, keyFile }, 3_600_000);
  try {
    expect(subjectOf(w.contextOptions().cert as Buffer)).toBe('CN=first');
    replaceFile(certFile, fs.readFileSync(second.certFile));
    expect(w.reload()).toBe(false);
    expect(subjectOf(w.contextOptions().cert as Buffer)).toBe('CN=first');
    replaceFile(keyFile, fs.readFileSync(second.keyFile));
    expect(w.reload()).toBe(true);
    expect(subjectOf(w.contextOptions().cert as Buffer)).toBe('CN=second');
    expect(w.reload()).toBe(false);
  } finally {
    w.close();
  }
});

test('fails to start, naming the file, when a TLS file is missing', () => {
  expect(() => new TlsFileWatcher({ caFile: path.join(dir, 'nope.crt') })).toThrow(/CA file .*nope\.crt: cannot read it/);
});

test('rejects TLS settings given in part, naming what was given', () => {
  expect(() => parseNodeConfig(['--node-id', 'a', '--tls-cert-file', 'c.crt'], {})).toThrow(ConfigError);
  expect(() => parseNodeConfig(['--node-id', 'a', '--tls-cert-file', 'c.crt'], {})).toThrow(/TLS needs all three .* got --tls-cert-file/);
  const c = parseNodeConfig(['--node-id', 'a'], { KV_TLS_CERT_FILE: 'c.crt', KV_TLS_KEY_FILE: 'c.key', KV_TLS_CA_FILE: 'ca.crt', KV_CLIENT_AUTH_FILE: 'clients.jsonl' });
  expect([c.tlsCertFile, c.tlsKeyFile, c.tlsCaFile, c.clientAuthFile, c.tlsReloadIntervalMs]).toEqual(['c.crt', 'c.key', 'ca.crt', 'clients.jsonl', 5000]);
});

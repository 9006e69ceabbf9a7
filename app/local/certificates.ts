/**
 * Throwaway certificates for a local cluster (kv cluster --tls) and the TLS tests, made with the
 * openssl command (no certificate code of our own): a CA, node certificates (server and client
 * use, SANs for the node's address and localhost, and the node marker URI SAN), and client
 * certificates. Keys are P-256 EC. Everything is written under one directory, private keys 0600.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NODE_CERT_URI } from '../rpc/tls';

/** Days a throwaway certificate is valid. */
export const LOCAL_CERT_DAYS = 30;

export interface CertFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface LocalCa extends CertFiles {
  readonly name: string;
}

function openssl(args: readonly string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer; message: string };
    if (err.code === 'ENOENT') throw new Error('the openssl command is not installed (Debian: apt-get install openssl); kv cluster --tls makes its certificates with it', { cause: e });
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString().trim() || err.message}`, { cause: e });
  }
}

/** A new CA, `<dir>/<name>.crt` and `.key`. */
export function createCa(dir: string, name: string): LocalCa {
  fs.mkdirSync(dir, { recursive: true });
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', String(LOCAL_CERT_DAYS), '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  fs.chmodSync(keyFile, 0o600);
  return { name, certFile, keyFile };
}

export interface IssueOptions {
  /** The subject's common name (a client's identity in the client auth file). */
  readonly commonName: string;
  /** A node certificate: server and client use, and the node marker. */
  readonly node: boolean;
  /** IP addresses and DNS names for a node's certificate. */
  readonly ips?: readonly string[];
  readonly dnsNames?: readonly string[];
}

/** A certificate signed by `ca`, `<dir>/<file>.crt` and `.key`. */
export function issueCertificate(ca: LocalCa, dir: string, file: string, options: IssueOptions): CertFiles {
  fs.mkdirSync(dir, { recursive: true });
  const certFile = path.join(dir, `${file}.crt`);
  const keyFile = path.join(dir, `${file}.key`);
  const csr = path.join(dir, `${file}.csr`);
  const ext = path.join(dir, `${file}.ext`);
  const sans = [...(options.dnsNames ?? []).map((d) => `DNS:${d}`), ...(options.ips ?? []).map((ip) => `IP:${ip}`), ...(options.node ? [`URI:${NODE_CERT_URI}`] : [])];
  const lines = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${options.node ? 'serverAuth,clientAuth' : 'clientAuth'}`];
  if (sans.length > 0) lines.push(`subjectAltName=${sans.join(',')}`);
  fs.writeFileSync(ext, `${lines.join('\n')}\n`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${options.commonName}`]);
  fs.chmodSync(keyFile, 0o600);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`, '-days', String(LOCAL_CERT_DAYS), '-extfile', ext, '-out', certFile]);
  fs.rmSync(csr);
  fs.rmSync(ext);
  return { certFile, keyFile };
}

/** Writes a file by renaming a complete temporary one over it, as a Kubernetes secret update does. */
export function replaceFile(file: string, contents: string | Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, contents, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** The TLS files of a local cluster: the CA bundle nodes trust, each node's pair, the CLI's pair. */
export interface LocalTls {
  readonly dir: string;
  /** What nodes and clients trust (--tls-ca-file): the CA's certificate, or several during a rotation. */
  readonly caBundleFile: string;
  readonly ca: LocalCa;
  readonly client: CertFiles;
  nodeFiles(id: string): CertFiles;
}

/**
 * A fresh CA, a certificate for each node (SANs: its host, 127.0.0.1, localhost) and one for the
 * CLI (CN kv-cli), under `dir`.
 */
export function createLocalTls(dir: string, nodes: ReadonlyArray<{ id: string; host: string }>): LocalTls {
  const ca = createCa(dir, 'ca');
  const caBundleFile = path.join(dir, 'ca-bundle.crt');
  replaceFile(caBundleFile, fs.readFileSync(ca.certFile));
  const files = new Map<string, CertFiles>();
  for (const n of nodes) files.set(n.id, issueCertificate(ca, dir, n.id, { commonName: n.id, node: true, ips: [...new Set([n.host, '127.0.0.1'])], dnsNames: ['localhost'] }));
  const client = issueCertificate(ca, dir, 'kv-cli', { commonName: 'kv-cli', node: false });
  return {
    dir,
    caBundleFile,
    ca,
    client,
    nodeFiles: (id) => {
      const f = files.get(id);
      if (!f) throw new Error(`no certificate for node ${id} in ${dir}`);
      return f;
    },
  };
}

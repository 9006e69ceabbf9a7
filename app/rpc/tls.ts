/**
 * TLS for the node's port and for every channel to it: certificate files read, checked and
 * re-read when they change (rotation without restart), server credentials that ask for an
 * optional client certificate, and channel credentials that present one and add a bearer token.
 *
 * A node certificate is one that chains to the cluster CA and carries the URI SAN NODE_CERT_URI;
 * only such a certificate opens the peer service (app/rpc/access.ts).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { Logger, silentLogger } from '../../observability/log';

/** The URI SAN that marks a certificate as a node's (cert-manager: `uris: [urn:dynamo-kv:node]`). */
export const NODE_CERT_URI = 'urn:dynamo-kv:node';

/** How often certificate files are re-read by default, in milliseconds. */
export const TLS_RELOAD_INTERVAL_MS_DEFAULT = 5_000;

/** Bytes of one certificate, key or CA file at most. */
export const TLS_FILE_BYTES_MAX = 1024 * 1024;

export interface TlsFiles {
  /** PEM bundle of the CAs trusted for peers, servers and client certificates. */
  readonly caFile: string;
  /** PEM certificate (chain) presented; with keyFile, or neither. */
  readonly certFile?: string;
  readonly keyFile?: string;
}

/** How a client reaches a node: TLS files (undefined: plaintext) and a bearer token. */
export interface ClientSecurity {
  readonly tls?: TlsFiles;
  /** Sent as `authorization: Bearer <token>` on every call. */
  readonly token?: string;
}

interface Loaded {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

function readBounded(file: string, what: string): Buffer {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch (e) {
    throw new Error(`${what} ${file}: cannot read it (${(e as Error).message})`, { cause: e });
  }
  if (size > TLS_FILE_BYTES_MAX) throw new Error(`${what} ${file}: ${size} bytes exceed the limit of ${TLS_FILE_BYTES_MAX} (TLS_FILE_BYTES_MAX)`);
  return fs.readFileSync(file);
}

/** Reads the files. */
function read(files: TlsFiles): Loaded {
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) throw new Error(`TLS: certificate file and key file go together; got ${files.certFile === undefined ? 'only the key' : 'only the certificate'}`);
  return {
    ca: readBounded(files.caFile, 'CA file'),
    cert: files.certFile === undefined ? undefined : readBounded(files.certFile, 'certificate file'),
    key: files.keyFile === undefined ? undefined : readBounded(files.keyFile, 'key file'),
  };
}

/** Checks that files read make a TLS context (the key matches the certificate). */
function checked(files: TlsFiles, loaded: Loaded): Loaded {
  try {
    tls.createSecureContext({ ca: loaded.ca, cert: loaded.cert, key: loaded.key });
  } catch (e) {
    throw new Error(`TLS files ${[files.caFile, files.certFile, files.keyFile].filter(Boolean).join(', ')} do not make a TLS context: ${(e as Error).message}`, { cause: e });
  }
  return loaded;
}

function same(a: Loaded, b: Loaded): boolean {
  return a.ca.equals(b.ca) && (a.cert ?? Buffer.alloc(0)).equals(b.cert ?? Buffer.alloc(0)) && (a.key ?? Buffer.alloc(0)).equals(b.key ?? Buffer.alloc(0));
}

/**
 * The TLS files, re-read every reloadIntervalMs. A change is taken once the files together make a
 * valid context (a certificate written before its key is not); until then the last good ones
 * stay, so a half-written rotation never stops the node from taking connections. New connections
 * use the new files; open ones keep theirs until they close.
 */
export class TlsFileWatcher implements grpc.experimental.CertificateProvider {
  private current: Loaded;
  private readonly caListeners = new Set<grpc.experimental.CaCertificateUpdateListener>();
  private readonly identityListeners = new Set<grpc.experimental.IdentityCertificateUpdateListener>();
  private readonly changeListeners = new Set<() => void>();
  private readonly timer: NodeJS.Timeout;
  private failing = false;

  /** Throws, naming the file, when the files cannot be read or do not make a TLS context. */
  constructor(
    readonly files: TlsFiles,
    reloadIntervalMs: number = TLS_RELOAD_INTERVAL_MS_DEFAULT,
    private readonly log: Logger = silentLogger,
  ) {
    this.current = checked(files, read(files));
    this.timer = setInterval(() => this.reload(), reloadIntervalMs);
    this.timer.unref();
  }

  /** Re-reads the files now; resolves whether they changed (and were taken). */
  reload(): boolean {
    let next: Loaded;
    try {
      next = read(this.files);
      // Unchanged files (every round but a rotation's) are not checked again.
      if (same(next, this.current)) {
        this.failing = false;
        return false;
      }
      next = checked(this.files, next);
    } catch (e) {
      if (!this.failing) this.log.warn('TLS files not reloaded: keeping the previous ones', { error: (e as Error).message });
      this.failing = true;
      return false;
    }
    this.failing = false;
    this.current = next;
    this.log.info('TLS files reloaded: new connections use them', { files: [this.files.caFile, this.files.certFile, this.files.keyFile].filter(Boolean) });
    for (const l of this.caListeners) l({ caCertificate: next.ca });
    if (next.cert && next.key) for (const l of this.identityListeners) l({ certificate: next.cert, privateKey: next.key });
    for (const l of this.changeListeners) l();
    return true;
  }

  /** The options of a TLS context from the current files. */
  contextOptions(): tls.SecureContextOptions {
    return { ca: this.current.ca, cert: this.current.cert, key: this.current.key };
  }

  onChange(listener: () => void): void {
    this.changeListeners.add(listener);
  }

  get hasIdentity(): boolean {
    return this.current.cert !== undefined;
  }

  // grpc-js reads the first update after it has registered: it comes in a microtask.
  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(listener);
    const ca = this.current.ca;
    queueMicrotask(() => this.caListeners.has(listener) && listener({ caCertificate: ca }));
  }

  removeCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(listener);
    const { cert, key } = this.current;
    queueMicrotask(() => this.identityListeners.has(listener) && listener(cert && key ? { certificate: cert, privateKey: key } : null));
  }

  removeIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(listener);
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/**
 * Server credentials from the watcher: TLS with its certificate; a client certificate is asked
 * for but not required (clients may use tokens instead), and one that does not chain to the CA
 * gives the call no identity (grpc-js reports a peer certificate only for an authorized socket).
 * A reload applies to connections accepted after it.
 */
class ReloadingServerCredentials extends grpc.ServerCredentials {
  constructor(watcher: TlsFileWatcher) {
    super({ requestCert: true, rejectUnauthorized: false }, watcher.contextOptions());
    watcher.onChange(() => this.updateSecureContextOptions(watcher.contextOptions()));
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

export function serverCredentials(watcher: TlsFileWatcher | undefined): grpc.ServerCredentials {
  if (!watcher) return grpc.ServerCredentials.createInsecure();
  if (!watcher.hasIdentity) throw new Error(`TLS on the server needs a certificate and key; only the CA file ${watcher.files.caFile} was given`);
  return new ReloadingServerCredentials(watcher);
}

/** Whether a peer certificate (as Node reports it) carries the node marker. */
export function isNodeCertificate(cert: tls.PeerCertificate | undefined): boolean {
  if (!cert || typeof cert.subjectaltname !== 'string') return false;
  return cert.subjectaltname.split(',').some((s) => s.trim() === `URI:${NODE_CERT_URI}`);
}

/** One watcher per set of files in a process: the client library opens a channel per node. */
const watchers = new Map<string, TlsFileWatcher>();

export function sharedWatcher(files: TlsFiles, reloadIntervalMs?: number, log?: Logger): TlsFileWatcher {
  const id = JSON.stringify([files.caFile, files.certFile, files.keyFile]);
  let w = watchers.get(id);
  if (!w) {
    w = new TlsFileWatcher(files, reloadIntervalMs, log);
    watchers.set(id, w);
  }
  return w;
}

/** The `authorization` metadata entry added to every call when a token is given. */
export const AUTHORIZATION_METADATA = 'authorization';

function tokenInterceptor(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(AUTHORIZATION_METADATA, `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

/**
 * The TLS server name sent when the address is an IP: TLS forbids an IP there (Node warns, DEP0123,
 * on every process), and the node does not look at it. The certificate is still checked against
 * the IP dialed.
 */
const SERVER_NAME_FOR_IP = 'kv-node.invalid';

function hostOf(address: string): string {
  const m = /^\[([^\]]+)\]:\d+$/.exec(address);
  if (m) return m[1]!;
  const colon = address.lastIndexOf(':');
  return colon > 0 && address.indexOf(':') === colon ? address.slice(0, colon) : address;
}

/**
 * The credentials and client options of a channel to `address`. With `requireNode` (one node to
 * another), the server must present a node certificate besides the usual host name check.
 */
export function channelSecurity(security: ClientSecurity | undefined, options: { address?: string; requireNode?: boolean } = {}): { credentials: grpc.ChannelCredentials; clientOptions: grpc.ClientOptions } {
  const clientOptions: grpc.ClientOptions = security?.token ? { interceptors: [tokenInterceptor(security.token)] } : {};
  if (!security?.tls) return { credentials: grpc.credentials.createInsecure(), clientOptions };
  const watcher = sharedWatcher(security.tls);
  const host = options.address === undefined ? undefined : hostOf(options.address);
  const ip = host !== undefined && net.isIP(host) !== 0;
  if (ip) clientOptions['grpc.ssl_target_name_override'] = SERVER_NAME_FOR_IP;
  const checkServerIdentity =
    options.requireNode || ip
      ? (named: string, cert: tls.PeerCertificate): Error | undefined => {
          const dialed = ip ? host! : named;
          const e = tls.checkServerIdentity(dialed, cert);
          if (e) return e;
          if (!options.requireNode || isNodeCertificate(cert)) return undefined;
          return new Error(`${dialed} presented a certificate without the node marker (URI SAN ${NODE_CERT_URI}): not a node of this cluster`);
        }
      : undefined;
  return { credentials: grpc.experimental.createCertificateProviderChannelCredentials(watcher, watcher.hasIdentity ? watcher : null, { checkServerIdentity }), clientOptions };
}

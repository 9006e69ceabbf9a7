/**
 * Who may call what on the node's port. The peer service (kv.v1.Peer) is for nodes only once TLS
 * is on: the connection must have presented a certificate that chains to the cluster CA and
 * carries the node marker (./tls.ts NODE_CERT_URI). The client services (kv.v1.KV, kv.v1.Backup)
 * need a known client once a client auth file is given: a bearer token whose hash is listed, or a
 * client certificate whose common name is listed; a node certificate counts as an admin. Health
 * and reflection stay open (probes). Denials are statuses: UNAUTHENTICATED names what was missing,
 * PERMISSION_DENIED names the role or the prefix rule that refused.
 */
import * as fs from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { Logger, silentLogger } from '../../observability/log';
import { Access, ClientAuthTable, ClientEntry, clientByCommonName, clientByToken, keyForMessage, parseClientAuth, prefixAllows, roleAllows, roleNeeded } from '../api/client-auth';
import { AUTHORIZATION_METADATA, isNodeCertificate, NODE_CERT_URI } from './tls';

/** How often the client auth file is re-read by default, in milliseconds. */
export const CLIENT_AUTH_RELOAD_INTERVAL_MS_DEFAULT = 5_000;

export type Denial = { readonly code: grpc.status; readonly details: string };

/** The caller of a client method, once known. */
export interface Caller {
  readonly name: string;
  readonly entry: Pick<ClientEntry, 'role' | 'prefixes' | 'prefixesText'>;
}

/** Everyone may do everything: TLS off, no client auth file (the local default). */
const OPEN: Caller = { name: 'anyone', entry: { role: 'admin', prefixes: [], prefixesText: [] } };

/** Reads the client auth file now and whenever it changes; a bad new file keeps the old table. */
export class ClientAuthFile {
  private table: ClientAuthTable;
  private text: string;
  private readonly timer: NodeJS.Timeout;

  /** Throws with the parser's message (file, line, field) when the file is bad at start. */
  constructor(
    readonly file: string,
    reloadIntervalMs: number = CLIENT_AUTH_RELOAD_INTERVAL_MS_DEFAULT,
    private readonly log: Logger = silentLogger,
  ) {
    this.text = fs.readFileSync(file, 'utf8');
    const parsed = parseClientAuth(this.text, file);
    if (!parsed.ok) throw new Error(parsed.error);
    this.table = parsed.value;
    this.timer = setInterval(() => this.reload(), reloadIntervalMs);
    this.timer.unref();
  }

  get current(): ClientAuthTable {
    return this.table;
  }

  /** Re-reads the file; answers whether a new table was taken. */
  reload(): boolean {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      this.log.warn('client auth file not reloaded: keeping the previous clients', { file: this.file, error: (e as Error).message });
      return false;
    }
    if (text === this.text) return false;
    this.text = text;
    const parsed = parseClientAuth(text, this.file);
    if (!parsed.ok) {
      this.log.error('client auth file not reloaded: keeping the previous clients', { error: parsed.error });
      return false;
    }
    this.table = parsed.value;
    this.log.info('client auth file reloaded', { file: this.file, clients: parsed.value.entries.length });
    return true;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

export interface AccessOptions {
  /** TLS is on: the peer service needs a node certificate. */
  readonly tls: boolean;
  /** Clients must be listed here; undefined: the client services are open. */
  readonly clients?: ClientAuthFile;
}

type AnyCall = { metadata: grpc.Metadata; getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null; getPath(): string };

function method(call: AnyCall): string {
  return call.getPath().replace(/^\//, '');
}

function commonName(cert: PeerCertificate): string | undefined {
  const cn = (cert.subject as unknown as Record<string, string | string[]> | undefined)?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

export class AccessControl {
  constructor(private readonly options: AccessOptions) {}

  static open(): AccessControl {
    return new AccessControl({ tls: false });
  }

  /** Undefined when the call may use the peer service. */
  peer(call: AnyCall): Denial | undefined {
    if (!this.options.tls) return undefined;
    const cert = call.getAuthContext()?.sslPeerCertificate;
    if (isNodeCertificate(cert)) return undefined;
    const what = cert ? `a certificate (CN=${commonName(cert) ?? '?'}) without the node marker (URI SAN ${NODE_CERT_URI})` : 'no client certificate that chains to the cluster CA';
    return { code: grpc.status.UNAUTHENTICATED, details: `${method(call)} is for nodes only: it needs a node certificate (signed by the cluster CA, URI SAN ${NODE_CERT_URI}); this connection presented ${what}` };
  }

  /** The caller of a client method that needs `access`, or why not. */
  client(call: AnyCall, access: Access): { caller: Caller } | { denial: Denial } {
    const clients = this.options.clients;
    if (!clients) return { caller: OPEN };
    const found = this.identify(call, clients.current);
    if ('denial' in found) return found;
    const { caller } = found;
    if (!roleAllows(caller.entry.role, access)) {
      return { denial: { code: grpc.status.PERMISSION_DENIED, details: `client ${caller.name} has role ${caller.entry.role}; ${method(call)} needs ${roleNeeded(access)} or above` } };
    }
    return found;
  }

  private identify(call: AnyCall, table: ClientAuthTable): { caller: Caller } | { denial: Denial } {
    const header = call.metadata.get(AUTHORIZATION_METADATA);
    if (header.length > 0) {
      const value = String(header[0]);
      const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
      if (header.length > 1 || !m) return { denial: { code: grpc.status.UNAUTHENTICATED, details: `${AUTHORIZATION_METADATA}: expected one "Bearer <token>" entry, got ${header.length > 1 ? `${header.length} entries` : 'another scheme'}` } };
      const entry = clientByToken(table, m[1]!);
      if (!entry) return { denial: { code: grpc.status.UNAUTHENTICATED, details: `${AUTHORIZATION_METADATA}: the bearer token matches no client in the client auth file` } };
      return { caller: { name: JSON.stringify(entry.name), entry } };
    }
    const cert = call.getAuthContext()?.sslPeerCertificate;
    if (cert) {
      if (isNodeCertificate(cert)) return { caller: { name: `node ${JSON.stringify(commonName(cert) ?? '?')}`, entry: OPEN.entry } };
      const cn = commonName(cert);
      const entry = cn === undefined ? undefined : clientByCommonName(table, cn);
      if (!entry) return { denial: { code: grpc.status.UNAUTHENTICATED, details: `client certificate CN=${cn ?? '(none)'} is signed by the cluster CA but no client in the client auth file has that certificateCommonName` } };
      return { caller: { name: JSON.stringify(entry.name), entry } };
    }
    return { denial: { code: grpc.status.UNAUTHENTICATED, details: `${method(call)} needs client credentials: an "${AUTHORIZATION_METADATA}: Bearer <token>" metadata entry or a client certificate signed by the cluster CA; the call presented neither` } };
  }

  /**
   * The caller of a method that reads or writes every key (kv.v1.Backup): an admin without a
   * prefix rule, since a snapshot or a restore cannot be limited to some keys.
   */
  everyKey(call: AnyCall): { caller: Caller } | { denial: Denial } {
    const who = this.client(call, 'admin');
    if ('denial' in who || who.caller.entry.prefixes.length === 0) return who;
    return { denial: { code: grpc.status.PERMISSION_DENIED, details: `client ${who.caller.name} may use keys starting with ${who.caller.entry.prefixesText.map((p) => JSON.stringify(p)).join(' or ')} only (its prefixes rule); ${method(call)} reads or writes every key` } };
  }

  /** Undefined when the caller may use the key. */
  key(caller: Caller, key: Uint8Array): Denial | undefined {
    if (prefixAllows(caller.entry, key)) return undefined;
    return { code: grpc.status.PERMISSION_DENIED, details: `client ${caller.name} may use keys starting with ${caller.entry.prefixesText.map((p) => JSON.stringify(p)).join(' or ')} only (its prefixes rule); key ${keyForMessage(key)} is outside them` };
  }
}

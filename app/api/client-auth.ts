/**
 * Client authorization: who may call which client method on which keys. Pure: the client auth
 * file's parser, the role table and the prefix rule; the RPC layer (app/rpc/access.ts) finds the
 * caller's identity (bearer token or client certificate) and asks here.
 *
 * The file holds one JSON object a line (blank lines and lines starting with # are skipped):
 *   {"name": "reporting", "role": "read-only", "tokenSha256": "<64 hex digits>", "prefixes": ["reports/"]}
 *   {"name": "web", "role": "read-write", "certificateCommonName": "web-client"}
 * Only the SHA-256 of a token is stored (`printf %s "$TOKEN" | sha256sum`), never the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Result, ok, err } from '../errors';

/** read-only: Get, Status. read-write: also Put, Delete and writes in Batch. admin: also Inspect, Admin and kv.v1.Backup. */
export type ClientRole = 'read-only' | 'read-write' | 'admin';
export const CLIENT_ROLES: readonly ClientRole[] = ['read-only', 'read-write', 'admin'];

/** What a method needs: reading keys, writing them, or operating the cluster. */
export type Access = 'read' | 'write' | 'admin';

const RANK: Readonly<Record<ClientRole, number>> = { 'read-only': 0, 'read-write': 1, admin: 2 };
const NEEDS: Readonly<Record<Access, ClientRole>> = { read: 'read-only', write: 'read-write', admin: 'admin' };

/** Lines in one client auth file at most. */
export const CLIENT_AUTH_LINES_MAX = 10_000;
/** Bytes of one client auth file at most. */
export const CLIENT_AUTH_FILE_BYTES_MAX = 4 * 1024 * 1024;
/** Prefixes one client may be given at most. */
export const CLIENT_PREFIXES_MAX = 64;
/** A prefix written `base64:...` is bytes; any other is the UTF-8 of the text. */
export const BASE64_PREFIX_MARK = 'base64:';

export interface ClientEntry {
  readonly name: string;
  readonly role: ClientRole;
  /** Keys the client may use start with one of these; empty: every key. */
  readonly prefixes: readonly Uint8Array[];
  /** The prefixes as written in the file, for error messages. */
  readonly prefixesText: readonly string[];
  readonly tokenSha256?: Buffer;
  readonly certificateCommonName?: string;
}

export interface ClientAuthTable {
  readonly entries: readonly ClientEntry[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const FIELDS = new Set(['name', 'role', 'prefixes', 'tokenSha256', 'certificateCommonName']);

/**
 * Parses a client auth file. A bad file is an error naming the source, the line, the field and
 * what was wrong; nothing of it is used.
 */
export function parseClientAuth(text: string, source: string): Result<ClientAuthTable, string> {
  if (Buffer.byteLength(text) > CLIENT_AUTH_FILE_BYTES_MAX) return err(`${source}: ${Buffer.byteLength(text)} bytes exceed the limit of ${CLIENT_AUTH_FILE_BYTES_MAX} (CLIENT_AUTH_FILE_BYTES_MAX)`);
  const lines = text.split('\n');
  const entries: ClientEntry[] = [];
  const names = new Set<string>();
  const tokens = new Set<string>();
  const commonNames = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const at = `${source} line ${i + 1}`;
    if (entries.length >= CLIENT_AUTH_LINES_MAX) return err(`${at}: more than ${CLIENT_AUTH_LINES_MAX} clients (CLIENT_AUTH_LINES_MAX)`);
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      return err(`${at}: not a JSON object (${(e as Error).message})`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return err(`${at}: not a JSON object`);
    const o = raw as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!FIELDS.has(k)) return err(`${at}: unknown field ${JSON.stringify(k)}; the fields are ${[...FIELDS].join(', ')}`);
    if (typeof o.name !== 'string' || !NAME.test(o.name)) return err(`${at}: name ${JSON.stringify(o.name)} is not 1-128 of [A-Za-z0-9._:@-]`);
    if (names.has(o.name)) return err(`${at}: name ${JSON.stringify(o.name)} appears twice`);
    names.add(o.name);
    if (typeof o.role !== 'string' || !(CLIENT_ROLES as readonly string[]).includes(o.role)) return err(`${at}: role ${JSON.stringify(o.role)} is not one of ${CLIENT_ROLES.join(', ')}`);
    let tokenSha256: Buffer | undefined;
    if (o.tokenSha256 !== undefined) {
      if (typeof o.tokenSha256 !== 'string' || !SHA256_HEX.test(o.tokenSha256)) return err(`${at}: tokenSha256 ${JSON.stringify(o.tokenSha256)} is not 64 lowercase hex digits (the SHA-256 of the token: printf %s "$TOKEN" | sha256sum)`);
      if (tokens.has(o.tokenSha256)) return err(`${at}: tokenSha256 is the same as another client's`);
      tokens.add(o.tokenSha256);
      tokenSha256 = Buffer.from(o.tokenSha256, 'hex');
    }
    let certificateCommonName: string | undefined;
    if (o.certificateCommonName !== undefined) {
      if (typeof o.certificateCommonName !== 'string' || o.certificateCommonName === '' || o.certificateCommonName.length > 256) return err(`${at}: certificateCommonName ${JSON.stringify(o.certificateCommonName)} is not a text of 1-256 characters`);
      if (commonNames.has(o.certificateCommonName)) return err(`${at}: certificateCommonName ${JSON.stringify(o.certificateCommonName)} appears twice`);
      commonNames.add(o.certificateCommonName);
      certificateCommonName = o.certificateCommonName;
    }
    if (tokenSha256 === undefined && certificateCommonName === undefined) return err(`${at}: client ${o.name} has neither tokenSha256 nor certificateCommonName: give one or both`);
    const prefixes: Uint8Array[] = [];
    const prefixesText: string[] = [];
    if (o.prefixes !== undefined) {
      if (!Array.isArray(o.prefixes)) return err(`${at}: prefixes is not a list of texts`);
      if (o.prefixes.length === 0) return err(`${at}: prefixes is empty, which would allow no key; leave it out to allow every key`);
      if (o.prefixes.length > CLIENT_PREFIXES_MAX) return err(`${at}: prefixes has ${o.prefixes.length} entries, the limit is ${CLIENT_PREFIXES_MAX} (CLIENT_PREFIXES_MAX)`);
      for (const [j, p] of o.prefixes.entries()) {
        if (typeof p !== 'string' || p === '') return err(`${at}: prefixes[${j}] ${JSON.stringify(p)} is not a non-empty text`);
        const bytes = p.startsWith(BASE64_PREFIX_MARK) ? Buffer.from(p.slice(BASE64_PREFIX_MARK.length), 'base64') : Buffer.from(p, 'utf8');
        if (bytes.length === 0 || (p.startsWith(BASE64_PREFIX_MARK) && bytes.toString('base64').replace(/=+$/, '') !== p.slice(BASE64_PREFIX_MARK.length).replace(/=+$/, ''))) {
          return err(`${at}: prefixes[${j}] ${JSON.stringify(p)} is not valid non-empty base64 after "${BASE64_PREFIX_MARK}"`);
        }
        prefixes.push(bytes);
        prefixesText.push(p);
      }
    }
    entries.push({ name: o.name, role: o.role as ClientRole, prefixes, prefixesText, tokenSha256, certificateCommonName });
  }
  return ok({ entries });
}

/**
 * The client whose token this is. The token is hashed and compared with every entry's hash in
 * constant time (no early exit), so the time taken says nothing about which hash came close.
 */
export function clientByToken(table: ClientAuthTable, token: string): ClientEntry | undefined {
  const hash = createHash('sha256').update(token, 'utf8').digest();
  let found: ClientEntry | undefined;
  for (const e of table.entries) {
    if (e.tokenSha256 !== undefined && timingSafeEqual(hash, e.tokenSha256) && found === undefined) found = e;
  }
  return found;
}

export function clientByCommonName(table: ClientAuthTable, commonName: string): ClientEntry | undefined {
  return table.entries.find((e) => e.certificateCommonName === commonName);
}

/** Whether a role may do what a method needs. */
export function roleAllows(role: ClientRole, access: Access): boolean {
  return RANK[role] >= RANK[NEEDS[access]];
}

/** The role a method needs at least, for messages. */
export function roleNeeded(access: Access): ClientRole {
  return NEEDS[access];
}

/** Whether the client's prefix rule allows the key. */
export function prefixAllows(entry: Pick<ClientEntry, 'prefixes'>, key: Uint8Array): boolean {
  if (entry.prefixes.length === 0) return true;
  return entry.prefixes.some((p) => p.length <= key.length && Buffer.compare(Buffer.from(key.buffer, key.byteOffset, p.length), Buffer.from(p.buffer, p.byteOffset, p.length)) === 0);
}

/** A key as text for messages: UTF-8 when it is printable, else base64; cut at 64 characters. */
export function keyForMessage(key: Uint8Array): string {
  const text = Buffer.from(key.buffer, key.byteOffset, key.length).toString('utf8');
  // eslint-disable-next-line no-control-regex
  const shown = /^[^\u0000-\u001f\u007f\ufffd]*$/.test(text) ? JSON.stringify(text) : `base64:${Buffer.from(key).toString('base64')}`;
  return shown.length > 64 ? `${shown.slice(0, 61)}...` : shown;
}

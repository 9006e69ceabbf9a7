/**
 * The TLS and token options of the client commands (get, put, delete, status, call, admin, bench,
 * backup, restore): flags, else KV_CLIENT_* variables, else what the running local cluster wrote
 * in its cluster file (kv cluster --tls), when the endpoints came from there too.
 */
import * as fs from 'node:fs';
import type { ClientSecurity, TlsFiles } from '../rpc/tls';
import { CliError } from './cli-error';

export const CLIENT_SECURITY_OPTIONS = {
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'token-file': { type: 'string' },
} as const;

/** The variables the options fall back to. */
export const CLIENT_SECURITY_ENV = { 'tls-ca': 'KV_CLIENT_TLS_CA', 'tls-cert': 'KV_CLIENT_TLS_CERT', 'tls-key': 'KV_CLIENT_TLS_KEY', 'token-file': 'KV_CLIENT_TOKEN_FILE' } as const;

export const CLIENT_SECURITY_HELP = `  --tls-ca FILE            TLS: the cluster CA bundle to trust (PEM)        ($KV_CLIENT_TLS_CA)
  --tls-cert FILE          TLS client certificate (PEM), with --tls-key    ($KV_CLIENT_TLS_CERT)
  --tls-key FILE           its private key (PEM)                           ($KV_CLIENT_TLS_KEY)
  --token-file FILE        a bearer token (first line of the file)         ($KV_CLIENT_TOKEN_FILE)
                           (default for all four: what kv cluster --tls wrote in ./data/cluster.json)`;

/** Bytes of a token file at most. */
const TOKEN_FILE_BYTES_MAX = 64 * 1024;

type SecurityFlags = Partial<Record<keyof typeof CLIENT_SECURITY_OPTIONS, string | boolean | undefined>>;

/** The client's security from flags and env; `local`: the local cluster file's, used when nothing is given. */
export function clientSecurity(flags: SecurityFlags, env: NodeJS.ProcessEnv = process.env, local?: ClientSecurity): ClientSecurity | undefined {
  const value = (name: keyof typeof CLIENT_SECURITY_ENV): string | undefined => {
    const f = flags[name];
    if (typeof f === 'string') return f;
    const e = env[CLIENT_SECURITY_ENV[name]];
    return e === undefined || e === '' ? undefined : e;
  };
  const ca = value('tls-ca');
  const cert = value('tls-cert');
  const key = value('tls-key');
  const tokenFile = value('token-file');
  if (ca === undefined && cert === undefined && key === undefined && tokenFile === undefined) return local;
  if ((cert === undefined) !== (key === undefined)) throw new CliError(`--tls-cert and --tls-key go together (or ${CLIENT_SECURITY_ENV['tls-cert']} and ${CLIENT_SECURITY_ENV['tls-key']}); got only ${cert === undefined ? '--tls-key' : '--tls-cert'}`);
  if (cert !== undefined && ca === undefined) throw new CliError('--tls-cert needs --tls-ca (the cluster CA the node\'s certificate chains to)');
  const tls: TlsFiles | undefined = ca === undefined ? undefined : { caFile: ca, certFile: cert, keyFile: key };
  let token: string | undefined;
  if (tokenFile !== undefined) {
    try {
      if (fs.statSync(tokenFile).size > TOKEN_FILE_BYTES_MAX) throw new Error(`larger than ${TOKEN_FILE_BYTES_MAX} bytes`);
      token = fs.readFileSync(tokenFile, 'utf8').split('\n')[0]!.trim();
    } catch (e) {
      throw new CliError(`--token-file ${tokenFile}: cannot read the token (${(e as Error).message})`);
    }
    if (token === '' || /\s/.test(token)) throw new CliError(`--token-file ${tokenFile}: the first line is not a token (empty, or has spaces)`);
  }
  return { tls, token };
}

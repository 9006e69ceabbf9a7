/**
 * The node's TLS and client authorization, built once from its config: the certificate files
 * (re-read on change), who may call what (app/rpc/access.ts), and the credentials its own
 * channels use (peers, seeds, a gateway's upstream: this node's certificate as a client one).
 */
import { Logger } from '../../observability/log';
import { AccessControl, ClientAuthFile } from '../rpc/access';
import { ClientSecurity, sharedWatcher, TlsFileWatcher } from '../rpc/tls';
import { ConfigError, NodeConfig } from './config';

export interface NodeSecurity {
  readonly tls?: TlsFileWatcher;
  readonly access: AccessControl;
  /** What this node's own channels present; undefined: plaintext. */
  readonly outbound?: ClientSecurity;
  close(): void;
}

/** Throws ConfigError naming the file when a TLS file or the client auth file is bad. */
export function nodeSecurity(config: NodeConfig, log: Logger): NodeSecurity {
  let tls: TlsFileWatcher | undefined;
  let clients: ClientAuthFile | undefined;
  try {
    if (config.tlsCaFile !== undefined && config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined) {
      tls = sharedWatcher({ caFile: config.tlsCaFile, certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }, config.tlsReloadIntervalMs, log);
    }
    if (config.clientAuthFile !== undefined) clients = new ClientAuthFile(config.clientAuthFile, config.tlsReloadIntervalMs, log);
  } catch (e) {
    tls?.close();
    throw new ConfigError((e as Error).message);
  }
  if (!tls) log.info('TLS off: the peer service (kv.v1.Peer) is open to anyone who reaches the port (README, threat model)');
  return {
    tls,
    access: new AccessControl({ tls: tls !== undefined, clients }),
    outbound: tls ? { tls: tls.files } : undefined,
    close: () => {
      tls?.close();
      clients?.close();
    },
  };
}

/**
 * Which nodes a client command talks to when it is not told: `--endpoint`, else the KV_ENDPOINTS
 * variable, else the local cluster that `kv cluster` runs with its default data directory (it
 * writes its endpoints to ./data/cluster.json while it runs), else the default local cluster's
 * five addresses. A client fails over between them, so one node being down does not matter.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { intDefault } from '../node/config';
import { CliError } from './cli-error';
import type { ClientSecurity } from '../rpc/tls';

/** The local cluster's defaults (kv cluster). */
export const LOCAL_CLUSTER_NODES_DEFAULT = 5;
/** kv-1 listens on the node's default port, its metrics on the node's default metrics port. */
export const LOCAL_CLUSTER_BASE_PORT_DEFAULT = intDefault('port');
export const LOCAL_CLUSTER_METRICS_BASE_PORT_DEFAULT = intDefault('metricsPort');
export const LOCAL_CLUSTER_DATA_DEFAULT = './data';
/** The file a running `kv cluster` keeps in its data directory: its endpoints and pid. */
export const CLUSTER_FILE_NAME = 'cluster.json';

export interface ClusterFile {
  readonly endpoints: readonly string[];
  readonly pid: number;
  /** kv cluster --tls: the files a client uses (the CA, and the CLI's client certificate and key). */
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
}

export interface Endpoints {
  readonly endpoints: string[];
  /** Where they came from, for error messages. */
  readonly source: string;
  /** The local cluster's TLS files, when the endpoints came from its cluster file. */
  readonly security?: ClientSecurity;
}

const HOST_PORT = /^[^\s:,]+:\d{1,5}$/;

export function parseEndpointList(text: string, source: string): string[] {
  const endpoints = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (endpoints.length === 0) throw new CliError(`${source}: ${JSON.stringify(text)} names no endpoint; give host:port[,host:port...]`);
  for (const e of endpoints) {
    const port = Number(e.slice(e.lastIndexOf(':') + 1));
    if (!HOST_PORT.test(e) || port < 1 || port > 65535) throw new CliError(`${source}: ${JSON.stringify(e)} is not host:port (port 1..65535)`);
  }
  return endpoints;
}

export function defaultEndpoints(): string[] {
  return Array.from({ length: LOCAL_CLUSTER_NODES_DEFAULT }, (_, i) => `127.0.0.1:${LOCAL_CLUSTER_BASE_PORT_DEFAULT + i}`);
}

export function resolveEndpoints(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Endpoints {
  if (flag !== undefined) return { endpoints: parseEndpointList(flag, '--endpoint'), source: '--endpoint' };
  if (env.KV_ENDPOINTS) return { endpoints: parseEndpointList(env.KV_ENDPOINTS, 'KV_ENDPOINTS'), source: 'KV_ENDPOINTS' };
  const file = path.join(cwd, LOCAL_CLUSTER_DATA_DEFAULT, CLUSTER_FILE_NAME);
  const written = readClusterFile(file);
  if (written) return { endpoints: [...written.endpoints], source: `the local cluster's ${path.relative(cwd, file)}`, security: written.tls && { tls: written.tls } };
  return { endpoints: defaultEndpoints(), source: "the default local cluster's addresses" };
}

function readClusterFile(file: string): ClusterFile | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as ClusterFile;
    return { endpoints: parseEndpointList(parsed.endpoints.join(','), file), pid: parsed.pid, tls: parsed.tls };
  } catch (e) {
    throw new CliError(`${file} is not a cluster file written by kv cluster (${e instanceof CliError ? e.message : (e as Error).message}); remove it, or give --endpoint`);
  }
}

export function writeClusterFile(dataDir: string, contents: ClusterFile): string {
  const file = path.join(dataDir, CLUSTER_FILE_NAME);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(contents)}\n`);
  return file;
}

/** Removes the cluster file if it is this process's. */
export function removeClusterFile(dataDir: string): void {
  const file = path.join(dataDir, CLUSTER_FILE_NAME);
  try {
    if ((JSON.parse(fs.readFileSync(file, 'utf8')) as ClusterFile).pid === process.pid) fs.rmSync(file);
  } catch {
    // Already gone, or not ours.
  }
}

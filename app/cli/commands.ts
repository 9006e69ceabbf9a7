/**
 * The `kv` commands: cluster, node, get, put, delete, status (bench lives in ./bench.ts).
 * Each parses its own flags strictly (an unknown flag is an error) and prints one clear line on
 * failure.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { AdminReply, InspectReply, KvClient, KvClientError } from '../client/client';
import { ChangeKind, commitAlone, stageOnce, Watch, watchChange } from './admin-wait';
import type { AdminRequest } from '../rpc/generated/kv/v1/AdminRequest';
import { ecsLogger, Logger } from '../../observability/log';
import { ConfigError, enumSetting, intSetting, parseNodeConfig, settingDefault, settingsHelp } from '../node/config';
import { LocalCluster, STOP_TIMEOUT_MS } from '../local/local-cluster';
import { createLocalTls, LocalTls } from '../local/certificates';
import { KvNode } from '../node/node';
import { KvGateway } from '../gateway/gateway';
import { CliError } from './cli-error';
import { jsonCall, UNARY_METHODS } from '../rpc/json-call';
import type { ClientSecurity } from '../rpc/tls';
import { CLIENT_SECURITY_HELP, CLIENT_SECURITY_OPTIONS, clientSecurity } from './security';
import {
  LOCAL_CLUSTER_BASE_PORT_DEFAULT,
  LOCAL_CLUSTER_DATA_DEFAULT,
  LOCAL_CLUSTER_METRICS_BASE_PORT_DEFAULT,
  LOCAL_CLUSTER_NODES_DEFAULT,
  removeClusterFile,
  resolveEndpoints,
  writeClusterFile,
} from './endpoints';
import { ControlAnswer, ControlRequest, controlSocketPath, sendControl, serveControl } from '../local/control';
import { ALERTMANAGER_PORT_DEFAULT, LocalMonitor, PROMETHEUS_PORT_DEFAULT } from '../local/monitor';
import { CHAOS_CHECK_USAGE, chaosCheckCommand } from '../../chaos/checker/command';
import { CHAOS_RUN_USAGE, chaosRunCommand } from '../../chaos/local/command';

/** The default local cluster's client addresses, as help texts name them. */
const DEFAULT_RANGE = `127.0.0.1:${LOCAL_CLUSTER_BASE_PORT_DEFAULT}..${LOCAL_CLUSTER_BASE_PORT_DEFAULT + LOCAL_CLUSTER_NODES_DEFAULT - 1}`;

export const USAGE = `kv: a Dynamo-style key-value store

Usage:
  kv cluster [options]                Start a local cluster of node processes (npm start runs it).
  kv cluster restart|stop <node>      Restart or stop one node of the running local cluster.
  kv node [settings]                  Run one node (settings: flags or KV_* variables).
  kv put <key> <value|->              Write a value (- reads it from stdin).
  kv get <key>                        Read: the value, or every sibling, and the context.
  kv get <key> --replicas             What each replica holds: siblings, dots, clock, hints.
  kv delete <key>                     Delete what a read returns (or what --context names).
  kv status                           Members, partitions, reachability, hints.
  kv admin join|leave|remove|plan|commit   Membership changes (staged, then committed).
  kv call <Method> [json|-]           Call the gRPC API with JSON, bytes in base64 (as grpcurl).
  kv bench [options]                  Load a running cluster (or etcd) and print figures.
  kv bench compare [options]          The store and etcd side by side: starts both, one table.
  kv floor [options]                  The transport's own cost, to compare with bench.
  kv backup [verify|list|prune]       Back up the cluster to S3; check, list and prune backups.
  kv restore [ID|latest]              Merge a backup into a running cluster (any size).
  kv k8s zone|pre-stop|context-keys   What the store's Kubernetes pods run: zone lookup, preStop hook,
                                      the context keys Secret.
  kv chaos <experiment|suite>         Run chaos experiments on a local cluster; writes a report.
  kv chaos check [options]            Drive a cluster with checked workloads, then judge it.

Every command takes --help. Client commands (put, get, delete, status) talk to
--endpoint host:port[,host:port...], else $KV_ENDPOINTS, else the running local cluster
(./data/cluster.json), else ${DEFAULT_RANGE}; they fail over between them. Flags may
come before or after the command: kv --endpoint 127.0.0.1:7002 get k.`;

const CLIENT_HELP = `Client options:
  --endpoint H:P[,H:P...]  nodes to talk to, failing over between them
                           (default: $KV_ENDPOINTS, else the running local cluster's
                           ./data/cluster.json, else ${DEFAULT_RANGE})
  --timeout-ms MS          time budget of one attempt                     (default 5000)
${CLIENT_SECURITY_HELP}`;

export const HELP: Record<string, string> = {
  put: `kv put <key> <value|-> [--context C] [--w W] [--pw PW] [client options]
  Writes the value (- reads it from stdin). Without --context the write is concurrent with
  whatever the key holds and becomes a sibling of it; pass the context a get printed to
  replace what that get returned.
  --context C   the context of the get this write replaces
  --w W         write quorum 1..N, fallbacks holding hints count     (default: the cluster's W)
  --pw PW       of the W, how many must be primaries                 (default 0)
${CLIENT_HELP}`,
  get: `kv get <key> [--r R] [--pr PR] [--json] [client options]
kv get <key> --replicas [--json] [client options]
  Reads the key: its value, or every sibling (concurrent values), and the context to pass
  to the put or delete based on this read. --replicas shows what each replica holds instead
  (no quorum, no merge, no repair).
  --r R         read quorum 1..N                                     (default: the cluster's R)
  --pr PR       of the R, how many must be primaries                 (default 0)
  --json        one JSON object: found, values, context, deleted
${CLIENT_HELP}`,
  delete: `kv delete <key> [--context C] [--w W] [--pw PW] [client options]
  Deletes the key. Without --context it first reads the key and deletes exactly what that
  read returned (every sibling); a value written concurrently survives as a sibling, and the
  command says so. With --context it deletes what the get that printed the context returned.
  --context C   the context of the get whose values to delete
  --w W         write quorum 1..N                                    (default: the cluster's W)
  --pw PW       of the W, how many must be primaries                 (default 0)
${CLIENT_HELP}`,
  status: `kv status [--json] [client options]
  The answering node's view: members, partitions owned and replicated, reachability,
  suspicion, and the hints it holds for each member.
  --json        the Status answer as one JSON object
${CLIENT_HELP}`,
  call: `kv call <Method> [json|-] [client options]
  Calls one unary method of kv.v1.KV (Get, Put, Delete, Status, Inspect) on the first
  endpoint with a JSON request (- reads it from stdin; none: {}) and prints the JSON answer:
  protobuf's JSON form, as grpcurl speaks it, so bytes fields (key, value, context) are
  base64: echo -n hello | base64 gives aGVsbG8=.
    kv call Put '{"key":"aGVsbG8=","value":"d29ybGQ="}'
    kv call Get '{"key":"aGVsbG8=","r":2}'
    kv call Status
  A failed call prints its gRPC status and message and exits 1.
${CLIENT_HELP}`,
  admin: `kv admin join <id> --address H:P [--zone Z] [client options]
kv admin leave <id> | remove <id> | plan | commit | clear [client options]
kv admin join|leave|remove <id> ... --commit [--wait] [--wait-timeout-s S]
  Membership changes, made on the claimant (the first valid member by id that is up; any
  node names it, and the command goes there). Stage changes, look at the plan, commit:
    join     add a running node started with --join (its address as members reach it)
    leave    a member hands off every partition it holds, then leaves
    remove   a member that is gone for good: its partitions are filled from the other replicas
    plan     the staged changes and the partition replicas they move
    commit   make it so: one change at a time; another commit waits until it is done
    clear    forget the staged changes
  --commit          stage this one change and commit it at once (refused when other changes
                    are staged; waits while another change is in progress)
  --wait            with --commit, or on commit: follow the change until it is done, with a
                    progress bar (lines when not a terminal), the rate and the time left; a
                    leave is done when the member handed off everything and its process exited
  --wait-timeout-s  give up waiting after this many seconds (default 3600); the change goes on
  kv status shows each member's cluster state version and the transfers left.
${CLIENT_HELP}`,
  cluster: `kv cluster [options]
  Starts a local cluster of node processes on 127.0.0.1 and stays in the foreground;
  Ctrl-C stops every node cleanly. Node i listens on base-port+i-1 (metrics on
  metrics-base-port+i-1) and keeps its data and node.log in <data>/kv-i. It fails at once
  if a port it needs is taken.
  --nodes K                 nodes                                          (default 5)
  --base-port P             client and peer port of kv-1                   (default ${LOCAL_CLUSTER_BASE_PORT_DEFAULT})
  --metrics-base-port P     metrics port of kv-1; 0 turns metrics off      (default ${LOCAL_CLUSTER_METRICS_BASE_PORT_DEFAULT})
  --data DIR                data directory                                 (default ./data)
  --n N --r R --w W         replication factor and quorums                 (default ${settingDefault('n')}, ${settingDefault('r')}, ${settingDefault('w')})
  --partitions Q            ring partitions, a power of two                (default ${settingDefault('partitions')})
  --durability D            durable (fsync each commit) | relaxed          (default ${settingDefault('durability')})
  --monitor                 also start a real Prometheus and Alertmanager (Debian's prometheus and
                            prometheus-alertmanager) scraping every node with the rules and alerts
                            the Kubernetes chart ships; their files in <data>/monitor
  --prometheus-port P       with --monitor                                 (default ${PROMETHEUS_PORT_DEFAULT})
  --alertmanager-port P     with --monitor                                 (default ${ALERTMANAGER_PORT_DEFAULT})
  --alert-for D             with --monitor: every alert's for duration, e.g. 10s (default: as shipped)
  --tls                     TLS everywhere: makes a throwaway CA, a certificate for each node and one
                            for the CLI (CN kv-cli) in <data>/tls with the openssl command; nodes
                            talk mutual TLS and refuse kv.v1.Peer to anyone without a node
                            certificate. Client commands find the files in <data>/cluster.json.
  --client-auth-file F      with --tls: every node's --client-auth-file (README, client authorization)

kv cluster restart <node> [--data DIR]
kv cluster stop <node> [--data DIR]
  Ask the running local cluster with that data directory to restart (start again with its
  data; a running node is stopped first) or stop one node, e.g. kv cluster restart kv-3.`,
};

export type Flags = Record<string, string | boolean | undefined>;
export type Options = Record<string, { type: 'string' | 'boolean'; default?: string | boolean; short?: string }>;

/** Parses a command's flags strictly; undefined when --help was asked for (and printed). */
export function parse(argv: readonly string[], options: Options, command: string, positionals: number | readonly [number, number], usage = HELP[command.split(' ')[0]!]) {
  const [min, max] = typeof positionals === 'number' ? [positionals, positionals] : positionals;
  const help = `see kv ${command.split(' ')[0]} --help`;
  let r;
  try {
    r = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h', default: false } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CliError(`kv ${command}: ${(e as Error).message.replace(/\. To specify.*$/s, '')}; ${help}`);
  }
  if (r.values.help) {
    process.stdout.write(`${usage}\n`);
    return undefined;
  }
  if (r.positionals.length < min || r.positionals.length > max) {
    throw new CliError(`kv ${command}: expected ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, got ${r.positionals.length}${r.positionals.length ? ` (${r.positionals.map((p) => JSON.stringify(p)).join(' ')})` : ''}; ${help}`);
  }
  return { flags: r.values as Flags, args: r.positionals };
}

export function int(flags: Flags, name: string, min: number, max: number): number {
  const text = String(flags[name]);
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new CliError(`--${name}: ${JSON.stringify(text)} is not an integer within ${min}..${max}`);
  return n;
}

const CLIENT_OPTIONS = {
  endpoint: { type: 'string' },
  'timeout-ms': { type: 'string', default: '5000' },
  ...CLIENT_SECURITY_OPTIONS,
} as const;

/** Flags every client command takes, which may also come before the command (kv --endpoint E get k). */
export const GLOBAL_FLAGS: ReadonlySet<string> = new Set(Object.keys(CLIENT_OPTIONS));

/** The endpoints and the TLS files and token a client command uses. */
function target(flags: Flags): { endpoints: string[]; source: string; security: ClientSecurity | undefined } {
  const resolved = resolveEndpoints(flags.endpoint as string | undefined);
  return { ...resolved, security: clientSecurity(flags, process.env, resolved.security) };
}

async function withClient<T>(flags: Flags, fn: (c: KvClient) => Promise<T>): Promise<T> {
  const { endpoints, source, security } = target(flags);
  const client = new KvClient({ endpoints, timeoutMs: int(flags, 'timeout-ms', 1, 600000), security });
  try {
    return await fn(client);
  } catch (e) {
    if (e instanceof KvClientError) {
      const hint = e.unreachable
        ? `\nIs the cluster running? npm start (or kv cluster) starts the local one. The addresses came from ${source}; give others with --endpoint host:port[,host:port] or KV_ENDPOINTS (a node's client port, not its metrics port).`
        : '';
      throw new CliError(`error: ${e.message}${hint}`, 1);
    }
    throw e;
  } finally {
    client.close();
  }
}

function optionalInt(flags: Flags, name: string, min = 1): number | undefined {
  return flags[name] === undefined ? undefined : int(flags, name, min, 16);
}

export async function getCommand(argv: readonly string[]): Promise<void> {
  const parsed = parse(argv, { ...CLIENT_OPTIONS, r: { type: 'string' }, pr: { type: 'string' }, json: { type: 'boolean', default: false }, replicas: { type: 'boolean', default: false } }, 'get', 1);
  if (!parsed) return;
  const { flags, args } = parsed;
  if (flags.replicas) {
    if (flags.r !== undefined || flags.pr !== undefined) throw new CliError('kv get: --replicas reads every replica as it is; it takes no --r or --pr');
    const view = await withClient(flags, (c) => c.inspect(args[0]!));
    process.stdout.write(flags.json ? `${JSON.stringify(inspectJson(view))}\n` : formatInspect(args[0]!, view));
    return;
  }
  const reply = await withClient(flags, (c) => c.get(args[0]!, { r: optionalInt(flags, 'r'), pr: optionalInt(flags, 'pr', 0) }));
  const values = reply.values.map((v) => v.toString('utf8'));
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ found: reply.found, values, context: reply.context, deleted: reply.deleted })}\n`);
    return;
  }
  if (!reply.found) process.stdout.write(reply.deleted ? '(deleted)\n' : '(not found)\n');
  else if (values.length > 1) process.stdout.write(`${values.length} siblings:\n${values.map((v, i) => `[${i + 1}] ${v}`).join('\n')}\n`);
  else process.stdout.write(`${values[0]}\n`);
  if (reply.context) process.stdout.write(`context: ${reply.context}\n`);
}

/** --replicas --json: values as UTF-8 strings, clocks as objects. */
function inspectJson(view: InspectReply) {
  return {
    partition: view.partition,
    replicas: view.replicas.map((r) => ({
      node: r.node,
      role: r.role,
      answered: r.answered,
      ...(r.error ? { error: r.error } : {}),
      found: r.found,
      hint: r.hint,
      objectBytes: r.objectBytes,
      clock: Object.fromEntries(r.clock.map((c) => [c.actor, Number(c.counter)])),
      siblings: r.siblings.map((s) => ({ dot: `${s.actor}:${s.counter}`, tombstone: s.tombstone, value: s.tombstone ? null : Buffer.from(s.value).toString('utf8'), writtenAtMs: Number(s.writtenAtMs) })),
    })),
  };
}

/** --replicas: one block a replica, primaries first. */
function formatInspect(key: string, view: InspectReply): string {
  const lines = [`key ${JSON.stringify(key)}, partition ${view.partition}`];
  for (const r of view.replicas) {
    const what = r.role === 'primary' ? 'primary ' : 'fallback';
    if (!r.answered) {
      lines.push(`${what} ${r.node.padEnd(10)} did not answer: ${r.error}`);
      continue;
    }
    if (r.error) {
      lines.push(`${what} ${r.node.padEnd(10)} ${r.error}`);
      continue;
    }
    if (!r.found) {
      lines.push(`${what} ${r.node.padEnd(10)} ${r.role === 'primary' ? 'holds nothing' : 'holds no hint'}`);
      continue;
    }
    const clock = r.clock.map((c) => `${c.actor}:${c.counter}`).join(' ');
    lines.push(`${what} ${r.node.padEnd(10)} ${r.hint ? 'hint, ' : ''}${r.siblings.length} sibling${r.siblings.length === 1 ? '' : 's'}, ${r.objectBytes} bytes, clock {${clock}}`);
    for (const s of r.siblings) lines.push(`    ${`${s.actor}:${s.counter}`.padEnd(28)} ${s.tombstone ? '(tombstone)' : JSON.stringify(Buffer.from(s.value).toString('utf8'))}`);
  }
  return `${lines.join('\n')}\n`;
}

function readStdin(): Buffer {
  return fs.readFileSync(0);
}

export async function putCommand(argv: readonly string[]): Promise<void> {
  const parsed = parse(argv, { ...CLIENT_OPTIONS, context: { type: 'string' }, w: { type: 'string' }, pw: { type: 'string' } }, 'put', 2);
  if (!parsed) return;
  const { flags, args } = parsed;
  const value = args[1] === '-' ? readStdin() : Buffer.from(args[1]!, 'utf8');
  const reply = await withClient(flags, (c) => c.put(args[0]!, value, { context: flags.context as string | undefined, w: optionalInt(flags, 'w'), pw: optionalInt(flags, 'pw', 0) }));
  process.stdout.write(`ok${reply.siblings > 1 ? ` (${reply.siblings} siblings)` : ''}\ncontext: ${reply.context}\n`);
}

/**
 * A delete without a context would only add a tombstone beside the values (a sibling), so the
 * key would still read as its value: without --context the command reads the key first and
 * deletes exactly what it read, as `update` writes back what it read.
 */
export async function deleteCommand(argv: readonly string[]): Promise<void> {
  const parsed = parse(argv, { ...CLIENT_OPTIONS, context: { type: 'string' }, w: { type: 'string' }, pw: { type: 'string' } }, 'delete', 1);
  if (!parsed) return;
  const { flags, args } = parsed;
  const key = args[0]!;
  const quorum = { w: optionalInt(flags, 'w'), pw: optionalInt(flags, 'pw', 0) };
  await withClient(flags, async (c) => {
    let context = flags.context as string | undefined;
    let read = 0;
    if (context === undefined) {
      const got = await c.get(key);
      if (!got.found) {
        process.stdout.write(got.deleted ? 'nothing to delete: the key is already deleted\n' : 'nothing to delete: the key is not found\n');
        return;
      }
      context = got.context;
      read = got.values.length;
    }
    const reply = await c.delete(key, { context, ...quorum });
    const what = read > 1 ? `deleted the ${read} siblings read` : 'deleted';
    if (reply.siblings === 0) {
      process.stdout.write(`${what}\ncontext: ${reply.context}\n`);
      return;
    }
    // A value the deleted context did not cover (written concurrently, or not yet seen by the
    // read) survives as a sibling: say so rather than print a bare "deleted".
    const after = await c.get(key);
    const values = after.values.map((v) => JSON.stringify(v.toString('utf8')));
    process.stdout.write(`${what}, but ${reply.siblings} value${reply.siblings === 1 ? '' : 's'} written concurrently remain${reply.siblings === 1 ? 's' : ''}: ${values.join(', ')}\n` + `run kv delete ${JSON.stringify(key)} again to delete ${reply.siblings === 1 ? 'it' : 'them'}\ncontext: ${after.context}\n`);
  });
}

/** kv call: the raw API with JSON, for trying it where grpcurl is not installed. */
export async function callCommand(argv: readonly string[]): Promise<void> {
  const parsed = parse(argv, { ...CLIENT_OPTIONS }, 'call', [1, 2]);
  if (!parsed) return;
  const { flags, args } = parsed;
  const method = args[0]!;
  if (!(UNARY_METHODS as readonly string[]).includes(method)) throw new CliError(`kv call: method ${JSON.stringify(method)} is not a unary method of kv.v1.KV; use one of ${UNARY_METHODS.join(', ')}`);
  const text = args[1] === '-' ? readStdin().toString('utf8') : (args[1] ?? '{}');
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch (e) {
    throw new CliError(`kv call: the request is not JSON (${(e as Error).message}): ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new CliError(`kv call: the request must be a JSON object, got ${JSON.stringify(text.slice(0, 80))}`);
  const { endpoints, security } = target(flags);
  const r = await jsonCall(endpoints[0]!, method, request, int(flags, 'timeout-ms', 1, 600000), security);
  if (!r.ok) throw new CliError(`error: ${r.codeName}: ${r.message}`, 1);
  process.stdout.write(`${r.json}\n`);
}

export async function statusCommand(argv: readonly string[]): Promise<void> {
  const parsed = parse(argv, { ...CLIENT_OPTIONS, json: { type: 'boolean', default: false } }, 'status', 0);
  if (!parsed) return;
  const { flags } = parsed;
  const s = await withClient(flags, (c) => c.status());
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return;
  }
  if (s.role === 'gateway') {
    process.stdout.write(`gateway ${s.nodeId}: holds no data; forwards each operation to a primary of its key in a store of Q=${s.partitions} partitions, N=${s.n} R=${s.r} W=${s.w}, cluster state version ${s.stateVersion}; ask a store node for its members\n`);
    return;
  }
  process.stdout.write(`node ${s.nodeId} (actor ${s.actor}): ${s.members.length} members, Q=${s.partitions} partitions, N=${s.n} R=${s.r} W=${s.w}\n`);
  if (s.syncState && s.syncState !== 'synced') {
    process.stdout.write(`replica sync: ${s.syncState}: its "not found" answers do not count toward R yet in ${s.partitionsSyncing} partitions (see README: a replica that lost its data)\n`);
  }
  // Each reachable member's own state version: the cluster agrees when they are all the same.
  const versions = await Promise.all(
    s.members.map(async (m) => {
      if (m.self) return Number(s.stateVersion);
      const c = new KvClient({ endpoints: [m.address], timeoutMs: 1000, attemptsMax: 1, security: target(flags).security });
      try {
        return Number((await c.status()).stateVersion);
      } catch {
        return undefined;
      } finally {
        c.close();
      }
    }),
  );
  const seen = new Set(versions.filter((v) => v !== undefined));
  const change = s.transfersLeft > 0 ? `; a membership change is in progress, ${s.transfersLeft} transfers left` : '';
  process.stdout.write(`cluster state: version ${s.stateVersion} here, ${seen.size <= 1 ? 'the same on every member that answered' : 'NOT AGREED YET (gossip converges in seconds)'}; claimant ${s.claimant || '(none up)'}${change}\n`);
  process.stdout.write(`${'member'.padEnd(12)}${'address'.padEnd(24)}${'zone'.padEnd(8)}${'status'.padEnd(9)}${'version'.padStart(8)}${'owned'.padStart(6)}${'replicated'.padStart(12)}  ${'reachable'.padEnd(11)}hints held for it\n`);
  s.members.forEach((m, i) => {
    const reach = m.reachable ? (m.suspected ? 'SUSPECTED' : 'yes') : 'NO';
    const hints = Number(m.hintsPending) === 0 ? '-' : `${m.hintsPending} (${m.hintBytes} bytes, oldest ${(Number(m.oldestHintAgeMs) / 1000).toFixed(1)} s)`;
    process.stdout.write(`${(m.id + (m.self ? '*' : '')).padEnd(12)}${m.address.padEnd(24)}${(m.zone || '-').padEnd(8)}${m.status.padEnd(9)}${String(versions[i] ?? '?').padStart(8)}${String(m.partitionsOwned).padStart(6)}${String(m.partitionsReplicated).padStart(12)}  ${reach.padEnd(11)}${hints}\n`);
  });
}

/** kv admin: membership changes, staged and committed on the claimant. */
export async function adminCommand(argv: readonly string[]): Promise<void> {
  const action = argv[0];
  const actions = ['join', 'leave', 'remove', 'plan', 'commit', 'clear'];
  if (action === undefined || action === '--help' || action === '-h') {
    process.stdout.write(`${HELP.admin}\n`);
    return;
  }
  if (!actions.includes(action)) throw new CliError(`kv admin: unknown action ${JSON.stringify(action)}; one of ${actions.join(', ')}; see kv admin --help`);
  const needsId = ['join', 'leave', 'remove'].includes(action);
  const options: Options = { ...CLIENT_OPTIONS, ...(action === 'join' ? { address: { type: 'string' }, zone: { type: 'string', default: '' } } : {}) };
  if (needsId) options.commit = { type: 'boolean', default: false };
  if (needsId || action === 'commit') Object.assign(options, { wait: { type: 'boolean', default: false }, 'wait-timeout-s': { type: 'string', default: '3600' } });
  const parsed = parse(argv.slice(1), options, `admin ${action}`, needsId ? 1 : 0, HELP.admin);
  if (!parsed) return;
  const { flags, args } = parsed;
  if (flags.wait && needsId && !flags.commit) throw new CliError(`kv admin ${action}: --wait follows a committed change: add --commit (or run kv admin commit --wait)`);
  let request: AdminRequest;
  if (action === 'join') {
    if (flags.address === undefined) throw new CliError('kv admin join: --address host:port is required (the node\'s address as the other members reach it)');
    request = { join: { id: args[0]!, address: String(flags.address), zone: String(flags.zone) } };
  } else if (action === 'leave' || action === 'remove') request = { [action]: args[0]! };
  else request = { [action]: {} };
  if (flags.commit || flags.wait) {
    const watch: Watch = { out: process.stdout, deadlineMs: Date.now() + int(flags, 'wait-timeout-s', 1, 7 * 24 * 3600) * 1000, clientFor: (address) => new KvClient({ endpoints: [address], timeoutMs: int(flags, 'timeout-ms', 1, 600000), security: target(flags).security }) };
    return withClient(flags, async (c) => {
      let moves: number;
      if (action === 'commit') {
        const reply = await c.admin(request);
        printPlan(action, reply);
        moves = reply.moves.length;
        if (reply.staged.length !== 1) return watchAll(c, reply.staged, moves, watch);
        const [kind, id] = reply.staged[0]!.split(' ') as [ChangeKind, string];
        return watchChange(c, kind, id, moves, watch);
      }
      const staged = await stageOnce(c, request, action as ChangeKind, args[0]!, watch);
      if (staged === 'already') {
        process.stdout.write(`${action} ${args[0]!}: already committed (the change is in progress)\n`);
        moves = 0;
      } else if (staged === 'not-a-member') {
        process.stdout.write(`leave ${args[0]!}: it is not a member (it left already, or never joined): nothing to commit\n`);
        // Run again by a preStop hook against the leaving node itself: it may still be handing off.
        moves = 0;
      } else {
        moves = await commitAlone(c, staged, watch);
        process.stdout.write(`committed: ${staged} (${moves} replica${moves === 1 ? '' : 's'} move)\n`);
      }
      if (flags.wait) await watchChange(c, action as ChangeKind, args[0]!, moves, watch);
    });
  }
  const reply = await withClient(flags, (c) => c.admin(request));
  if (action === 'join' || action === 'leave' || action === 'remove' || action === 'clear') {
    process.stdout.write(reply.staged.length === 0 ? 'nothing staged\n' : `staged (kv admin plan shows what moves, kv admin commit makes it so):\n${reply.staged.map((c) => `  ${c}`).join('\n')}\n`);
    return;
  }
  printPlan(action, reply);
}

/** Follows a commit of several changes: each one in turn (they finish together). */
async function watchAll(c: KvClient, staged: readonly string[], moves: number, watch: Watch): Promise<void> {
  for (const d of staged) {
    const [kind, id] = d.split(' ') as [ChangeKind, string];
    await watchChange(c, kind, id, moves, watch);
  }
}

function printPlan(action: string, reply: AdminReply): void {
  const byMember = new Map<string, number[]>();
  for (const m of reply.moves) byMember.set(m.to, [...(byMember.get(m.to) ?? []), m.partition]);
  const moves = [...byMember].map(([to, ps]) => `  ${to} receives ${ps.length} partition replica${ps.length === 1 ? '' : 's'}: ${ps.join(' ')}`);
  const size = Number(reply.keys) > 0 ? `, about ${reply.keys} keys and ${reply.bytes} bytes` : '';
  process.stdout.write(`${action === 'commit' ? `committed (cluster state version ${reply.version})` : 'plan'}: ${reply.staged.join('; ')}\n${reply.moves.length} replica${reply.moves.length === 1 ? '' : 's'} move${size}\n${moves.join('\n')}${moves.length ? '\n' : ''}`);
  for (const w of reply.warnings) process.stdout.write(`warning: ${w}\n`);
  if (action === 'commit') process.stdout.write('kv status shows the transfers left; partitions flip to their new members as their copies finish\n');
}

/** How long a stopped node's process may take to exit on its own before it exits anyway. */
export const EXIT_AFTER_STOP_MS = 5000;

/**
 * The last resort, in addition to closing things properly: KvNode.stop closes every server,
 * connection and timer it owns, so the process exits by itself. If something still holds the
 * event loop (a handle a library keeps, a bug), a stopped node must not linger as a process that
 * looks alive: say what is left and exit. The timer is unref'd, so it never delays a clean exit.
 */
function exitIfStillRunning(log: Logger): void {
  setTimeout(() => {
    log.error('process still running after stop: exiting anyway', { afterMs: EXIT_AFTER_STOP_MS, activeResources: process.getActiveResourcesInfo() });
    process.exit();
  }, EXIT_AFTER_STOP_MS).unref();
}

/** The exit status of a node stopped by a failed disk write (sysexits.h EX_IOERR). */
export const EXIT_DISK_FAILED = 74;

export async function nodeCommand(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`kv node: run one node. Settings (flag, environment variable, default):\n${settingsHelp()}\n`);
    return;
  }
  let config;
  try {
    config = parseNodeConfig(argv, process.env);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(`kv node: ${e.message}`);
    throw e;
  }
  const log = ecsLogger({ nodeId: config.nodeId, level: config.logLevel, linesPerWindowMax: config.logLinesPerWindowMax });
  let node: KvNode | KvGateway;
  try {
    // Fail-stop on a failed disk write: exit at once (EX_IOERR), before anything else touches the
    // store; the supervisor (Kubernetes, kv cluster restart) starts the node again on its data.
    node = config.role === 'gateway' ? await KvGateway.start(config, log) : await KvNode.start(config, log, () => process.exit(EXIT_DISK_FAILED));
  } catch (e) {
    // A node that cannot serve everything it was asked to (its port, its metrics port, its data)
    // exits with one line. KvNode.start closes what it opened; should anything still hold the
    // process, it exits anyway.
    exitIfStillRunning(log);
    throw new CliError(`kv node ${config.nodeId}: ${(e as Error).message}`, 1);
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info('signal received', { signal });
      node.stop().then(
        () => {
          exitIfStillRunning(log);
          resolve();
        },
        (e) => {
          log.error('stop failed', { error: String(e) });
          process.exitCode = 1;
          exitIfStillRunning(log);
          resolve();
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // A node that left the cluster and handed off everything it held has nothing left to serve.
    if (node instanceof KvNode) void node.departed.then(() => stop('left the cluster'));
  });
}

export async function clusterCommand(argv: readonly string[], kvScript: string): Promise<void> {
  if (argv[0] === 'restart' || argv[0] === 'stop') return clusterNodeCommand(argv[0], argv.slice(1));
  const parsed = parse(
    argv,
    {
      nodes: { type: 'string', default: String(LOCAL_CLUSTER_NODES_DEFAULT) },
      'base-port': { type: 'string', default: String(LOCAL_CLUSTER_BASE_PORT_DEFAULT) },
      'metrics-base-port': { type: 'string', default: String(LOCAL_CLUSTER_METRICS_BASE_PORT_DEFAULT) },
      data: { type: 'string', default: LOCAL_CLUSTER_DATA_DEFAULT },
      n: { type: 'string', default: settingDefault('n') },
      r: { type: 'string', default: settingDefault('r') },
      w: { type: 'string', default: settingDefault('w') },
      partitions: { type: 'string', default: settingDefault('partitions') },
      durability: { type: 'string', default: settingDefault('durability') },
      monitor: { type: 'boolean', default: false },
      'prometheus-port': { type: 'string', default: String(PROMETHEUS_PORT_DEFAULT) },
      'alertmanager-port': { type: 'string', default: String(ALERTMANAGER_PORT_DEFAULT) },
      'alert-for': { type: 'string' },
      tls: { type: 'boolean', default: false },
      'client-auth-file': { type: 'string' },
    },
    'cluster',
    0,
  );
  if (!parsed) return;
  const { flags } = parsed;
  const nodes = int(flags, 'nodes', 1, 64);
  // The node's own bounds: the cluster starts nothing a node would refuse.
  const n = int(flags, 'n', intSetting('n').min, intSetting('n').max);
  const r = int(flags, 'r', intSetting('r').min, intSetting('r').max);
  const w = int(flags, 'w', intSetting('w').min, intSetting('w').max);
  if (n > nodes) throw new CliError(`--n: N=${n} exceeds --nodes ${nodes}; N must be at most the number of nodes`);
  if (r > n) throw new CliError(`--r: R=${r} exceeds N=${n}; R must be within 1..N`);
  if (w > n) throw new CliError(`--w: W=${w} exceeds N=${n}; W must be within 1..N`);
  const durability = String(flags.durability);
  const durabilities = enumSetting('durability').values;
  if (!durabilities.includes(durability as (typeof durabilities)[number])) throw new CliError(`--durability: ${JSON.stringify(durability)} is not one of ${durabilities.join(', ')}`);
  const dataDir = path.resolve(String(flags.data));
  if (flags['client-auth-file'] !== undefined && !flags.tls) throw new CliError('kv cluster: --client-auth-file goes with --tls (tokens and client certificates need TLS)');
  const basePort = int(flags, 'base-port', 1, 65535);
  let tls: LocalTls | undefined;
  if (flags.tls) {
    try {
      tls = createLocalTls(path.join(dataDir, 'tls'), Array.from({ length: nodes }, (_, k) => ({ id: `kv-${k + 1}`, host: '127.0.0.1' })));
    } catch (e) {
      throw new CliError(`kv cluster --tls: ${(e as Error).message}`, 1);
    }
  }
  let stopping = false;
  const restarting = new Set<string>();
  let cluster: LocalCluster;
  try {
    cluster = new LocalCluster({
      nodes,
      basePort,
      metricsBasePort: int(flags, 'metrics-base-port', 0, 65535),
      dataDir,
      n,
      r,
      w,
      partitions: int(flags, 'partitions', intSetting('partitions').min, intSetting('partitions').max),
      durability: durability as (typeof durabilities)[number],
      kvScript,
      tls,
      extraArgs: flags['client-auth-file'] === undefined ? [] : ['--client-auth-file', path.resolve(String(flags['client-auth-file']))],
      logs: 'file',
      onExit: (id, code, signal) => {
        if (!stopping && !restarting.has(id)) process.stderr.write(`kv cluster: ${id} exited (code ${code}, signal ${signal}); see ${path.join(dataDir, id, 'node.log')}; restart it with: npm run -s kv -- cluster restart ${id}${flags.data === LOCAL_CLUSTER_DATA_DEFAULT ? '' : ` --data ${dataDir}`}\n`);
      },
    });
  } catch (e) {
    throw new CliError(`kv cluster: ${(e as Error).message}`);
  }
  // One data directory, one cluster: a second one would take over its nodes' data.
  let control: net.Server;
  try {
    control = await serveControl(controlSocketPath(dataDir), (request) => controlNode(cluster, request, restarting));
  } catch (e) {
    throw new CliError(`kv cluster: ${(e as Error).message}`, 1);
  }
  // Fails at once, with one line naming the port, when a port a node needs is taken.
  try {
    await cluster.checkPortsFree();
  } catch (e) {
    control.close();
    throw new CliError(`kv cluster: ${(e as Error).message}`, 1);
  }
  let monitor: LocalMonitor | undefined;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    control.close();
    await monitor?.stop();
    removeClusterFile(dataDir);
    if (!cluster.nodes.some((x) => x.process)) return;
    process.stdout.write('stopping every node (SIGTERM) ...\n');
    const { killed } = await cluster.stop();
    for (const id of killed) process.stderr.write(`kv cluster: ${id} did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (frozen?): killed it (SIGKILL)\n`);
    process.stdout.write('stopped\n');
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  process.stdout.write(`starting ${nodes} nodes (N=${n} R=${r} W=${w}, ${durability}) with data in ${dataDir}\n`);
  try {
    await cluster.start();
  } catch (e) {
    await stop();
    throw new CliError(`kv cluster: ${(e as Error).message}`, 1);
  }
  writeClusterFile(dataDir, { endpoints: cluster.endpoints, pid: process.pid, tls: tls && { caFile: tls.caBundleFile, certFile: tls.client.certFile, keyFile: tls.client.keyFile } });
  if (flags.monitor) {
    try {
      monitor = await LocalMonitor.start({
        dataDir,
        targets: cluster.nodes.filter((x) => x.metricsPort !== 0).map((x) => ({ node: x.id, metricsPort: x.metricsPort })),
        prometheusPort: int(flags, 'prometheus-port', 1, 65535),
        alertmanagerPort: int(flags, 'alertmanager-port', 1, 65535),
        alertFor: flags['alert-for'] as string | undefined,
      });
    } catch (e) {
      await stop();
      throw new CliError(`kv cluster: ${(e as Error).message}`, 1);
    }
  }
  process.stdout.write(`${'node'.padEnd(8)}${'endpoint'.padEnd(20)}${'metrics'.padEnd(40)}data\n`);
  for (const node of cluster.nodes) {
    const metrics = node.metricsPort ? `http://${node.host}:${node.metricsPort}/metrics` : '-';
    process.stdout.write(`${node.id.padEnd(8)}${node.endpoint.padEnd(20)}${metrics.padEnd(40)}${node.dataDir}\n`);
  }
  const defaults = path.relative(process.cwd(), dataDir) === path.normalize(LOCAL_CLUSTER_DATA_DEFAULT);
  if (!defaults) process.stdout.write(`client commands run elsewhere find this cluster with: export KV_ENDPOINTS=${cluster.endpoints.join(',')}\n`);
  if (tls) {
    process.stdout.write(`TLS on (mutual between nodes); files in ${tls.dir}. Client commands here use them by themselves; elsewhere:\n`);
    process.stdout.write(`  kv get hello --tls-ca ${tls.caBundleFile} --tls-cert ${tls.client.certFile} --tls-key ${tls.client.keyFile}\n`);
    process.stdout.write(`  or: export KV_CLIENT_TLS_CA=${tls.caBundleFile} KV_CLIENT_TLS_CERT=${tls.client.certFile} KV_CLIENT_TLS_KEY=${tls.client.keyFile}\n`);
  }
  if (monitor) process.stdout.write(`monitor: Prometheus ${monitor.prometheusUrl} (alerts: ${monitor.prometheusUrl}/alerts), Alertmanager ${monitor.alertmanagerUrl}; files in ${monitor.directory}\n`);
  process.stdout.write(`ready: ${nodes} nodes serving; try: npm run -s kv -- put hello world && npm run -s kv -- get hello (Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (stopping && cluster.nodes.every((x) => !x.process || x.process.exitCode !== null || x.process.signalCode !== null)) {
        clearInterval(check);
        resolve();
      }
    }, 100);
  });
}

/** Carries out a control request on one node of this cluster. */
async function controlNode(cluster: LocalCluster, request: ControlRequest, restarting: Set<string>): Promise<ControlAnswer> {
  if (!cluster.nodes.some((x) => x.id === request.node)) return { ok: false, error: `no node ${JSON.stringify(request.node)} in this cluster (its nodes: ${cluster.nodes.map((x) => x.id).join(', ')})` };
  if (restarting.has(request.node)) return { ok: false, error: `${request.node} is being stopped or restarted already` };
  restarting.add(request.node);
  try {
    const wasRunning = cluster.isRunning(request.node);
    if (wasRunning) {
      const exited = await cluster.kill(request.node, 'SIGTERM');
      if (exited.signal === null && exited.code !== 0) process.stderr.write(`kv cluster: ${request.node} exited with code ${exited.code} when stopped\n`);
    }
    if (request.op === 'stop') {
      process.stdout.write(`kv cluster: stopped ${request.node} on request\n`);
      return { ok: true, message: wasRunning ? `stopped ${request.node}` : `${request.node} was not running` };
    }
    await cluster.restart(request.node);
    process.stdout.write(`kv cluster: restarted ${request.node} on request\n`);
    return { ok: true, message: `${wasRunning ? 'restarted' : 'started'} ${request.node}: serving on ${cluster.node(request.node).endpoint}` };
  } finally {
    restarting.delete(request.node);
  }
}

/** kv cluster restart|stop <node>: asks the running cluster to do it. */
async function clusterNodeCommand(op: 'restart' | 'stop', argv: readonly string[]): Promise<void> {
  const parsed = parse(argv, { data: { type: 'string', default: LOCAL_CLUSTER_DATA_DEFAULT } }, `cluster ${op}`, 1);
  if (!parsed) return;
  const answer = await sendControl(controlSocketPath(String(parsed.flags.data)), { op, node: parsed.args[0]! });
  if (!answer.ok) throw new CliError(`kv cluster ${op}: ${answer.error}`, 1);
  process.stdout.write(`${answer.message}\n`);
}

export const CHAOS_USAGE = `${CHAOS_RUN_USAGE}

kv chaos check [options]
  Drive a running cluster with checked workloads, then judge it (see kv chaos check --help).

${CHAOS_CHECK_USAGE}`;

/** kv chaos <subcommand>: each subcommand parses its own flags. */
export async function chaosCommand(argv: readonly string[]): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'check':
      return chaosCheckCommand(rest);
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write(`${CHAOS_USAGE}\n`);
      return;
    default:
      if (sub.startsWith('-')) throw new CliError(`kv chaos: ${sub} before the experiment; the form is kv chaos <experiment|suite> [options]; see kv chaos --help`);
      return chaosRunCommand(sub, rest);
  }
}

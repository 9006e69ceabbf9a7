/**
 * The `kv` commands: cluster, node, get, put, delete, status (bench lives in ./bench.ts).
 * Each parses its own flags strictly (an unknown flag is an error) and prints one clear line on
 * failure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { InspectReply, KvClient, KvClientError } from '../client/client';
import { jsonLogger, Logger } from '../../observability/log';
import { ConfigError, parseNodeConfig, settingsHelp } from '../node/config';
import { LocalCluster, STOP_TIMEOUT_MS } from '../local/local-cluster';
import { KvNode } from '../node/node';
import { CliError } from './cli-error';

export const USAGE = `kv: a Dynamo-style key-value store

Usage:
  kv cluster [--nodes 5] [--base-port 7001] [--data ./data] [--n 3] [--r 2] [--w 2]
             [--partitions 64] [--durability durable|relaxed] [--metrics-base-port 9464]
      Start a local cluster of node processes on 127.0.0.1 (Ctrl-C stops it cleanly).
  kv node [settings]          Run one node (settings: flags or KV_* env; kv node --help).
  kv put <key> <value|-> [--context C] [--w W] [--pw PW]
                                                   Write (value - reads stdin).
  kv get <key> [--r R] [--pr PR] [--json]          Read: siblings and context.
  kv get <key> --replicas [--json]                 What each replica holds: siblings, dots,
                                                   clock, tombstones, hints.
  kv delete <key> [--context C] [--w W] [--pw PW]  Delete (a tombstone).
  kv status [--json]                               Members, partitions, reachability.
  kv bench [options]                               Load a running cluster (kv bench --help).
  kv floor [options]                               The transport's own cost, to compare with
                                                   bench (kv floor --help).

Client commands take --endpoint host:port (default 127.0.0.1:7001; comma-separate several
for failover) and --timeout-ms (default 5000).`;

type Flags = Record<string, string | boolean | undefined>;

function parse(argv: readonly string[], options: Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>, command: string, positionals: number) {
  try {
    const r = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    if (r.positionals.length !== positionals) {
      throw new CliError(`kv ${command}: expected ${positionals} argument${positionals === 1 ? '' : 's'}, got ${r.positionals.length}; see kv --help`);
    }
    return { flags: r.values as Flags, args: r.positionals };
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`kv ${command}: ${(e as Error).message.replace(/\. To specify.*$/s, '')}; see kv --help`);
  }
}

function int(flags: Flags, name: string, min: number, max: number): number {
  const text = String(flags[name]);
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new CliError(`--${name}: ${JSON.stringify(text)} is not an integer within ${min}..${max}`);
  return n;
}

const CLIENT_OPTIONS = {
  endpoint: { type: 'string', default: '127.0.0.1:7001' },
  'timeout-ms': { type: 'string', default: '5000' },
} as const;

function clientFrom(flags: Flags): KvClient {
  const endpoints = String(flags.endpoint).split(',').map((s) => s.trim()).filter(Boolean);
  for (const e of endpoints) if (!/^[^\s:]+:\d{1,5}$/.test(e)) throw new CliError(`--endpoint: ${JSON.stringify(e)} is not host:port`);
  return new KvClient({ endpoints, timeoutMs: int(flags, 'timeout-ms', 1, 600000) });
}

async function withClient<T>(flags: Flags, fn: (c: KvClient) => Promise<T>): Promise<T> {
  const client = clientFrom(flags);
  try {
    return await fn(client);
  } catch (e) {
    if (e instanceof KvClientError) throw new CliError(`error: ${e.message}`, 1);
    throw e;
  } finally {
    client.close();
  }
}

function optionalInt(flags: Flags, name: string, min = 1): number | undefined {
  return flags[name] === undefined ? undefined : int(flags, name, min, 16);
}

export async function getCommand(argv: readonly string[]): Promise<void> {
  const { flags, args } = parse(argv, { ...CLIENT_OPTIONS, r: { type: 'string' }, pr: { type: 'string' }, json: { type: 'boolean', default: false }, replicas: { type: 'boolean', default: false } }, 'get', 1);
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
  const { flags, args } = parse(argv, { ...CLIENT_OPTIONS, context: { type: 'string' }, w: { type: 'string' }, pw: { type: 'string' } }, 'put', 2);
  const value = args[1] === '-' ? readStdin() : Buffer.from(args[1]!, 'utf8');
  const reply = await withClient(flags, (c) => c.put(args[0]!, value, { context: flags.context as string | undefined, w: optionalInt(flags, 'w'), pw: optionalInt(flags, 'pw', 0) }));
  process.stdout.write(`ok${reply.siblings > 1 ? ` (${reply.siblings} siblings)` : ''}\ncontext: ${reply.context}\n`);
}

export async function deleteCommand(argv: readonly string[]): Promise<void> {
  const { flags, args } = parse(argv, { ...CLIENT_OPTIONS, context: { type: 'string' }, w: { type: 'string' }, pw: { type: 'string' } }, 'delete', 1);
  const reply = await withClient(flags, (c) => c.delete(args[0]!, { context: flags.context as string | undefined, w: optionalInt(flags, 'w'), pw: optionalInt(flags, 'pw', 0) }));
  process.stdout.write(`deleted\ncontext: ${reply.context}\n`);
}

export async function statusCommand(argv: readonly string[]): Promise<void> {
  const { flags } = parse(argv, { ...CLIENT_OPTIONS, json: { type: 'boolean', default: false } }, 'status', 0);
  const s = await withClient(flags, (c) => c.status());
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return;
  }
  process.stdout.write(`node ${s.nodeId} (actor ${s.actor}): ${s.members.length} members, Q=${s.partitions} partitions, N=${s.n} R=${s.r} W=${s.w}\n`);
  if (s.syncState && s.syncState !== 'synced') {
    process.stdout.write(`replica sync: ${s.syncState}: its "not found" answers do not count toward R yet in ${s.partitionsSyncing} partitions (see README: a replica that lost its data)\n`);
  }
  process.stdout.write(`${'member'.padEnd(12)}${'address'.padEnd(24)}${'owned'.padStart(6)}${'replicated'.padStart(12)}  ${'reachable'.padEnd(11)}hints held for it\n`);
  for (const m of s.members) {
    const reach = m.reachable ? (m.suspected ? 'SUSPECTED' : 'yes') : 'NO';
    const hints = Number(m.hintsPending) === 0 ? '-' : `${m.hintsPending} (${m.hintBytes} bytes, oldest ${(Number(m.oldestHintAgeMs) / 1000).toFixed(1)} s)`;
    process.stdout.write(`${(m.id + (m.self ? '*' : '')).padEnd(12)}${m.address.padEnd(24)}${String(m.partitionsOwned).padStart(6)}${String(m.partitionsReplicated).padStart(12)}  ${reach.padEnd(11)}${hints}\n`);
  }
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
  const log = jsonLogger({ node: config.nodeId }, config.logLevel);
  let node: KvNode;
  try {
    node = await KvNode.start(config, log);
  } catch (e) {
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
  });
}

export async function clusterCommand(argv: readonly string[], kvScript: string): Promise<void> {
  const { flags } = parse(
    argv,
    {
      nodes: { type: 'string', default: '5' },
      'base-port': { type: 'string', default: '7001' },
      'metrics-base-port': { type: 'string', default: '9464' },
      data: { type: 'string', default: './data' },
      n: { type: 'string', default: '3' },
      r: { type: 'string', default: '2' },
      w: { type: 'string', default: '2' },
      partitions: { type: 'string', default: '64' },
      durability: { type: 'string', default: 'durable' },
    },
    'cluster',
    0,
  );
  const nodes = int(flags, 'nodes', 1, 64);
  const n = int(flags, 'n', 1, 16);
  const r = int(flags, 'r', 1, 16);
  const w = int(flags, 'w', 1, 16);
  if (n > nodes) throw new CliError(`--n: N=${n} exceeds --nodes ${nodes}; N must be at most the number of nodes`);
  if (r > n) throw new CliError(`--r: R=${r} exceeds N=${n}; R must be within 1..N`);
  if (w > n) throw new CliError(`--w: W=${w} exceeds N=${n}; W must be within 1..N`);
  const durability = String(flags.durability);
  if (durability !== 'durable' && durability !== 'relaxed') throw new CliError(`--durability: ${JSON.stringify(durability)} is not one of durable, relaxed`);
  let stopping = false;
  const cluster = new LocalCluster({
    nodes,
    basePort: int(flags, 'base-port', 1, 65535),
    metricsBasePort: int(flags, 'metrics-base-port', 0, 65535),
    dataDir: path.resolve(String(flags.data)),
    n,
    r,
    w,
    partitions: int(flags, 'partitions', 1, 65536),
    durability,
    kvScript,
    logs: 'file',
    onExit: (id, code, signal) => {
      if (!stopping) process.stderr.write(`kv cluster: ${id} exited (code ${code}, signal ${signal}); see its node.log\n`);
    },
  });
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping every node (SIGTERM) ...\n');
    const { killed } = await cluster.stop();
    for (const id of killed) process.stderr.write(`kv cluster: ${id} did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (frozen?): killed it (SIGKILL)\n`);
    process.stdout.write('stopped\n');
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  process.stdout.write(`starting ${nodes} nodes (N=${n} R=${r} W=${w}, ${durability}) with data in ${path.resolve(String(flags.data))}\n`);
  try {
    await cluster.start();
  } catch (e) {
    await stop();
    throw new CliError(`kv cluster: ${(e as Error).message}`, 1);
  }
  process.stdout.write(`${'node'.padEnd(8)}${'endpoint'.padEnd(20)}${'metrics'.padEnd(40)}data\n`);
  for (const node of cluster.nodes) {
    const metrics = node.metricsPort ? `http://${node.host}:${node.metricsPort}/metrics` : '-';
    process.stdout.write(`${node.id.padEnd(8)}${node.endpoint.padEnd(20)}${metrics.padEnd(40)}${node.dataDir}\n`);
  }
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

/**
 * A cluster of real node processes on loopback: what `kv cluster` runs and what the integration
 * tests start, so both exercise the same processes, flags and shutdown path.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { KvClient } from '../client/client';
import type { ClientSecurity } from '../rpc/tls';
import type { LocalTls } from './certificates';
import { ensureContextKeysFile, OWN_CONTEXT_KEYS_FILE } from '../node/context-keys';

export interface LocalClusterOptions {
  readonly nodes: number;
  readonly basePort: number;
  /** Metrics port of node 1 (node i: base+i-1); 0 turns metrics off. */
  readonly metricsBasePort: number;
  readonly dataDir: string;
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly partitions?: number;
  readonly durability?: 'durable' | 'relaxed';
  /** More `kv node` flags for every node. */
  readonly extraArgs?: readonly string[];
  /** The `kv` entry point (dist/bin/kv.js). */
  readonly kvScript: string;
  /** Where a node's stderr goes: inherit (the terminal) or a log file in its data directory. */
  readonly logs: 'inherit' | 'file';
  readonly onExit?: (id: string, code: number | null, signal: string | null) => void;
  /**
   * How long stop() waits for a node to exit after SIGTERM before it sends SIGKILL (a frozen node
   * never handles SIGTERM).
   * @default - STOP_TIMEOUT_MS (a node's default shutdown grace, 10 s, and its server's 2 s, with room)
   */
  readonly stopTimeoutMs?: number;
  /**
   * Gives each node a loopback address of its own: node kv-i listens on 127.0.0.(i+1), port
   * basePort+i-1, and the peer list names those addresses, so a firewall rule can single out the
   * traffic sent to one node (127.0.0.1 stays free for clients and everything else).
   * @default false - every node listens on 127.0.0.1
   */
  readonly loopbackPerNode?: boolean;
  /**
   * Runs node kv-i with primary group gidBase+i-1 (its user is unchanged), so a firewall rule can
   * single out the traffic a node sends (iptables -m owner --gid-owner): a node's outgoing
   * connections leave from 127.0.0.1 whatever address it listens on (grpc-js cannot bind them),
   * so only the process can tell one node's packets from another's. Setting a group needs root.
   * @default - every node runs with this process's group
   */
  readonly gidBase?: number;
  /**
   * Each node's zone (--zone), node kv-i taking zones[(i-1) % zones.length].
   * @default - no zones
   */
  readonly zones?: readonly string[];
  /**
   * TLS files (./certificates.ts createLocalTls): every node serves TLS with its certificate and
   * trusts the bundle, and this cluster's own clients present the CLI's certificate.
   * @default - plaintext
   */
  readonly tls?: LocalTls;
  /**
   * The cluster's context keys file (--context-keys-file), the same for every node.
   * @default - `context-keys` in dataDir, created with one random key on the first start
   */
  readonly contextKeysFile?: string;
}

/** What stop() had to do beyond SIGTERM. */
export interface StopReport {
  /** Nodes that did not exit within stopTimeoutMs of SIGTERM and were sent SIGKILL. */
  readonly killed: string[];
}

export interface LocalNode {
  readonly id: string;
  readonly port: number;
  /** The address the node listens on (127.0.0.1 unless loopbackPerNode). */
  readonly host: string;
  readonly endpoint: string;
  readonly metricsPort: number;
  /** The group its process runs with (undefined: this process's). */
  readonly gid: number | undefined;
  readonly dataDir: string;
  /** Its zone ('' when the cluster has none). */
  readonly zone: string;
  /** Environment variables added to this node's process the next time it starts (a chaos fault sets some). */
  env: Record<string, string>;
  process: ChildProcess | undefined;
}

export const READY_TIMEOUT_MS = 30_000;
/** How long a start waits for new nodes to learn from their peers that they are new. */
export const VERDICT_TIMEOUT_MS = 10_000;
export const STOP_TIMEOUT_MS = 20_000;
/** The largest group id (2^32 - 2; 2^32 - 1 means "no group" to setgid). */
const GID_MAX = 4_294_967_294;

export class LocalCluster {
  readonly nodes: LocalNode[];

  constructor(readonly options: LocalClusterOptions) {
    if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 64) throw new Error(`--nodes: ${options.nodes} must be within 1..64`);
    if (options.basePort < 1 || options.basePort + options.nodes - 1 > 65535) throw new Error(`--base-port: ${options.basePort} leaves no room for ${options.nodes} ports below 65536`);
    const { gidBase } = options;
    if (gidBase !== undefined) {
      if (!Number.isInteger(gidBase) || gidBase < 1 || gidBase + options.nodes - 1 > GID_MAX) throw new Error(`gidBase: ${gidBase} must be an integer within 1..${GID_MAX - options.nodes + 1} for ${options.nodes} nodes`);
      if (process.getuid?.() !== 0) throw new Error(`gidBase: running nodes with their own group needs root (this process runs as uid ${process.getuid?.()}); leave gidBase unset`);
    }
    this.nodes = Array.from({ length: options.nodes }, (_, k) => {
      const id = `kv-${k + 1}`;
      const port = options.basePort + k;
      const host = options.loopbackPerNode ? `127.0.0.${k + 2}` : '127.0.0.1';
      return {
        id,
        port,
        host,
        endpoint: `${host}:${port}`,
        metricsPort: options.metricsBasePort === 0 ? 0 : options.metricsBasePort + k,
        gid: gidBase === undefined ? undefined : gidBase + k,
        dataDir: path.resolve(options.dataDir, id),
        zone: options.zones === undefined || options.zones.length === 0 ? '' : options.zones[k % options.zones.length]!,
        env: {},
        process: undefined,
      };
    });
  }

  /** What a client of this cluster presents: the CA bundle and the CLI's certificate (undefined: plaintext). */
  get clientSecurity(): ClientSecurity | undefined {
    const t = this.options.tls;
    return t && { tls: { caFile: t.caBundleFile, certFile: t.client.certFile, keyFile: t.client.keyFile } };
  }

  get endpoints(): string[] {
    return this.nodes.map((n) => n.endpoint);
  }

  get peers(): string {
    return this.nodes.map((n) => `${n.id}=${n.endpoint}`).join(',');
  }

  /** The context keys file every node is given. */
  get contextKeysFile(): string {
    return this.options.contextKeysFile ?? path.resolve(this.options.dataDir, OWN_CONTEXT_KEYS_FILE);
  }

  node(id: string): LocalNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id} in this cluster`);
    return n;
  }

  argsOf(node: LocalNode): string[] {
    const o = this.options;
    return [
      o.kvScript, 'node',
      '--node-id', node.id,
      '--host', node.host,
      '--port', String(node.port),
      '--peers', this.peers,
      '--data-dir', node.dataDir,
      '--context-keys-file', this.contextKeysFile,
      '--n', String(o.n), '--r', String(o.r), '--w', String(o.w),
      '--metrics-port', String(node.metricsPort),
      ...(node.zone === '' ? [] : ['--zone', node.zone]),
      ...(o.partitions ? ['--partitions', String(o.partitions)] : []),
      ...(o.durability ? ['--durability', o.durability] : []),
      ...(o.tls ? ['--tls-ca-file', o.tls.caBundleFile, '--tls-cert-file', o.tls.nodeFiles(node.id).certFile, '--tls-key-file', o.tls.nodeFiles(node.id).keyFile] : []),
      ...(o.extraArgs ?? []),
    ];
  }

  /** Starts one node's process (not waiting for it to serve). */
  spawn(id: string): LocalNode {
    const node = this.node(id);
    if (node.process && node.process.exitCode === null && node.process.signalCode === null) throw new Error(`${id} is already running`);
    fs.mkdirSync(node.dataDir, { recursive: true });
    if (this.options.contextKeysFile === undefined) ensureContextKeysFile(this.contextKeysFile);
    const stderr = this.options.logs === 'file' ? fs.openSync(path.join(node.dataDir, 'node.log'), 'a') : 'inherit';
    const child = spawn(process.execPath, this.argsOf(node), { stdio: ['ignore', 'inherit', stderr], env: { ...process.env, ...node.env }, ...(node.gid === undefined ? {} : { gid: node.gid }) });
    if (typeof stderr === 'number') fs.closeSync(stderr);
    node.process = child;
    child.on('exit', (code, signal) => this.options.onExit?.(id, code, signal));
    return node;
  }

  /**
   * Fails, naming the port and the node it is for, when a port a node would listen on is taken
   * (by another cluster, a node left running, anything): the node would exit at once, and a
   * readiness probe could reach whatever holds the port instead.
   */
  async checkPortsFree(ids: readonly string[] = this.nodes.map((n) => n.id)): Promise<void> {
    for (const id of ids) {
      const node = this.node(id);
      const ports: Array<[number, string]> = [[node.port, 'client and peer port']];
      if (node.metricsPort !== 0) ports.push([node.metricsPort, 'metrics port']);
      for (const [port, what] of ports) {
        const problem = await portProblem(node.host, port);
        if (problem) throw new Error(`${node.host}:${port} (${id}'s ${what}) ${problem}`);
      }
    }
  }

  async start(): Promise<void> {
    await this.checkPortsFree();
    for (const n of this.nodes) this.spawn(n.id);
    await Promise.all(this.nodes.map((n) => this.waitReady(n.id)));
    await Promise.all(this.nodes.map((n) => this.waitVerdict(n.id)));
  }

  /**
   * Waits (a bounded time, never failing) until a node with a new data directory has heard from
   * its peers that it is new: until then its "not found" answers do not count toward R, and a
   * read of a missing key right after a fresh start could fail.
   */
  async waitVerdict(id: string, timeoutMs = VERDICT_TIMEOUT_MS): Promise<void> {
    const client = new KvClient({ endpoints: [this.node(id).endpoint], timeoutMs: 1000, attemptsMax: 1, security: this.clientSecurity });
    const deadline = Date.now() + timeoutMs;
    try {
      while (Date.now() < deadline) {
        const s = await client.status().catch(() => undefined);
        if (s && s.syncState !== 'awaiting-verdict') return;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      client.close();
    }
  }

  /** Resolves once the node answers Status; rejects if it exits or does not within the timeout. */
  async waitReady(id: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const node = this.node(id);
    const client = new KvClient({ endpoints: [node.endpoint], timeoutMs: 1000, attemptsMax: 1, security: this.clientSecurity });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        if (node.process && (node.process.exitCode !== null || node.process.signalCode !== null)) {
          throw new Error(`${id} exited (code ${node.process.exitCode}, signal ${node.process.signalCode}) before it served${this.options.logs === 'file' ? `; see ${path.join(node.dataDir, 'node.log')}` : ''}`);
        }
        let answer: Awaited<ReturnType<KvClient['status']>> | undefined;
        try {
          answer = await client.status();
        } catch {
          if (Date.now() > deadline) throw new Error(`${id} did not serve on ${node.endpoint} within ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        // Whoever answers on the node's address must be the process this cluster started.
        const pid = node.process?.pid;
        if (answer.nodeId !== id || (pid !== undefined && answer.pid !== pid)) {
          throw new Error(`${node.endpoint} is answered by another process (node ${JSON.stringify(answer.nodeId)}, pid ${answer.pid}), not the ${id} this cluster started (pid ${pid}): another cluster or node holds the port; stop it or pick other ports`);
        }
        return;
      }
    } finally {
      client.close();
    }
  }

  /** Sends a signal and waits for the process to exit. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: string | null }> {
    const child = this.node(id).process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return { code: child?.exitCode ?? null, signal: child?.signalCode ?? null };
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
    child.kill(signal);
    return exited;
  }

  /** Whether a node's process is running (started and not exited). */
  isRunning(id: string): boolean {
    const p = this.node(id).process;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** Starts a node that is not running again, with its data, and waits until it serves. */
  async restart(id: string): Promise<void> {
    if (this.isRunning(id)) throw new Error(`${id} is already running`);
    await this.checkPortsFree([id]);
    this.spawn(id);
    await this.waitReady(id);
    await this.waitVerdict(id);
  }

  /**
   * SIGTERM to every running node, then waits for all to exit; a node still running
   * stopTimeoutMs later gets SIGKILL (and is named in the report), so a frozen node cannot make
   * the stop, and `kv cluster`'s Ctrl-C, hang.
   */
  async stop(): Promise<StopReport> {
    const timeoutMs = this.options.stopTimeoutMs ?? STOP_TIMEOUT_MS;
    const killed: string[] = [];
    await Promise.all(
      this.nodes.map(async (n) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
        const exited = await Promise.race([this.kill(n.id, 'SIGTERM'), late]);
        clearTimeout(timer);
        if (exited !== 'late') return;
        killed.push(n.id);
        await this.kill(n.id, 'SIGKILL');
      }),
    );
    return { killed: killed.sort() };
  }
}

/** SIGTERM to a child process, SIGKILL if it has not exited killAfterMs later; resolves once it has exited. */
export function terminate(child: ChildProcess, killAfterMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Why nothing can listen on host:port now (in use, not allowed), or undefined when it can. */
export function portProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') resolve('is in use by another process (another kv cluster? `ss -ltnp` shows which); stop it, or choose other ports with --base-port / --metrics-base-port');
      else resolve(`cannot be listened on: ${e.message}`);
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

/**
 * A real etcd to measure the store against (`kv bench compare`): Debian's `etcd` (package
 * etcd-server, 3.4), a cluster of members on 127.0.0.1 with ports of their own and data in a
 * directory this module creates and removes. etcd runs with its defaults, so every write is
 * fsynced before it is acknowledged, as the store's durable mode does. Nothing is downloaded: a
 * missing binary is an error that says which package to install.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EtcdKvClient } from '../rpc/etcd-kv';
import { portProblem, terminate } from './local-cluster';

export const ETCD_MEMBERS_DEFAULT = 3;
/** How long the members get to elect a leader and answer a linearizable read. */
export const ETCD_READY_TIMEOUT_MS = 30_000;
/** How long a member gets to exit after SIGTERM before it is sent SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 1000;
const PROBE_INTERVAL_MS = 200;
const MEMBERS_MAX = 9;

export interface EtcdPeerOptions {
  /** Member i (0-based) serves clients on basePort + 2i and its peers on basePort + 2i + 1. */
  readonly basePort: number;
  /** Created by start() (it must not exist yet) and removed by stop(). */
  readonly dataDir: string;
  /** @default ETCD_MEMBERS_DEFAULT (3) */
  readonly members?: number;
  /** @default - `etcd` on PATH */
  readonly binary?: string;
}

export interface EtcdMember {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly process: ChildProcess;
  readonly log: string;
}

/** The one line a missing etcd gets: what to install. */
export function etcdMissing(binary: string): string | undefined {
  const found = binary.includes('/') ? fs.existsSync(binary) : spawnSync('/bin/sh', ['-c', `command -v ${binary}`]).status === 0;
  return found ? undefined : `${binary} is not installed: apt-get install etcd-server (Debian's etcd 3.4), then run again`;
}

export class EtcdPeer {
  private constructor(
    readonly members: readonly EtcdMember[],
    readonly dataDir: string,
  ) {}

  /** host:port of every member's client URL. */
  get endpoints(): string[] {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`);
  }

  /** PIDs of the member processes (for their CPU time in /proc). */
  get pids(): number[] {
    return this.members.map((m) => m.process.pid).filter((p): p is number => p !== undefined);
  }

  /** The members that are not running any more. */
  exited(): EtcdMember[] {
    return this.members.filter((m) => m.process.exitCode !== null || m.process.signalCode !== null);
  }

  /** Starts every member and waits until each answers a linearizable Range; stops them all on failure. */
  static async start(o: EtcdPeerOptions): Promise<EtcdPeer> {
    const binary = o.binary ?? 'etcd';
    const count = o.members ?? ETCD_MEMBERS_DEFAULT;
    if (!Number.isInteger(count) || count < 1 || count > MEMBERS_MAX) throw new Error(`etcd: ${count} members must be within 1..${MEMBERS_MAX}`);
    if (!Number.isInteger(o.basePort) || o.basePort < 1 || o.basePort + 2 * count - 1 > 65535) throw new Error(`etcd: base port ${o.basePort} leaves no room for ${2 * count} ports below 65536`);
    const missing = etcdMissing(binary);
    if (missing) throw new Error(missing);
    for (let i = 0; i < count; i++) {
      for (const [port, what] of [
        [o.basePort + 2 * i, 'client'],
        [o.basePort + 2 * i + 1, 'peer'],
      ] as const) {
        const problem = await portProblem('127.0.0.1', port);
        if (problem) throw new Error(`etcd: 127.0.0.1:${port} (member ${i + 1}'s ${what} port) ${problem.replace('--base-port / --metrics-base-port', 'another --etcd-base-port')}`);
      }
    }
    if (fs.existsSync(o.dataDir)) throw new Error(`etcd: ${o.dataDir} exists; a new cluster needs a directory of its own (remove it, or choose another)`);
    fs.mkdirSync(o.dataDir, { recursive: true });
    const names = Array.from({ length: count }, (_, i) => `etcd-${i + 1}`);
    const peerUrl = (i: number) => `http://127.0.0.1:${o.basePort + 2 * i + 1}`;
    const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
    // A user's ETCD_* variables would configure the members too (etcd reads them); these are ours alone.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
    const members = names.map((name, i): EtcdMember => {
      const clientUrl = `http://127.0.0.1:${o.basePort + 2 * i}`;
      const log = path.join(o.dataDir, `${name}.log`);
      const out = fs.openSync(log, 'a');
      const child = spawn(
        binary,
        [
          '--name', name,
          '--data-dir', path.join(o.dataDir, name),
          '--listen-client-urls', clientUrl,
          '--advertise-client-urls', clientUrl,
          '--listen-peer-urls', peerUrl(i),
          '--initial-advertise-peer-urls', peerUrl(i),
          '--initial-cluster', initialCluster,
          '--initial-cluster-state', 'new',
          '--initial-cluster-token', `kv-bench-${o.basePort}`,
          '--logger', 'zap',
          '--log-outputs', 'stderr',
        ],
        { stdio: ['ignore', out, out], env },
      );
      fs.closeSync(out);
      child.on('error', () => {}); // a failed spawn also ends the process: waitServing reports it
      return { name, clientPort: o.basePort + 2 * i, peerPort: o.basePort + 2 * i + 1, process: child, log };
    });
    const peer = new EtcdPeer(members, o.dataDir);
    try {
      await Promise.all(members.map((m) => waitServing(m)));
    } catch (e) {
      await peer.stop(true);
      throw e;
    }
    return peer;
  }

  /** SIGTERM to every member, SIGKILL to those still running after a while; then removes the data directory unless told to keep it. */
  async stop(keepData = false): Promise<void> {
    await Promise.all(this.members.map((m) => terminate(m.process, STOP_TIMEOUT_MS)));
    if (!keepData) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Resolves once the member answers a linearizable Range (so the cluster has a leader). */
async function waitServing(m: EtcdMember): Promise<void> {
  const client = new EtcdKvClient([`127.0.0.1:${m.clientPort}`], PROBE_TIMEOUT_MS);
  const deadline = Date.now() + ETCD_READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (m.process.exitCode !== null || m.process.signalCode !== null) {
        throw new Error(`etcd: ${m.name} exited (${m.process.exitCode ?? m.process.signalCode}) before it served; see ${m.log}`);
      }
      const r = await client.get(Buffer.from('kv-bench-probe'));
      if (r.ok) return;
      if (Date.now() > deadline) throw new Error(`etcd: ${m.name} did not answer a read on 127.0.0.1:${m.clientPort} within ${ETCD_READY_TIMEOUT_MS} ms (last: ${r.error.codeName} ${r.error.message}); see ${m.log}`);
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
  } finally {
    client.close();
  }
}

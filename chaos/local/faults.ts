/**
 * The faults of chaos/experiments.ts, done to real node processes of a LocalCluster. Each says
 * what it needs (root, a tool, a cluster started with its own loopback addresses or a small disk)
 * and, when this machine or process lacks it, why it cannot run, so `kv chaos` skips it with that
 * reason instead of faking it.
 *
 * How each is injected, and how honest that is:
 * - kill: SIGKILL, then the node starts again on its data (the StatefulSet's restart).
 * - pause: SIGSTOP, then SIGCONT: the process is frozen with its connections open.
 * - partition: iptables on loopback (./partition.ts): the target's packets to the others, and
 *   theirs to it, are dropped (both), or only the target's (outbound).
 * - network loss: iptables' statistic match drops that share of the packets between the target
 *   and the others, at random, as a lossy link does; TCP retransmits them. Delay and duplication
 *   need the kernel's netem queueing discipline: where the kernel has none, they cannot be
 *   injected here and run on Kubernetes only (Chaos Mesh).
 * - disk latency and errors: strace's syscall tampering (`strace -e inject`) on the target
 *   process, limited to the files of its data directory: each read, write and sync of them waits,
 *   or one in K fails with EIO. LMDB reads pages through its memory map without a system call, so
 *   reads served from the page cache are neither delayed nor failed; writes and syncs are.
 * - clock skew: the node starts again under libfaketime (Debian `faketime`) with its wall clock
 *   offset; monotonic time (timers, timeouts) is left alone, as NTP skew leaves it. The restart
 *   is part of the fault: libfaketime is loaded when a process starts.
 * - CPU stress: busy worker processes pinned (taskset) to the CPU the target is pinned to for
 *   the fault. On a machine with few CPUs the other nodes may share that CPU too.
 * - wipe: SIGKILL, the data directory deleted; the node starts again empty when the fault ends.
 * - disk fill: a filler file takes the free space of the target's own small disk (a tmpfs the
 *   run mounts on its data directory) down to below its reserve; deleted when the fault ends.
 * - rolling restart: each node in turn gets SIGTERM, starts again and serves before the next.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LocalCluster, LocalNode } from '../../app/local/local-cluster';
import type { Fault } from '../experiments';
import { Partition } from './partition';
import { listSegments, segmentName } from '../../app/storage/write-ahead-log';

/** Where the run is and who the fault hits. */
export interface FaultScene {
  readonly cluster: LocalCluster;
  readonly targets: readonly LocalNode[];
  /** Unique to this run: names iptables chains and files, so two runs never share them. */
  readonly runId: string;
  readonly log: (line: string) => void;
}

export interface ActiveFault {
  /** Undoes the fault (a killed node starts again, a cut heals, a filler file goes). */
  heal(): Promise<void>;
}

/** What the cluster must be started with for a fault. */
export interface FaultNeeds {
  /** Own loopback addresses and process groups per node (iptables rules name them). */
  readonly isolatedNetwork: boolean;
  /** Each node's data directory on its own tmpfs of this size, MiB (0: none). */
  readonly smallDiskMiB: number;
}

export interface LocalFault {
  readonly needs: FaultNeeds;
  /** Why this fault cannot run here (not root, a tool or kernel feature missing); undefined: it can. */
  unavailable(): string | undefined;
  inject(scene: FaultScene): Promise<ActiveFault>;
}

/** The tmpfs each node gets for a disk-fill run, and the reserve the nodes keep on it. */
export const SMALL_DISK_MIB = 256;
export const SMALL_DISK_RESERVE_BYTES = 32 * 1024 * 1024;
/** Where Debian's faketime package puts the library. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
/** The syscalls on data files a disk fault tampers with. */
const DISK_SYSCALLS = ['read', 'pread64', 'readv', 'preadv', 'write', 'pwrite64', 'writev', 'pwritev', 'fsync', 'fdatasync', 'msync', 'sync_file_range'];

const NO_NEEDS: FaultNeeds = { isolatedNetwork: false, smallDiskMiB: 0 };
const ISOLATED: FaultNeeds = { isolatedNetwork: true, smallDiskMiB: 0 };

const isRoot = () => process.getuid?.() === 0;

function needRoot(what: string): string | undefined {
  return isRoot() ? undefined : `${what} needs root (this process runs as uid ${process.getuid?.()}); run kv chaos as root (CI does)`;
}

function hasTool(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

function pidOf(node: LocalNode): number {
  const pid = node.process?.pid;
  if (pid === undefined || node.process?.exitCode !== null || node.process?.signalCode !== null) throw new Error(`${node.id} is not running; the fault needs its process`);
  return pid;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Restarts every target (after a kill or a wipe) in parallel. */
async function restartAll(scene: FaultScene): Promise<void> {
  await Promise.all(scene.targets.map((t) => scene.cluster.restart(t.id)));
}

const kill: LocalFault = {
  needs: NO_NEEDS,
  unavailable: () => undefined,
  async inject(scene) {
    for (const t of scene.targets) await scene.cluster.kill(t.id, 'SIGKILL');
    return { heal: () => restartAll(scene) };
  },
};

const pause: LocalFault = {
  needs: NO_NEEDS,
  unavailable: () => undefined,
  async inject(scene) {
    const pids = scene.targets.map(pidOf);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    return {
      heal: async () => {
        for (const pid of pids) process.kill(pid, 'SIGCONT');
      },
    };
  },
};

/** An iptables chain name of this run (iptables allows 28 characters). */
function chainName(scene: FaultScene, suffix: string): string {
  return `KVC_${scene.runId}_${suffix}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_').slice(0, 28);
}

function partitionNodes(cluster: LocalCluster) {
  return cluster.nodes.map((n) => ({ id: n.id, host: n.host, gid: n.gid }));
}

function partition(direction: 'both' | 'outbound'): LocalFault {
  return {
    needs: ISOLATED,
    unavailable: () => needRoot('a partition (iptables rules, a process group per node)') ?? (hasTool('iptables') ? undefined : 'a partition needs iptables (Debian package iptables)'),
    async inject(scene) {
      const cut = new Partition(chainName(scene, 'P'), partitionNodes(scene.cluster));
      cut.install();
      const targets = new Set(scene.targets.map((t) => t.id));
      const others = scene.cluster.nodes.filter((n) => !targets.has(n.id)).map((n) => n.id);
      if (direction === 'both') cut.split([...targets], others);
      else for (const t of targets) for (const o of others) cut.cut(t, o);
      return {
        heal: async () => {
          scene.log(`partition healed; ${cut.droppedPackets()} packets were dropped`);
          cut.remove();
        },
      };
    },
  };
}

/** Whether the kernel has the netem queueing discipline (tc answers "unknown" when it has not). */
function netemProbe(): string | undefined {
  if (!isRoot() || !hasTool('tc')) return 'netem needs root and tc (Debian package iproute2)';
  // Probed on loopback itself (a dummy link needs a kernel module that may be missing too): a
  // root netem qdisc with no delay, removed at once.
  const added = spawnSync('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '0ms'], { encoding: 'utf8' });
  if (added.status === 0) {
    spawnSync('tc', ['qdisc', 'del', 'dev', 'lo', 'root'], { stdio: 'ignore' });
    return undefined;
  }
  return `this kernel has no netem queueing discipline (tc qdisc add dev lo root netem: ${added.stderr.trim()})`;
}

function network(f: Extract<Fault, { kind: 'network' }>): LocalFault {
  return {
    needs: ISOLATED,
    unavailable: () => {
      const root = needRoot('a network fault (iptables rules, a process group per node)');
      if (root !== undefined) return root;
      if (f.delayMs === 0 && f.duplicatePercent === 0) return undefined;
      const netem = netemProbe();
      return `delay and duplication of packets are not injected locally: ${netem ?? 'the local runner does only loss so far'}; this experiment runs on Kubernetes through Chaos Mesh's NetworkChaos`;
    },
    async inject(scene) {
      const lossy = new Partition(chainName(scene, 'L'), partitionNodes(scene.cluster));
      lossy.install();
      const targets = new Set(scene.targets.map((t) => t.id));
      const others = scene.cluster.nodes.filter((n) => !targets.has(n.id)).map((n) => n.id);
      for (const t of targets) {
        for (const o of others) {
          lossy.cut(t, o, f.lossPercent / 100);
          lossy.cut(o, t, f.lossPercent / 100);
        }
      }
      return {
        heal: async () => {
          scene.log(`loss healed; ${lossy.droppedPackets()} packets were dropped`);
          lossy.remove();
        },
      };
    },
  };
}

/** Write-ahead log segments a disk fault also covers ahead of the current one: one a checkpoint, about one a second. */
const LOG_SEGMENTS_AHEAD = 300;

/**
 * The files of a node's data directory a disk fault covers: those its process has open (LMDB's
 * data and lock files, the write-ahead log's segment), and the log segments it will open next
 * (strace's -P matches a path when the call is made, and the log rolls at every checkpoint).
 * Not node.log, the node's own log.
 */
function openDataFiles(node: LocalNode, pid: number): string[] {
  const files = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target.startsWith(node.dataDir + path.sep) && path.basename(target) !== 'node.log') files.add(target);
  }
  const seqs = listSegments(node.dataDir).map((s) => s.seq);
  if (seqs.length > 0) {
    const last = Math.max(...seqs);
    for (let seq = last + 1; seq <= last + LOG_SEGMENTS_AHEAD; seq++) files.add(path.join(node.dataDir, segmentName(seq)));
  }
  return [...files];
}

/** How long strace may take to attach to every thread of a node. */
const STRACE_ATTACH_TIMEOUT_MS = 10_000;

/** Starts strace on a process and resolves once it has attached (it says so on stderr). */
function attachStrace(args: readonly string[], what: string): Promise<ChildProcess> {
  const tracer = spawn('strace', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let said = '';
    const timer = setTimeout(() => {
      tracer.kill('SIGKILL');
      reject(new Error(`strace did not attach to ${what} within ${STRACE_ATTACH_TIMEOUT_MS} ms: ${said.trim()}`));
    }, STRACE_ATTACH_TIMEOUT_MS);
    tracer.stderr!.on('data', (d: Buffer) => {
      said += d.toString();
      if (/attached/.test(said)) {
        clearTimeout(timer);
        tracer.stderr!.resume();
        resolve(tracer);
      }
    });
    tracer.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`strace on ${what} exited (code ${code}) before it attached: ${said.trim()}`));
    });
  });
}

/** strace attached to a node, tampering with the syscalls on its data files until stopped. */
async function tamper(scene: FaultScene, injection: string): Promise<ActiveFault> {
  const tracers: ChildProcess[] = [];
  for (const t of scene.targets) {
    const pid = pidOf(t);
    const files = openDataFiles(t, pid);
    if (files.length === 0) throw new Error(`${t.id} has no data file open under ${t.dataDir}; nothing to tamper with`);
    // Not -q: strace's "attached" line on stderr is how we know the fault is in place.
    const args = ['-f', '-p', String(pid), ...files.flatMap((f) => ['-P', f]), '-e', `trace=${DISK_SYSCALLS.join(',')}`, '-e', `inject=${DISK_SYSCALLS.join(',')}:${injection}`, '-o', '/dev/null'];
    tracers.push(await attachStrace(args, `${t.id} (pid ${pid})`));
    scene.log(`strace on ${t.id} (pid ${pid}): ${injection} on ${files.map((f) => path.basename(f)).join(', ')}`);
  }
  return {
    heal: async () => {
      // SIGINT makes strace detach cleanly, leaving the node running untraced.
      await Promise.all(
        tracers.map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.exitCode !== null || s.signalCode !== null) return resolve();
              s.once('exit', () => resolve());
              s.kill('SIGINT');
            }),
        ),
      );
    },
  };
}

function disk(injection: string, what: string): LocalFault {
  return {
    needs: NO_NEEDS,
    unavailable: () => needRoot(`${what} (strace attaches to the node)`) ?? (hasTool('strace') ? undefined : `${what} needs strace (Debian package strace)`),
    inject: (scene) => tamper(scene, injection),
  };
}

/** Restarts each target with `env` added to its environment (SIGTERM, then start). */
async function restartWith(scene: FaultScene, env: Record<string, string>): Promise<void> {
  for (const t of scene.targets) {
    await scene.cluster.kill(t.id, 'SIGTERM');
    t.env = env;
    await scene.cluster.restart(t.id);
  }
}

function clockSkew(offsetS: number): LocalFault {
  return {
    needs: NO_NEEDS,
    unavailable: () => (fs.existsSync(LIBFAKETIME) ? undefined : `clock skew needs libfaketime at ${LIBFAKETIME} (Debian package faketime)`),
    async inject(scene) {
      await restartWith(scene, { LD_PRELOAD: LIBFAKETIME, FAKETIME: `${offsetS >= 0 ? '+' : ''}${offsetS}s`, FAKETIME_DONT_FAKE_MONOTONIC: '1' });
      return { heal: () => restartWith(scene, {}) };
    },
  };
}

/** A busy loop that runs `loadPercent` of each 100 ms. */
const BUSY = 'const on = Number(process.argv[1]); for (;;) { const t = Date.now(); while (Date.now() - t < on) {} if (on < 100) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100 - on); }';

function cpuStress(workers: number, loadPercent: number): LocalFault {
  return {
    needs: NO_NEEDS,
    unavailable: () => (hasTool('taskset') ? undefined : 'CPU stress needs taskset (Debian package util-linux)'),
    async inject(scene) {
      const cpus = os.availableParallelism();
      const pinned: Array<{ pid: number; affinity: string }> = [];
      const hogs: ChildProcess[] = [];
      scene.targets.forEach((t, i) => {
        const pid = pidOf(t);
        const cpu = String(cpus - 1 - (i % cpus));
        const affinity = execFileSync('taskset', ['-p', '-c', String(pid)], { encoding: 'utf8' }).split(':').pop()!.trim();
        execFileSync('taskset', ['-a', '-p', '-c', cpu, String(pid)], { stdio: 'ignore' });
        pinned.push({ pid, affinity });
        for (let w = 0; w < workers; w++) hogs.push(spawn('taskset', ['-c', cpu, process.execPath, '-e', BUSY, String(loadPercent)], { stdio: 'ignore' }));
      });
      return {
        heal: async () => {
          for (const h of hogs) h.kill('SIGKILL');
          for (const p of pinned) spawnSync('taskset', ['-a', '-p', '-c', p.affinity, String(p.pid)], { stdio: 'ignore' });
        },
      };
    },
  };
}

const wipe: LocalFault = {
  needs: NO_NEEDS,
  unavailable: () => undefined,
  async inject(scene) {
    for (const t of scene.targets) {
      await scene.cluster.kill(t.id, 'SIGKILL');
      // Everything but the mount point itself (a disk-fill run's tmpfs) and the node's log.
      for (const entry of fs.readdirSync(t.dataDir)) if (entry !== 'node.log') fs.rmSync(path.join(t.dataDir, entry), { recursive: true, force: true });
    }
    return { heal: () => restartAll(scene) };
  },
};

const FILLER = 'chaos-disk-fill.bin';

const diskFill: LocalFault = {
  needs: { isolatedNetwork: false, smallDiskMiB: SMALL_DISK_MIB },
  unavailable: () => needRoot('a disk fill (a tmpfs of its own under each node)'),
  async inject(scene) {
    const files: string[] = [];
    for (const t of scene.targets) {
      const s = fs.statfsSync(t.dataDir);
      const free = s.bavail * s.bsize;
      // Fill to 1 MiB below the reserve: the node then refuses every write.
      const fill = Math.max(0, free - SMALL_DISK_RESERVE_BYTES + 1024 * 1024);
      const file = path.join(t.dataDir, FILLER);
      const fd = fs.openSync(file, 'w');
      const chunk = Buffer.alloc(1024 * 1024, 0x5a);
      try {
        for (let written = 0; written < fill; written += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, fill - written));
      } finally {
        fs.closeSync(fd);
      }
      files.push(file);
      scene.log(`filled ${t.id}'s disk with ${(fill / 1024 / 1024).toFixed(0)} MiB; ${((free - fill) / 1024 / 1024).toFixed(1)} MiB left, the reserve is ${SMALL_DISK_RESERVE_BYTES / 1024 / 1024} MiB`);
    }
    return {
      heal: async () => {
        for (const f of files) fs.rmSync(f, { force: true });
      },
    };
  },
};

function rollingRestart(pauseS: number): LocalFault {
  return {
    needs: NO_NEEDS,
    unavailable: () => undefined,
    async inject(scene) {
      for (const t of scene.targets) {
        await scene.cluster.kill(t.id, 'SIGTERM');
        await scene.cluster.restart(t.id);
        scene.log(`${t.id} restarted`);
        await sleep(pauseS * 1000);
      }
      return { heal: async () => {} };
    },
  };
}

/** The local form of a fault; `durationS` is the experiment's (a rolling restart's pause between nodes). */
export function localFault(f: Fault, durationS: number): LocalFault {
  switch (f.kind) {
    case 'kill':
      return kill;
    case 'pause':
      return pause;
    case 'partition':
      return partition(f.direction);
    case 'network':
      return network(f);
    case 'disk-latency':
      return disk(`delay_enter=${f.delayMs * 1000}`, 'disk latency');
    case 'disk-errors': {
      // strace injects into one call in `step` (when=step+step): the closest share to the one asked.
      const step = Math.max(1, Math.round(100 / f.errorPercent));
      return disk(`error=EIO:when=${step}+${step}`, 'disk errors');
    }
    case 'clock-skew':
      return clockSkew(f.offsetS);
    case 'cpu-stress':
      return cpuStress(f.workers, f.loadPercent);
    case 'wipe':
      return wipe;
    case 'disk-fill':
      return diskFill;
    case 'rolling-restart':
      return rollingRestart(durationS);
  }
}

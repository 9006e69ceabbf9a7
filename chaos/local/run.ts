/**
 * Runs experiments on a local cluster of real node processes: for each one a fresh cluster, the
 * checker's workloads from start to end, the fault injected after a warm-up and healed after its
 * duration, a recovery period, then the checker's verdict. What `kv chaos <experiment|suite>`
 * does; the report is drawn from the outcomes (chaos/report.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KvClient } from '../../app/client/client';
import { LocalCluster, LocalNode } from '../../app/local/local-cluster';
import { Checker, CHECKER_DEFAULTS, CheckerOptions, kvClientStore, runKeyPrefix } from '../checker';
import { Experiment } from '../experiments';
import type { ExperimentOutcome } from '../report';
import { localFault, SMALL_DISK_RESERVE_BYTES } from './faults';

export interface LocalChaosOptions {
  /** The `kv` entry point (dist/bin/kv.js). */
  readonly kvScript: string;
  /** Client port of node 1; node i takes basePort+i-1. */
  readonly basePort: number;
  /** Where each experiment's cluster keeps its data (a directory per experiment, removed after unless keepData). */
  readonly dataDir: string;
  readonly keepData: boolean;
  /** @default 5 */
  readonly nodes?: number;
  /** Zones the nodes are spread over, in turn. @default ['a', 'b', 'c'] */
  readonly zones?: readonly string[];
  /** Seconds the workloads run before the fault. @default WARMUP_S */
  readonly warmupS?: number;
  /** Seconds the workloads run after the fault healed. @default RECOVERY_S */
  readonly recoveryS?: number;
  /** Overrides of the checker's settings (rates, keys ...). */
  readonly checker?: Partial<CheckerOptions>;
  /** First group id of the nodes' processes when a fault needs one per node (iptables matches it). */
  readonly gidBase?: number;
  readonly log: (line: string) => void;
}

export const WARMUP_S = 5;
export const RECOVERY_S = 10;
/** Groups 62700.. are unused on Debian (users stop at 59999, nogroup is 65534). */
export const GID_BASE_DEFAULT = 62701;
/**
 * The nodes' failure detection and repair paced for short experiments: a silent peer is
 * suspected within a second, and hints and anti-entropy run often enough that replicas converge
 * within an experiment's recovery period.
 */
const NODE_ARGS = ['--peer-suspect-ms', '1000', '--peer-heartbeat-ms', '200', '--handoff-interval-ms', '500', '--anti-entropy-interval-ms', '100'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The nodes a target names: kv-2 for one node, the first zone's nodes, or every node. */
export function targetsOf(experiment: Experiment, nodes: readonly LocalNode[]): LocalNode[] {
  switch (experiment.target) {
    case 'one-node':
      return [nodes[1] ?? nodes[0]!];
    case 'one-zone': {
      const zone = nodes[0]!.zone;
      return nodes.filter((n) => n.zone === zone);
    }
    case 'every-node':
      return [...nodes];
  }
}

/** Runs one experiment; never throws (a failure of the run itself is the outcome's error). */
export async function runExperiment(experiment: Experiment, o: LocalChaosOptions): Promise<ExperimentOutcome> {
  const fault = localFault(experiment.fault, experiment.durationS);
  const unavailable = fault.unavailable();
  if (unavailable !== undefined) return { experiment, targets: [], skipped: unavailable, passed: false };
  const dataDir = path.join(o.dataDir, experiment.name);
  fs.rmSync(dataDir, { recursive: true, force: true });
  const isolated = fault.needs.isolatedNetwork;
  const cluster = new LocalCluster({
    nodes: o.nodes ?? 5,
    basePort: o.basePort,
    metricsBasePort: 0,
    dataDir,
    n: 3,
    r: 2,
    w: 2,
    partitions: 64,
    kvScript: o.kvScript,
    logs: 'file',
    zones: o.zones ?? ['a', 'b', 'c'],
    loopbackPerNode: isolated,
    gidBase: isolated ? (o.gidBase ?? GID_BASE_DEFAULT) : undefined,
    extraArgs: [...NODE_ARGS, ...(fault.needs.smallDiskMiB > 0 ? ['--disk-free-bytes-min', String(SMALL_DISK_RESERVE_BYTES)] : [])],
  });
  const targets = targetsOf(experiment, cluster.nodes);
  const mounts: string[] = [];
  const client = new KvClient({ endpoints: cluster.endpoints, timeoutMs: 2000 });
  const notes: string[] = [];
  try {
    if (fault.needs.smallDiskMiB > 0) {
      for (const t of targets) {
        fs.mkdirSync(t.dataDir, { recursive: true });
        execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${fault.needs.smallDiskMiB}m`, 'tmpfs', t.dataDir]);
        mounts.push(t.dataDir);
      }
    }
    o.log(`${experiment.name}: starting ${cluster.nodes.length} nodes in ${dataDir}`);
    await cluster.start();
    const checker = new Checker(kvClientStore(client), {
      ...CHECKER_DEFAULTS,
      availabilityMin: experiment.hypothesis.availabilityMin,
      convergeWithinS: experiment.hypothesis.convergeWithinS,
      keyPrefix: runKeyPrefix(`chaos/${experiment.name}/`),
      ...o.checker,
    });
    checker.start();
    await sleep((o.warmupS ?? WARMUP_S) * 1000);
    o.log(`${experiment.name}: injecting ${experiment.fault.kind} on ${targets.map((t) => t.id).join(', ')}`);
    checker.faultStarted(experiment.name);
    const active = await fault.inject({ cluster, targets, runId: `${process.pid}${experiment.name.slice(0, 6)}`, log: (l) => o.log(`${experiment.name}: ${l}`) });
    try {
      // A rolling restart is its own duration: inject returns once every node went round.
      if (experiment.fault.kind !== 'rolling-restart') await sleep(experiment.durationS * 1000);
    } finally {
      await active.heal();
      checker.faultEnded(experiment.name);
    }
    // A node that exited during the fault (one that stops itself on a failed disk write) is
    // started again, as its StatefulSet would; the report says so.
    for (const n of cluster.nodes) {
      if (cluster.isRunning(n.id)) continue;
      const p = n.process;
      const note = `${n.id} exited during the fault (${p?.signalCode ?? `code ${p?.exitCode}`}) and was started again, as its StatefulSet would`;
      notes.push(note);
      o.log(`${experiment.name}: ${note}`);
      await cluster.restart(n.id);
    }
    o.log(`${experiment.name}: healed; recovering for ${o.recoveryS ?? RECOVERY_S} s`);
    await sleep((o.recoveryS ?? RECOVERY_S) * 1000);
    await checker.stop();
    const result = await checker.verdict();
    return { experiment, targets: targets.map((t) => t.id), notes, result, passed: result.holds };
  } catch (e) {
    return { experiment, targets: targets.map((t) => t.id), notes, error: (e as Error).message, passed: false };
  } finally {
    client.close();
    const stopped = await cluster.stop().catch(() => undefined);
    if (stopped && stopped.killed.length > 0) o.log(`${experiment.name}: ${stopped.killed.join(', ')} did not stop on SIGTERM and were killed`);
    for (const m of mounts) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    if (!o.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Runs experiments one after another, each on a fresh cluster. */
export async function runLocalChaos(experiments: readonly Experiment[], o: LocalChaosOptions): Promise<ExperimentOutcome[]> {
  const outcomes: ExperimentOutcome[] = [];
  for (const e of experiments) {
    const outcome = await runExperiment(e, o);
    o.log(`${e.name}: ${outcome.skipped !== undefined ? `skipped: ${outcome.skipped}` : outcome.error !== undefined ? `error: ${outcome.error}` : outcome.passed ? 'the hypothesis holds' : `the hypothesis DOES NOT HOLD: ${outcome.result?.reasons.join('; ')}`}`);
    outcomes.push(outcome);
  }
  return outcomes;
}

/**
 * One simulated run from one seed: a 5-node cluster (N=3, R=W=2, 16 partitions), four clients
 * doing set-adds, puts and deletes on eight keys through random nodes, and a fault phase in which
 * the network drops, delays, duplicates and reorders messages and a few faults strike: partitions
 * (both ways or one way), crashes with restart, graceful restarts, pauses, false suspicions, and
 * at most one loss of a disk's contents (a wipe, or a rollback to an earlier copy). Then
 * everything heals, the clients finish what they were doing, and the cluster must be quiet and
 * converged (every primary of each key holding the same history, every hint handed off) within
 * CONVERGE_BOUND_MS of virtual time, after which the checker compares the final state with what
 * the clients were told (./checker.ts).
 *
 * At most one disk loss a run: a write acknowledged at W=2 is durable on two nodes, so losing
 * two disks before anti-entropy copied it back may lose it, and rightly (that is beyond what W=2
 * promises). Everything else may strike any node at any time, several at once.
 */
import { MemoryStore } from '../../app/storage/memory-store';
import { OBJECT_LIMITS_DEFAULT } from '../../app/versioning/limits';
import { encodeObject } from '../../app/versioning/codec';
import { checkFinalState, checkHintsLeft, checkPlacement, divergence, Holding, KeyState } from './checker';
import { Rng } from './rng';
import { Scheduler } from './sim-clock';
import { ReplicationStats, SIM_PARTITIONS, SimCluster } from './sim-cluster';
import { NetworkStats } from './sim-network';
import { History, newHistory, SimClient } from './workload';

const NODES = 5;
const CLIENTS = 4;
const SET_KEYS = Array.from({ length: 6 }, (_, i) => `s${i}`);
const DELETE_KEYS = ['d0', 'd1'];
/** Faults strike within this much virtual time from the start; then everything heals. */
const FAULT_PHASE_MS = 3000;
/** Faults in a run. */
const FAULTS_MIN = 2;
const FAULTS_MAX = 6;
/** How long a fault lasts (a partition, a node down, a false suspicion). */
const FAULT_MIN_MS = 100;
const FAULT_MAX_MS = 1500;
/** A client's deadline for one call: shorter or longer than the node's own (requestTimeoutMs, 200 ms). */
const CLIENT_TIMEOUTS_MS = [150, 600, 600];
/** After the heal, the cluster must have converged within this much virtual time. */
export const CONVERGE_BOUND_MS = 20_000;
/** How often convergence is checked. */
const PROBE_INTERVAL_MS = 100;
/** The final reads at R=N must answer within this much virtual time. */
const FINAL_READ_LIMIT_MS = 5000;
/** Pause before a failed final read is tried again. */
const FINAL_READ_RETRY_MS = 200;

export type Sabotage =
  /** Every disk is wiped at the heal: acknowledged writes are lost (the checker must say so). */
  | 'wipe-all-at-heal'
  /** A rolled-back node keeps its actor (riak_kv 679): dots are reused, writes are lost. */
  | 'rollback-keeps-actor';

export interface SimOptions {
  readonly seed: number;
  /**
   * Whether a run may lose one disk's contents (a wipe or a rollback).
   * @default true
   */
  readonly diskLoss?: boolean;
  /**
   * Whether a run may also rot one record on one disk (as its one disk loss). Off by default:
   * anti-entropy cannot repair a corrupt record yet (./README.md), so some such runs fail.
   * @default false
   */
  readonly corruption?: boolean;
  /** A deliberate defect, to show that the checker catches what it should. */
  readonly sabotage?: Sabotage;
  /** Receives the run's trace: faults, starts, client calls and their outcomes. */
  readonly trace?: (line: string) => void;
}

export interface SimResult {
  readonly seed: number;
  readonly violations: string[];
  /** A hash of the run's order of events and final state: two runs of a seed must give the same. */
  readonly digest: string;
  readonly faults: string[];
  readonly events: number;
  readonly virtualMs: number;
  /** The most siblings any primary held for a key at the end. */
  readonly siblingsMax: number;
  /** Virtual time from the heal to convergence; undefined when it did not converge. */
  readonly convergedAfterMs: number | undefined;
  readonly history: History['counts'];
  readonly network: NetworkStats;
  readonly replication: ReplicationStats;
}

type Fault =
  | { readonly kind: 'partition'; readonly at: number; readonly lasts: number; readonly side: readonly string[]; readonly oneWay: boolean }
  | { readonly kind: 'crash' | 'graceful' | 'wipe' | 'pause'; readonly at: number; readonly lasts: number; readonly node: string }
  | { readonly kind: 'suspect'; readonly at: number; readonly lasts: number; readonly node: string; readonly target: string }
  | { readonly kind: 'rollback'; readonly at: number; readonly restoreAt: number; readonly lasts: number; readonly node: string }
  | { readonly kind: 'corrupt'; readonly at: number; readonly node: string; readonly key: string };

function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'partition':
      return `${f.at} ms: partition {${f.side.join(',')}} from the rest${f.oneWay ? ' (one way: their messages out are lost)' : ''} for ${f.lasts} ms`;
    case 'crash':
      return `${f.at} ms: crash ${f.node}, restart after ${f.lasts} ms`;
    case 'graceful':
      return `${f.at} ms: graceful restart of ${f.node}, down for ${f.lasts} ms`;
    case 'wipe':
      return `${f.at} ms: wipe ${f.node}'s disk, restart after ${f.lasts} ms`;
    case 'pause':
      return `${f.at} ms: pause ${f.node} for ${f.lasts} ms`;
    case 'suspect':
      return `${f.at} ms: ${f.node} wrongly suspects ${f.target} for ${f.lasts} ms`;
    case 'rollback':
      return `${f.at} ms: copy ${f.node}'s disk; ${f.restoreAt} ms: roll it back to that copy, restart after ${f.lasts} ms`;
    case 'corrupt':
      return `${f.at} ms: corrupt ${f.node}'s record of ${f.key}`;
  }
}

/** The faults of a run, drawn before it starts: at most one disk loss (see the header). */
function planFaults(rng: Rng, ids: readonly string[], diskLoss: boolean, corruption: boolean, forceRollback = false): Fault[] {
  const plan: Fault[] = [];
  let diskLossLeft = diskLoss || corruption || forceRollback ? 1 : 0;
  const count = rng.int(FAULTS_MIN, FAULTS_MAX);
  for (let i = 0; i < count; i++) {
    const losses = [...(diskLoss ? (['wipe', 'rollback'] as const) : []), ...(corruption ? (['corrupt', 'corrupt'] as const) : [])];
    const kinds = ['partition', 'partition', 'crash', 'crash', 'graceful', 'pause', 'suspect', 'suspect', ...(diskLossLeft > 0 ? losses : [])] as const;
    // The rollback sabotage needs a rollback to act on: its runs start with one.
    const kind = i === 0 && forceRollback ? 'rollback' : rng.pick(kinds);
    const at = rng.int(0, FAULT_PHASE_MS - FAULT_MIN_MS);
    const lasts = rng.int(FAULT_MIN_MS, FAULT_MAX_MS);
    const node = rng.pick(ids);
    if (kind === 'partition') plan.push({ kind, at, lasts, side: rng.shuffle(ids).slice(0, rng.int(1, 2)), oneWay: rng.chance(0.25) });
    else if (kind === 'corrupt') {
      diskLossLeft--;
      plan.push({ kind, at, node, key: rng.pick([...SET_KEYS, ...DELETE_KEYS]) });
    }
    else if (kind === 'suspect') plan.push({ kind, at, lasts, node, target: rng.pick(ids.filter((id) => id !== node)) });
    else if (kind === 'rollback') {
      diskLossLeft--;
      // A wide window between the copy and the restore: more writes are lost with the disk.
      const copyAt = rng.int(0, FAULT_PHASE_MS / 2);
      plan.push({ kind, at: copyAt, restoreAt: rng.int(copyAt + FAULT_MIN_MS, FAULT_PHASE_MS - FAULT_MIN_MS), lasts, node });
    } else {
      if (kind === 'wipe') diskLossLeft--;
      plan.push({ kind, at, lasts, node });
    }
  }
  return plan;
}

export async function runSeed(options: SimOptions): Promise<SimResult> {
  const { seed, trace } = options;
  const rng = new Rng(seed);
  const scheduler = new Scheduler();
  const ids = Array.from({ length: NODES }, (_, i) => `n${i + 1}`);

  // The run's profile: its faults, how lossy the network is, and settings that open other paths.
  const plan = planFaults(rng, ids, options.diskLoss !== false, options.corruption === true, options.sabotage === 'rollback-keeps-actor');
  const diskLost = plan.some((f) => f.kind === 'wipe' || f.kind === 'rollback' || f.kind === 'corrupt');
  const network = { dropRate: rng.pick([0, 0, 0.01, 0.03, 0.08]), duplicateRate: rng.pick([0, 0.02, 0.05]), slowRate: rng.pick([0, 0.01, 0.03]) };
  // A client that gives up before the node does leaves writes that may have applied.
  const clientTimeoutMs = rng.pick(CLIENT_TIMEOUTS_MS);
  // Small hint backlogs refuse writes (HintBacklogFull). Expiring hints, and W=1, leave a write
  // on fewer disks than W=2 promises: only in runs that lose no disk, where that is still safe.
  const hintLimits = { hintsPerTargetMax: rng.pick([1000, 1000, 3]), hintAgeMaxMs: diskLost ? 0 : rng.pick([0, 0, 300]) };
  const weakQuorums = !diskLost && rng.chance(0.3);
  const faults = [
    `network: drop ${network.dropRate}, duplicate ${network.duplicateRate}, slow ${network.slowRate}; client timeout ${clientTimeoutMs} ms; hints: ${hintLimits.hintsPerTargetMax} a target, expire after ${hintLimits.hintAgeMaxMs || 'never'} ms${weakQuorums ? '; R=1 and W=1 allowed' : ''}`,
    ...plan.map(describeFault),
  ];

  const cluster = await SimCluster.start(scheduler, rng, { ids, hintLimits, trace });
  const net = cluster.network;
  net.faults = network;
  let healed = false;

  const cleanlyStopped = new Set<string>();
  /** Starts a node that is down, unless it is still stopping (it restarts when it has stopped, if healed). */
  const restartDown = (id: string) => {
    const clean = cleanlyStopped.has(id);
    if (cluster.running(id) !== undefined || cluster.isStopping(id)) return;
    cleanlyStopped.delete(id);
    void cluster.startNode(id, clean ? 'clean' : 'crashed');
  };
  /** A fault strikes at `at` unless everything has healed by then (a rollback's restore may fall after it). */
  const strike = (at: number, fn: () => void) =>
    scheduler.after(at, () => {
      if (!healed) fn();
    });
  let partitionSerial = 0;
  for (const f of plan) {
    switch (f.kind) {
      case 'partition':
        strike(f.at, () => {
          const serial = ++partitionSerial;
          trace?.(`${scheduler.now} partition {${f.side.join(',')}}${f.oneWay ? ' one way' : ''}`);
          net.partition(f.side, f.oneWay);
          scheduler.after(f.lasts, () => {
            if (serial !== partitionSerial || healed) return;
            trace?.(`${scheduler.now} partition healed`);
            net.heal();
          });
        });
        break;
      case 'crash':
        strike(f.at, () => {
          cleanlyStopped.delete(f.node);
          cluster.crash(f.node);
          scheduler.after(f.lasts, () => restartDown(f.node));
        });
        break;
      case 'graceful':
        strike(f.at, () => {
          void cluster.stopGracefully(f.node).then((stopped) => {
            if (!stopped) return;
            cleanlyStopped.add(f.node);
            if (healed) restartDown(f.node);
            else scheduler.after(f.lasts, () => restartDown(f.node));
          });
        });
        break;
      case 'pause':
        strike(f.at, () => cluster.pause(f.node, f.lasts));
        break;
      case 'suspect':
        strike(f.at, () => net.suspect(f.node, f.target, f.lasts));
        break;
      case 'wipe':
        strike(f.at, () => {
          cleanlyStopped.delete(f.node);
          cluster.wipe(f.node);
          scheduler.after(f.lasts, () => restartDown(f.node));
        });
        break;
      case 'corrupt':
        strike(f.at, () => void cluster.corrupt(f.node, f.key));
        break;
      case 'rollback': {
        let copy: MemoryStore | undefined;
        strike(f.at, () => void cluster.snapshot(f.node).then((s) => (copy = s)));
        strike(f.restoreAt, () => {
          if (copy === undefined) return;
          cleanlyStopped.delete(f.node);
          cluster.rollback(f.node, copy);
          if (options.sabotage === 'rollback-keeps-actor') cleanlyStopped.add(f.node);
          scheduler.after(f.lasts, () => restartDown(f.node));
        });
        break;
      }
    }
  }

  const history = newHistory();
  const link = { nodes: ids, call: (node: string, op: Parameters<SimCluster['clientCall']>[1]) => cluster.clientCall(node, op, clientTimeoutMs) };
  const keys = { setKeys: SET_KEYS, deleteKeys: DELETE_KEYS };
  const clients = Array.from({ length: CLIENTS }, (_, i) => new SimClient(i + 1, link, keys, { weakQuorums }, rng, scheduler.clock, history, trace));
  const running = Promise.all(clients.map((c) => c.run(() => healed)));

  await scheduler.run(FAULT_PHASE_MS);

  // The heal: no partition, suspicion or pause, a calm network, every node up.
  healed = true;
  const healAt = scheduler.now;
  trace?.(`${healAt} heal`);
  net.heal();
  net.clearSuspicions();
  net.faults = { dropRate: 0, duplicateRate: 0, slowRate: 0 };
  cluster.resumeAll();
  if (options.sabotage === 'wipe-all-at-heal') for (const id of cluster.ids) cluster.wipe(id);
  for (const id of cluster.ids) restartDown(id);

  const violations: string[] = [];
  const deadline = healAt + CONVERGE_BOUND_MS;
  if ((await scheduler.runUntilSettled(running, deadline)) === undefined) violations.push(`the clients did not finish within ${CONVERGE_BOUND_MS} ms of the heal`);

  const allKeys: Array<{ key: string; kind: 'set' | 'delete' }> = [...SET_KEYS.map((key) => ({ key, kind: 'set' as const })), ...DELETE_KEYS.map((key) => ({ key, kind: 'delete' as const }))];
  const primaryObjects = async (key: string) => {
    const { partition, primaries } = cluster.placement(key);
    return Promise.all(
      primaries.map(async (node) => {
        try {
          return { node, object: await cluster.running(node)?.replica.fetch(partition, Buffer.from(key)) };
        } catch (e) {
          return { node, object: undefined, unreadable: String(e) };
        }
      }),
    );
  };
  const converged = async () => {
    if (!cluster.quiet) return false;
    for (const id of cluster.ids) {
      const node = cluster.running(id);
      if (node === undefined || cluster.isStopping(id) || node.hints.targets().length > 0) return false;
    }
    const states = await Promise.all(allKeys.map(async ({ key, kind }) => ({ key, kind, primaries: await primaryObjects(key), read: { ok: false as const, error: '' } })));
    return divergence(states).length === 0;
  };
  let convergedAt: number | undefined;
  for (;;) {
    if (await converged()) {
      convergedAt = scheduler.now;
      trace?.(`${scheduler.now} converged`);
      break;
    }
    if (scheduler.now >= deadline) break;
    await scheduler.run(Math.min(deadline, scheduler.now + PROBE_INTERVAL_MS));
  }
  if (convergedAt === undefined) {
    const down = cluster.ids.filter((id) => cluster.running(id) === undefined);
    const hints = cluster.ids.flatMap((id) => cluster.running(id)?.hints.targets().map((t) => `${id} holds ${cluster.running(id)!.hints.backlog(t).count} for ${t}`) ?? []);
    violations.push(`did not converge within ${CONVERGE_BOUND_MS} ms of the heal (down: ${down.join(', ') || 'none'}; hints: ${hints.join(', ') || 'none'})`);
  }

  // A read at R=N of every key, through a random node, then each primary's own copy. A read that
  // fails is retried until FINAL_READ_LIMIT_MS, as a client would: converged data can still meet
  // a failure detector that has not yet noticed the heal (R=N needs every primary counted up).
  const finalDeadline = scheduler.now + FINAL_READ_LIMIT_MS;
  const reads = Promise.all(
    allKeys.map(async ({ key }) => {
      const via = cluster.running(rng.pick(cluster.ids)) ?? cluster.ids.map((id) => cluster.running(id)).find((n) => n !== undefined);
      if (via === undefined) return { ok: false as const, error: 'no node is up' };
      let r = await via.coordinator.execute({ kind: 'get', key: Buffer.from(key), r: 3, pr: 0 });
      while (!r.ok && scheduler.now + FINAL_READ_RETRY_MS < finalDeadline) {
        await new Promise<void>((resolve) => scheduler.after(FINAL_READ_RETRY_MS, resolve));
        r = await via.coordinator.execute({ kind: 'get', key: Buffer.from(key), r: 3, pr: 0 });
      }
      if (!r.ok) return { ok: false as const, error: `${r.error.condition}: ${r.error.message}` };
      if (r.value.kind !== 'get') return { ok: false as const, error: `answered with ${r.value.kind}` };
      return { ok: true as const, values: r.value.values };
    }),
  );
  const read = await scheduler.runUntilSettled(reads, finalDeadline);
  const states: KeyState[] = [];
  for (let i = 0; i < allKeys.length; i++) {
    const { key, kind } = allKeys[i]!;
    states.push({ key, kind, primaries: await primaryObjects(key), read: read?.value[i] ?? { ok: false, error: `no answer within ${FINAL_READ_LIMIT_MS} ms` } });
  }
  const holdings: Holding[] = [];
  const hintHoldings: Holding[] = [];
  for (const id of cluster.ids) {
    for (let partition = 0; partition < SIM_PARTITIONS; partition++) {
      holdings.push({ node: id, partition, keys: (await cluster.disk(id).fold(partition, { limit: 1000 })).length });
      hintHoldings.push({ node: id, partition, keys: (await cluster.disk(id).hints.fold(partition, { limit: 1000 })).length });
    }
  }
  violations.push(
    ...checkFinalState(history, states, OBJECT_LIMITS_DEFAULT.siblingsMax),
    ...checkPlacement(holdings, (node, p) => cluster.isPrimary(node, p)),
    ...(convergedAt === undefined ? [] : checkHintsLeft(hintHoldings)),
    ...scheduler.errors,
    ...cluster.bugs,
  );

  return {
    seed,
    violations,
    digest: digestOf(scheduler.digest, states),
    faults,
    events: scheduler.events,
    virtualMs: scheduler.now,
    siblingsMax: Math.max(0, ...states.flatMap((st) => st.primaries.map((p) => p.object?.siblings.length ?? 0))),
    convergedAfterMs: convergedAt === undefined ? undefined : convergedAt - healAt,
    history: history.counts,
    network: { ...net.stats },
    replication: { ...cluster.stats },
  };
}

/** FNV-1a over the order of events (the scheduler's digest) and the final objects. */
function digestOf(events: number, states: readonly KeyState[]): string {
  let h = events >>> 0;
  const mix = (bytes: Uint8Array) => {
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  };
  for (const s of states) {
    mix(Buffer.from(s.key));
    for (const p of s.primaries) mix(p.object === undefined ? Buffer.alloc(1) : encodeObject(p.object));
  }
  return h.toString(16).padStart(8, '0');
}

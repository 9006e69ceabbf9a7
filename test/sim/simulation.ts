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
 *
 * A share of the seeds (MEMBERSHIP_SHARE, chosen by the seed's profile) also change membership
 * during the fault phase, through the operator (./operator.ts): a join of a sixth node that
 * starts outside the cluster, a leave of a member (shut down for good once it has left), a
 * remove of a member destroyed for good (crashed, never restarted, its disk gone: that run's one
 * disk loss), one, two or all three, one commit at a time or two staged together. Such a run
 * converges only once the operator's changes are all in the state every member holds, no
 * transfer is left, and every node routes by that state; the checks then use its placement.
 */
import { Change, ClusterState } from '../../app/membership/cluster-state';
import { MemoryStore } from '../../app/storage/memory-store';
import { OBJECT_LIMITS_DEFAULT } from '../../app/versioning/limits';
import { encodeObject } from '../../app/versioning/codec';
import { checkFinalState, checkHintsLeft, checkMembership, checkPlacement, divergence, Holding, KeyState, MemberView } from './checker';
import { describeChange, MembershipStep, Operator, OperatorCounts } from './operator';
import { Rng } from './rng';
import { Scheduler } from './sim-clock';
import { partitionOfKey, ReplicationStats, SIM_COORDINATOR, SIM_PARTITIONS, simAddress, SimCluster } from './sim-cluster';
import { NetworkStats } from './sim-network';
import { History, newHistory, SimClient } from './workload';

/** How long a crash armed to strike between a coordinator's send and its commit waits for one, at most. */
const CRASH_AT_SEND_WAIT_MS = 300;
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
/** Share of seeds whose runs change membership. */
const MEMBERSHIP_SHARE = 0.4;
/** The node that may join: it starts outside the cluster. */
const JOINER = `n${NODES + 1}`;

/**
 * Whether data a node keeps of a partition it gave away (or was to receive in a change that lost
 * to another) is exempt from the placement check. False: the CleanupWorker pushes such data to
 * the owners and drops it, convergence waits for that, and the check holds every node to the
 * final placement. Set it to true to look at other failures while cleanup is broken.
 */
export const EXEMPT_FORMER_OWNERS = false;

export type Sabotage =
  /** Every disk is wiped at the heal: acknowledged writes are lost (the checker must say so). */
  | 'wipe-all-at-heal'
  /** A rolled-back node keeps its actor (riak_kv 679): dots are reused, writes are lost. */
  | 'rollback-keeps-actor'
  /**
   * Every crash strikes between a coordinator's send and its own commit, and the node restarts
   * with its actor (as if a put waited for no flush and the crash took no new epoch): the
   * coordinator decides the lost write's dot again for another value, and writes are lost.
   */
  | 'crash-at-send-keeps-actor'
  /**
   * A receiver reports its transfers done without copying anything (no fold merged, no
   * catch-up), in a change that replaces most members (replaceMembers): writes acknowledged
   * before it are lost.
   */
  | 'transfer-without-copy'
  /** Nodes never gossip: the claimant alone knows a change, which never completes. */
  | 'no-gossip';

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
  /**
   * Whether the run may change membership (when its profile says so).
   * @default true
   */
  readonly membership?: boolean;
  /**
   * Whether a member destroyed for good may die while a change is in progress, or before one
   * that gives it replicas is committed. Off by default: such a change never completes today
   * (./README.md).
   * @default false
   */
  readonly receiverLoss?: boolean;
  /** The membership changes of the run instead of its profile's (a test's scenario). */
  readonly plan?: MembershipPlan;
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
  /** The membership changes of the run (empty when it changed none), and what the operator met. */
  readonly membership: { readonly steps: number; readonly finalVersion: number; readonly operator: OperatorCounts };
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

/** A run's membership changes: the operator's steps, the nodes that start outside the cluster, the members destroyed. */
export interface MembershipPlan {
  readonly steps: readonly MembershipStep[];
  /** Nodes that start outside the cluster (as `--join true`), and when. */
  readonly starts: ReadonlyArray<{ readonly id: string; readonly at: number }>;
  /** Members that crash for good, their disk gone, and when (each is removed by a step). */
  readonly destroys: ReadonlyArray<{ readonly id: string; readonly at: number }>;
  /** Each leaver is destroyed as soon as the operator sees a state without it (its machine reused at once). */
  readonly recycleLeavers?: boolean;
}

/**
 * The membership changes of a seed's profile: in MEMBERSHIP_SHARE of the seeds, a join, a leave
 * and a remove (each in about 60% of those runs, at least one), in random order, at random
 * times of the fault phase, one commit each or two staged together.
 *
 * A member destroyed for good dies before any change is committed, and its remove is the first
 * step: a change that gives it replicas can never complete (its transfers never finish), and no
 * other change, the remove included, can be committed while one is in progress (./README.md,
 * Found so far). `receiverLoss` lifts that order: it may then die at any time.
 */
function membershipPlan(rng: Rng, founders: readonly string[], receiverLoss: boolean): MembershipPlan | undefined {
  if (!rng.chance(MEMBERSHIP_SHARE)) return undefined;
  const kinds = (['join', 'leave', 'remove'] as const).filter(() => rng.chance(0.6));
  if (kinds.length === 0) kinds.push(rng.pick(['join', 'leave', 'remove'] as const));
  const [leaver, dead] = rng.shuffle(founders);
  const starts: Array<{ id: string; at: number }> = [];
  const destroys: Array<{ id: string; at: number }> = [];
  const pending: Array<{ change: Change; notBefore: number }> = [];
  // Steps come after the death (the remove first), unless a receiver may be lost.
  const diesAt = rng.int(0, FAULT_PHASE_MS / 3);
  const order = rng.shuffle(kinds);
  if (!receiverLoss && order.includes('remove')) order.unshift(...order.splice(order.indexOf('remove'), 1));
  for (const kind of order) {
    if (kind === 'join') {
      const at = rng.int(0, FAULT_PHASE_MS / 2);
      starts.push({ id: JOINER, at });
      // Mostly once the node runs, as the README says; sometimes before it starts.
      pending.push({ change: { kind, id: JOINER, address: simAddress(JOINER), zone: '' }, notBefore: rng.chance(0.8) ? at + 50 : 0 });
    } else if (kind === 'leave') {
      pending.push({ change: { kind, id: leaver! }, notBefore: 0 });
    } else {
      const at = receiverLoss ? rng.int(0, FAULT_PHASE_MS / 2) : diesAt;
      destroys.push({ id: dead!, at });
      pending.push({ change: { kind, id: dead! }, notBefore: at + rng.int(50, 500) });
    }
  }
  const steps: MembershipStep[] = [];
  let notBefore = receiverLoss || destroys.length === 0 ? 0 : diesAt;
  for (let i = 0; i < pending.length; i++) {
    const together = [pending[i]!];
    if (i + 1 < pending.length && rng.chance(0.25)) together.push(pending[++i]!);
    const at = Math.max(notBefore, rng.int(0, (FAULT_PHASE_MS * 2) / 3), ...together.map((c) => c.notBefore));
    steps.push({ at, changes: together.map((c) => c.change) });
    // The operator takes the first step not done whose time has come: the remove stays first.
    if (together.some((c) => c.change.kind === 'remove')) notBefore = at;
  }
  steps.sort((a, b) => a.at - b.at);
  return { steps, starts, destroys };
}

/**
 * N new nodes join and every founder but the first leaves, in one commit (the first stays valid:
 * a change needs a claimant): a partition moves two or three of its replicas, and those that do
 * not hold the first founder move all of them. Each leaver's machine is reused as soon as the
 * operator sees it gone, before its CleanupWorker can push what it held: the receivers' copies
 * must be whole.
 */
export function replaceMembers(founders: readonly string[], at: number): MembershipPlan {
  const joiners = Array.from({ length: SIM_COORDINATOR.n }, (_, i) => `n${founders.length + 1 + i}`);
  return {
    steps: [{ at, changes: [...joiners.map((id): Change => ({ kind: 'join', id, address: simAddress(id), zone: '' })), ...founders.slice(1).map((id): Change => ({ kind: 'leave', id }))] }],
    starts: joiners.map((id) => ({ id, at: 0 })),
    destroys: [],
    recycleLeavers: true,
  };
}

function describePlan(plan: MembershipPlan): string[] {
  return [
    ...plan.starts.map((s) => `${s.at} ms: start ${s.id} outside the cluster`),
    ...plan.destroys.map((d) => `${d.at} ms: destroy ${d.id} (crashed for good, disk gone)`),
    ...plan.steps.map((s) => `from ${s.at} ms: the operator commits ${s.changes.map(describeChange).join(' + ')}`),
  ];
}

/** The members the plan's changes leave. */
function membersAfter(founders: readonly string[], plan: MembershipPlan | undefined): string[] {
  const members = new Set(founders);
  for (const s of plan?.steps ?? []) {
    for (const c of s.changes) {
      if (c.kind === 'join') members.add(c.id);
      else members.delete(c.id);
    }
  }
  return [...members].sort();
}

export async function runSeed(options: SimOptions): Promise<SimResult> {
  const { seed, trace } = options;
  const rng = new Rng(seed);
  // Draws of their own, so that the seed's other draws stay what they were.
  const sendRng = new Rng((seed ^ 0x73656e64) >>> 0);
  const scheduler = new Scheduler();
  const founders = Array.from({ length: NODES }, (_, i) => `n${i + 1}`);

  // The membership changes, drawn from a generator of their own (seeded from the seed): a run
  // that changes none draws from `rng` exactly what it drew before membership was simulated, so
  // regression seeds of those runs still replay.
  const membership =
    options.plan ??
    (options.sabotage === 'transfer-without-copy' ? replaceMembers(founders, 1000) : undefined) ??
    (options.membership === false ? undefined : membershipPlan(new Rng((seed ^ 0x6d656d62) >>> 0), founders, options.receiverLoss === true));
  const ids = [...founders, ...(membership?.starts.map((s) => s.id) ?? [])];
  const destroyed = membership?.destroys.length ?? 0;

  // The run's profile: its faults, how lossy the network is, and settings that open other paths.
  // A member destroyed for good is the run's one disk loss.
  const plan = planFaults(rng, ids, options.diskLoss !== false && destroyed === 0, options.corruption === true && destroyed === 0, options.sabotage === 'rollback-keeps-actor');
  const diskLost = destroyed > 0 || plan.some((f) => f.kind === 'wipe' || f.kind === 'rollback' || f.kind === 'corrupt');
  const network = { dropRate: rng.pick([0, 0, 0.01, 0.03, 0.08]), duplicateRate: rng.pick([0, 0.02, 0.05]), slowRate: rng.pick([0, 0.01, 0.03]) };
  // A client that gives up before the node does leaves writes that may have applied.
  const clientTimeoutMs = rng.pick(CLIENT_TIMEOUTS_MS);
  // Small hint backlogs refuse writes (HintBacklogFull). Expiring hints, and W=1, leave a write
  // on fewer disks than W=2 promises: only in runs that lose no disk, where that is still safe.
  const hintLimits = { hintsPerTargetMax: rng.pick([1000, 1000, 3]), hintAgeMaxMs: diskLost ? 0 : rng.pick([0, 0, 300]) };
  const weakQuorums = !diskLost && rng.chance(0.3);
  const settings = membership === undefined ? undefined : { gossipIntervalMs: options.sabotage === 'no-gossip' ? 0 : rng.pick([100, 300]), transferBatchMax: rng.pick([1, 200]) };
  const faults = [
    `network: drop ${network.dropRate}, duplicate ${network.duplicateRate}, slow ${network.slowRate}; client timeout ${clientTimeoutMs} ms; hints: ${hintLimits.hintsPerTargetMax} a target, expire after ${hintLimits.hintAgeMaxMs || 'never'} ms${weakQuorums ? '; R=1 and W=1 allowed' : ''}${settings ? `; gossip every ${settings.gossipIntervalMs} ms, fold pages of ${settings.transferBatchMax}` : ''}`,
    ...plan.map(describeFault),
    ...(membership === undefined ? [] : describePlan(membership)),
  ];

  const sabotage = options.sabotage === 'transfer-without-copy' ? options.sabotage : undefined;
  /** Nodes started at least once; retired: destroyed, or left and stopped, never to start again. */
  const started = new Set(founders);
  const retired = new Set<string>();
  const departed = (id: string) => {
    retired.add(id);
    void cluster.stopGracefully(id);
  };
  const cluster = await SimCluster.start(scheduler, rng, { ids, founders, membership: settings, hintLimits, sabotage, departed, trace });
  const net = cluster.network;
  net.faults = network;
  let healed = false;

  const cleanlyStopped = new Set<string>();
  /** Starts a node that is down, unless it is still stopping (it restarts when it has stopped, if healed). */
  const restartDown = (id: string) => {
    const clean = cleanlyStopped.has(id);
    if (!started.has(id) || retired.has(id) || cluster.running(id) !== undefined || cluster.isStopping(id)) return;
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
          // Half the crashes wait for the node to send a write it coordinated before its own
          // commit of it (the window a put's single flush opens), for up to CRASH_AT_SEND_WAIT_MS.
          const keepsActor = options.sabotage === 'crash-at-send-keeps-actor';
          if (keepsActor || sendRng.chance(0.5)) {
            cluster.armCrashAtSend(f.node, () => {
              if (keepsActor) cleanlyStopped.add(f.node);
              scheduler.after(f.lasts, () => restartDown(f.node));
            });
            scheduler.after(CRASH_AT_SEND_WAIT_MS, () => {
              if (!cluster.disarmCrashAtSend(f.node) || healed) return;
              cluster.crash(f.node);
              scheduler.after(f.lasts, () => restartDown(f.node));
            });
            return;
          }
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

  // Membership: nodes that start outside the cluster, members destroyed for good, the operator.
  for (const s of membership?.starts ?? []) {
    scheduler.after(s.at, () => {
      started.add(s.id);
      restartDown(s.id);
    });
  }
  for (const d of membership?.destroys ?? []) {
    scheduler.after(d.at, () => {
      retired.add(d.id);
      cluster.destroy(d.id);
    });
  }
  const expectedUp = () => ids.filter((id) => started.has(id) && !retired.has(id));
  let operatorStopped = false;
  const operator =
    membership === undefined
      ? undefined
      : new Operator(cluster, membership.steps, expectedUp, rng, scheduler.clock, trace, (id) => {
          if (!membership.recycleLeavers) return;
          retired.add(id);
          cluster.destroy(id);
        });
  const operating = operator?.run(() => operatorStopped);

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
  /** The state every node that should run holds, when they agree. */
  const agreed = (): ClusterState | undefined => {
    let first: ClusterState | undefined;
    for (const id of expectedUp()) {
      const state = cluster.running(id)?.membership.state;
      if (state === undefined || (first !== undefined && (state.version !== first.version || state.author !== first.author))) return undefined;
      first ??= state;
    }
    return first;
  };
  const primaryObjects = async (state: ClusterState, key: string) => {
    const partition = partitionOfKey(key);
    return Promise.all(
      state.placement.primaries[partition]!.map(async (node) => {
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
    for (const id of expectedUp()) {
      const node = cluster.running(id);
      if (node === undefined || cluster.isStopping(id) || node.hints.targets().length > 0) return false;
    }
    // Membership: every node holds one state, which shows every change and moves nothing.
    const state = agreed();
    if (state === undefined || state.target !== undefined || (operator !== undefined && !operator.done(state))) return false;
    // Without the exemption, converged also means cleaned up: no node keeps data of a partition it
    // is not a primary of (former owners pushed it to the owners and dropped it; a leaver stopped).
    if (!EXEMPT_FORMER_OWNERS) {
      for (const id of ids) {
        for (let p = 0; p < SIM_PARTITIONS; p++) {
          if (!state.placement.primaries[p]!.includes(id) && (await cluster.disk(id).fold(p, { limit: 1 })).length > 0) return false;
        }
      }
    }
    const states = await Promise.all(allKeys.map(async ({ key, kind }) => ({ key, kind, primaries: await primaryObjects(state, key), read: { ok: false as const, error: '' } })));
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
  operatorStopped = true;
  if (convergedAt === undefined) {
    const down = expectedUp().filter((id) => cluster.running(id) === undefined);
    const hints = cluster.ids.flatMap((id) => cluster.running(id)?.hints.targets().map((t) => `${id} holds ${cluster.running(id)!.hints.backlog(t).count} for ${t}`) ?? []);
    const versions = expectedUp().map((id) => {
      const state = cluster.running(id)?.membership.state;
      return state === undefined ? `${id} down` : `${id} ${state.version}${state.target ? ` (${state.transfers.filter((t) => !t.done).length} transfers left)` : ''}`;
    });
    violations.push(`did not converge within ${CONVERGE_BOUND_MS} ms of the heal (down: ${down.join(', ') || 'none'}; hints: ${hints.join(', ') || 'none'}; states: ${versions.join(', ')})`);
  }

  // The final state: the one every node agrees on, else (to say what is wrong) the newest any holds.
  const newest = ids
    .map((id) => cluster.running(id)?.membership.state)
    .filter((s): s is ClusterState => s !== undefined)
    .reduce((a, b) => (b.version > a.version || (b.version === a.version && b.author > a.author) ? b : a));
  const final = agreed() ?? newest;
  const views: MemberView[] = expectedUp().map((id) => {
    const node = cluster.running(id);
    if (node === undefined) return { node: id };
    const routing = node.membership.routing;
    return { node: id, version: node.membership.state.version, author: node.membership.state.author, routing: Array.from({ length: SIM_PARTITIONS }, (_, p) => routing.replicas(p)) };
  });

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
    states.push({ key, kind, primaries: await primaryObjects(final, key), read: read?.value[i] ?? { ok: false, error: `no answer within ${FINAL_READ_LIMIT_MS} ms` } });
  }
  const holdings: Holding[] = [];
  const hintHoldings: Holding[] = [];
  for (const id of cluster.ids) {
    for (let partition = 0; partition < SIM_PARTITIONS; partition++) {
      holdings.push({ node: id, partition, keys: (await cluster.disk(id).fold(partition, { limit: 1000 })).length });
      hintHoldings.push({ node: id, partition, keys: (await cluster.disk(id).hints.fold(partition, { limit: 1000 })).length });
    }
  }
  const isPrimary = (node: string, partition: number) => final.placement.primaries[partition]!.includes(node);
  const formerOwner = (node: string, partition: number) => EXEMPT_FORMER_OWNERS && cluster.everAssigned[partition]!.has(node);
  violations.push(
    ...checkFinalState(history, states, OBJECT_LIMITS_DEFAULT.siblingsMax),
    ...checkMembership(final, membersAfter(founders, membership), views),
    ...checkPlacement(holdings, isPrimary, formerOwner),
    ...(convergedAt === undefined ? [] : checkHintsLeft(hintHoldings)),
    ...scheduler.errors,
    ...cluster.bugs,
  );
  void operating;

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
    membership: { steps: membership?.steps.length ?? 0, finalVersion: final.version, operator: operator?.counts ?? { commits: 0, refusals: 0, lostCalls: 0 } },
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

/**
 * The simulated cluster: the real coordinators, replicas, hint stores, handoff workers, hash trees
 * and anti-entropy workers of app/replication, on in-memory stores, wired by the simulated network
 * (./sim-network.ts) and driven by the virtual clock (./sim-clock.ts).
 *
 * A node's incarnation is everything it holds in memory. A crash drops it (its timers never fire
 * again, messages to it are lost, its pending calls never return) and keeps its MemoryStore,
 * which stands for the disk: every write to it was durable. A restart builds a new incarnation on
 * that store as a node start does: hints reopened from the store, hash trees rebuilt, workers
 * started; after a crash it takes a new actor epoch (`n1.e2`), as app/node/identity.ts does after
 * any start it cannot prove clean. A graceful stop (drain, stop the workers) keeps the actor. A
 * disk wipe restarts on an empty store; a rollback restarts on a copy of the store taken earlier.
 *
 * Membership is the real app/membership: each node keeps its cluster state in its store's
 * metadata (Membership), routes by it, gossips it (Gossip), takes changes when it is the claimant
 * (Claimant), and copies the partitions a change gives it (TransferWorker: fold pages from a
 * current primary, then an anti-entropy catch-up, then a report to the claimant). The founders
 * start from the state of their fixed member list, as `--peers` does; any other node starts
 * outside the cluster (version 0, as `--join true` does) and learns the cluster by gossip once a
 * committed join names it. Gossip and transfers run only in runs that change membership: with a
 * fixed member list there is nothing to gossip or move, and leaving them off keeps the runs of
 * such seeds as they were.
 */
import { KvError, Result, err, ok } from '../../app/errors';
import { Logger, silentLogger } from '../../observability/log';
import { admin, localResult } from '../../app/membership/admin';
import { Claimant } from '../../app/membership/claimant';
import { CleanupWorker, hintRedirect } from '../../app/membership/cleanup';
import { ClusterState, initialState } from '../../app/membership/cluster-state';
import { Gossip } from '../../app/membership/gossip';
import { Membership, StateStore } from '../../app/membership/membership';
import { FoldPage, foldPage, TransferConfig, TransferWorker } from '../../app/membership/transfers';
import type { AdminRequest__Output } from '../../app/rpc/generated/kv/v1/AdminRequest';
import type { AdminResponse } from '../../app/rpc/generated/kv/v1/AdminResponse';
import { AntiEntropy, AntiEntropyConfig, AntiEntropyPeers, KeyHashes } from '../../app/replication/anti-entropy';
import { Clock, sleep } from '../../app/replication/clock';
import { Coordinator, CoordinatorConfig, CoordinatorEvents, ExecuteOptions } from '../../app/replication/coordinator';
import { HandoffConfig, HandoffWorker } from '../../app/replication/handoff';
import { HashTrees } from '../../app/replication/hash-trees';
import { HintLimits, HintStore } from '../../app/replication/hints';
import { ClientOp, OpResult } from '../../app/api/ops';
import { LocalReplica } from '../../app/replication/replica';
import { Replicas } from '../../app/replication/replicas';
import { partitionOf } from '../../app/ring/ring';
import { KeySpace, LocalStore } from '../../app/storage/local-store';
import { MemoryStore } from '../../app/storage/memory-store';
import { OBJECT_LIMITS_DEFAULT } from '../../app/versioning/limits';
import { Rng } from './rng';
import { NodeLife, Scheduler } from './sim-clock';
import { Endpoint, SimNetwork } from './sim-network';
import { GroupCommitStore } from './sim-store';
import { decodeObject } from '../../app/versioning/codec';
import { TEST_CONTEXT_SEAL } from '../support/context-seal';

export const SIM_PARTITIONS = 16;
/** The cluster's name in its state (a state of another cluster is refused). */
export const SIM_CLUSTER = 'sim';

export const SIM_COORDINATOR: CoordinatorConfig = {
  n: 3,
  r: 2,
  w: 2,
  keyBytesMax: 1024,
  valueBytesMax: 64 * 1024,
  requestTimeoutMs: 200,
  readRepairWaitMs: 20,
  inFlightMax: 1000,
  readRepairsInFlightMax: 100,
};

const HANDOFF: HandoffConfig = { handoffIntervalMs: 100, handoffBatchMax: 50, handoffKeysPerSecondMax: 10_000, requestTimeoutMs: 200 };
const ANTI_ENTROPY: AntiEntropyConfig = { antiEntropyIntervalMs: 100, antiEntropyKeysPerExchangeMax: 100, antiEntropyRebuildKeysPerSecondMax: 1_000_000, requestTimeoutMs: 200 };
/** Transfers at the pace of handoff; the batch is set per run (MembershipSettings). */
const TRANSFERS: TransferConfig = { transferIntervalMs: 100, transferBatchMax: 200, transferKeysPerSecondMax: 10_000, requestTimeoutMs: 200 };
const HINT_LIMITS: HintLimits = { hintsPerTargetMax: 1000, hintBytesMax: 1024 * 1024, hintAgeMaxMs: 0 };
/** How long a graceful stop waits for operations in flight (the node's shutdownGraceMs). */
const SHUTDOWN_GRACE_MS = 500;
/** Longest wait of a queued update for its commit (an fsync under load). */
const COMMIT_DELAY_MAX_MS = 2;
/** Entries copied per fold when a store is snapshotted. */
const COPY_BATCH = 1000;
/** Bytes of one partition fold page at most (the node's messageBytesMax: never the limit here). */
const FOLD_PAGE_BYTES_MAX = 4 * 1024 * 1024;

/** Settings of the membership work in runs that change membership. */
export interface MembershipSettings {
  readonly gossipIntervalMs: number;
  /** Objects in one fold page: 1 makes every key a page of its own (the resume path). */
  readonly transferBatchMax: number;
}

/** What a node answers `kv status` with, as far as the operator needs it. */
export interface SimStatus {
  readonly state: ClusterState;
  readonly claimant: string | undefined;
}

/** The address a member is listed at (the simulated network routes by id; the codec checks host:port). */
export function simAddress(id: string): string {
  return `${id}.sim:7000`;
}

/** Counters of what the replication layer did, summed over nodes and incarnations. */
export interface ReplicationStats {
  hinted: number;
  readRepairs: number;
  forwarded: number;
  handedOff: number;
  aeRepairedKeys: number;
  aeExchanges: number;
  transferPages: number;
  /** Crashes that struck a node between sending a write it coordinated and committing it. */
  crashesBeforeOwnCommit: number;
  transfersFinished: number;
  /** Keys former owners pushed to the current primaries and dropped (CleanupWorker). */
  keysDropped: number;
}

export interface SimNode extends Endpoint {
  readonly id: string;
  readonly incarnation: number;
  readonly actor: string;
  /** The node's store: its disk, written as the LMDB engine writes (./sim-store.ts). */
  readonly store: GroupCommitStore;
  readonly clock: Clock;
  readonly replica: LocalReplica;
  readonly hints: HintStore;
  readonly trees: HashTrees;
  readonly coordinator: Coordinator;
  readonly handoff: HandoffWorker;
  readonly antiEntropy: AntiEntropy;
  readonly membership: Membership;
  readonly claimant: Claimant;
  readonly gossip: Gossip;
  readonly transfers: TransferWorker;
  readonly cleanup: CleanupWorker;
}

/** One node's view of the others, over the simulated network. */
class SimTransport implements AntiEntropyPeers {
  constructor(
    private readonly self: SimNode,
    private readonly cluster: SimCluster,
  ) {}

  fetch(node: string, partition: number, key: Uint8Array, timeoutMs: number, hintFor?: string): Promise<Result<Uint8Array | undefined>> {
    const k = Buffer.from(key);
    return this.cluster.call(this.self, node, 'fetch', timeoutMs, (t) => t.replicas.fetch(t.id, partition, k, timeoutMs, hintFor));
  }

  replicate(node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number, hintFor?: string): Promise<Result<void>> {
    // Bytes on the wire are copies: the receiver never shares a buffer with the sender.
    const k = Buffer.from(key);
    const o = Buffer.from(object);
    const sent = this.cluster.call(this.self, node, 'replicate', timeoutMs, (t) => t.replicas.replicate(t.id, partition, k, o, timeoutMs, hintFor));
    this.cluster.replicaSent(this.self.id);
    return sent;
  }

  forward(node: string, op: ClientOp, timeoutMs: number): Promise<Result<OpResult, KvError>> {
    return this.cluster.call(this.self, node, 'forward', timeoutMs, (t) => execute(t, op, { timeoutMs, forwarded: true }));
  }

  aeTree(node: string, partition: number, timeoutMs: number): Promise<Result<Uint8Array | undefined>> {
    return this.cluster.call(this.self, node, 'aeTree', timeoutMs, async (t) => {
      return ok(Buffer.from(await t.antiEntropy.treeOf(partition)));
    });
  }

  aeKeys(node: string, partition: number, segments: readonly number[], limit: number, timeoutMs: number): Promise<Result<KeyHashes>> {
    return this.cluster.call(this.self, node, 'aeKeys', timeoutMs, async (t) => ok(await t.antiEntropy.keysIn(partition, segments, limit)));
  }

  gossip(node: string, state: string, timeoutMs: number): Promise<Result<string | undefined>> {
    return this.cluster.call(this.self, node, 'gossip', timeoutMs, async (t) => t.gossip.receive(state, this.self.id));
  }

  foldPartition(node: string, partition: number, after: Uint8Array | undefined, limit: number, timeoutMs: number): Promise<Result<FoldPage>> {
    const a = after === undefined ? undefined : Buffer.from(after);
    return this.cluster.call(this.self, node, 'fold', timeoutMs, async (t) => ok(await foldPage(t.store, partition, a, limit, FOLD_PAGE_BYTES_MAX)));
  }

  /** As node.ts wires it: a report to this node itself goes straight to its claimant. */
  transferDone(claimant: string, partition: number, to: string, timeoutMs: number): Promise<Result<void>> {
    if (claimant === this.self.id) return localResult(() => this.self.claimant.transferDone(partition, to));
    return this.cluster.call(this.self, claimant, 'transferDone', timeoutMs, (t) => localResult(() => t.claimant.transferDone(partition, to)));
  }

  isUp(node: string): boolean {
    return this.cluster.network.isUp(this.self.id, node);
  }
}

interface Components {
  readonly replica: LocalReplica;
  readonly hints: HintStore;
  readonly trees: HashTrees;
  readonly replicas: Replicas;
  readonly coordinator: Coordinator;
  readonly handoff: HandoffWorker;
  readonly antiEntropy: AntiEntropy;
  readonly membership: Membership;
  readonly claimant: Claimant;
  readonly gossip: Gossip;
  readonly transfers: TransferWorker;
  readonly cleanup: CleanupWorker;
}

/** One incarnation of a node: its identity and liveness first, its components wired once built. */
class RunningNode implements SimNode {
  readonly life: NodeLife;
  readonly clock: Clock;
  private parts: Components | undefined;

  readonly store: GroupCommitStore;

  constructor(
    readonly id: string,
    readonly incarnation: number,
    readonly actor: string,
    disk: MemoryStore,
    scheduler: Scheduler,
    commitDelayMs: () => number,
    announcedWrite?: (key: Uint8Array, bytes: Uint8Array) => void,
  ) {
    this.life = new NodeLife(scheduler);
    this.clock = scheduler.scoped(this.life);
    this.store = new GroupCommitStore(disk, this.clock, commitDelayMs, announcedWrite);
  }

  wire(parts: Components): void {
    this.parts = parts;
  }

  private get c(): Components {
    if (this.parts === undefined) throw new Error(`sim: ${this.id} (incarnation ${this.incarnation}) is used before it is wired`);
    return this.parts;
  }

  get replica() {
    return this.c.replica;
  }
  get hints() {
    return this.c.hints;
  }
  get trees() {
    return this.c.trees;
  }
  get replicas() {
    return this.c.replicas;
  }
  get coordinator() {
    return this.c.coordinator;
  }
  get handoff() {
    return this.c.handoff;
  }
  get antiEntropy() {
    return this.c.antiEntropy;
  }
  get membership() {
    return this.c.membership;
  }
  get claimant() {
    return this.c.claimant;
  }
  get gossip() {
    return this.c.gossip;
  }
  get transfers() {
    return this.c.transfers;
  }
  get cleanup() {
    return this.c.cleanup;
  }
}

export interface SimClusterOptions {
  /** Every node that may run: the founders, then any node that starts outside the cluster. */
  readonly ids: readonly string[];
  /**
   * The members of the cluster's first state (a fixed member list, as `--peers` gives it).
   * @default - every node in ids
   */
  readonly founders?: readonly string[];
  /**
   * Gossip and transfers run (a run that changes membership).
   * @default - neither runs: the member list stays as the founders'
   */
  readonly membership?: MembershipSettings;
  /** @default - 1000 hints a target, no expiry */
  readonly hintLimits?: Partial<HintLimits>;
  /**
   * A deliberate defect, to show that the checks catch it. 'transfer-without-copy': a receiver
   * takes nothing from the fold pages and skips its catch-up, and reports the transfer done.
   */
  readonly sabotage?: 'transfer-without-copy';
  /** A node that left holds nothing and stops for good (its CleanupWorker says so); the run retires it. */
  readonly departed?: (id: string) => void;
  /** Records a line of the run's trace (KV_SIM_TRACE). */
  readonly trace?: (line: string) => void;
}

export class SimCluster {
  readonly ids: readonly string[];
  readonly founders: readonly string[];
  readonly network: SimNetwork<RunningNode>;
  readonly stats: ReplicationStats = { hinted: 0, readRepairs: 0, forwarded: 0, handedOff: 0, aeRepairedKeys: 0, aeExchanges: 0, transferPages: 0, transfersFinished: 0, keysDropped: 0, crashesBeforeOwnCommit: 0 };
  /** Failures that only a bug explains: exceptions out of handlers, errors the nodes logged. */
  readonly bugs: string[] = [];
  /**
   * Partition -> every member some node's cluster state ever made a primary of it or the
   * receiver of a move into it (the first state's owners included): what may hold its data.
   */
  readonly everAssigned: ReadonlyArray<Set<string>>;
  private readonly live = new Map<string, RunningNode>();
  /** The disks: what survives a crash. */
  private readonly disks = new Map<string, MemoryStore>();
  /** Names of the metadata written to each disk (the cluster state, transfer resume points), for snapshots. */
  private readonly metaNames = new Map<MemoryStore, Set<string>>();
  private readonly incarnations = new Map<string, number>();
  private readonly actorEpochs = new Map<string, number>();
  /** Nodes in a graceful stop: up, draining, not to be started again until stopped. */
  private readonly stopping = new Set<string>();
  private readonly trace: ((line: string) => void) | undefined;
  private readonly hintLimits: HintLimits;
  private readonly settings: MembershipSettings | undefined;
  private readonly sabotage: SimClusterOptions['sabotage'];
  private readonly onDeparted: (id: string) => void;
  /** Client requests on their way to a node. */
  private clientRequestsInFlight = 0;

  private constructor(
    readonly scheduler: Scheduler,
    readonly rng: Rng,
    options: SimClusterOptions,
  ) {
    this.ids = options.ids;
    this.founders = options.founders ?? options.ids;
    this.hintLimits = { ...HINT_LIMITS, ...options.hintLimits };
    this.settings = options.membership;
    this.sabotage = options.sabotage;
    this.onDeparted = options.departed ?? (() => {});
    this.network = new SimNetwork<RunningNode>(scheduler, rng, this.ids, (id) => this.live.get(id));
    this.trace = options.trace;
    const first = this.initialState(this.founders[0]!);
    this.everAssigned = first.placement.primaries.map((row) => new Set(row));
  }

  static async start(scheduler: Scheduler, rng: Rng, options: SimClusterOptions): Promise<SimCluster> {
    const cluster = new SimCluster(scheduler, rng, options);
    for (const id of cluster.ids) cluster.disks.set(id, new MemoryStore());
    for (const id of cluster.founders) await cluster.startNode(id, 'new');
    return cluster;
  }

  running(id: string): SimNode | undefined {
    return this.live.get(id);
  }

  isStopping(id: string): boolean {
    return this.stopping.has(id);
  }

  /** A node's disk, whether or not the node runs. */
  disk(id: string): MemoryStore {
    return this.disks.get(id)!;
  }

  /** The state a node starts from when its disk holds none: its flags'. */
  initialState(id: string): ClusterState {
    const { n } = SIM_COORDINATOR;
    if (this.founders.includes(id)) return initialState(SIM_CLUSTER, this.founders.map((m) => ({ id: m, address: simAddress(m), zone: '' })), SIM_PARTITIONS, n);
    // Started with --join: a placeholder, never stored or sent, until a state naming it arrives.
    return { ...initialState(SIM_CLUSTER, [{ id, address: simAddress(id), zone: '' }], SIM_PARTITIONS, n), version: 0 };
  }

  /** A request over the network from one node to another (see SimNetwork.call). */
  call<T>(from: SimNode, to: string, kind: Parameters<SimNetwork<RunningNode>['call']>[2], timeoutMs: number, run: (target: RunningNode) => Promise<Result<T>>): Promise<Result<T>> {
    return this.network.call(from, to, kind, timeoutMs, run, (e) => {
      // Answered as the server answers it (INTERNAL); a bug unless it is a rotted record.
      if (!(e instanceof Error && e.name === 'CorruptRecordError')) this.bugs.push(`at ${this.scheduler.now} ms: ${kind} from ${from.id} to ${to} threw: ${(e as Error).stack ?? String(e)}`);
      return err(new KvError('Internal', `${kind} threw at ${to}: ${String(e)}`));
    });
  }

  /**
   * Starts a node on its disk. `new` and `crashed` take a new actor epoch (a first start, or one
   * the node cannot prove clean); `clean` keeps the last actor.
   */
  async startNode(id: string, start: 'new' | 'crashed' | 'clean'): Promise<void> {
    if (this.live.has(id) || this.stopping.has(id)) throw new Error(`sim: ${id} is already running`);
    const incarnation = (this.incarnations.get(id) ?? 0) + 1;
    this.incarnations.set(id, incarnation);
    const epoch = (this.actorEpochs.get(id) ?? 0) + (start === 'clean' ? 0 : 1);
    this.actorEpochs.set(id, epoch);
    const actor = `${id}.e${epoch}`;
    const disk = this.disks.get(id)!;
    const node = new RunningNode(id, incarnation, actor, disk, this.scheduler, () => this.rng.int(0, COMMIT_DELAY_MAX_MS), (key, bytes) => this.checkNewDot(actor, key, bytes));
    const { store, clock } = node;
    const log = this.logger(id);
    const meta = this.metaStore(store, disk);
    const membership = await Membership.open(meta, this.initialState(id), log);
    // What node.ts derives from the state, refreshed in place when it changes: the partitions this
    // node is a primary of, with their other primaries (anti-entropy's work).
    const served = new Map<number, readonly string[]>();
    const derive = (state: ClusterState) => {
      served.clear();
      for (let p = 0; p < SIM_PARTITIONS; p++) {
        const { primaries } = membership.routing.replicas(p);
        if (primaries.includes(id)) served.set(p, primaries.filter((m) => m !== id));
        // A placeholder (version 0) assigns nothing: it is never sent, and serves no operation.
        if (state.version > 0) for (const m of [...state.placement.primaries[p]!, ...(state.target?.primaries[p] ?? [])]) this.everAssigned[p]!.add(m);
      }
    };
    derive(membership.state);
    membership.onChange((state) => {
      derive(state);
      this.trace?.(`${this.scheduler.now} ${id} takes state ${state.version} by ${state.author || '(flags)'}: ${state.members.map((m) => `${m.id}${m.status === 'valid' ? '' : `(${m.status})`}`).join(',')}${state.target ? `; ${state.transfers.filter((t) => !t.done).length} transfers left` : ''}`);
    });
    const hints = await HintStore.open(store.hints, SIM_PARTITIONS, this.hintLimits, clock.now);
    const trees = new HashTrees(SIM_PARTITIONS);
    const replica = new LocalReplica(store, actor, OBJECT_LIMITS_DEFAULT, { hints, trees, nowMs: clock.now });
    const transport = new SimTransport(node, this);
    // As node.ts wires it: a node that is not a member (it left) takes no hints.
    const replicas = new Replicas(id, replica, transport, undefined, () => membership.state.version === 0 || membership.state.members.some((m) => m.id === id));
    const coordinator = new Coordinator({ self: id, routing: () => membership.routing, local: replica, replicas, config: SIM_COORDINATOR, log, events: this.coordinatorEvents(), clock, contexts: TEST_CONTEXT_SEAL });
    const stats = this.stats;
    const handoff = new HandoffWorker(hints, transport, HANDOFF, { delivered: (_t, n) => (stats.handedOff += n), expired() {}, failed() {} }, log, clock);
    // As node.ts wires it: hints for a member that left or was removed go to the current primaries.
    handoff.redirect = hintRedirect(membership, () => cleanup.mayHandOff, (o, p, k, obj, t) => replicas.replicate(o, p, k, obj, t));
    const antiEntropy = new AntiEntropy(
      trees,
      store,
      replica,
      transport,
      () => served,
      ANTI_ENTROPY,
      { exchange: () => stats.aeExchanges++, repaired: (n) => (stats.aeRepairedKeys += n), completed() {} },
      log,
      clock,
    );
    const claimant = new Claimant(id, membership, (other) => this.network.isUp(id, other));
    const gossip = new Gossip(id, membership, transport, { gossipIntervalMs: this.settings?.gossipIntervalMs ?? 0, requestTimeoutMs: SIM_COORDINATOR.requestTimeoutMs }, log, clock, () => this.rng.next());
    const withoutCopy = this.sabotage === 'transfer-without-copy';
    const transfers = new TransferWorker(
      {
        self: id,
        membership,
        store: meta,
        peers: transport,
        merge: async (partition, key, object) => {
          if (!withoutCopy) await replica.mergeEncoded(partition, key, object);
        },
        catchUp: async (partition, peer) => withoutCopy || ['in_sync', 'repaired'].includes(await antiEntropy.exchange(partition, peer)),
        claimant: () => claimant.claimant,
      },
      { ...TRANSFERS, transferBatchMax: this.settings?.transferBatchMax ?? TRANSFERS.transferBatchMax },
      { copied: () => stats.transferPages++, finished: () => stats.transfersFinished++ },
      log,
      clock,
    );
    const cleanup = new CleanupWorker(
      {
        self: id,
        membership,
        fold: (partition, after, limit) => store.fold(partition, { startAfter: after, limit }),
        replicate: (node, partition, key, object, timeoutMs) => transport.replicate(node, partition, key, object, timeoutMs),
        isUp: (other) => transport.isUp(other),
        removeIfUnchanged: (partition, key, expected) => replica.reapIfUnchanged(partition, key, expected),
        spread: (version) => gossip.spread(version),
        hintsHeld: () => hints.targets().reduce((n, t) => n + hints.backlog(t).count, 0),
        // The process exits (kv node stops when it has left): never to start again.
        departed: () => {
          this.trace?.(`${this.scheduler.now} ${id} has left and holds nothing: it stops for good`);
          this.onDeparted(id);
        },
      },
      // Runs last seconds of virtual time: a node that left is never out long enough to be stale.
      { ...TRANSFERS, tombstoneGraceMs: 24 * 3600 * 1000 },
      { dropped: (keys) => (stats.keysDropped += keys) },
      log,
      clock,
    );
    if (this.settings !== undefined) await cleanup.open(meta);
    node.wire({ replica, hints, trees, replicas, coordinator, handoff, antiEntropy, membership, claimant, gossip, transfers, cleanup });
    this.live.set(id, node);
    this.network.started(id);
    handoff.start();
    antiEntropy.start();
    if (this.settings !== undefined) {
      gossip.start();
      transfers.start();
      cleanup.start();
    }
    this.trace?.(`${this.scheduler.now} start ${id} incarnation ${incarnation} actor ${actor} (${start}), state ${membership.state.version}`);
  }

  /** Every dot a coordinator decided, with the value it decided it for (hex, or "tombstone"). */
  private readonly decidedDots = new Map<string, string>();

  /**
   * A coordinated write's new dot must never have been decided before for another value: a
   * coordinator that sends a write before committing it and then crashes must not decide that
   * dot again (it restarts with a new actor epoch). A second decision is a bug of the run.
   */
  private checkNewDot(actor: string, key: Uint8Array, bytes: Uint8Array): void {
    const object = decodeObject(bytes);
    const counter = object.vv.get(actor) ?? 0;
    const sibling = object.siblings.find((s) => s.dot.actor === actor && s.dot.counter === counter);
    if (sibling === undefined) return;
    const value = sibling.value === null ? 'tombstone' : Buffer.from(sibling.value).toString('hex');
    const id = `${Buffer.from(key).toString()} ${actor}:${counter}`;
    const before = this.decidedDots.get(id);
    if (before === undefined) this.decidedDots.set(id, value);
    else if (before !== value) this.bugs.push(`dot reused: ${id} was decided for two values (${before.slice(0, 24)} and ${value.slice(0, 24)})`);
  }

  /** Nodes armed to crash right after they send a write on, and what to do then. */
  private readonly crashAtSend = new Map<string, () => void>();

  /**
   * The node crashes as soon as it has sent a write on while its own commit of a write it
   * coordinated is still pending (between the send and the commit), then `crashed` runs.
   */
  armCrashAtSend(id: string, crashed: () => void): void {
    this.crashAtSend.set(id, crashed);
  }

  /** Disarms a crash at send that has not struck; says whether it was armed. */
  disarmCrashAtSend(id: string): boolean {
    return this.crashAtSend.delete(id);
  }

  /** Called when a node has sent a replica write: an armed node with a pending coordinated write of its own crashes now. */
  replicaSent(id: string): void {
    const crashed = this.crashAtSend.get(id);
    if (crashed === undefined || (this.live.get(id)?.store.announcedPending ?? 0) === 0) return;
    this.crashAtSend.delete(id);
    this.trace?.(`${this.scheduler.now} ${id} sent a write it coordinated before committing it`);
    this.crash(id);
    crashed();
  }

  /** The node's memory is lost; its disk stays as it was. */
  crash(id: string): void {
    const node = this.live.get(id);
    if (node === undefined) return;
    node.life.alive = false;
    if (node.store.announcedPending > 0) this.stats.crashesBeforeOwnCommit++;
    this.live.delete(id);
    this.stopping.delete(id);
    this.network.truthChanged();
    this.trace?.(`${this.scheduler.now} crash ${id}`);
  }

  /** The node stops doing anything for `ms` (a long GC or VM pause); then it carries on. */
  pause(id: string, ms: number): void {
    const node = this.live.get(id);
    if (node === undefined) return;
    node.life.pause(ms);
    this.network.truthChanged();
    this.scheduler.after(ms, () => this.network.truthChanged());
    this.trace?.(`${this.scheduler.now} pause ${id} for ${ms} ms`);
  }

  /**
   * Bit rot: a byte of the record the node's disk holds for `key` flips, so that the record
   * fails its checksum. Returns false when the disk holds no such record.
   */
  async corrupt(id: string, key: string): Promise<boolean> {
    const disk = this.disks.get(id)!;
    const partition = partitionOfKey(key);
    if ((await disk.fold(partition, { limit: 1000 })).every((e) => Buffer.from(e.key).toString() !== key)) return false;
    disk.mutateFrameForTest(partition, Buffer.from(key), (frame) => (frame[frame.length - 1]! ^= 0x5a));
    this.trace?.(`${this.scheduler.now} corrupt ${id}'s record of ${key}`);
    return true;
  }

  /** Every paused node carries on now. */
  resumeAll(): void {
    for (const node of this.live.values()) node.life.resume();
    this.network.truthChanged();
  }

  /** The node crashes and its disk is replaced by an empty one. */
  wipe(id: string): void {
    this.crash(id);
    this.disks.set(id, new MemoryStore());
    this.trace?.(`${this.scheduler.now} wipe ${id}`);
  }

  /** The node crashes and its disk is replaced by `snapshot` (a copy taken earlier). */
  rollback(id: string, snapshot: MemoryStore): void {
    this.crash(id);
    this.disks.set(id, snapshot);
    this.trace?.(`${this.scheduler.now} rollback ${id}`);
  }

  /**
   * The node crashes for good and its disk is gone (a machine lost): it is never started again,
   * and an operator removes it from the cluster.
   */
  destroy(id: string): void {
    this.crash(id);
    this.disks.set(id, new MemoryStore());
    this.trace?.(`${this.scheduler.now} destroy ${id} (never to return)`);
  }

  /** A copy of a node's disk as it is now (data, hints and metadata). */
  async snapshot(id: string): Promise<MemoryStore> {
    const from = this.disks.get(id)!;
    const to = new MemoryStore();
    for (let p = 0; p < SIM_PARTITIONS; p++) {
      await copySpace(from, to, p);
      await copySpace(from.hints, to.hints, p);
    }
    const names = [...(this.metaNames.get(from) ?? [])];
    for (const name of names) {
      const value = await from.getMeta(name);
      if (value !== undefined) await to.setMeta(name, value);
    }
    this.metaNames.set(to, new Set(names));
    return to;
  }

  /** The store's metadata as Membership and the transfer worker use it, each name written remembered (for snapshots). */
  private metaStore(store: LocalStore, disk: MemoryStore): StateStore {
    let names = this.metaNames.get(disk);
    if (names === undefined) this.metaNames.set(disk, (names = new Set()));
    const written = names;
    return {
      getMeta: (name) => store.getMeta(name),
      setMeta: (name, value) => {
        written.add(name);
        return store.setMeta(name, value);
      },
    };
  }

  /**
   * A graceful stop, as KvNode.stop does it: drain (operations are passed on; those in flight
   * finish or the grace runs out), stop handoff and anti-entropy, then go down. Resolves when the
   * node is down, or never if it crashed meanwhile.
   */
  async stopGracefully(id: string): Promise<boolean> {
    const node = this.live.get(id);
    if (node === undefined || this.stopping.has(id)) return false;
    this.stopping.add(id);
    this.trace?.(`${this.scheduler.now} stopping ${id}`);
    await Promise.race([node.coordinator.drain(), sleep(node.clock, SHUTDOWN_GRACE_MS)]);
    await Promise.all([node.handoff.stop(), node.antiEntropy.stop(), node.gossip.stop(), node.transfers.stop(), node.cleanup.stop()]);
    if (!node.life.alive) return false;
    // KvNode.stop closes the store, which commits what is pending (the next start keeps the actor).
    node.store.commitNow();
    node.life.alive = false;
    this.live.delete(id);
    this.stopping.delete(id);
    this.network.truthChanged();
    this.trace?.(`${this.scheduler.now} stopped ${id}`);
    return true;
  }

  /**
   * A client's request to a node and its answer, over a link with the network's delays and
   * drops but no partitions (clients are outside them). A node that is down refuses the
   * connection (nothing was sent); an answer that does not come within timeoutMs is a
   * DeadlineExceeded, which for a write may have applied.
   */
  clientCall(nodeId: string, op: ClientOp, timeoutMs: number): Promise<Result<OpResult>> {
    return this.linkCall(nodeId, op.kind, op.kind !== 'get', true, timeoutMs, (t) => execute(t, op, { timeoutMs: SIM_COORDINATOR.requestTimeoutMs }));
  }

  /** An operator's `kv admin` request to a node, over the clients' link. */
  adminCall(nodeId: string, request: AdminRequest__Output, timeoutMs: number): Promise<Result<AdminResponse>> {
    return this.linkCall(nodeId, `admin ${request.action}`, request.action === 'commit', false, timeoutMs, (t) =>
      admin(t.claimant, t.membership, request).catch((e: unknown) => {
        // A refusal is a MembershipRefused result; anything thrown is a bug.
        this.bugs.push(`at ${this.scheduler.now} ms: admin ${request.action} on ${nodeId} threw: ${(e as Error).stack ?? String(e)}`);
        return err(new KvError('Internal', `admin threw at ${nodeId}: ${String(e)}`));
      }),
    );
  }

  /** An operator's `kv status` to a node: its cluster state and the claimant it sees. */
  statusCall(nodeId: string, timeoutMs: number): Promise<Result<SimStatus>> {
    return this.linkCall(nodeId, 'status', false, false, timeoutMs, async (t) => ok({ state: t.membership.state, claimant: t.claimant.claimant }));
  }

  /** A request over the clients' link; `counted`: the cluster is not quiet while it is on its way (a client operation). */
  private linkCall<T>(nodeId: string, what: string, mayHaveApplied: boolean, counted: boolean, timeoutMs: number, run: (target: RunningNode) => Promise<Result<T>>): Promise<Result<T>> {
    const target = this.live.get(nodeId);
    if (target === undefined) return Promise.resolve(err(new KvError('PeerUnreachable', `node ${nodeId} refused the connection`)));
    const faults = this.network.faults;
    return new Promise((resolve) => {
      let done = false;
      const settle = (r: Result<T>) => {
        if (done) return;
        done = true;
        cancel();
        resolve(r);
      };
      const cancel = this.scheduler.after(timeoutMs, () => settle(err(new KvError('DeadlineExceeded', `client: ${what} via ${nodeId}: no answer in ${timeoutMs} ms`, mayHaveApplied))));
      if (this.rng.chance(faults.dropRate)) return;
      if (counted) this.clientRequestsInFlight++;
      this.scheduler.after(this.rng.int(1, 8), () => {
        if (counted) this.clientRequestsInFlight--;
        const now = this.live.get(nodeId);
        if (now !== target) return;
        this.network.whenRunning(target, () => {
          void run(target).then((r) => {
            if (!target.life.alive || this.rng.chance(faults.dropRate)) return;
            this.scheduler.after(this.rng.int(1, 8), () => settle(r));
          });
        });
      });
    });
  }

  /**
   * No write anywhere on its way: no client request or write-carrying request unanswered, nothing
   * parked on a paused node or queued for a store's commit, no operation running at a
   * coordinator. Only then can a converged state not change again.
   */
  get quiet(): boolean {
    if (this.clientRequestsInFlight > 0 || this.network.writesInFlight) return false;
    for (const node of this.live.values()) {
      if (node.life.parkedCount > 0 || node.store.pending > 0 || node.coordinator.operationsInFlight > 0) return false;
    }
    return true;
  }

  private coordinatorEvents(): CoordinatorEvents {
    const stats = this.stats;
    return {
      readRepair: () => stats.readRepairs++,
      readRepairSkipped() {},
      forwarded: () => stats.forwarded++,
      limitWarning() {},
      hinted: () => stats.hinted++,
    };
  }

  /**
   * Errors logged by the replication layer are bugs here: the simulated disks never fail, except
   * for a record rotted on purpose (a CorruptRecordError is an operating error then).
   */
  private logger(id: string): Logger {
    const record = (msg: string, fields?: Record<string, unknown>) => {
      const line = `${msg} ${JSON.stringify(fields ?? {})}`;
      if (!line.includes('CorruptRecordError')) this.bugs.push(`at ${this.scheduler.now} ms: ${id} logged an error: ${line}`);
    };
    const trace = this.trace;
    const warn = trace === undefined ? silentLogger.warn : (msg: string, fields?: Record<string, unknown>) => trace(`${this.scheduler.now} ${id} warns: ${msg} ${JSON.stringify(fields ?? {})}`);
    return { ...silentLogger, warn, error: record };
  }
}

/** The partition of a key of the workload. */
export function partitionOfKey(key: string): number {
  return partitionOf(Buffer.from(key), SIM_PARTITIONS);
}

/**
 * What the node's server does with an operation, a client's or a forwarded one (node.ts): a node
 * waiting to join (version 0) serves none.
 */
function execute(node: SimNode, op: ClientOp, options: ExecuteOptions): Promise<Result<OpResult>> {
  if (node.membership.state.version === 0) return Promise.resolve(err(new KvError('NotMember', `${node.id} is waiting to join a cluster`)));
  return node.coordinator.execute(op, options);
}


async function copySpace(from: KeySpace, to: KeySpace, partition: number): Promise<void> {
  let startAfter: Uint8Array | undefined;
  for (;;) {
    const batch = await from.fold(partition, { startAfter, limit: COPY_BATCH });
    for (const e of batch) await to.update(partition, e.key, () => ({ write: e.value, result: undefined }));
    if (batch.length < COPY_BATCH) return;
    startAfter = batch[batch.length - 1]!.key;
  }
}

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
 */
import { KvError, Result, err, ok } from '../../app/errors';
import { Logger, silentLogger } from '../../observability/log';
import { AntiEntropy, AntiEntropyConfig, AntiEntropyPeers, KeyHashes } from '../../app/replication/anti-entropy';
import { Clock, sleep } from '../../app/replication/clock';
import { Coordinator, CoordinatorConfig, CoordinatorEvents } from '../../app/replication/coordinator';
import { HandoffConfig, HandoffWorker } from '../../app/replication/handoff';
import { HashTrees } from '../../app/replication/hash-trees';
import { HintLimits, HintStore } from '../../app/replication/hints';
import { ClientOp, OpResult } from '../../app/api/ops';
import { LocalReplica } from '../../app/replication/replica';
import { Replicas } from '../../app/replication/replicas';
import { routingForMembers } from '../../app/ring/placement';
import { partitionOf, PartitionReplicas, Routing } from '../../app/ring/ring';
import { KeySpace } from '../../app/storage/local-store';
import { MemoryStore } from '../../app/storage/memory-store';
import { OBJECT_LIMITS_DEFAULT } from '../../app/versioning/limits';
import { Rng } from './rng';
import { NodeLife, Scheduler } from './sim-clock';
import { Endpoint, SimNetwork } from './sim-network';
import { GroupCommitStore } from './sim-store';

export const SIM_PARTITIONS = 16;

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
const HINT_LIMITS: HintLimits = { hintsPerTargetMax: 1000, hintBytesMax: 1024 * 1024, hintAgeMaxMs: 0 };
/** How long a graceful stop waits for operations in flight (the node's shutdownGraceMs). */
const SHUTDOWN_GRACE_MS = 500;
/** Longest wait of a queued update for its commit (an fsync under load). */
const COMMIT_DELAY_MAX_MS = 2;
/** Entries copied per fold when a store is snapshotted. */
const COPY_BATCH = 1000;

/** Counters of what the replication layer did, summed over nodes and incarnations. */
export interface ReplicationStats {
  hinted: number;
  readRepairs: number;
  forwarded: number;
  handedOff: number;
  aeRepairedKeys: number;
  aeExchanges: number;
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
    return this.cluster.call(this.self, node, 'replicate', timeoutMs, (t) => t.replicas.replicate(t.id, partition, k, o, timeoutMs, hintFor));
  }

  forward(node: string, op: ClientOp, timeoutMs: number): Promise<Result<OpResult, KvError>> {
    return this.cluster.call(this.self, node, 'forward', timeoutMs, (t) => t.coordinator.execute(op, { timeoutMs, forwarded: true }));
  }

  aeTree(node: string, partition: number, timeoutMs: number): Promise<Result<Uint8Array | undefined>> {
    return this.cluster.call(this.self, node, 'aeTree', timeoutMs, async (t) => {
      return ok(Buffer.from(await t.antiEntropy.treeOf(partition)));
    });
  }

  aeKeys(node: string, partition: number, segments: readonly number[], limit: number, timeoutMs: number): Promise<Result<KeyHashes>> {
    return this.cluster.call(this.self, node, 'aeKeys', timeoutMs, async (t) => ok(await t.antiEntropy.keysIn(partition, segments, limit)));
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
  ) {
    this.life = new NodeLife(scheduler);
    this.clock = scheduler.scoped(this.life);
    this.store = new GroupCommitStore(disk, this.clock, commitDelayMs);
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
}

export interface SimClusterOptions {
  readonly ids: readonly string[];
  /** @default - 1000 hints a target, no expiry */
  readonly hintLimits?: Partial<HintLimits>;
  /** Records a line of the run's trace (KV_SIM_TRACE). */
  readonly trace?: (line: string) => void;
}

export class SimCluster {
  readonly ids: readonly string[];
  readonly routing: Routing;
  readonly network: SimNetwork<RunningNode>;
  readonly stats: ReplicationStats = { hinted: 0, readRepairs: 0, forwarded: 0, handedOff: 0, aeRepairedKeys: 0, aeExchanges: 0 };
  /** Failures that only a bug explains: exceptions out of handlers, errors the nodes logged. */
  readonly bugs: string[] = [];
  private readonly lookup: (partition: number) => PartitionReplicas;
  private readonly served = new Map<string, ReadonlyMap<number, readonly string[]>>();
  private readonly live = new Map<string, RunningNode>();
  /** The disks: what survives a crash. */
  private readonly disks = new Map<string, MemoryStore>();
  private readonly incarnations = new Map<string, number>();
  private readonly actorEpochs = new Map<string, number>();
  /** Nodes in a graceful stop: up, draining, not to be started again until stopped. */
  private readonly stopping = new Set<string>();
  private readonly trace: ((line: string) => void) | undefined;
  private readonly hintLimits: HintLimits;
  /** Client requests on their way to a node. */
  private clientRequestsInFlight = 0;

  private constructor(
    readonly scheduler: Scheduler,
    readonly rng: Rng,
    options: SimClusterOptions,
  ) {
    this.ids = options.ids;
    this.hintLimits = { ...HINT_LIMITS, ...options.hintLimits };
    this.routing = routingForMembers(this.ids, SIM_PARTITIONS, SIM_COORDINATOR.n);
    this.lookup = (partition) => this.routing.replicas(partition);
    for (const id of this.ids) {
      const primaryOf = new Map<number, readonly string[]>();
      for (let p = 0; p < SIM_PARTITIONS; p++) {
        const { primaries } = this.lookup(p);
        if (primaries.includes(id)) primaryOf.set(p, primaries.filter((m) => m !== id));
      }
      this.served.set(id, primaryOf);
    }
    this.network = new SimNetwork<RunningNode>(scheduler, rng, this.ids, (id) => this.live.get(id));
    this.trace = options.trace;
  }

  static async start(scheduler: Scheduler, rng: Rng, options: SimClusterOptions): Promise<SimCluster> {
    const cluster = new SimCluster(scheduler, rng, options);
    for (const id of cluster.ids) {
      cluster.disks.set(id, new MemoryStore());
      await cluster.startNode(id, 'new');
    }
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

  isPrimary(node: string, partition: number): boolean {
    return this.lookup(partition).primaries.includes(node);
  }

  placement(key: string): { partition: number } & PartitionReplicas {
    const partition = partitionOf(Buffer.from(key), SIM_PARTITIONS);
    return { partition, ...this.lookup(partition) };
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
    const node = new RunningNode(id, incarnation, actor, this.disks.get(id)!, this.scheduler, () => this.rng.int(0, COMMIT_DELAY_MAX_MS));
    const { store, clock } = node;
    const log = this.logger(id);
    const hints = await HintStore.open(store.hints, SIM_PARTITIONS, this.hintLimits, clock.now);
    const trees = new HashTrees(SIM_PARTITIONS);
    const replica = new LocalReplica(store, actor, OBJECT_LIMITS_DEFAULT, { hints, trees, nowMs: clock.now });
    const transport = new SimTransport(node, this);
    const replicas = new Replicas(id, replica, transport);
    const coordinator = new Coordinator({ self: id, routing: () => this.routing, local: replica, replicas, config: SIM_COORDINATOR, log, events: this.coordinatorEvents(), clock });
    const stats = this.stats;
    const handoff = new HandoffWorker(hints, transport, HANDOFF, { delivered: (_t, n) => (stats.handedOff += n), expired() {}, failed() {} }, log, clock);
    const served = this.served.get(id)!;
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
    node.wire({ replica, hints, trees, replicas, coordinator, handoff, antiEntropy });
    this.live.set(id, node);
    this.network.started(id);
    handoff.start();
    antiEntropy.start();
    this.trace?.(`${this.scheduler.now} start ${id} incarnation ${incarnation} actor ${actor} (${start})`);
  }

  /** The node's memory is lost; its disk stays as it was. */
  crash(id: string): void {
    const node = this.live.get(id);
    if (node === undefined) return;
    node.life.alive = false;
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
    const { partition } = this.placement(key);
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

  /** A copy of a node's disk as it is now (data and hints). */
  async snapshot(id: string): Promise<MemoryStore> {
    const from = this.disks.get(id)!;
    const to = new MemoryStore();
    for (let p = 0; p < SIM_PARTITIONS; p++) {
      await copySpace(from, to, p);
      await copySpace(from.hints, to.hints, p);
    }
    return to;
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
    await Promise.all([node.handoff.stop(), node.antiEntropy.stop()]);
    if (!node.life.alive) return false;
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
    const target = this.live.get(nodeId);
    if (target === undefined) return Promise.resolve(err(new KvError('PeerUnreachable', `node ${nodeId} refused the connection`)));
    const faults = this.network.faults;
    return new Promise((resolve) => {
      let done = false;
      const settle = (r: Result<OpResult>) => {
        if (done) return;
        done = true;
        cancel();
        resolve(r);
      };
      const cancel = this.scheduler.after(timeoutMs, () => settle(err(new KvError('DeadlineExceeded', `client: ${op.kind} via ${nodeId}: no answer in ${timeoutMs} ms`, op.kind !== 'get'))));
      if (this.rng.chance(faults.dropRate)) return;
      this.clientRequestsInFlight++;
      this.scheduler.after(this.rng.int(1, 8), () => {
        this.clientRequestsInFlight--;
        const now = this.live.get(nodeId);
        if (now !== target) return;
        this.network.whenRunning(target, () => {
          void target.coordinator.execute(op, { timeoutMs: SIM_COORDINATOR.requestTimeoutMs }).then((r) => {
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
    return { ...silentLogger, error: record };
  }
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

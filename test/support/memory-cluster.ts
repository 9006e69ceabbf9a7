/**
 * A cluster of real coordinators, replicas, hint stores and handoff workers on in-memory stores,
 * wired by an in-process transport in place of gRPC. Nodes can be taken down (calls to them fail
 * as unreachable) or frozen (calls to them never answer until thawed). For unit tests of the
 * replication layer's logic; the wire and LMDB are covered by the integration tests.
 */
import { KvError, Result, err } from '../../app/errors';
import { silentLogger } from '../../observability/log';
import { AntiEntropy, AntiEntropyPeers, KeyHashes } from '../../app/replication/anti-entropy';
import { Coordinator, CoordinatorConfig } from '../../app/replication/coordinator';
import { HashTrees } from '../../app/replication/hash-trees';
import { HandoffWorker } from '../../app/replication/handoff';
import { HintLimits, HintStore } from '../../app/replication/hints';
import { ClientOp, OpResult } from '../../app/api/ops';
import { LocalReplica } from '../../app/replication/replica';
import { Replicas } from '../../app/replication/replicas';
import { Tracer } from '../../app/replication/trace';
import { ReaperConfig, ReaperPeers, TombstoneReaper } from '../../app/replication/tombstone-reaper';
import { routingForMembers } from '../../app/ring/placement';
import { partitionOf, Routing } from '../../app/ring/ring';
import { MemoryStore } from '../../app/storage/memory-store';
import { mergedObjectBytesMax, OBJECT_LIMITS_DEFAULT, ObjectLimits } from '../../app/versioning/limits';
import { TEST_CONTEXT_SEAL } from './context-seal';

export interface MemoryNode {
  readonly id: string;
  readonly store: MemoryStore;
  readonly replica: LocalReplica;
  readonly hints: HintStore;
  readonly replicas: Replicas;
  readonly coordinator: Coordinator;
  readonly handoff: HandoffWorker;
  readonly trees: HashTrees;
  readonly antiEntropy: AntiEntropy;
  readonly reaper: TombstoneReaper;
}

export const MEMORY_CLUSTER_CONFIG: CoordinatorConfig = {
  n: 3,
  r: 2,
  w: 2,
  keyBytesMax: 1024,
  valueBytesMax: 1024 * 1024,
  requestTimeoutMs: 500,
  readRepairWaitMs: 20,
  inFlightMax: 1000,
  readRepairsInFlightMax: 100,
};

export const HINT_LIMITS: HintLimits = { hintsPerTargetMax: 1000, hintBytesMax: 1024 * 1024, hintAgeMaxMs: 0 };

/** Routes calls from one node to the others' replicas and coordinators. */
class InProcessTransport implements AntiEntropyPeers, ReaperPeers {
  constructor(
    private readonly from: string,
    private readonly cluster: MemoryCluster,
  ) {}

  private async call<T>(node: string, timeoutMs: number, run: (target: MemoryNode) => Promise<Result<T>>): Promise<Result<T>> {
    if (this.cluster.down.has(node)) return err(new KvError('PeerUnreachable', `peer ${node} is down`));
    // A frozen node holds the request: the caller's deadline passes, and it may still run later.
    if (this.cluster.frozen.has(node)) return new Promise((resolve) => setTimeout(() => resolve(err(new KvError('DeadlineExceeded', `peer ${node} did not answer in time`, true))), timeoutMs));
    return run(this.cluster.node(node));
  }

  fetch(node: string, partition: number, key: Uint8Array, timeoutMs: number, hintFor?: string): Promise<Result<Uint8Array | undefined>> {
    return this.call(node, timeoutMs, (t) => t.replicas.fetch(node, partition, key, timeoutMs, hintFor));
  }

  replicate(node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number, hintFor?: string): Promise<Result<void>> {
    return this.call(node, timeoutMs, (t) => t.replicas.replicate(node, partition, key, object, timeoutMs, hintFor));
  }

  forward(node: string, op: ClientOp, timeoutMs: number, traceparent?: string): Promise<Result<OpResult>> {
    return this.call(node, timeoutMs, (t) => t.coordinator.execute(op, { timeoutMs, forwarded: true, traceparent }));
  }

  aeTree(node: string, partition: number, timeoutMs: number): Promise<Result<Uint8Array | undefined>> {
    return this.call(node, timeoutMs, async (t) => ({ ok: true, value: await t.antiEntropy.treeOf(partition) }));
  }

  aeKeys(node: string, partition: number, segments: readonly number[], limit: number, timeoutMs: number): Promise<Result<KeyHashes>> {
    return this.call(node, timeoutMs, async (t) => ({ ok: true, value: await t.antiEntropy.keysIn(partition, segments, limit) }));
  }

  holdsHint(node: string, partition: number, key: Uint8Array, timeoutMs: number): Promise<Result<boolean>> {
    return this.call(node, timeoutMs, async (t) => ({ ok: true, value: await t.replica.holdsHint(partition, key) }));
  }

  reap(node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number): Promise<Result<boolean>> {
    return this.call(node, timeoutMs, async (t) => ({ ok: true, value: await t.replica.reapIfUnchanged(partition, key, object) }));
  }

  isUp(node: string): boolean {
    return node !== this.from && !this.cluster.down.has(node) && !this.cluster.suspected.has(node);
  }
}

export class MemoryCluster {
  readonly nodes = new Map<string, MemoryNode>();
  readonly down = new Set<string>();
  readonly frozen = new Set<string>();
  /** Nodes the failure detectors suspect (what a frozen node becomes after peerSuspectMs). */
  readonly suspected = new Set<string>();
  readonly routing: Routing;

  private constructor(
    ids: readonly string[],
    readonly config: CoordinatorConfig,
    readonly partitions: number,
  ) {
    this.routing = routingForMembers(ids, partitions, config.n);
  }

  static async start(size: number, options: { config?: Partial<CoordinatorConfig>; hintLimits?: Partial<HintLimits>; partitions?: number; reaper?: Partial<ReaperConfig>; nowMs?: () => number; objectLimits?: Partial<ObjectLimits>; tracer?: Tracer } = {}): Promise<MemoryCluster> {
    const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    const cluster = new MemoryCluster(ids, { ...MEMORY_CLUSTER_CONFIG, ...options.config }, options.partitions ?? 16);
    for (const id of ids) {
      const limits = { ...OBJECT_LIMITS_DEFAULT, ...options.objectLimits };
      // As a node sizes its store: room for the largest merged object, its key and a hint header.
      const store = new MemoryStore({ maxRecordBytes: mergedObjectBytesMax(limits) + 2048 });
      const hints = await HintStore.open(store.hints, cluster.partitions, { ...HINT_LIMITS, ...options.hintLimits });
      const trees = new HashTrees(cluster.partitions);
      const nowMs = options.nowMs ?? (() => 1);
      const replica = new LocalReplica(store, `${id}.e1`, limits, { hints, trees, nowMs });
      const transport = new InProcessTransport(id, cluster);
      const replicas = new Replicas(id, replica, transport);
      const coordinator = new Coordinator({ self: id, routing: () => cluster.routing, local: replica, replicas, config: cluster.config, tracer: options.tracer, contexts: TEST_CONTEXT_SEAL });
      const handoff = new HandoffWorker(hints, transport, { handoffIntervalMs: 10, handoffBatchMax: 100, handoffKeysPerSecondMax: 100_000, requestTimeoutMs: 200 }, { delivered() {}, expired() {}, failed() {} }, silentLogger);
      const lookup = (partition: number) => cluster.routing.replicas(partition);
      const primaryOf = new Map<number, readonly string[]>();
      for (let p = 0; p < cluster.partitions; p++) if (lookup(p).primaries.includes(id)) primaryOf.set(p, lookup(p).primaries.filter((m) => m !== id));
      const antiEntropy = new AntiEntropy(
        trees,
        store,
        replica,
        transport,
        () => primaryOf,
        { antiEntropyIntervalMs: 10, antiEntropyKeysPerExchangeMax: 1000, antiEntropyRebuildKeysPerSecondMax: 1_000_000, requestTimeoutMs: 200 },
        { exchange() {}, repaired() {}, completed() {} },
        silentLogger,
      );
      await antiEntropy.rebuildAll();
      const firstPrimaryOf = new Map([...primaryOf].filter(([p]) => lookup(p).primaries[0] === id));
      const reaper = new TombstoneReaper(
        id,
        store,
        replica,
        transport,
        () => firstPrimaryOf,
        ids.filter((m) => m !== id),
        { tombstoneGraceMs: 0, tombstoneReapIntervalMs: 10, tombstoneReapBatchMax: 100, requestTimeoutMs: 200, ...options.reaper },
        { reaped() {}, kept() {} },
        silentLogger,
        { now: nowMs, after: () => () => {} },
      );
      cluster.nodes.set(id, { id, store, replica, hints, replicas, coordinator, handoff, trees, antiEntropy, reaper });
    }
    return cluster;
  }

  node(id: string): MemoryNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** The primaries and fallbacks of a key, in preference order. */
  placement(key: string): { partition: number; primaries: readonly string[]; fallbacks: readonly string[] } {
    const partition = partitionOf(Buffer.from(key), this.partitions);
    return { partition, ...this.routing.replicas(partition) };
  }

  /** What a node stores for a key in its own data (not its hints), decoded values as text. */
  async valuesAt(node: string, key: string): Promise<string[] | undefined> {
    const obj = await this.node(node).replica.fetch(this.placement(key).partition, Buffer.from(key));
    return obj?.siblings.flatMap((s) => (s.value === null ? [] : [Buffer.from(s.value).toString()])).sort();
  }

  /** Runs anti-entropy exchanges on every up node until a full round finds every partition in sync. */
  async antiEntropyUntilInSync(roundsMax = 20): Promise<number> {
    for (let round = 1; round <= roundsMax; round++) {
      let differences = 0;
      for (const n of this.nodes.values()) {
        if (this.down.has(n.id) || this.frozen.has(n.id)) continue;
        for (let i = 0; i < this.partitions * (this.config.n - 1); i++) {
          const outcome = await n.antiEntropy.exchangeNext();
          if (outcome !== undefined && outcome !== 'in_sync') differences++;
        }
      }
      if (differences === 0) return round;
    }
    throw new Error(`anti-entropy did not converge in ${roundsMax} rounds`);
  }

  /** Runs a reap round over every partition on every up node; resolves with the tombstones reaped. */
  async reapAll(): Promise<number> {
    let reaped = 0;
    for (const n of this.nodes.values()) {
      if (this.down.has(n.id) || this.frozen.has(n.id)) continue;
      for (let i = 0; i < this.partitions; i++) reaped += await n.reaper.round();
    }
    return reaped;
  }

  execute(via: string, op: ClientOp): Promise<Result<OpResult>> {
    return this.node(via).coordinator.execute(op);
  }

  put(via: string, key: string, value: string, options: { w?: number; pw?: number; context?: Uint8Array } = {}): Promise<Result<OpResult>> {
    return this.execute(via, { kind: 'put', key: Buffer.from(key), value: Buffer.from(value), context: options.context ?? Buffer.alloc(0), w: options.w ?? 0, pw: options.pw ?? 0 });
  }

  get(via: string, key: string, options: { r?: number; pr?: number } = {}): Promise<Result<OpResult>> {
    return this.execute(via, { kind: 'get', key: Buffer.from(key), r: options.r ?? 0, pr: options.pr ?? 0 });
  }
}





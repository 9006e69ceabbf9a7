/**
 * The composition root of a node: opens the store, establishes the node's actor id, builds the
 * cluster state (placement), the peer transport, the coordinator and the gRPC server, and stops them in order.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { err, invalidArgument, KvError, ok, Result } from '../errors';
import { Logger } from '../../observability/log';
import { AntiEntropy } from '../replication/anti-entropy';
import { Coordinator } from '../replication/coordinator';
import { HashTrees } from '../replication/hash-trees';
import { HandoffWorker } from '../replication/handoff';
import { HintStore } from '../replication/hints';
import { ReplicaSync } from '../replication/replica-sync';
import { TombstoneReaper } from '../replication/tombstone-reaper';
import { ClientOp, OpResult } from '../api/ops';
import { LocalReplica } from '../replication/replica';
import { Replicas } from '../replication/replicas';
import { inspectKey, ReplicaView } from '../replication/inspect';
import { partitionOf } from '../ring/ring';
import { initialState } from '../membership/cluster-state';
import { Membership } from '../membership/membership';
import { Claimant } from '../membership/claimant';
import { Gossip } from '../membership/gossip';
import { foldPage, TransferWorker } from '../membership/transfers';
import { CleanupWorker, hintRedirect } from '../membership/cleanup';
import { AutoJoin } from '../membership/auto-join';
import { ChangeProgress } from '../membership/progress';
import { KvClient } from '../client/client';
import { nodeSecurity } from './security';
import { admin, localResult } from '../membership/admin';
import type { ReplicaState } from '../rpc/generated/kv/v1/ReplicaState';
import { GrpcPeerTransport } from '../rpc/peer-transport';
import { KvServer } from '../rpc/server';
import type { StatusResponse } from '../rpc/generated/kv/v1/StatusResponse';
import { LmdbStore, lmdbDataFiles } from '../storage/lmdb-store';
import { KEY_BYTES_MAX, LocalStore } from '../storage/local-store';
import { NodeConfig, resourceLimits } from './config';
import { loadContextKeys } from './context-keys';
import { ContextSeal } from '../versioning/context-seal';
import { establishIdentity as establishActor, writeCleanShutdownMarker } from './identity';
import { mergedObjectBytesMax } from '../versioning/limits';
import { Restorer } from '../replication/restore';
import { SNAPSHOT_FORMAT, Snapshots } from './snapshots';
import { loadDataIds } from './data-ids';
import { NodeMetrics } from '../../observability/metrics';
import { NodeTracing, startTracing } from '../../observability/tracing';
import { Tracer } from '../replication/trace';

/**
 * The actor id this node writes with: kept across a provably clean restart, a new epoch after
 * any other (identity.ts says why and what it cannot see).
 */
/** The cluster a node with a fixed member list belongs to (membership changes will name clusters). */
const CLUSTER_NAME = 'kv';

async function establishIdentity(store: LocalStore, config: NodeConfig, log: Logger): Promise<string> {
  return establishActor(store, { nodeId: config.nodeId, partitions: config.partitions, dataDir: config.dataDir, dataFiles: lmdbDataFiles(config.dataDir), log });
}

/** One replica's view as the Inspect call returns it. */
function replicaStateOf(v: ReplicaView): ReplicaState {
  return {
    node: v.node,
    role: v.role,
    answered: v.answered,
    error: v.error,
    found: v.object !== undefined,
    hint: v.hint,
    objectBytes: v.objectBytes,
    siblings: (v.object?.siblings ?? []).map((s) => ({ actor: s.dot.actor, counter: s.dot.counter, tombstone: s.value === null, value: s.value === null ? Buffer.alloc(0) : Buffer.from(s.value), writtenAtMs: s.writtenAtMs })),
    clock: [...(v.object?.vv ?? new Map<string, number>())].map(([actor, counter]) => ({ actor, counter })),
  };
}

/** What Status reports of the hints this node holds for a member. */
function hintStatus(hints: HintStore, member: string): { hintsPending: number; hintBytes: number; oldestHintAgeMs: number } {
  const b = hints.backlog(member);
  return { hintsPending: b.count, hintBytes: b.bytes, oldestHintAgeMs: b.oldestCreatedAtMs === undefined ? 0 : Math.max(0, Date.now() - b.oldestCreatedAtMs) };
}

/**
 * A replica request from another node, as a server span continuing the sender's trace when the
 * request carries one (the sender traces the operation); otherwise just the request.
 */
async function servedTraced<T>(tracer: Tracer | undefined, name: string, traceparent: string | undefined, node: string, partition: number, hintFor: string | undefined, serve: () => Promise<Result<T>>): Promise<Result<T>> {
  const span = tracer !== undefined && traceparent !== undefined ? tracer.serve(name, traceparent, hintFor === undefined ? { 'kv.node': node, 'kv.partition': partition } : { 'kv.node': node, 'kv.partition': partition, 'kv.hint_for': hintFor }) : undefined;
  if (span === undefined) return serve();
  const r = await serve();
  span.end(r.ok ? undefined : `${r.error.condition}: ${r.error.message}`);
  return r;
}

export class KvNode {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly config: NodeConfig,
    readonly actor: string,
    private readonly log: Logger,
    private readonly store: LocalStore,
    private readonly transport: GrpcPeerTransport,
    private readonly coordinator: Coordinator,
    private readonly handoff: HandoffWorker,
    private readonly antiEntropy: AntiEntropy,
    private readonly reaper: TombstoneReaper,
    /** Gossip and partition transfers: stopped with the other background work. */
    private readonly membershipWork: ReadonlyArray<{ stop(): Promise<void> }>,
    private readonly server: KvServer,
    private readonly metricsServer: http.Server | undefined,
    /** Undefined when tracing is off (trace-sample-ratio 0). */
    private readonly tracing: NodeTracing | undefined,
    /** Resolves when this node left the cluster and handed off everything it held. */
    readonly departed: Promise<void>,
  ) {}

  get port(): number {
    return this.server.port;
  }

  /**
   * `onFatal`: what to do when the node must stop at once, its storage no longer to be trusted
   * (a commit failed with an I/O error: lmdb-js was seen to corrupt its own heap and abort on
   * the writes after such a failure). The `kv node` command exits; the default only logs.
   */
  static async start(config: NodeConfig, log: Logger, onFatal: (reason: string) => void = () => {}): Promise<KvNode> {
    // Bad TLS or client auth files stop the start before anything is opened.
    const security = nodeSecurity(config, log);
    fs.mkdirSync(config.dataDir, { recursive: true });
    // Read before the store opens: a node whose keys are missing or malformed does not start.
    const contextKeys = loadContextKeys(config);
    log.info('context keys loaded', { file: contextKeys.file, keys: contextKeys.keys.length });
    const metrics = new NodeMetrics(config.nodeId);
    const store = await LmdbStore.open({
      observer: {
        ...metrics.storeObserver(),
        diskFailed: (e) => {
          log.error('the disk failed a commit: this node stops now (fail-stop) and restarts from its last committed state', { error: e.message, dataDir: config.dataDir });
          onFatal(e.message);
        },
      },
      path: config.dataDir,
      durability: config.durability,
      diskFreeBytesMin: config.diskFreeBytesMin,
      checkpointBytes: config.checkpointBytes,
      checkpointIntervalMs: config.checkpointIntervalMs,
      // Room for the largest object, its key and a hint's header. The store checks each record's
      // frame only; the replica layer decodes each object once and treats one that does not
      // decode as corrupt.
      // Merges may exceed a client write's bound (see mergedObjectBytesMax).
      maxRecordBytes: mergedObjectBytesMax(config) + config.keyBytesMax + 1024,
    });
    if (store.recovery.segments > 0) {
      // A crash (or SIGKILL) left writes in the log: they are in LMDB now, before anything is served.
      log.info('write-ahead log replayed', { ...store.recovery, dataDir: config.dataDir });
    }
    let actor: string;
    try {
      actor = await establishIdentity(store, config, log);
    } catch (e) {
      await store.close();
      throw e;
    }
    // The cluster state: the one stored in the data directory, else that of the fixed member list
    // (every node computes the same one from the same list; zones of other members are not known
    // from flags: one zone for all).
    // A node started with --join waits outside any cluster (a placeholder state, version 0)
    // until a cluster state that lists it arrives by gossip.
    const fixed = initialState(CLUSTER_NAME, [...config.peers].map(([id, address]) => ({ id, address, zone: '' })), config.partitions, config.n);
    const initial = config.startsOutside ? { ...initialState(CLUSTER_NAME, [{ id: config.nodeId, address: config.advertise, zone: config.zone }], config.partitions, config.n), version: 0 } : fixed;
    let membership: Membership;
    try {
      membership = await Membership.open(store, initial, log);
    } catch (e) {
      await store.close();
      throw e;
    }
    const lookup = (partition: number) => membership.routing.replicas(partition);
    // What the node derives from the cluster state, refreshed in place when the state changes:
    // the other members; the partitions this node is a primary of, with their other primaries
    // (anti-entropy's work), those it is the first primary of (the reaper's); how many partitions
    // each member owns and is a primary of (for status).
    const others: string[] = [];
    const primaryOf = new Map<number, readonly string[]>();
    const firstPrimaryOf = new Map<number, readonly string[]>();
    const served = new Map<string, number>();
    const owned = new Map<string, number>();
    const derive = () => {
      const state = membership.state;
      others.splice(0, others.length, ...state.members.map((m) => m.id).filter((id) => id !== config.nodeId));
      for (const m of [primaryOf, firstPrimaryOf, served, owned]) m.clear();
      for (let p = 0; p < state.partitions; p++) {
        const { primaries } = lookup(p);
        for (const m of primaries) served.set(m, (served.get(m) ?? 0) + 1);
        owned.set(primaries[0]!, (owned.get(primaries[0]!) ?? 0) + 1);
        if (!primaries.includes(config.nodeId)) continue;
        primaryOf.set(p, primaries.filter((m) => m !== config.nodeId));
        if (primaries[0] === config.nodeId) firstPrimaryOf.set(p, primaryOf.get(p)!);
      }
    };
    derive();
    const dataIds = await loadDataIds(store, others);
    const sync = new ReplicaSync({
      self: config.nodeId,
      members: membership.state.members.map((m) => m.id),
      served: primaryOf,
      freshDirectory: dataIds.fresh,
      syncing: dataIds.syncing,
      persist: (partitions) => dataIds.persistSyncing(partitions),
      onState: (state, detail) => log.info(`replica sync: ${state}`, { detail }),
    });
    const transport = new GrpcPeerTransport({
      self: config.nodeId,
      peers: new Map(membership.state.members.map((m) => [m.id, m.address])),
      windowMax: config.peerWindowMax,
      // What a receiver accepts (its peerMessageRequestsMax, the same on every node).
      batchItemsMax: config.peerMessageRequestsMax,
      messageBytesMax: config.messageBytesMax,
      log,
      onMessageSent: (requests) => metrics.peerMessageRequests.observe(requests),
      heartbeatMs: config.peerHeartbeatMs,
      suspectAfterMs: config.peerSuspectMs,
      dataId: dataIds.own,
      onPong: (peer, pong) => sync.verdict(peer, pong.knewDataId, dataIds.own),
      security: security.outbound,
    });
    const hints = await HintStore.open(store.hints, config.partitions, config);
    const trees = new HashTrees(config.partitions);
    const replica = new LocalReplica(store, actor, config, { hints, trees });
    // Tracing off (the default): nothing of OpenTelemetry is started, and the coordinator holds no tracer.
    const tracing = config.traceSampleRatio > 0 ? startTracing({ nodeId: config.nodeId, sampleRatio: config.traceSampleRatio }) : undefined;
    const tracer = tracing?.tracer;
    const replicas = new Replicas(config.nodeId, replica, metrics.observeTransport(transport), sync, () => membership.state.version === 0 || membership.state.members.some((m) => m.id === config.nodeId));
    const coordinator = new Coordinator({
      self: config.nodeId,
      routing: () => membership.routing,
      local: replica,
      replicas,
      config,
      log,
      events: metrics.coordinatorEvents((message) => log.warn('object limit warning', { message })),
      tracer,
      contexts: new ContextSeal(contextKeys.keys),
    });
    const handoff = new HandoffWorker(hints, transport, config, metrics.handoffEvents(), log);
    handoff.redirect = hintRedirect(membership, () => cleanup.mayHandOff, (o, p, k, obj, t) => replicas.replicate(o, p, k, obj, t));
    const antiEntropy = new AntiEntropy(trees, store, replica, transport, () => primaryOf, config, metrics.antiEntropyEvents((partition, peer) => sync.exchanged(partition, peer)), log);
    antiEntropy.prioritize(() => sync.next((node) => transport.isUp(node)));
    const reaper = new TombstoneReaper(config.nodeId, store, replica, transport, () => firstPrimaryOf, others, config, metrics.reaperEvents(), log);
    const claimant = new Claimant(config.nodeId, membership, (id) => transport.isUp(id));
    const gossip = new Gossip(config.nodeId, membership, transport, config, log);
    const transfers = new TransferWorker(
      {
        self: config.nodeId,
        membership,
        store,
        peers: {
          isUp: (id) => transport.isUp(id),
          foldPartition: (node, partition, after, limit, timeoutMs) => transport.foldPartition(node, partition, after, limit, timeoutMs),
          transferDone: (to, partition, receiver, change, timeoutMs) => (to === config.nodeId ? localResult(() => claimant.transferDone(partition, receiver, change)) : transport.transferDone(to, partition, receiver, change, timeoutMs)),
        },
        merge: async (partition, key, object) => void (await replica.mergeEncoded(partition, key, object)),
        catchUp: async (partition, peer) => ['in_sync', 'repaired'].includes(await antiEntropy.exchange(partition, peer)),
        claimant: () => claimant.claimant,
      },
      config,
      metrics.transferEvents(),
      log,
    );
    let departedNow: () => void = () => {};
    const departed = new Promise<void>((resolve) => (departedNow = resolve));
    const cleanup = new CleanupWorker(
      {
        self: config.nodeId,
        membership,
        fold: (partition, after, limit) => store.fold(partition, { startAfter: after, limit }),
        replicate: (node, partition, key, object, timeoutMs) => transport.replicate(node, partition, key, object, timeoutMs),
        isUp: (id) => transport.isUp(id),
        removeIfUnchanged: (partition, key, expected) => replica.reapIfUnchanged(partition, key, expected),
        spread: (version) => gossip.spread(version),
        hintsHeld: () => hints.targets().reduce((n, t) => n + hints.backlog(t).count, 0),
        departed: () => departedNow(),
      },
      config,
      metrics.cleanupEvents(),
      log,
    );
    await cleanup.open(store);
    // join=auto beyond the founding members: the node asks the claimant, through the seeds, to add it.
    const seedClient = config.join === 'auto' && config.seeds.length > 0 ? new KvClient({ endpoints: [...config.seeds], timeoutMs: config.requestTimeoutMs, security: security.outbound }) : undefined;
    const autoJoin = seedClient
      ? new AutoJoin(
          { id: config.nodeId, address: config.advertise, zone: config.zone },
          membership,
          {
            stageJoin: async (id, address, zone) => (await seedClient.admin({ join: { id, address, zone } })).staged,
            commit: async () => void (await seedClient.admin({ commit: {} })),
          },
          () => cleanup.departed,
          async () => (await store.stats()).entries > 0,
          config,
          log,
        )
      : undefined;
    // A new cluster state: connect to new members, drop gone ones, and derive again.
    membership.onChange((state) => {
      transport.setPeers(new Map(state.members.map((m) => [m.id, m.address])));
      derive();
      if (!state.members.some((m) => m.id === config.nodeId) && state.version > 0) log.warn('this node is no longer a member of the cluster: it serves no partitions', { version: state.version });
    });
    const status = (): StatusResponse => ({
      role: 'storage',
      nodeId: config.nodeId,
      actor,
      partitions: config.partitions,
      n: config.n,
      r: config.r,
      w: config.w,
      syncState: sync.current,
      partitionsSyncing: sync.partitionsSyncing,
      pid: process.pid,
      placement: membership.state.placement.primaries.map((row) => ({ members: [...row] })),
      stateVersion: membership.state.version,
      claimant: claimant.claimant ?? '',
      transfersLeft: membership.state.transfers.filter((t) => !t.done).length,
      members: membership.state.members.map(({ id, address, status, zone }) => ({
        id,
        address,
        status,
        zone,
        self: id === config.nodeId,
        reachable: id === config.nodeId || transport.isReachable(id),
        partitionsOwned: owned.get(id) ?? 0,
        partitionsReplicated: served.get(id) ?? 0,
        suspected: id !== config.nodeId && transport.isSuspected(id),
        ...hintStatus(hints, id),
      })),
    });
    const snapshots = new Snapshots(store, config.dataDir, config.nodeId);
    const restorer = new Restorer({ replicas, routing: () => membership.routing, keyBytesMax: config.keyBytesMax, w: config.w, n: config.n, timeoutMs: config.requestTimeoutMs });
    await snapshots.clearScratch();
    const notMember = () => new KvError('NotMember', `${config.nodeId} is waiting to join a cluster (started with --join): add it with kv admin join, or send requests to a member`);
    // Every listener is bound before the node serves, and a node that cannot bind one does not
    // start at all (it closes what it opened): a node serving without its metrics would look
    // healthy to clients and be invisible to monitoring.
    const closeEarly = async () => {
      await tracing?.shutdown();
      transport.close();
      await store.close();
    };
    // Ready (the /readyz probe) once the gRPC server below exists and serves clients.
    let serving: () => boolean = () => false;
    const metricsServer = config.metricsPort === 0 ? undefined : await metrics.serve(config.host, config.metricsPort, () => serving()).catch(async (e) => {
      await closeEarly();
      throw e;
    });
    const server = await KvServer.start(
      {
        execute: async (op: ClientOp, options): Promise<Result<OpResult, KvError>> => {
          if (membership.state.version === 0) return err(notMember());
          const started = performance.now();
          const r = await coordinator.execute(op, options);
          metrics.operationDone(op, r, started);
          return r;
        },
        fetch: (partition, key, hintFor, traceparent) => servedTraced(tracer, 'kv.peer.fetch', traceparent, config.nodeId, partition, hintFor, () => replicas.fetch(config.nodeId, partition, key, config.requestTimeoutMs, hintFor)),
        replicate: (partition, key, object, hintFor, traceparent) => servedTraced(tracer, 'kv.peer.replicate', traceparent, config.nodeId, partition, hintFor, () => replicas.replicate(config.nodeId, partition, key, object, config.requestTimeoutMs, hintFor)),
        aeTree: (partition) => antiEntropy.treeOf(partition),
        holdsHint: (partition, key) => replica.holdsHint(partition, key),
        reap: (partition, key, object) => replica.reapIfUnchanged(partition, key, object),
        ping: (from, dataId) => ({ dataId: dataIds.own, knewDataId: others.includes(from) ? dataIds.saw(from, dataId) : '' }),
        aeKeys: (partition, segments, limit) => antiEntropy.keysIn(partition, segments, limit),
        status,
        gossip: (text, from) => gossip.receive(text, from),
        foldPartition: async (partition, after, limit, bytesMax) => {
          if (!Number.isInteger(partition) || partition >= config.partitions) return { entries: [], done: true };
          return foldPage(store, partition, after, limit, bytesMax);
        },
        transferDone: (partition, to, change) => localResult(() => claimant.transferDone(partition, to, change === 0 ? undefined : change)),
        admin: (request) => admin(claimant, membership, request),
        inspect: async (key, timeoutMs) => {
          if (key.length === 0 || key.length > config.keyBytesMax) return err(invalidArgument('key', key, `must be 1 to ${config.keyBytesMax} bytes`));
          const partition = partitionOf(key, membership.routing.partitions);
          const views = await inspectKey(replicas, partition, key, lookup(partition), timeoutMs ?? config.requestTimeoutMs);
          return ok({ partition, replicas: views.map(replicaStateOf) });
        },
        backup: {
          snapshot: async () => {
            if (membership.state.version === 0) return err(notMember());
            const stateVersion = membership.state.version;
            const taken = await snapshots.take();
            if (!taken.ok) return taken;
            const { path, takenAtMs, release } = taken.value;
            const header = { nodeId: config.nodeId, actor, partitions: config.partitions, n: config.n, stateVersion, primaryPartitions: [...primaryOf.keys()].sort((a, b) => a - b), format: SNAPSHOT_FORMAT, takenAtMs, bytes: taken.value.bytes };
            log.info('snapshot taken for a backup', { bytes: taken.value.bytes, stateVersion });
            return ok({ header, path, release });
          },
          restore: (objects, w) => {
            if (membership.state.version === 0) return Promise.resolve(err(notMember()));
            return restorer.restore(objects, w);
          },
        },
      },
      { host: config.host, port: config.port, messageBytesMax: config.messageBytesMax, batchOpsMax: config.batchOpsMax, streamInFlightMax: config.streamInFlightMax, peerStreamInFlightMax: config.peerStreamInFlightMax, limits: resourceLimits(config), peerLimits: { partitions: config.partitions, keyBytesMax: KEY_BYTES_MAX }, log, onStatus: (method, code) => metrics.grpcHandled.inc({ method, code }), tls: security.tls, access: security.access },
    ).catch(async (e) => {
      metricsServer?.close();
      await closeEarly();
      throw e;
    });
    serving = () => server.isServing;
    metrics.inFlightSource = () => coordinator.operationsInFlight;
    metrics.storageSource = async () => {
      const s = await store.stats();
      return { mapSizeBytes: s.mapSizeBytes ?? 0, usedBytes: s.bytesUsed, diskFreeBytes: s.diskFreeBytes ?? Number.POSITIVE_INFINITY, diskFreeBytesMin: config.diskFreeBytesMin, pagesWritten: s.pagesWritten ?? 0, pageBytes: s.pageBytes ?? 0, logBytesWritten: s.logBytesWritten ?? 0, logBacklogBytes: store.logBacklog().bytes };
    };
    metrics.partitionsSource = () => ({ primary: primaryOf.size, owner: firstPrimaryOf.size });
    metrics.underReplicatedSource = () => [...primaryOf.values()].filter((others) => others.some((m) => !transport.isUp(m))).length;
    metrics.peerSource = () => others.map((id) => [id, transport.isReachable(id)]);
    metrics.suspicionSource = () => others.map((id) => [id, transport.isSuspected(id)]);
    metrics.hintSource = () => hints.targets().map((t) => hints.backlog(t));
    metrics.aeAgeSource = () => antiEntropy.exchangeAges();
    metrics.syncingSource = () => sync.partitionsSyncing;
    const progress = new ChangeProgress();
    metrics.membershipSource = () => ({ version: membership.state.version, transfersIn: transfers.pending().length, transfersLeft: membership.state.transfers.filter((t) => !t.done).length, partitionsHeld: cleanup.partitionsHeld, etaSeconds: progress.etaSeconds(membership.state, Date.now()) });
    handoff.start();
    antiEntropy.start();
    reaper.start();
    gossip.start();
    transfers.start();
    cleanup.start();
    autoJoin?.start();
    server.setServing(true);
    log.info('node serving', { port: server.port, advertise: config.advertise, actor, members: membership.state.members.length, stateVersion: membership.state.version, n: config.n, r: config.r, w: config.w, partitions: config.partitions, durability: config.durability });
    return new KvNode(config, actor, log, store, transport, coordinator, handoff, antiEntropy, reaper, [gossip, transfers, cleanup, ...(autoJoin && seedClient ? [autoJoin, { stop: async () => seedClient.close() }] : [])], server, metricsServer, tracing, departed);
  }

  /**
   * Graceful stop: refuse new operations, let those in flight finish, close the server, then LMDB.
   * Takes at most shutdownGraceMs to drain plus up to 2 s for the server's streams, and leaves
   * nothing that waits on a peer (accepted connections are destroyed, our streams to peers
   * cancelled), so the process exits even when a peer is frozen.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('stopping: draining in-flight operations', { inFlight: this.coordinator.operationsInFlight });
      this.server.setServing(false);
      const grace = new Promise<void>((resolve) => setTimeout(resolve, this.config.shutdownGraceMs).unref());
      await Promise.race([this.coordinator.drain(), grace]);
      await Promise.all([this.handoff.stop(), this.antiEntropy.stop(), this.reaper.stop(), ...this.membershipWork.map((w) => w.stop())]);
      await this.server.shutdown(Math.min(this.config.shutdownGraceMs, 2000));
      this.transport.close();
      await new Promise<void>((resolve) => {
        if (!this.metricsServer) return resolve();
        this.metricsServer.close(() => resolve());
        // close() waits for open connections, and a scraper keeps its connection open between
        // scrapes (or froze with it open): the stop must not wait on it.
        this.metricsServer.closeAllConnections();
      });
      await this.store.close();
      // Spans of the last operations go out before the process exits.
      await this.tracing?.shutdown().catch((e: unknown) => this.log.warn('could not export the last spans', { error: String(e) }));
      // Only now, with the store closed and nothing left to write: the next start may keep this
      // actor. Without the marker it takes a new epoch, which is safe, so a failure here is not fatal.
      try {
        writeCleanShutdownMarker(this.config.dataDir, lmdbDataFiles(this.config.dataDir), this.actor);
      } catch (e) {
        this.log.warn('could not record the clean stop: the next start takes a new actor epoch', { error: String(e) });
      }
      this.log.info('stopped');
    })();
    return this.stopping;
  }
}

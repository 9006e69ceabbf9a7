/**
 * The node's Prometheus metrics (prom-client), on their own registry, served over HTTP at
 * /metrics on the metrics port. Names follow Prometheus conventions: units last, _total counters.
 */
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HotHistogram } from './hot-histogram';
import { CoordinatorEvents } from '../app/replication/coordinator';
import { AntiEntropyEvents, ExchangeOutcome } from '../app/replication/anti-entropy';
import { HandoffEvents } from '../app/replication/handoff';
import { ReaperEvents } from '../app/replication/tombstone-reaper';
import { HintBacklog } from '../app/replication/hints';
import { StoreObserver } from '../app/storage/local-store';
import { TransferEvents } from '../app/membership/transfers';
import { CleanupEvents } from '../app/membership/cleanup';
import { ReplicaTransport } from '../app/replication/transport';
import { ClientOp, OpResult } from '../app/api/ops';
import { KvError, Result } from '../app/errors';
import { contextEntries } from '../app/versioning/codec';
import { LIVE_PATH, READY_PATH } from './probe-paths';

/** What the storage gauges show, read at scrape time. */
export interface StorageFigures {
  readonly mapSizeBytes: number;
  readonly usedBytes: number;
  readonly diskFreeBytes: number;
  readonly diskFreeBytesMin: number;
  /** Pages the store's commits wrote since it opened, and their size (0 where the engine has none). */
  readonly pagesWritten: number;
  readonly pageBytes: number;
  /** Bytes the store appended to its write-ahead log since it opened, and the bytes of logged writes not yet checkpointed (0 without a log). */
  readonly logBytesWritten: number;
  readonly logBacklogBytes: number;
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly operations: Counter<'op' | 'outcome'>;
  readonly operationSeconds: HotHistogram<'op' | 'outcome'>;
  readonly readRepairs: Counter<'peer'>;
  readonly readRepairsSkipped: Counter;
  readonly forwarded: Counter;
  readonly grpcHandled: Counter<'method' | 'code'>;
  readonly limitWarnings: Counter;
  readonly inFlight: Gauge;
  readonly peerUp: Gauge<'peer'>;
  readonly commitSeconds: Histogram;
  readonly commitUpdates: Histogram;
  readonly checkpointSeconds: Histogram;
  readonly checkpointWrites: Counter;
  readonly corruptRecords: Counter;
  readonly peerMessageRequests: Histogram;
  readonly writesHinted: Counter<'target'>;
  readonly hintsDelivered: Counter<'target'>;
  readonly hintsExpired: Counter<'target'>;
  readonly handoffFailures: Counter<'target'>;
  /** Where the hint gauges read the backlog: set by the node once its hint store is open. */
  hintSource: () => Iterable<HintBacklog> = () => [];
  readonly aeExchanges: Counter<'outcome'>;
  readonly aeKeysRepaired: Counter;
  readonly tombstonesReaped: Counter;
  readonly tombstonesKept: Counter<'reason'>;
  /** Where kv_anti_entropy_exchange_age_seconds reads the age of each served partition's last exchange. */
  aeAgeSource: () => Map<number, number> = () => new Map();
  /** Where kv_replica_partitions_syncing reads its value. */
  syncingSource: () => number = () => 0;
  /** Where the membership gauges read: the cluster state's version and the transfers into this node left. */
  /** Where the storage gauges read the store and the disk. */
  storageSource: () => Promise<StorageFigures> = async () => ({ mapSizeBytes: 0, usedBytes: 0, diskFreeBytes: 0, diskFreeBytesMin: 0, pagesWritten: 0, pageBytes: 0, logBytesWritten: 0, logBacklogBytes: 0 });
  /** Where kv_partitions reads the partitions this node is a primary and the owner (first primary) of. */
  partitionsSource: () => { primary: number; owner: number } = () => ({ primary: 0, owner: 0 });
  /** Where kv_partitions_under_replicated reads the failure detector's view of this node's partitions. */
  underReplicatedSource: () => number = () => 0;
  readonly quorumFailures: Counter;
  readonly replicaSeconds: HotHistogram<'peer' | 'kind'>;
  readonly replicaErrors: Counter;
  readonly siblingsPerRead: Histogram;
  readonly objectBytes: Histogram;
  readonly clockEntries: Histogram;
  membershipSource: () => { version: number; transfersIn: number; transfersLeft: number; partitionsHeld: number; etaSeconds: number | undefined } = () => ({ version: 0, transfersIn: 0, transfersLeft: 0, partitionsHeld: 0, etaSeconds: 0 });
  readonly transferKeys: Counter;
  readonly transferBytes: Counter;
  readonly cleanupKeys: Counter;
  readonly cleanupBytes: Counter;
  readonly transfersFinished: Counter;
  /** Where kv_peer_suspected reads the failure detector. */
  suspicionSource: () => Iterable<[string, boolean]> = () => [];
  /** Where kv_peer_up reads reachability: set by the node once its transport exists. */
  peerSource: () => Iterable<[string, boolean]> = () => [];
  /** Where kv_operations_in_flight reads its value: the coordinator's own count, set by the node. */
  inFlightSource: () => number = () => 0;

  constructor(nodeId: string) {
    this.registry.setDefaultLabels({ node: nodeId });
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.operations = new Counter({ name: 'kv_operations_total', help: 'Client operations coordinated or forwarded by this node, by op and outcome: ok, or the error condition (InsufficientReplicas, DeadlineExceeded, InvalidArgument, Overloaded, ...: the names in app/errors.ts, each mapped to one gRPC status).', labelNames: ['op', 'outcome'], registers });
    this.operationSeconds = new HotHistogram({
      name: 'kv_operation_duration_seconds',
      help: 'Time from receiving a client operation to answering it, by op and outcome (ok, or the error condition, as kv_operations_total).',
      labelNames: ['op', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.quorumFailures = new Counter({ name: 'kv_quorum_failures_total', help: 'Client operations this node coordinated that did not reach their R or W, by op and reason (InsufficientReplicas: too few replicas answered or could; DeadlineExceeded: the time budget ran out first).', labelNames: ['op', 'reason'], registers });
    this.replicaSeconds = new HotHistogram({
      name: 'kv_replica_request_duration_seconds',
      help: 'Time of one request to another node on behalf of an operation, by peer and kind (fetch: a replica read; replicate: a replica write or repair; forward: a client operation sent on to a primary), failures included.',
      labelNames: ['peer', 'kind'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.replicaErrors = new Counter({ name: 'kv_replica_request_errors_total', help: 'Requests to another node that failed, by peer, kind (as kv_replica_request_duration_seconds) and condition (PeerUnreachable, DeadlineExceeded, ...).', labelNames: ['peer', 'kind', 'condition'], registers });
    this.siblingsPerRead = new Histogram({ name: 'kv_siblings_per_read', help: 'Values (siblings) a successful get returned: more than one means concurrent writes the client must resolve.', buckets: [0, 1, 2, 3, 4, 6, 8, 16, 32, 64, 128], registers });
    this.objectBytes = new Histogram({ name: 'kv_object_bytes', help: 'Bytes of the value of each client put this node coordinated.', buckets: [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304], registers });
    this.clockEntries = new Histogram({ name: 'kv_clock_entries', help: 'Entries (actors) in the version vector a successful get returned as its context: grows with the writers of a key, bounded by clock-entries-max.', buckets: [0, 1, 2, 3, 4, 6, 8, 12, 16, 32, 64], registers });
    // One read of the store per scrape, shared by every storage metric (a read may wait for a checkpoint).
    let reading: Promise<StorageFigures> | undefined;
    const storage = () =>
      (reading ??= this.storageSource().finally(() => {
        reading = undefined;
      }));
    const storageGauge = (name: string, help: string, pick: (s: StorageFigures) => number) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(pick(await storage()));
        },
      });
    storageGauge('kv_store_map_size_bytes', 'Address space LMDB maps for the data file (it grows on demand; the disk bounds the data, not this).', (s) => s.mapSizeBytes);
    storageGauge('kv_store_used_bytes', 'Bytes of the LMDB pages that hold this node\'s data.', (s) => s.usedBytes);
    storageGauge('kv_disk_free_bytes', 'Free bytes on the data directory\'s file system (for this process).', (s) => s.diskFreeBytes);
    storageGauge('kv_store_log_backlog_bytes', 'Bytes of the writes in the write-ahead log that no checkpoint has copied into LMDB yet (durable mode); a checkpoint runs when it reaches checkpoint-bytes.', (s) => s.logBacklogBytes);
    storageGauge('kv_disk_free_bytes_min', 'The reserve (disk-free-bytes-min): below it the node refuses writes (RESOURCE_EXHAUSTED) rather than fill the disk.', (s) => s.diskFreeBytesMin);
    // Write amplification: these over kv_store_commit_updates_sum (updates committed), or over puts.
    const storageCounter = (name: string, help: string, pick: (s: StorageFigures) => number) =>
      new Counter({
        name,
        help,
        registers,
        async collect() {
          this.reset();
          this.inc(pick(await storage()));
        },
      });
    storageCounter('kv_store_pages_written_total', 'LMDB pages this node\'s commits wrote (data, branch and free-list pages; meta pages aside), since the node started.', (s) => s.pagesWritten);
    storageCounter('kv_store_log_written_bytes_total', 'Bytes this node\'s commits appended to its write-ahead log (durable mode), since the node started.', (s) => s.logBytesWritten);
    storageCounter('kv_store_written_bytes_total', 'Bytes of the LMDB pages this node\'s commits wrote (kv_store_pages_written_total times the page size), since the node started.', (s) => s.pagesWritten * s.pageBytes);
    const partitions = () => this.partitionsSource();
    new Gauge({
      name: 'kv_partitions',
      help: 'Partitions this node serves, by role: primary (one of the N replicas), owner (the first primary). Their state: kv_partitions_under_replicated, kv_replica_partitions_syncing, kv_transfers_pending{direction="in"} (being received), kv_handoff_partitions_held (given away, still held).',
      labelNames: ['role'],
      registers,
      collect() {
        const p = partitions();
        this.set({ role: 'primary' }, p.primary);
        this.set({ role: 'owner' }, p.owner);
      },
    });
    const underReplicated = () => this.underReplicatedSource();
    new Gauge({
      name: 'kv_partitions_under_replicated',
      help: 'Partitions this node is a primary of whose other primaries are not all up in its view (their writes go to fallbacks as hints).',
      registers,
      collect() {
        this.set(underReplicated());
      },
    });
    this.readRepairs = new Counter({ name: 'kv_read_repairs_total', help: 'Merged objects sent to stale replicas after a get.', labelNames: ['peer'], registers });
    this.readRepairsSkipped = new Counter({ name: 'kv_read_repairs_skipped_total', help: 'Read repairs skipped because readRepairsInFlightMax was reached.', registers });
    this.grpcHandled = new Counter({ name: 'kv_grpc_server_handled_total', help: 'Client calls this node answered (Get, Put, Delete, Status, Inspect, Admin) and operations it answered on Batch streams (method Batch), by method and gRPC status code (OK, INVALID_ARGUMENT, UNAVAILABLE, ...).', labelNames: ['method', 'code'], registers });
    this.forwarded = new Counter({ name: 'kv_forwarded_total', help: 'Operations sent on to a primary because this node is not a replica of the key.', registers });
    this.limitWarnings = new Counter({ name: 'kv_object_limit_warnings_total', help: 'Writes that left an object above a sibling or clock warning level.', registers });
    const inFlight = () => this.inFlightSource();
    this.inFlight = new Gauge({
      name: 'kv_operations_in_flight',
      help: 'Operations being coordinated by this node.',
      registers,
      // Read at scrape time from the coordinator, which counts them anyway.
      collect() {
        this.set(inFlight());
      },
    });
    this.commitSeconds = new Histogram({
      name: 'kv_store_commit_duration_seconds',
      help: 'Time of one commit: in durable mode a record appended to the write-ahead log and synced, in relaxed mode an LMDB write transaction. The event loop waits for it.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.checkpointSeconds = new Histogram({
      name: 'kv_store_checkpoint_duration_seconds',
      help: 'Time of one checkpoint (durable mode): the logged writes copied into LMDB and committed with its sync, on a worker thread while the node serves.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.checkpointWrites = new Counter({ name: 'kv_store_checkpoint_writes_total', help: 'Logged writes checkpoints copied into LMDB (a key written several times between two checkpoints counts once).', registers });
    const powersOfTwo = Array.from({ length: 11 }, (_, i) => 2 ** i);
    this.commitUpdates = new Histogram({ name: 'kv_store_commit_updates', help: 'Updates queued together into one commit (group commit), those that wrote nothing included.', buckets: powersOfTwo, registers });
    this.corruptRecords = new Counter({ name: 'kv_store_corrupt_records_total', help: 'Reads that found a record failing its checksum or payload check (answered DATA_LOSS or repaired).', registers });
    this.peerMessageRequests = new Histogram({ name: 'kv_peer_message_requests', help: 'Requests carried by one message on a peer stream (batching).', buckets: powersOfTwo, registers });
    this.writesHinted = new Counter({ name: 'kv_writes_hinted_total', help: 'Writes this node coordinated that went to a fallback as a hint, by the down primary they stood in for.', labelNames: ['target'], registers });
    this.hintsDelivered = new Counter({ name: 'kv_hints_delivered_total', help: 'Hints handed off to their target and acknowledged durably, by target.', labelNames: ['target'], registers });
    this.hintsExpired = new Counter({ name: 'kv_hints_expired_total', help: 'Hints removed undelivered because they were older than hintAgeMaxMs, by target (left to read repair).', labelNames: ['target'], registers });
    this.handoffFailures = new Counter({ name: 'kv_handoff_failures_total', help: 'Hint deliveries the target did not acknowledge (retried next round), by target.', labelNames: ['target'], registers });
    this.hintMetrics(registers);
    this.aeExchanges = new Counter({ name: 'kv_anti_entropy_exchanges_total', help: 'Anti-entropy exchanges, by outcome: in_sync, repaired, incomplete (more to repair next round), failed (the peer did not answer), not_ready (a tree was being rebuilt).', labelNames: ['outcome'], registers });
    this.tombstonesReaped = new Counter({ name: 'kv_tombstones_reaped_total', help: 'Tombstones removed by this node\'s reaper (on every primary), once past the grace period, held by every primary and hinted nowhere.', registers });
    this.tombstonesKept = new Counter({ name: 'kv_tombstones_kept_total', help: 'Tombstones past the grace period that the reaper kept, by reason: replica-unavailable, replicas-differ, hint-pending.', labelNames: ['reason'], registers });
    const syncing = () => this.syncingSource();
    new Gauge({
      name: 'kv_replica_partitions_syncing',
      help: 'Partitions this node is a primary of whose "not found" answers do not count toward R yet: its data directory is new and it awaits its peers\' verdict, or it lost its data and anti-entropy is refilling it.',
      registers,
      collect() {
        this.set(syncing());
      },
    });
    this.transferKeys = new Counter({ name: 'kv_transfer_keys_total', help: 'Objects this node copied into partitions it receives in a membership change.', registers });
    this.transferBytes = new Counter({ name: 'kv_transfer_bytes_total', help: 'Bytes of the objects this node copied into partitions it receives in a membership change.', registers });
    this.cleanupKeys = new Counter({ name: 'kv_handoff_dropped_keys_total', help: 'Objects of partitions this node gave away (or of every partition, after it left) that it pushed to their owners and then removed here.', registers });
    this.cleanupBytes = new Counter({ name: 'kv_handoff_dropped_bytes_total', help: 'Bytes of the objects counted by kv_handoff_dropped_keys_total.', registers });
    this.transfersFinished = new Counter({ name: 'kv_transfers_finished_total', help: 'Partitions this node finished receiving (copied, caught up, reported to the claimant).', registers });
    const membership = () => this.membershipSource();
    new Gauge({
      name: 'kv_cluster_state_version',
      help: 'The version of the cluster state this node has: members agree when they report the same.',
      registers,
      collect() {
        this.set(membership().version);
      },
    });
    new Gauge({
      name: 'kv_transfers_pending',
      help: 'Transfers of the membership change in progress not done yet: into this node (direction="in"), and in the whole cluster (direction="all").',
      labelNames: ['direction'],
      registers,
      collect() {
        const m = membership();
        this.set({ direction: 'in' }, m.transfersIn);
        this.set({ direction: 'all' }, m.transfersLeft);
      },
    });
    new Gauge({
      name: 'kv_transfers_eta_seconds',
      help: 'Seconds the membership change in progress still needs, at the rate its transfers finished since this node saw it start: 0 when no change is in progress, -1 while none has finished yet.',
      registers,
      collect() {
        this.set(membership().etaSeconds ?? -1);
      },
    });
    new Gauge({
      name: 'kv_handoff_partitions_held',
      help: 'Partitions this node holds data of but no longer keeps (it gave them away, or left): their objects are being pushed to the owners and dropped. 0 once the handoff is done.',
      registers,
      collect() {
        this.set(membership().partitionsHeld);
      },
    });
    this.aeKeysRepaired = new Counter({ name: 'kv_anti_entropy_keys_repaired_total', help: 'Keys anti-entropy found different on two primaries and repaired by merge.', registers });
    const ages = () => this.aeAgeSource();
    new Gauge({
      name: 'kv_anti_entropy_exchange_age_seconds',
      help: 'Seconds since the last completed anti-entropy exchange of each partition this node is a primary of (+Inf: none since the node started).',
      labelNames: ['partition'],
      registers,
      collect() {
        this.reset();
        for (const [partition, ms] of ages()) this.set({ partition: String(partition) }, ms / 1000);
      },
    });
    const peers = () => this.peerSource();
    this.peerUp = new Gauge({
      name: 'kv_peer_up',
      help: '1 when the peer stream to the member is connected.',
      labelNames: ['peer'],
      registers,
      // Read at scrape time, so the value is never stale.
      collect() {
        // Only the current members: a removed peer's series must not stay at its last value.
        this.reset();
        for (const [peer, up] of peers()) this.set({ peer }, up ? 1 : 0);
      },
    });
  }

  private hintMetrics(registers: Registry[]): void {
    const backlog = () => [...this.hintSource()];
    const gauge = (name: string, help: string, value: (b: HintBacklog, nowMs: number) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['target'],
        registers,
        // Read at scrape time from the hint store's index; a target without hints reads 0.
        collect() {
          this.reset();
          const now = Date.now();
          for (const b of backlog()) this.set({ target: b.target }, value(b, now));
        },
      });
    gauge('kv_hints_pending', 'Hints this node holds as a fallback, by the down node they are for.', (b) => b.count);
    gauge('kv_hint_bytes', 'Bytes of the hints this node holds, by the node they are for (bounded by hintBytesMax over all targets).', (b) => b.bytes);
    gauge('kv_hint_oldest_age_seconds', 'Age of the oldest hint this node holds, by the node it is for.', (b, now) => (b.oldestCreatedAtMs === undefined ? 0 : (now - b.oldestCreatedAtMs) / 1000));
    const suspicion = () => this.suspicionSource();
    new Gauge({
      name: 'kv_peer_suspected',
      help: '1 while the failure detector suspects the peer: its connection is open but nothing came back from it for longer than peerSuspectMs.',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const [peer, suspected] of suspicion()) this.set({ peer }, suspected ? 1 : 0);
      },
    });
  }

  transferEvents(): TransferEvents {
    return {
      copied: (keys, bytes) => {
        this.transferKeys.inc(keys);
        this.transferBytes.inc(bytes);
      },
      finished: () => this.transfersFinished.inc(),
    };
  }

  cleanupEvents(): CleanupEvents {
    return {
      dropped: (keys, bytes) => {
        this.cleanupKeys.inc(keys);
        this.cleanupBytes.inc(bytes);
      },
    };
  }

  antiEntropyEvents(completed: (partition: number, peer: string) => void = () => {}): AntiEntropyEvents {
    return {
      exchange: (outcome: ExchangeOutcome) => this.aeExchanges.inc({ outcome }),
      repaired: (keys) => this.aeKeysRepaired.inc(keys),
      completed,
    };
  }

  reaperEvents(): ReaperEvents {
    return { reaped: (count) => this.tombstonesReaped.inc(count), kept: (reason) => this.tombstonesKept.inc({ reason }) };
  }

  handoffEvents(): HandoffEvents {
    return {
      delivered: (target, count) => this.hintsDelivered.inc({ target }, count),
      expired: (target, count) => this.hintsExpired.inc({ target }, count),
      failed: (target, count) => this.handoffFailures.inc({ target }, count),
    };
  }

  /**
   * The transport the replicas use, observed: each request to another node timed by peer and
   * kind, and its failures counted by condition (a wrapper, as Voldemort adds behaviour to a store).
   */
  observeTransport(inner: ReplicaTransport): ReplicaTransport {
    const timed = async <R>(peer: string, kind: string, call: () => Promise<Result<R, KvError>>): Promise<Result<R, KvError>> => {
      const started = performance.now();
      const r = await call();
      this.replicaSeconds.cell(peer, kind).observe((performance.now() - started) / 1000);
      if (!r.ok) this.replicaErrors.inc({ peer, kind, condition: r.error.condition });
      return r;
    };
    return {
      fetch: (node, partition, key, timeoutMs, hintFor, traceparent) => timed(node, 'fetch', () => inner.fetch(node, partition, key, timeoutMs, hintFor, traceparent)),
      replicate: (node, partition, key, object, timeoutMs, hintFor, traceparent) => timed(node, 'replicate', () => inner.replicate(node, partition, key, object, timeoutMs, hintFor, traceparent)),
      forward: (node, op, timeoutMs, traceparent) => timed(node, 'forward', () => inner.forward(node, op, timeoutMs, traceparent)),
      isUp: (node) => inner.isUp(node),
    };
  }

  /**
   * What one client operation adds to the operation metrics (duration, outcome, quorum failures,
   * sizes); `startedAtMs` is performance.now() when it arrived.
   */
  operationDone(op: ClientOp, r: Result<OpResult, KvError>, startedAtMs: number): void {
    const outcome = r.ok ? 'ok' : r.error.condition;
    this.operationSeconds.cell(op.kind, outcome).observe((performance.now() - startedAtMs) / 1000);
    this.operations.inc({ op: op.kind, outcome });
    if (!r.ok) {
      if (r.error.condition === 'InsufficientReplicas' || r.error.condition === 'DeadlineExceeded') this.quorumFailures.inc({ op: op.kind, reason: r.error.condition });
      return;
    }
    if (op.kind === 'put') this.objectBytes.observe(op.value.length);
    if (r.value.kind === 'get' && r.value.found) {
      this.siblingsPerRead.observe(r.value.values.length);
      this.clockEntries.observe(contextEntries(r.value.context));
    }
  }

  storeObserver(): StoreObserver {
    return {
      commit: (updates, seconds) => {
        this.commitUpdates.observe(updates);
        this.commitSeconds.observe(seconds);
      },
      checkpoint: (writes, seconds) => {
        this.checkpointWrites.inc(writes);
        this.checkpointSeconds.observe(seconds);
      },
      corruptRecord: () => this.corruptRecords.inc(),
    };
  }

  coordinatorEvents(onWarning: (message: string) => void): CoordinatorEvents {
    return {
      readRepair: (peer) => this.readRepairs.inc({ peer }),
      readRepairSkipped: () => this.readRepairsSkipped.inc(),
      forwarded: () => this.forwarded.inc(),
      hinted: (target) => this.writesHinted.inc({ target: target.hintFor ?? target.node }),
      limitWarning: (message) => {
        this.limitWarnings.inc();
        onWarning(message);
      },
    };
  }

  /**
   * Serves /metrics, and the probes Kubernetes asks over plain HTTP (the kubelet's gRPC probes
   * cannot speak TLS, so with TLS on the gRPC port the chart probes here):
   * - /livez: 200 while the process answers at all; a node that is joining, syncing or draining is
   *   alive and must not be restarted for it;
   * - /readyz: 200 while `ready()` says the node serves clients (the health service's `kv.v1.KV`
   *   status), 503 otherwise.
   * Resolves with the server once it listens.
   */
  serve(host: string, port: number, ready: () => boolean = () => true): Promise<http.Server> {
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === LIVE_PATH) {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('alive\n');
        return;
      }
      if (path === READY_PATH) {
        if (ready()) res.writeHead(200, { 'Content-Type': 'text/plain' }).end('serving\n');
        else res.writeHead(503, { 'Content-Type': 'text/plain' }).end('not serving clients (joining, syncing, draining, or its upstream is unreachable)\n');
        return;
      }
      if (path !== '/metrics') {
        res.writeHead(404).end(`not found: metrics are at /metrics, probes at ${LIVE_PATH} and ${READY_PATH}\n`);
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
        (e) => res.writeHead(500).end(String(e)),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`cannot serve metrics on ${host}:${port}: ${e.message}`)));
      server.listen(port, host, () => resolve(server));
    });
  }
}

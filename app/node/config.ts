/**
 * NodeConfig: every setting of a node, parsed and validated once, at the edge, from flags and
 * KV_* environment variables (flags win). Each setting has one row in SETTINGS: its flag, its
 * variable, its default and what it bounds; `kv node --help` and the README print this table, and
 * the store's chart and the deployment config read their names, defaults and bounds from it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PARTITIONS_DEFAULT, PARTITIONS_MAX, isPowerOfTwo } from '../ring/ring';
import { LogLevel } from '../../observability/log';
import { RESOURCE_LIMITS_DEFAULT as LIMITS, ResourceLimits } from '../rpc/byte-budget';

export interface NodeConfig {
  /** storage: a member that holds data. gateway: holds nothing; forwards each operation to a primary of its key. */
  readonly role: 'storage' | 'gateway';
  /** A gateway's store nodes (host:port), from which it learns the members and the placement; empty for storage. */
  readonly upstream: readonly string[];
  readonly nodeId: string;
  readonly host: string;
  readonly port: number;
  readonly advertise: string;
  /** id -> host:port of every member, this node included. */
  readonly peers: ReadonlyMap<string, string>;
  readonly dataDir: string;
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly partitions: number;
  readonly durability: 'durable' | 'relaxed';
  readonly diskFreeBytesMin: number;
  readonly checkpointBytes: number;
  readonly checkpointIntervalMs: number;
  readonly metricsPort: number;
  readonly logLevel: LogLevel;
  /** Lines of one level and message per 10 s (observability/log.ts); 0: no limit. */
  readonly logLinesPerWindowMax: number;
  /** Share of client operations traced, 0..1; 0: tracing off (nothing is initialised). */
  readonly traceSampleRatio: number;
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
  readonly objectBytesMax: number;
  readonly siblingsWarn: number;
  readonly siblingsMax: number;
  readonly clockEntriesWarn: number;
  readonly clockEntriesMax: number;
  readonly requestTimeoutMs: number;
  readonly readRepairWaitMs: number;
  readonly inFlightMax: number;
  readonly readRepairsInFlightMax: number;
  readonly peerWindowMax: number;
  readonly batchOpsMax: number;
  readonly streamInFlightMax: number;
  readonly peerStreamInFlightMax: number;
  readonly streamBytesMax: number;
  readonly connectionBytesMax: number;
  readonly nodeBytesMax: number;
  readonly peerStreamBytesMax: number;
  readonly peerMessageRequestsMax: number;
  readonly connectionStreamsMax: number;
  readonly connectionsMax: number;
  readonly keepaliveMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly zone: string;
  /** Where the zone was read from when it came from a file (the chart's init container writes it). */
  readonly zoneFile?: string;
  readonly join: 'false' | 'true' | 'auto';
  /**
   * Addresses of members to join through (join=auto: the other --peers, the cluster's founding
   * members, reached as seeds, by a node that is not a member); empty otherwise.
   */
  readonly seeds: readonly string[];
  /** Whether the node starts outside any cluster (join=true, or join=auto and not in --peers). */
  readonly startsOutside: boolean;
  readonly gossipIntervalMs: number;
  readonly transferIntervalMs: number;
  readonly transferBatchMax: number;
  readonly transferKeysPerSecondMax: number;
  readonly messageBytesMax: number;
  readonly shutdownGraceMs: number;
  readonly peerHeartbeatMs: number;
  readonly peerSuspectMs: number;
  readonly hintsPerTargetMax: number;
  readonly hintBytesMax: number;
  readonly hintAgeMaxMs: number;
  readonly handoffIntervalMs: number;
  readonly handoffBatchMax: number;
  readonly handoffKeysPerSecondMax: number;
  readonly antiEntropyIntervalMs: number;
  readonly antiEntropyKeysPerExchangeMax: number;
  readonly antiEntropyRebuildKeysPerSecondMax: number;
  readonly tombstoneGraceMs: number;
  readonly tombstoneReapIntervalMs: number;
  readonly tombstoneReapBatchMax: number;
  /** PEM certificate (chain) of this node; with tlsKeyFile and tlsCaFile, TLS is on. */
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  /** PEM bundle of the cluster CA(s): trusted for peers' and clients' certificates. */
  readonly tlsCaFile?: string;
  /** JSON lines of the clients allowed on the client services; undefined: open. */
  readonly clientAuthFile?: string;
  /** How often the TLS files and the client auth file are re-read. */
  readonly tlsReloadIntervalMs: number;
  /** File of the cluster's context keys (one hex key a line; the first seals, all open); undefined: see app/node/context-keys.ts. */
  readonly contextKeysFile?: string;
}

interface SettingRow {
  readonly key: keyof NodeConfig;
  /** Flag name without the dashes: `--<flag>`. */
  readonly flag: string;
  /** Environment variable, `KV_*`. */
  readonly env: string;
  readonly doc: string;
}

/** A whole number within min..max (both inclusive). */
export interface IntSetting extends SettingRow {
  readonly kind: 'int';
  /** As a flag would spell it. undefined: required, or derived from other settings (see `doc`). */
  readonly default?: string;
  readonly min: number;
  readonly max: number;
}

/** One of a fixed list of words. */
export interface EnumSetting<V extends string = string> extends SettingRow {
  readonly kind: 'enum';
  readonly default: V;
  readonly values: readonly V[];
}

/** Free text, checked after parsing (node id, addresses, paths). */
export interface StringSetting extends SettingRow {
  readonly kind: 'string';
  /** undefined: required, or derived from other settings (see `doc`). */
  readonly default?: string;
}

/** A fraction within min..max (both inclusive), such as a sampling ratio. */
export interface RatioSetting extends SettingRow {
  readonly kind: 'ratio';
  readonly default: string;
  readonly min: number;
  readonly max: number;
}

export type Setting = IntSetting | EnumSetting | StringSetting | RatioSetting;

const MIB = 1024 * 1024;

const TABLE = [
  { key: 'role', flag: 'role', env: 'KV_ROLE', kind: 'enum', default: 'storage', values: ['storage', 'gateway'], doc: 'storage: a member that holds data. gateway: holds no data and is no member; it sends each client operation to a primary of its key (placement read from --upstream), so a Deployment of gateways scales with the load while the data stays on the storage nodes.' },
  { key: 'upstream', flag: 'upstream', env: 'KV_UPSTREAM', kind: 'string', doc: 'Gateways only: store nodes to learn the members and placement from, host:port comma-separated (the store\'s client Service). Required with --role gateway.' },
  { key: 'nodeId', flag: 'node-id', env: 'KV_NODE_ID', kind: 'string', doc: 'This node\'s id: 1-63 of [a-z0-9-], stable across restarts (the StatefulSet pod name). Required.' },
  { key: 'host', flag: 'host', env: 'KV_HOST', kind: 'string', default: '127.0.0.1', doc: 'Address the gRPC server listens on (0.0.0.0 in a container).' },
  { key: 'port', flag: 'port', env: 'KV_PORT', kind: 'int', default: '7001', min: 0, max: 65535, doc: 'gRPC port: clients, peers, health and reflection.' },
  { key: 'advertise', flag: 'advertise', env: 'KV_ADVERTISE', kind: 'string', doc: 'host:port other nodes use to reach this one. Default: its entry in the peer list, else host:port.' },
  { key: 'peers', flag: 'peers', env: 'KV_PEERS', kind: 'string', doc: 'Every member as id=host:port, comma-separated, this node included. Default: this node alone.' },
  { key: 'dataDir', flag: 'data-dir', env: 'KV_DATA_DIR', kind: 'string', doc: 'Data directory (one LMDB environment). Default: ./data/<node-id>.' },
  { key: 'n', flag: 'n', env: 'KV_N', kind: 'int', default: '3', min: 1, max: 16, doc: 'Replicas of each key (N); at most the number of members (the default is capped at it).' },
  { key: 'r', flag: 'r', env: 'KV_R', kind: 'int', default: '2', min: 1, max: 16, doc: 'Replies a get waits for (R), 1..N (the default is capped at N); requests may override it.' },
  { key: 'w', flag: 'w', env: 'KV_W', kind: 'int', default: '2', min: 1, max: 16, doc: 'Acknowledgements a put or delete waits for (W), 1..N (the default is capped at N); requests may override it.' },
  { key: 'partitions', flag: 'partitions', env: 'KV_PARTITIONS', kind: 'int', default: String(PARTITIONS_DEFAULT), min: 1, max: PARTITIONS_MAX, doc: 'Partitions Q, a power of two, fixed when the cluster is created; the same on every node.' },
  { key: 'durability', flag: 'durability', env: 'KV_DURABILITY', kind: 'enum', default: 'durable', values: ['durable', 'relaxed'], doc: 'durable: a replica acknowledges after its commit is on disk. relaxed: before the sync (a crash may lose recent writes); opt-in.' },
  { key: 'diskFreeBytesMin', flag: 'disk-free-bytes-min', env: 'KV_DISK_FREE_BYTES_MIN', kind: 'int', default: String(128 * MIB), min: 0, max: 1024 * 1024 * MIB, doc: 'Free space kept on the data disk: a write that would leave less fails with RESOURCE_EXHAUSTED and stores nothing (lmdb-js does not reliably survive a disk that runs out). 0 turns the reserve off.' },
  { key: 'checkpointBytes', flag: 'checkpoint-bytes', env: 'KV_CHECKPOINT_BYTES', kind: 'int', default: String(16 * MIB), min: 1, max: 1024 * MIB, doc: 'durable only: a write is on disk once its commit is appended to the write-ahead log and synced; a checkpoint copies the logged writes into LMDB when they reach this many bytes (or checkpoint-interval-ms after the first). The checkpoint commits on a worker thread while the node serves; commits wait only while the log holds 4 times this much, which bounds the memory the logged writes hold.' },
  { key: 'checkpointIntervalMs', flag: 'checkpoint-interval-ms', env: 'KV_CHECKPOINT_INTERVAL_MS', kind: 'int', default: '1000', min: 1, max: 60000, doc: 'durable only: a checkpoint also starts this long after the first write it would copy, so that the log (and the replay at the next start) stays short when writes are few.' },
  { key: 'metricsPort', flag: 'metrics-port', env: 'KV_METRICS_PORT', kind: 'int', default: '9464', min: 0, max: 65535, doc: 'HTTP port for Prometheus /metrics; 0 turns it off.' },
  { key: 'logLevel', flag: 'log-level', env: 'KV_LOG_LEVEL', kind: 'enum', default: 'info', values: ['debug', 'info', 'warn', 'error'], doc: 'Lowest level of the log lines on stderr (ECS JSON, one object a line).' },
  { key: 'logLinesPerWindowMax', flag: 'log-rate-max', env: 'KV_LOG_RATE_MAX', kind: 'int', default: '20', min: 0, max: 100_000, doc: 'Lines of one level and message written per 10 s; more are counted and reported in one summary line when the 10 s end. 0 writes every line.' },
  { key: 'traceSampleRatio', flag: 'trace-sample-ratio', env: 'KV_TRACE_SAMPLE_RATIO', kind: 'ratio', default: '0', min: 0, max: 1, doc: 'Share of client operations traced (OpenTelemetry, exported over OTLP/HTTP to where the standard OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT variable says); an operation forwarded by a node that traces it is traced too. 0 turns tracing off.' },
  { key: 'keyBytesMax', flag: 'key-bytes-max', env: 'KV_KEY_BYTES_MAX', kind: 'int', default: '1024', min: 1, max: 65536, doc: 'Largest key, in bytes.' },
  { key: 'valueBytesMax', flag: 'value-bytes-max', env: 'KV_VALUE_BYTES_MAX', kind: 'int', default: String(MIB), min: 0, max: 16 * MIB, doc: 'Largest value, in bytes.' },
  { key: 'objectBytesMax', flag: 'object-bytes-max', env: 'KV_OBJECT_BYTES_MAX', kind: 'int', default: String(8 * MIB), min: 1024, max: 64 * MIB, doc: 'Largest stored object (all siblings and the clock); a write beyond it fails with FAILED_PRECONDITION.' },
  { key: 'siblingsWarn', flag: 'siblings-warn', env: 'KV_SIBLINGS_WARN', kind: 'int', default: '25', min: 1, max: 10000, doc: 'Siblings above which a write logs a warning.' },
  { key: 'siblingsMax', flag: 'siblings-max', env: 'KV_SIBLINGS_MAX', kind: 'int', default: '100', min: 1, max: 10000, doc: 'Siblings above which a write fails with FAILED_PRECONDITION.' },
  { key: 'clockEntriesWarn', flag: 'clock-entries-warn', env: 'KV_CLOCK_ENTRIES_WARN', kind: 'int', default: '32', min: 1, max: 10000, doc: 'Version-vector entries above which a write logs a warning.' },
  { key: 'clockEntriesMax', flag: 'clock-entries-max', env: 'KV_CLOCK_ENTRIES_MAX', kind: 'int', default: '64', min: 1, max: 10000, doc: 'Version-vector entries above which a write fails with FAILED_PRECONDITION (never pruned; raising it repairs a key whose clock is full: see Versioning).' },
  { key: 'requestTimeoutMs', flag: 'request-timeout-ms', env: 'KV_REQUEST_TIMEOUT_MS', kind: 'int', default: '5000', min: 1, max: 600000, doc: 'Time budget of an operation that carries no deadline.' },
  { key: 'readRepairWaitMs', flag: 'read-repair-wait-ms', env: 'KV_READ_REPAIR_WAIT_MS', kind: 'int', default: '1000', min: 0, max: 60000, doc: 'How long a get waits, after answering, for the remaining replicas before read repair.' },
  { key: 'inFlightMax', flag: 'in-flight-max', env: 'KV_IN_FLIGHT_MAX', kind: 'int', default: '20000', min: 1, max: 1000000, doc: 'Operations a node coordinates at once; beyond it RESOURCE_EXHAUSTED.' },
  { key: 'readRepairsInFlightMax', flag: 'read-repairs-in-flight-max', env: 'KV_READ_REPAIRS_IN_FLIGHT_MAX', kind: 'int', default: '1000', min: 0, max: 1000000, doc: 'Read repairs in flight at once; beyond it repairs are skipped and counted.' },
  { key: 'peerWindowMax', flag: 'peer-window-max', env: 'KV_PEER_WINDOW_MAX', kind: 'int', default: '8192', min: 1, max: 1000000, doc: 'Requests in flight to one peer; beyond it the request fails with RESOURCE_EXHAUSTED.' },
  { key: 'batchOpsMax', flag: 'batch-ops-max', env: 'KV_BATCH_OPS_MAX', kind: 'int', default: '1024', min: 1, max: 100000, doc: 'Operations in one BatchRequest. A message with more is not decoded: the stream ends with INVALID_ARGUMENT naming the limit.' },
  { key: 'streamInFlightMax', flag: 'stream-in-flight-max', env: 'KV_STREAM_IN_FLIGHT_MAX', kind: 'int', default: '8192', min: 1, max: 1000000, doc: 'Operations in flight on one client Batch stream.' },
  { key: 'peerStreamInFlightMax', flag: 'peer-stream-in-flight-max', env: 'KV_PEER_STREAM_IN_FLIGHT_MAX', kind: 'int', default: '8192', min: 1, max: 1000000, doc: 'Requests from one peer worked on at once; beyond it the node stops reading that peer\'s stream until one finishes (backpressure: they are replica work for operations already admitted). A request that waited past its timeout is answered DEADLINE_EXCEEDED, not run; heartbeats never wait.' },
  { key: 'streamBytesMax', flag: 'stream-bytes-max', env: 'KV_STREAM_BYTES_MAX', kind: 'int', default: String(LIMITS.streamBytesMax), min: 64 * 1024, max: 1024 * MIB, doc: 'Bytes one client Batch stream holds at most: requests of operations in flight (a get also the largest answer seen on the stream) and answers the client has not read. At it the node stops reading the stream; a get answer that would go past it is answered RESOURCE_EXHAUSTED instead (write answers are always sent).' },
  { key: 'connectionBytesMax', flag: 'connection-bytes-max', env: 'KV_CONNECTION_BYTES_MAX', kind: 'int', default: String(LIMITS.connectionBytesMax), min: 64 * 1024, max: 1024 * MIB, doc: 'As stream-bytes-max, for all client calls on one connection together; a unary call on a connection at the limit is answered RESOURCE_EXHAUSTED.' },
  { key: 'nodeBytesMax', flag: 'node-bytes-max', env: 'KV_NODE_BYTES_MAX', kind: 'int', default: String(LIMITS.nodeBytesMax), min: 64 * 1024, max: 64 * 1024 * MIB, doc: 'As connection-bytes-max, for all client calls on the node together.' },
  { key: 'peerStreamBytesMax', flag: 'peer-stream-bytes-max', env: 'KV_PEER_STREAM_BYTES_MAX', kind: 'int', default: String(LIMITS.peerStreamBytesMax), min: 64 * 1024, max: 1024 * MIB, doc: 'Bytes of answers queued on one peer\'s stream and not yet taken by the connection; at it no further request from that peer starts and its stream is not read (as peer-stream-in-flight-max).' },
  { key: 'peerMessageRequestsMax', flag: 'peer-message-requests-max', env: 'KV_PEER_MESSAGE_REQUESTS_MAX', kind: 'int', default: String(LIMITS.peerMessageRequestsMax), min: 1, max: 100000, doc: 'Requests in one peer message: the node sends no more, and a message with more is not decoded (the stream ends with INVALID_ARGUMENT naming the limit). The same on every node.' },
  { key: 'connectionStreamsMax', flag: 'connection-streams-max', env: 'KV_CONNECTION_STREAMS_MAX', kind: 'int', default: String(LIMITS.connectionStreamsMax), min: 1, max: 1_000_000, doc: 'Calls (HTTP/2 streams) open at once on one connection (the HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS the node announces); a client waits for a slot.' },
  { key: 'connectionsMax', flag: 'connections-max', env: 'KV_CONNECTIONS_MAX', kind: 'int', default: String(LIMITS.connectionsMax), min: 1, max: 1_000_000, doc: 'Connections (clients and peers) open at once; a connection beyond it is closed as soon as it is accepted, with a warning in the log.' },
  { key: 'keepaliveMs', flag: 'keepalive-ms', env: 'KV_KEEPALIVE_MS', kind: 'int', default: String(LIMITS.keepaliveMs), min: 100, max: 7_200_000, doc: 'The node pings each connection this often (HTTP/2 PING).' },
  { key: 'keepaliveTimeoutMs', flag: 'keepalive-timeout-ms', env: 'KV_KEEPALIVE_TIMEOUT_MS', kind: 'int', default: String(LIMITS.keepaliveTimeoutMs), min: 100, max: 600_000, doc: 'A connection that does not answer a ping within this is closed: a dead peer, or a slow-loris client that never completes its HTTP/2 preface, is gone after keepalive-ms plus this.' },
  { key: 'messageBytesMax', flag: 'message-bytes-max', env: 'KV_MESSAGE_BYTES_MAX', kind: 'int', default: String(64 * MIB), min: MIB, max: 1024 * MIB, doc: 'Largest gRPC message sent or received.' },
  { key: 'shutdownGraceMs', flag: 'shutdown-grace-ms', env: 'KV_SHUTDOWN_GRACE_MS', kind: 'int', default: '10000', min: 0, max: 600000, doc: 'On SIGTERM, how long in-flight requests may take to finish.' },
  { key: 'peerHeartbeatMs', flag: 'peer-heartbeat-ms', env: 'KV_PEER_HEARTBEAT_MS', kind: 'int', default: '500', min: 10, max: 60000, doc: 'Period of the heartbeat sent to every peer.' },
  { key: 'peerSuspectMs', flag: 'peer-suspect-ms', env: 'KV_PEER_SUSPECT_MS', kind: 'int', default: '2000', min: 50, max: 600000, doc: 'A peer is suspected (treated as down: writes go to fallbacks, forwards to other primaries) when a request to it waited this long and nothing came back from it meanwhile.' },
  { key: 'hintsPerTargetMax', flag: 'hints-per-target-max', env: 'KV_HINTS_PER_TARGET_MAX', kind: 'int', default: '100000', min: 0, max: 100_000_000, doc: 'Hints this node holds for one down node at most; beyond it, writes that need this node to stand in fail with RESOURCE_EXHAUSTED. 0 turns sloppy quorum off (writes count primaries only).' },
  { key: 'hintBytesMax', flag: 'hint-bytes-max', env: 'KV_HINT_BYTES_MAX', kind: 'int', default: String(256 * MIB), min: 0, max: 1024 * 1024 * MIB, doc: 'Bytes of hints this node holds for all down nodes together at most; beyond it, as hints-per-target-max.' },
  { key: 'hintAgeMaxMs', flag: 'hint-age-max-ms', env: 'KV_HINT_AGE_MAX_MS', kind: 'int', default: '0', min: 0, max: 365 * 24 * 3600 * 1000, doc: 'Hints older than this are expired (counted in kv_hints_expired_total, left to read repair); 0 keeps them until delivered.' },
  { key: 'handoffIntervalMs', flag: 'handoff-interval-ms', env: 'KV_HANDOFF_INTERVAL_MS', kind: 'int', default: '1000', min: 10, max: 600000, doc: 'Pause between rounds of hinted handoff.' },
  { key: 'handoffBatchMax', flag: 'handoff-batch-max', env: 'KV_HANDOFF_BATCH_MAX', kind: 'int', default: '256', min: 1, max: 10000, doc: 'Hints delivered per handoff round at most (in flight together).' },
  { key: 'handoffKeysPerSecondMax', flag: 'handoff-keys-per-second-max', env: 'KV_HANDOFF_KEYS_PER_SECOND_MAX', kind: 'int', default: '2000', min: 1, max: 1_000_000, doc: 'Hints delivered per second at most (the handoff budget).' },
  { key: 'antiEntropyIntervalMs', flag: 'anti-entropy-interval-ms', env: 'KV_ANTI_ENTROPY_INTERVAL_MS', kind: 'int', default: '1000', min: 0, max: 3_600_000, doc: 'Pause between anti-entropy exchanges (one partition with one other primary each, one at a time); 0 turns anti-entropy off.' },
  { key: 'antiEntropyKeysPerExchangeMax', flag: 'anti-entropy-keys-per-exchange-max', env: 'KV_ANTI_ENTROPY_KEYS_PER_EXCHANGE_MAX', kind: 'int', default: '1000', min: 1, max: 10_000, doc: 'Keys listed and repaired in one anti-entropy exchange at most; the rest wait for the partition\'s next exchange.' },
  { key: 'tombstoneGraceMs', flag: 'tombstone-grace-ms', env: 'KV_TOMBSTONE_GRACE_MS', kind: 'int', default: String(24 * 3600 * 1000), min: 0, max: 365 * 24 * 3600 * 1000, doc: 'A tombstone is reaped only this long after its newest delete, and only once every primary holds exactly it and no node holds a hint for the key.' },
  { key: 'tombstoneReapIntervalMs', flag: 'tombstone-reap-interval-ms', env: 'KV_TOMBSTONE_REAP_INTERVAL_MS', kind: 'int', default: '10000', min: 0, max: 3_600_000, doc: 'Pause between tombstone reap rounds (one partition each, on its first primary); 0 keeps tombstones forever.' },
  { key: 'zone', flag: 'zone', env: 'KV_ZONE', kind: 'string', default: '', doc: 'This node\'s failure domain (availability zone): a partition\'s primaries go to distinct zones. Given to the cluster when the node joins.' },
  { key: 'zoneFile', flag: 'zone-file', env: 'KV_ZONE_FILE', kind: 'string', doc: 'File holding this node\'s zone, read once at start (surrounding whitespace dropped), when --zone is not given: the store\'s chart has an init container write it from the Kubernetes node\'s topology.kubernetes.io/zone label (kv k8s zone).' },
  { key: 'join', flag: 'join', env: 'KV_JOIN', kind: 'enum', default: 'false', values: ['false', 'true', 'auto'], doc: 'false: the members are --peers. true: start outside any cluster and wait to be added (kv admin join); the node serves no data until a cluster state that lists it arrives. auto: a node listed in --peers is a founding member (as with false); one that is not joins by itself through the --peers addresses (seeds), waiting while another change is in progress (how Kubernetes pods beyond the founding ones join).' },
  { key: 'gossipIntervalMs', flag: 'gossip-interval-ms', env: 'KV_GOSSIP_INTERVAL_MS', kind: 'int', default: '1000', min: 0, max: 3_600_000, doc: 'Pause between gossip rounds (the cluster state to one random up member); 0 turns gossip off.' },
  { key: 'transferIntervalMs', flag: 'transfer-interval-ms', env: 'KV_TRANSFER_INTERVAL_MS', kind: 'int', default: '1000', min: 1, max: 3_600_000, doc: 'Pause between rounds of copying partitions this node receives in a membership change, when a round copied nothing.' },
  { key: 'transferBatchMax', flag: 'transfer-batch-max', env: 'KV_TRANSFER_BATCH_MAX', kind: 'int', default: '200', min: 1, max: 1000, doc: 'Objects asked for in one page of a partition copy.' },
  { key: 'transferKeysPerSecondMax', flag: 'transfer-keys-per-second-max', env: 'KV_TRANSFER_KEYS_PER_SECOND_MAX', kind: 'int', default: '5000', min: 1, max: 1_000_000, doc: 'Objects copied a second at most while this node receives partitions.' },
  { key: 'tombstoneReapBatchMax', flag: 'tombstone-reap-batch-max', env: 'KV_TOMBSTONE_REAP_BATCH_MAX', kind: 'int', default: '100', min: 1, max: 10_000, doc: 'Tombstones checked for reaping per round at most.' },
  { key: 'contextKeysFile', flag: 'context-keys-file', env: 'KV_CONTEXT_KEYS_FILE', kind: 'string', doc: 'File of the cluster\'s context keys, the same on every node: one key a line, as hex of at least 32 bytes (openssl rand -hex 32), at most 8 keys, # starts a comment. The first signs the contexts this node hands out, every one verifies those clients pass back (rotation: add the new key second everywhere, then move it first, then drop the old). Default: a node alone in its cluster (one member, not joining) creates one in its data directory (context-keys); any other storage node refuses to start without it. kv cluster creates one for all its nodes.' },
  { key: 'antiEntropyRebuildKeysPerSecondMax', flag: 'anti-entropy-rebuild-keys-per-second-max', env: 'KV_ANTI_ENTROPY_REBUILD_KEYS_PER_SECOND_MAX', kind: 'int', default: '50000', min: 100, max: 10_000_000, doc: 'Keys read a second at most while the anti-entropy hash trees are rebuilt after a start.' },
  { key: 'tlsCertFile', flag: 'tls-cert-file', env: 'KV_TLS_CERT_FILE', kind: 'string', doc: 'PEM certificate (chain) this node presents, to clients and (mutual TLS) to its peers; a node certificate carries the URI SAN urn:dynamo-kv:node. With --tls-key-file and --tls-ca-file, TLS is on and kv.v1.Peer answers only connections that presented a node certificate. Re-read when it changes (rotation without restart). Default: TLS off.' },
  { key: 'tlsKeyFile', flag: 'tls-key-file', env: 'KV_TLS_KEY_FILE', kind: 'string', doc: 'PEM private key of --tls-cert-file.' },
  { key: 'tlsCaFile', flag: 'tls-ca-file', env: 'KV_TLS_CA_FILE', kind: 'string', doc: 'PEM bundle of the cluster CA(s): peers\' and clients\' certificates must chain to one of them. During a CA rotation it holds the old and the new CA.' },
  { key: 'clientAuthFile', flag: 'client-auth-file', env: 'KV_CLIENT_AUTH_FILE', kind: 'string', doc: 'JSON lines of the clients allowed on kv.v1.KV and kv.v1.Backup ({name, role: read-only|read-write|admin, tokenSha256 and/or certificateCommonName, prefixes?}); calls without a listed token or certificate get UNAUTHENTICATED. Re-read when it changes. Default: every client may do everything.' },
  { key: 'tlsReloadIntervalMs', flag: 'tls-reload-interval-ms', env: 'KV_TLS_RELOAD_INTERVAL_MS', kind: 'int', default: '5000', min: 100, max: 3_600_000, doc: 'How often the TLS files and the client auth file are re-read; a change applies to connections (TLS) and calls (client auth) after it.' },
] as const satisfies readonly Setting[];

/**
 * Every setting of a node, in the order `kv node --help` prints them. This is the one source of
 * the node's variable names, defaults and bounds: the store's chart (constructs/k8s) renders its
 * container environment from it and validates against its bounds, and the deployment config
 * (lib/config.ts) takes its N/R/W and partition defaults from it.
 */
export const SETTINGS: readonly Setting[] = TABLE;

export type SettingKey = keyof NodeConfig;
/** Keys of the integer settings (n, r, w, partitions, port ...): those with bounds. */
export type IntSettingKey = Extract<(typeof TABLE)[number], { readonly kind: 'int' }>['key'];
/** Keys of the settings that take one of a list of words (durability, logLevel). */
export type EnumSettingKey = Extract<(typeof TABLE)[number], { readonly kind: 'enum' }>['key'];

const BY_KEY: ReadonlyMap<SettingKey, Setting> = new Map(SETTINGS.map((s) => [s.key, s]));

function row(key: SettingKey): Setting {
  const found = BY_KEY.get(key);
  // The key types come from the table itself, so a missing row is a programmer error.
  if (found === undefined) throw new Error(`no setting ${JSON.stringify(key)} in the node's settings table`);
  return found;
}

/** The environment variable a node reads a setting from: `settingEnv('n')` is `KV_N`. */
export function settingEnv(key: SettingKey): string {
  return row(key).env;
}

/**
 * A setting's default as a flag or variable would spell it (`settingDefault('n')` is `'3'`), for
 * other front ends such as the CLI; undefined when the setting is required or derived.
 */
export function settingDefault(key: SettingKey): string | undefined {
  return row(key).default;
}

/** The row of an integer setting: its variable, its bounds (min..max, inclusive) and its default. */
export function intSetting(key: IntSettingKey): IntSetting {
  const found = row(key);
  if (found.kind !== 'int') throw new Error(`setting ${key} is ${found.kind}, not int`);
  return found;
}

/** An integer setting's default as a number: `intDefault('port')` is 7001. */
export function intDefault(key: IntSettingKey): number {
  const text = intSetting(key).default;
  if (text === undefined) throw new Error(`setting ${key} has no default`);
  return Number(text);
}

/** The row of a setting that takes one of a list of words, typed as the node's config field. */
export function enumSetting<K extends EnumSettingKey>(key: K): EnumSetting<NodeConfig[K]> {
  const found = row(key);
  if (found.kind !== 'enum') throw new Error(`setting ${key} is ${found.kind}, not enum`);
  return found as EnumSetting<NodeConfig[K]>;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const NODE_ID = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ADDRESS = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/;

function isAddress(text: string): boolean {
  return ADDRESS.test(text) && Number(text.slice(text.lastIndexOf(':') + 1)) <= 65535;
}

/** Parses `id=host:port,...`. */
export function parsePeers(text: string, source: string): Map<string, string> {
  const peers = new Map<string, string>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const id = part.slice(0, eq);
    const address = part.slice(eq + 1);
    if (eq < 1 || !NODE_ID.test(id) || !isAddress(address)) {
      throw new ConfigError(`${source}: entry ${JSON.stringify(part)} is not id=host:port (id: 1-63 of [a-z0-9-], port 0..65535)`);
    }
    if (peers.has(id)) throw new ConfigError(`${source}: node id ${id} appears twice`);
    peers.set(id, address);
  }
  return peers;
}

/**
 * Builds the config from flags (`--name value` or `--name=value`) and env. Throws ConfigError
 * naming the setting, the value and what is allowed.
 */
export function parseNodeConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): NodeConfig {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}: settings are --name value`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const setting = SETTINGS.find((s) => s.flag === name);
    if (!setting) throw new ConfigError(`unknown flag --${name}; see kv node --help for the settings`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    flags.set(name, value);
  }
  const raw: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const fromFlag = flags.get(s.flag);
    const fromEnv = env[s.env];
    const text = fromFlag ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined) ?? s.default;
    const source = fromFlag !== undefined ? `--${s.flag}` : fromEnv ? s.env : `${s.flag} (default)`;
    if (text === undefined) continue;
    if (s.kind === 'int') {
      const n = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n) || n < s.min || n > s.max) {
        throw new ConfigError(`${source}: ${JSON.stringify(text)} is not an integer within ${s.min}..${s.max} (${s.doc})`);
      }
      raw[s.key] = n;
    } else if (s.kind === 'ratio') {
      const x = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
      if (!(x >= s.min && x <= s.max)) throw new ConfigError(`${source}: ${JSON.stringify(text)} is not a number within ${s.min}..${s.max} (${s.doc})`);
      raw[s.key] = x;
    } else if (s.kind === 'enum') {
      if (!s.values.includes(text)) throw new ConfigError(`${source}: ${JSON.stringify(text)} is not one of ${s.values.join(', ')}`);
      raw[s.key] = text;
    } else {
      raw[s.key] = text;
    }
    raw[`${s.key}Source`] = source;
  }
  const nodeId = raw.nodeId as string | undefined;
  if (nodeId === undefined) throw new ConfigError('node id is required: pass --node-id or set KV_NODE_ID');
  if (!NODE_ID.test(nodeId)) throw new ConfigError(`${raw.nodeIdSource}: ${JSON.stringify(nodeId)} is not 1-63 of [a-z0-9-], starting and ending with a letter or digit`);
  const host = raw.host as string;
  const port = raw.port as number;
  const listed = raw.peers === undefined ? new Map<string, string>() : parsePeers(raw.peers as string, raw.peersSource as string);
  const advertise = (raw.advertise as string | undefined) ?? listed.get(nodeId) ?? `${host}:${port}`;
  if (!isAddress(advertise)) throw new ConfigError(`${raw.advertiseSource}: ${JSON.stringify(advertise)} is not host:port with a port within 0..65535`);
  // join=auto and not listed: the list names the founding members, which this node joins through.
  const autoJoin = raw.join === 'auto' && !listed.has(nodeId);
  if (autoJoin && listed.size === 0) throw new ConfigError(`${raw.joinSource}: join=auto on a node not in --peers needs --peers (KV_PEERS) to name the members it joins through; none were given`);
  // A founding member joins through the others too, when it finds itself out of the cluster (its
  // volume was replaced after it was removed).
  const seeds = raw.join === 'auto' ? [...listed].filter(([id]) => id !== nodeId).map(([, address]) => address) : [];
  const peers = autoJoin ? new Map<string, string>() : listed;
  if (!peers.has(nodeId)) peers.set(nodeId, advertise);
  const [zone, zoneSource] = readZone(raw);
  if (Buffer.byteLength(zone) > 63 || /[\s,]/.test(zone)) throw new ConfigError(`${zoneSource}: ${JSON.stringify(zone.slice(0, 80))} is not a zone name of at most 63 bytes without spaces or commas`);
  // Defaults fit small clusters: N is at most the member count, R and W at most N (a lone node
  // runs with N=R=W=1). Values given explicitly are checked, never adjusted.
  const isDefault = (key: string) => (raw[`${key}Source`] as string).endsWith('(default)');
  // A node that joins a cluster (--join) takes part in one whose size it does not know yet: its
  // N, R, W and partitions are the cluster's, as given (the defaults match the default cluster).
  const joining = raw.join === 'true' || autoJoin;
  const n = isDefault('n') && !joining ? Math.min(raw.n as number, peers.size) : (raw.n as number);
  const r = isDefault('r') ? Math.min(raw.r as number, n) : (raw.r as number);
  const w = isDefault('w') ? Math.min(raw.w as number, n) : (raw.w as number);
  const partitions = raw.partitions as number;
  if (n > peers.size && !joining) throw new ConfigError(`${raw.nSource}: N=${n} exceeds the ${peers.size} members in the peer list; N must be at most the number of members`);
  if (r > n) throw new ConfigError(`${raw.rSource}: R=${r} exceeds N=${n}; R must be within 1..N`);
  if (w > n) throw new ConfigError(`${raw.wSource}: W=${w} exceeds N=${n}; W must be within 1..N`);
  if (!isPowerOfTwo(partitions)) throw new ConfigError(`${raw.partitionsSource}: ${partitions} is not a power of two (1, 2, 4 ... ${PARTITIONS_MAX})`);
  if (partitions < peers.size) throw new ConfigError(`${raw.partitionsSource}: ${partitions} partitions for ${peers.size} members leaves members without partitions; use at least ${peers.size}`);
  const siblingsWarn = raw.siblingsWarn as number;
  const siblingsMax = raw.siblingsMax as number;
  if (siblingsWarn > siblingsMax) throw new ConfigError(`siblings-warn ${siblingsWarn} exceeds siblings-max ${siblingsMax}`);
  if ((raw.clockEntriesWarn as number) > (raw.clockEntriesMax as number)) throw new ConfigError(`clock-entries-warn ${raw.clockEntriesWarn} exceeds clock-entries-max ${raw.clockEntriesMax}`);
  if ((raw.valueBytesMax as number) + (raw.keyBytesMax as number) >= (raw.objectBytesMax as number)) {
    throw new ConfigError(`object-bytes-max ${raw.objectBytesMax} must exceed value-bytes-max ${raw.valueBytesMax} plus key-bytes-max ${raw.keyBytesMax}`);
  }
  const upstream = raw.upstream === undefined ? [] : (raw.upstream as string).split(',').map((a) => a.trim()).filter((a) => a !== '');
  if (raw.role === 'gateway' && upstream.length === 0) throw new ConfigError(`${raw.roleSource}: a gateway needs --upstream (KV_UPSTREAM): the store nodes it forwards to, host:port comma-separated`);
  if (raw.role === 'storage' && upstream.length > 0) throw new ConfigError(`${raw.upstreamSource}: --upstream is for --role gateway; a storage node finds its peers through --peers`);
  for (const a of upstream) if (!isAddress(a)) throw new ConfigError(`${raw.upstreamSource}: ${JSON.stringify(a)} is not host:port with a port within 0..65535`);
  const tlsFiles = [raw.tlsCertFile, raw.tlsKeyFile, raw.tlsCaFile].filter((f) => f !== undefined).length;
  if (tlsFiles !== 0 && tlsFiles !== 3) throw new ConfigError(`TLS needs all three of --tls-cert-file (KV_TLS_CERT_FILE), --tls-key-file (KV_TLS_KEY_FILE) and --tls-ca-file (KV_TLS_CA_FILE); got ${['tlsCertFile', 'tlsKeyFile', 'tlsCaFile'].filter((k) => raw[k] !== undefined).map((k) => raw[`${k}Source`]).join(', ')}`);
  // Without TLS the peer service is open to anyone who reaches the port, and kv.v1.Peer forwards,
  // replicates and folds partitions with no role or prefix check: client authorization would be a
  // front door beside an open back door (and tokens would travel in plaintext).
  if (raw.clientAuthFile !== undefined && tlsFiles === 0) {
    throw new ConfigError(`${raw.clientAuthFileSource}: a client auth file needs TLS (--tls-cert-file, --tls-key-file, --tls-ca-file): without it the peer service is open to any caller, which bypasses every role and prefix, and tokens travel in plaintext`);
  }
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) out[s.key] = raw[s.key];
  return {
    ...(out as unknown as NodeConfig),
    upstream,
    nodeId,
    advertise,
    peers,
    seeds,
    startsOutside: joining,
    n,
    r,
    w,
    zone,
    dataDir: path.resolve((raw.dataDir as string | undefined) ?? path.join('data', nodeId)),
  };
}

/** The server's resource bounds from the settings of the same names. */
export function resourceLimits(config: NodeConfig): ResourceLimits {
  const limits: Record<string, number> = {};
  for (const key of Object.keys(LIMITS) as (keyof ResourceLimits)[]) limits[key] = config[key];
  return limits as unknown as ResourceLimits;
}

/** Largest zone file read: a zone name is at most 63 bytes, so anything far larger is the wrong file. */
const ZONE_FILE_BYTES_MAX = 4096;

/** The zone and where it came from: --zone / KV_ZONE when given, else the zone file, else none. */
function readZone(raw: Record<string, unknown>): [string, string] {
  const given = raw.zone as string;
  const file = raw.zoneFile as string | undefined;
  if (file === undefined || !(raw.zoneSource as string).endsWith('(default)')) return [given, raw.zoneSource as string];
  const source = `${raw.zoneFileSource} (${file})`;
  let text: string;
  try {
    if (fs.statSync(file).size > ZONE_FILE_BYTES_MAX) throw new Error(`larger than ${ZONE_FILE_BYTES_MAX} bytes`);
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${source}: cannot read the zone (${(e as Error).message}); in Kubernetes the init container (kv k8s zone) writes it: check its log; elsewhere give --zone instead`);
  }
  // A file that exists but says nothing is a writer that failed half-way, not a zoneless node.
  if (text.trim() === '') throw new ConfigError(`${source}: the file is empty; in Kubernetes the init container (kv k8s zone) writes the node's topology.kubernetes.io/zone label there: check its log; elsewhere give --zone instead`);
  return [text.trim(), source];
}

/** The settings table, for `kv node --help` and the README. */
export function settingsHelp(): string {
  const rows = SETTINGS.map((s) => {
    const def = s.default ?? '-';
    const range = s.kind === 'int' || s.kind === 'ratio' ? ` (${s.min}..${s.max})` : s.kind === 'enum' ? ` (${s.values.join('|')})` : '';
    return `  --${s.flag.padEnd(28)} ${s.env.padEnd(30)} default ${def}${range}\n      ${s.doc}`;
  });
  return rows.join('\n');
}

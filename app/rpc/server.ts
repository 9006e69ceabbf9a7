/**
 * The node's gRPC server: the client service (kv.v1.KV), the peer service (kv.v1.Peer), the
 * standard health service (grpc.health.v1) and server reflection, on one port.
 */
import * as dns from 'node:dns/promises';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { GRPC_COMMON_OPTIONS } from './grpc-options';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { KvError, Result, storeFailureCondition } from '../errors';
import { Logger, silentLogger } from '../../observability/log';
import { KeyHashes } from '../replication/anti-entropy';
import { isTraceparent, traceFields } from '../replication/trace';
import type { FoldPage } from '../membership/transfers';
import { checkTimeoutMs, ClientOp, OpResult, TIMEOUT_MS_MAX } from '../api/ops';
import { Batcher } from './batcher';
import { ByteBudget, ConnectionBudgets, RESOURCE_LIMITS_DEFAULT, ResourceLimits, StreamBytes } from './byte-budget';
import { countField } from './field-count';
import { ReadGate } from './read-gate';
import type { BatchRequest__Output } from './generated/kv/v1/BatchRequest';
import type { BatchResponse } from './generated/kv/v1/BatchResponse';
import type { KVHandlers } from './generated/kv/v1/KV';
import type { OperationResult } from './generated/kv/v1/OperationResult';
import type { PeerHandlers } from './generated/kv/v1/Peer';
import type { PeerRequest__Output } from './generated/kv/v1/PeerRequest';
import type { PeerRequests__Output } from './generated/kv/v1/PeerRequests';
import type { PeerResponse } from './generated/kv/v1/PeerResponse';
import type { PeerResponses } from './generated/kv/v1/PeerResponses';
import type { AdminRequest__Output } from './generated/kv/v1/AdminRequest';
import type { AdminResponse } from './generated/kv/v1/AdminResponse';
import type { InspectResponse } from './generated/kv/v1/InspectResponse';
import { BackupNodeHandlers, backupService } from './backup-service';
import type { StatusResponse } from './generated/kv/v1/StatusResponse';
import { decodeRefusal, guardDecoding, guardedAdder, rejectMalformed } from './decode-guard';
import { checkPeerRequest, PeerRequestLimits } from './peer-request-check';
import { protos, reflectionDefinition } from './proto-definition';
import { codeOf, WRITE_MAY_HAVE_APPLIED_TRAILER } from './status-map';
import { deleteOp, errorToMessage, getOp, getResponse, opFromMessage, opTimeoutMs, putOp, resultToMessage, sizeOfOperation, sizeOfResult } from './wire';
import { AccessControl, Caller, Denial } from './access';
import { Access, roleAllows } from '../api/client-auth';
import { serverCredentials, TlsFileWatcher } from './tls';

/** Objects one partition-fold answer carries at most, whatever the peer asks. */
const FOLD_LIMIT_MAX = 1000;

/** Keys one anti-entropy keys answer carries at most, whatever the peer asks. */
export const AE_KEYS_LIMIT_MAX = 10_000;

/** The service name the health service reports for the store itself (besides ""). */
export const HEALTH_SERVICE_NAME = 'kv.v1.KV';

export interface NodeHandlers {
  /** `traceparent`: the W3C trace context the operation arrived with (from the client's metadata, or in peer.proto when forwarded). */
  execute(op: ClientOp, options: { timeoutMs?: number; forwarded?: boolean; traceparent?: string }): Promise<Result<OpResult, KvError>>;
  /** This node's stored object for a key, or (with hintFor) the hint it holds for that primary. */
  fetch(partition: number, key: Uint8Array, hintFor: string | undefined, traceparent?: string): Promise<Result<Uint8Array | undefined>>;
  /** Merge an object into this node's data, or (with hintFor) store it as a hint for that primary. */
  replicate(partition: number, key: Uint8Array, object: Uint8Array, hintFor: string | undefined, traceparent?: string): Promise<Result<void>>;
  /** A heartbeat from `from`, carrying its data directory id: answers ours and the one we knew for it. */
  ping?(from: string, dataId: string): { dataId: string; knewDataId: string };
  /** Whether this node holds a hint for the key (for any primary). */
  holdsHint?(partition: number, key: Uint8Array): Promise<boolean>;
  /** Removes the key if this node stores exactly `object`; resolves whether it did. */
  reap?(partition: number, key: Uint8Array, object: Uint8Array): Promise<boolean>;
  /** This node's anti-entropy tree of a partition, or undefined while it is not ready. */
  aeTree?(partition: number): Promise<Uint8Array | undefined>;
  /** This node's keys and their hashes in some segments of a partition. */
  aeKeys?(partition: number, segments: readonly number[], limit: number): Promise<KeyHashes>;
  /** A peer's cluster state (JSON): merge it; answer ours when ours is newer. */
  gossip?(state: string, from: string): Promise<Result<string | undefined>>;
  /** This node's objects of a partition in key order after `after`, at most `limit` and about `bytesMax` bytes. */
  foldPartition?(partition: number, after: Uint8Array | undefined, limit: number, bytesMax: number): Promise<FoldPage>;
  /** A receiver finished copying a partition (this node is the claimant). */
  transferDone?(partition: number, to: string, change: number): Promise<Result<void>>;
  status(): StatusResponse;
  /** A membership change (kv admin); only the claimant takes them. */
  admin?(request: AdminRequest__Output): Promise<Result<AdminResponse, KvError>>;
  /** What every replica holds for a key (kv get --replicas). */
  inspect?(key: Uint8Array, timeoutMs: number | undefined): Promise<Result<InspectResponse, KvError>>;
  /** Snapshots and restores (kv.v1.Backup); without it the service is not served. */
  backup?: BackupNodeHandlers;
}

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  /** Largest message accepted or sent. */
  readonly messageBytesMax: number;
  /** Operations in one BatchRequest at most. */
  readonly batchOpsMax: number;
  /** Operations in flight on one Batch stream at most; beyond it they fail with RESOURCE_EXHAUSTED. */
  readonly streamInFlightMax: number;
  /**
   * Requests from one peer's Exchange stream worked on at once at most; beyond it the node stops
   * reading that stream until one finishes (see servePeer).
   */
  readonly peerStreamInFlightMax: number;
  /**
   * Bytes of requests and unsent answers one Batch stream, one connection and the node hold for
   * client calls, requests in one peer message, unsent answers on one peer stream, and the
   * HTTP/2 bounds (see RESOURCE_LIMITS_DEFAULT and the node's settings of the same names).
   * @default RESOURCE_LIMITS_DEFAULT, for each one not given
   */
  readonly limits?: Partial<ResourceLimits>;
  readonly log?: Logger;
  /**
   * Called with the gRPC status of every client call answered (Get, Put, Delete, Status,
   * Inspect, Admin), and of every operation answered on a Batch stream (method Batch).
   * @default - not observed
   */
  readonly onStatus?: (method: string, code: string) => void;
  /**
   * Partitions and key size that peer requests are checked against (see peer-request-check.ts).
   * @default - not checked (a node's handlers then refuse what they cannot serve)
   */
  readonly peerLimits?: PeerRequestLimits;
  /**
   * Whether to serve the peer service (kv.v1.Peer). A gateway holds no data and takes no peer traffic.
   * @default true
   */
  readonly servePeer?: boolean;
  /**
   * TLS on the port, from these (reloaded) files.
   * @default - plaintext
   */
  readonly tls?: TlsFileWatcher;
  /**
   * Who may call the peer and client services (./access.ts).
   * @default - everyone may call everything
   */
  readonly access?: AccessControl;
}

/** The byte budgets every call of one server shares. */
interface SharedBudgets {
  readonly limits: ResourceLimits;
  readonly connections: ConnectionBudgets;
  readonly node: ByteBudget;
}

/** A status code's name (OK, UNAVAILABLE ...), as the gRPC status metric labels it. */
function statusName(code: grpc.status): string {
  return grpc.status[code] ?? String(code);
}

/** A malformed client-service request (see decode-guard.ts), counted as the status metric counts the others. */
function countMalformed(onStatus: ServerOptions['onStatus'], path: string): void {
  const [, service, method] = path.split('/');
  if (service === 'kv.v1.KV' && method) onStatus?.(method, statusName(grpc.status.INVALID_ARGUMENT));
}

/** A unary handler whose answers are reported to `onStatus`. */
function observed<Req, Res>(method: string, onStatus: ServerOptions['onStatus'], handler: grpc.handleUnaryCall<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  if (onStatus === undefined) return handler;
  return (call, callback) =>
    handler(call, (error, value, trailer, flags) => {
      onStatus(method, statusName(error ? (error.code ?? grpc.status.UNKNOWN) : grpc.status.OK));
      callback(error, value, trailer, flags);
    });
}

/**
 * The trailer is set on every status the node chooses, 'true' or 'false': its presence tells a
 * client that the node answered, so the flag decides. A status without it came from gRPC itself
 * (a dropped connection, a cut stream), after which the client cannot know whether a write
 * reached the node.
 */
function trailers(writeMayHaveApplied: boolean): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(WRITE_MAY_HAVE_APPLIED_TRAILER, writeMayHaveApplied ? 'true' : 'false');
  return metadata;
}

function serviceError(e: KvError): Partial<grpc.StatusObject> {
  return { code: codeOf(e), details: e.message, metadata: trailers(e.writeMayHaveApplied) };
}

function denied(d: Denial): Partial<grpc.StatusObject> {
  // Refused before anything ran: a write was not applied.
  return { code: d.code, details: d.details, metadata: trailers(false) };
}

/** A unary client handler that runs only for a caller allowed `access` (and the key, when the request has one). */
function guarded<Req, Res>(access: AccessControl, need: Access, keyOf: ((req: Req) => Uint8Array) | undefined, handler: grpc.handleUnaryCall<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const who = access.client(call as unknown as Parameters<AccessControl['client']>[0], need);
    if ('denial' in who) return callback(denied(who.denial));
    const keyDenial = keyOf && access.key(who.caller, keyOf(call.request));
    if (keyDenial) return callback(denied(keyDenial));
    handler(call, callback);
  };
}

/** A streaming handler that runs only for a caller allowed `access`; others get the denial as the stream's status. */
function guardedStream<C extends grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>>(check: (call: C) => { caller: Caller } | { denial: Denial } | Denial | undefined, handler: (call: C, caller: Caller | undefined) => void): (call: C) => void {
  return (call) => {
    const r = check(call);
    if (r !== undefined && 'code' in r) return void call.emit('error', denied(r));
    if (r !== undefined && 'denial' in r) return void call.emit('error', denied(r.denial));
    handler(call, r?.caller);
  };
}

/**
 * The time left before the call's gRPC deadline: undefined without one, 0 or less when it has
 * passed (the operation is then not started: see deadlinePassed).
 */
function timeoutFromDeadline(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return undefined;
  return at - Date.now();
}

/**
 * A call whose deadline passed before its handler ran: answered DEADLINE_EXCEEDED, nothing done.
 * Besides a slow arrival, this is what a deadline more than 2^31-1 ms (24.8 days) away looks like:
 * grpc-js 1.14 reads such a grpc-timeout as a 32-bit integer, which wraps to a time already past,
 * and answers DEADLINE_EXCEEDED itself at once. Running the operation anyway (with a 1 ms timeout,
 * as the node did) could store a write the client was told had failed.
 */
function deadlinePassed(method: string, leftMs: number): Partial<grpc.StatusObject> {
  return {
    code: grpc.status.DEADLINE_EXCEEDED,
    details: `${method}: the call's deadline had passed when the node read it (${-leftMs} ms ago; a gRPC deadline more than ${TIMEOUT_MS_MAX} ms away is read as past: use timeout_ms, at most TIMEOUT_MS_MAX); nothing was done`,
    metadata: trailers(false),
  };
}

/**
 * The time a unary call may take: what its gRPC deadline leaves, else its timeout_ms field (0:
 * the node's own). The field is checked even when a deadline overrides it (a value out of range
 * is refused either way), and a deadline already past is answered without running anything.
 */
function callTimeoutMs(call: grpc.ServerUnaryCall<unknown, unknown>, fieldMs: number, method: string): { ok: true; value: number } | { ok: false; error: Partial<grpc.StatusObject> } {
  const asked = checkTimeoutMs(fieldMs);
  if (!asked.ok) return { ok: false, error: serviceError(asked.error) };
  const leftMs = timeoutFromDeadline(call);
  if (leftMs !== undefined && leftMs <= 0) return { ok: false, error: deadlinePassed(method, leftMs) };
  return { ok: true, value: leftMs ?? asked.value };
}

/** The gRPC metadata key a client's W3C trace context arrives in (as HTTP's traceparent header). */
export const TRACEPARENT_METADATA = 'traceparent';

/**
 * The client's trace context, when it sent a well-formed one: the operation's span continues the
 * client's trace (and follows its sampled flag). A malformed one is ignored, as W3C Trace Context
 * asks: the operation is traced, or not, as if none had come.
 */
function clientTraceparent(call: grpc.ServerUnaryCall<unknown, unknown>): string | undefined {
  const values = call.metadata.get(TRACEPARENT_METADATA);
  if (values.length !== 1 || typeof values[0] !== 'string') return undefined;
  const text = values[0].trim().toLowerCase();
  return isTraceparent(text) ? text : undefined;
}

/** Approximate bytes of a unary request, for the connection's and the node's byte budgets. */
function sizeOfUnaryRequest(req: unknown): number {
  const r = req as { key?: Uint8Array; value?: Uint8Array; context?: Uint8Array };
  return 32 + (r.key?.length ?? 0) + (r.value?.length ?? 0) + (r.context?.length ?? 0);
}

/**
 * A unary call's request counts against its connection's and the node's byte budgets until it is
 * answered. A full budget answers RESOURCE_EXHAUSTED naming it: grpc-js has read the request
 * already, so there is no reading to stop. (The answer is not counted once handed to grpc-js; the
 * HTTP/2 bound on streams per connection, connectionStreamsMax, bounds how many wait there.)
 */
function budgeted<Req, Res>(shared: SharedBudgets, handler: grpc.handleUnaryCall<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const key = call.getPeer();
    const connection = shared.connections.acquire(key);
    // Bytes actually held: a Batch stream's estimates for its gets in flight do not refuse calls.
    const full = [connection, shared.node].find((b) => b.heldFull);
    if (full !== undefined) {
      shared.connections.release(key);
      return callback(serviceError(new KvError('Overloaded', `request refused: ${full.describe()}`)));
    }
    const bytes = sizeOfUnaryRequest(call.request);
    connection.take(bytes);
    shared.node.take(bytes);
    let answered = false;
    const giveBack = () => {
      if (answered) return;
      answered = true;
      connection.give(bytes);
      shared.node.give(bytes);
      shared.connections.release(key);
    };
    try {
      handler(call, (error, value, trailer, flags) => {
        giveBack();
        callback(error, value, trailer, flags);
      });
    } catch (e) {
      // A handler that throws must not keep the bytes: the node's budget would shrink for good.
      giveBack();
      throw e;
    }
  };
}

function unary<Req, Res>(
  handlers: NodeHandlers,
  toOp: (req: Req) => ClientOp,
  toResponse: (r: OpResult) => Res,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const op = toOp(call.request);
    const timeout = callTimeoutMs(call as grpc.ServerUnaryCall<unknown, unknown>, (call.request as { timeoutMs?: number }).timeoutMs ?? 0, op.kind);
    if (!timeout.ok) return callback(timeout.error);
    const timeoutMs = timeout.value;
    handlers.execute(op, { timeoutMs, traceparent: clientTraceparent(call as grpc.ServerUnaryCall<unknown, unknown>) }).then(
      (r) => (r.ok ? callback(null, toResponse(r.value)) : callback(serviceError(r.error))),
      // An unexpected failure may come after the write was stored: the client must not resend it.
      (e) => callback({ code: grpc.status.INTERNAL, details: String(e), metadata: trailers(op.kind !== 'get') }),
    );
  };
}

/**
 * Listens on every address `host` resolves to, on `port` (0: one port the system picks, for all),
 * as grpc-js's bindAsync did: `localhost` is 127.0.0.1 and ::1 on most systems, and the server
 * serves if it can listen on at least one of them (a host without IPv6 has no ::1).
 */
async function listen(host: string, port: number, accept: (socket: net.Socket) => void): Promise<{ listeners: net.Server[]; port: number }> {
  const addresses = net.isIP(host) ? [host] : (await dns.lookup(host, { all: true })).map((a) => a.address);
  const listeners: net.Server[] = [];
  const failures: string[] = [];
  let bound = port;
  for (const address of addresses) {
    const listener = net.createServer(accept);
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen({ host: address, port: bound }, () => {
          listener.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      failures.push(addresses.length === 1 ? (e as Error).message : `${address}: ${(e as Error).message}`);
      continue;
    }
    listeners.push(listener);
    bound = (listener.address() as net.AddressInfo).port;
  }
  if (listeners.length === 0) throw new Error(`cannot serve the client and peer port on ${host}:${port}: ${failures.join('; ')}`);
  return { listeners, port: bound };
}

export class KvServer {
  private readonly health: HealthImplementation;
  private serving = false;

  private constructor(
    private readonly server: grpc.Server,
    private readonly listeners: readonly net.Server[],
    private readonly sockets: ReadonlySet<net.Socket>,
    readonly port: number,
    private readonly log: Logger,
    health: HealthImplementation,
  ) {
    this.health = health;
  }

  static async start(handlers: NodeHandlers, options: ServerOptions): Promise<KvServer> {
    const log = options.log ?? silentLogger;
    const { kv, peer, backup } = protos();
    const limits: ResourceLimits = { ...RESOURCE_LIMITS_DEFAULT, ...options.limits };
    const shared: SharedBudgets = { limits, connections: new ConnectionBudgets(limits.connectionBytesMax), node: new ByteBudget('nodeBytesMax', 'this node', limits.nodeBytesMax) };
    const server = new grpc.Server({
      ...GRPC_COMMON_OPTIONS,
      'grpc.max_receive_message_length': options.messageBytesMax,
      'grpc.max_send_message_length': options.messageBytesMax,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000,
      // A connection that stops answering pings (a half-open socket, or a slow-loris sender that
      // never completes its HTTP/2 preface) is closed after keepaliveMs + keepaliveTimeoutMs.
      'grpc.keepalive_time_ms': limits.keepaliveMs,
      'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
      'grpc.max_concurrent_streams': limits.connectionStreamsMax,
      // A malformed request is INVALID_ARGUMENT, not grpc-js's INTERNAL or UNIMPLEMENTED: see decode-guard.ts.
      interceptors: [rejectMalformed((path) => countMalformed(options.onStatus, path), new Set([BATCH_PATH, EXCHANGE_PATH]))],
    });
    const on = options.onStatus;
    const access = options.access ?? AccessControl.open();
    const byKey = <R extends { key: Uint8Array }>(req: R): Uint8Array => req.key;
    const kvHandlers: KVHandlers = {
      Get: observed('Get', on, guarded(access, 'read', byKey, budgeted(shared, unary(handlers, getOp, (r) => getResponse(r as OpResult & { kind: 'get' }))))),
      Put: observed('Put', on, guarded(access, 'write', byKey, budgeted(shared, unary(handlers, putOp, (r) => ({ context: r.context, siblings: r.kind === 'get' ? 0 : r.siblings }))))),
      Delete: observed('Delete', on, guarded(access, 'write', byKey, budgeted(shared, unary(handlers, deleteOp, (r) => ({ context: r.context, siblings: r.kind === 'get' ? 0 : r.siblings }))))),
      Batch: guardedStream(
        (call) => access.client(call, 'read'),
        (call, caller) => serveBatch(call, handlers, options, shared, access, caller!),
      ),
      Status: observed('Status', on, guarded(access, 'read', undefined, (_call, callback) => callback(null, handlers.status()))),
      Inspect: observed('Inspect', on, guarded(access, 'admin', byKey, (call, callback) => {
        if (!handlers.inspect) return callback({ code: grpc.status.UNIMPLEMENTED, details: 'this node does not inspect keys' });
        const timeout = callTimeoutMs(call as grpc.ServerUnaryCall<unknown, unknown>, call.request.timeoutMs, 'inspect');
        if (!timeout.ok) return callback(timeout.error);
        const timeoutMs = timeout.value;
        handlers.inspect(call.request.key, timeoutMs || undefined).then(
          (r) => (r.ok ? callback(null, r.value) : callback(serviceError(r.error))),
          (e) => callback({ code: grpc.status.INTERNAL, details: String(e) }),
        );
      })),
      Admin: observed('Admin', on, (call, callback) => {
        // A membership change moves every key: only an admin without a prefix rule may make one.
        const who = access.everyKey(call);
        if ('denial' in who) return callback(denied(who.denial));
        if (!handlers.admin) return callback({ code: grpc.status.UNIMPLEMENTED, details: 'this node does not take membership changes' });
        handlers.admin(call.request).then(
          (r) => (r.ok ? callback(null, r.value) : callback(serviceError(r.error))),
          (e) => callback({ code: grpc.status.INTERNAL, details: String(e) }),
        );
      }),
    };
    const peerHandlers: PeerHandlers = { Exchange: guardedStream((call) => access.peer(call), (call) => servePeer(call, handlers, options, limits, log)) };
    // Counted before decoding (a message over its count limit is never decoded), and a message that
    // does not decode is a value the interceptor answers INVALID_ARGUMENT (decode-guard.ts).
    server.addService(guardDecoding(countedRequests(kv.KV.service, 'Batch', options.batchOpsMax, { ops: [] })), kvHandlers);
    if (options.servePeer ?? true) server.addService(guardDecoding(countedRequests(peer.Peer.service, 'Exchange', limits.peerMessageRequestsMax, { requests: [] })), peerHandlers);
    if (handlers.backup) {
      const b = backupService(handlers.backup);
      server.addService(guardDecoding(backup.Backup.service), {
        Snapshot: guardedStream((call) => access.everyKey(call), (call) => b.Snapshot(call)),
        Restore: (call, callback) => {
          const who = access.everyKey(call);
          if ('denial' in who) return callback(denied(who.denial));
          b.Restore(call, callback);
        },
      } satisfies typeof b);
    }
    const health = new HealthImplementation({ '': 'NOT_SERVING', [HEALTH_SERVICE_NAME]: 'NOT_SERVING' });
    health.addToServer(guardedAdder(server));
    new ReflectionService(reflectionDefinition({ backup: handlers.backup !== undefined })).addToServer(guardedAdder(server));
    // The server accepts its connections itself and hands them to grpc-js, instead of bindAsync,
    // so that shutdown can close every one of them: see shutdown().
    // With TLS the injector's HTTP/2 server does the handshake on each socket handed to it.
    const injector = server.createConnectionInjector(serverCredentials(options.tls));
    const sockets = new Set<net.Socket>();
    const accept = (socket: net.Socket) => {
      if (sockets.size >= limits.connectionsMax) {
        log.warn('connection refused: too many open', { connections: sockets.size, connectionsMax: limits.connectionsMax, remote: `${socket.remoteAddress}:${socket.remotePort}` });
        socket.destroy();
        return;
      }
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      injector.injectConnection(socket);
    };
    let bound: { listeners: net.Server[]; port: number };
    try {
      bound = await listen(options.host, options.port, accept);
    } catch (e) {
      server.forceShutdown();
      throw new Error(`cannot listen on ${options.host}:${options.port}: ${(e as Error).message}`, { cause: e });
    }
    return new KvServer(server, bound.listeners, sockets, bound.port, log, health);
  }

  setServing(serving: boolean): void {
    this.serving = serving;
    const s = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', s);
    this.health.setStatus(HEALTH_SERVICE_NAME, s);
  }

  get isServing(): boolean {
    return this.serving;
  }

  /**
   * Stops accepting connections, lets calls in progress finish for up to graceMs, then cuts the
   * long-lived streams and closes every connection still open. Resolves once all are closed.
   *
   * grpc-js's forceShutdown is not enough on its own. It destroys each HTTP/2 session, but Node
   * destroys the socket of a session that was first closed gracefully (tryShutdown did that) only
   * after the peer closes its side too; until then the socket stays open and keeps the process
   * alive. A frozen peer (SIGSTOP, a paused VM) never closes it, so a stopped node did not exit
   * until the peer resumed (issue 8).
   */
  async shutdown(graceMs: number): Promise<void> {
    this.setServing(false);
    const unbound = Promise.all(this.listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve()))));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.info('grace period over: closing remaining streams', { graceMs, connections: this.sockets.size });
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    const closed = [...this.sockets].map((s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve()))));
    for (const s of this.sockets) s.destroy();
    await Promise.all([unbound, ...closed]);
  }
}

/**
 * Writes a message; when the transport's buffer is full (the peer or client does not read its
 * answers), stops reading new requests until the buffer drains. Without this, a caller that never
 * reads could make the node buffer answers without bound. `written` runs once the transport took
 * the message (HTTP/2 flow control let it out), never if the stream was cancelled first.
 */
function writeWithBackpressure<Res>(call: grpc.ServerDuplexStream<unknown, Res>, gate: ReadGate, message: Res, written?: () => void): void {
  if (call.write(message, written) || gate.isHeld('answers-unread')) return;
  gate.hold('answers-unread');
  call.once('drain', () => gate.release('answers-unread'));
}

/**
 * Makes a server stream read ahead at most one message. Pausing a stream (ReadGate) stops its
 * 'data' events, not its reading: a paused object-mode stream goes on reading until it has
 * buffered its high-water mark, 16 messages by default, which is 16 × messageBytesMax held by a
 * stream the node meant to stop reading. grpc-js gives no option for it, so the stream's own
 * state is set (a plain field of Readable's state in Node 20 and 24).
 */
function readAheadOne(call: grpc.ServerDuplexStream<unknown, unknown>): void {
  const state = (call as unknown as { _readableState?: { highWaterMark?: number } })._readableState;
  if (state !== undefined && typeof state.highWaterMark === 'number') state.highWaterMark = 1;
}

/** Runs `closed` once when the client ends, cancels or breaks the stream, then ends our side. */
function onStreamClose(call: grpc.ServerDuplexStream<unknown, unknown>, closed: () => void): void {
  let done = false;
  const close = () => {
    if (done) return;
    done = true;
    closed();
    call.end();
  };
  call.on('end', close);
  call.on('error', close);
  call.on('cancelled', close);
}

/** The client Batch stream's and the peer stream's paths: they answer undecodable messages themselves (see rejectMalformed). */
const BATCH_PATH = '/kv.v1.KV/Batch';
const EXCHANGE_PATH = '/kv.v1.Peer/Exchange';

/** Set on a stream message refused before it was decoded: how many requests it carried (at least). */
const OVER_COUNT = Symbol('over-count');

/**
 * The service with `method`'s requests counted before they are decoded (./field-count.ts): a
 * message with more than `limit` of its repeated field 1 (BatchRequest.ops, PeerRequests.requests)
 * is not decoded; the handler receives `empty` marked with the count (overCount) and ends the
 * stream naming the limit. Decoding two million tiny requests first took a node to 2.4 GiB.
 */
function countedRequests(service: grpc.ServiceDefinition, method: string, limit: number, empty: object): grpc.ServiceDefinition {
  const definition = service[method]!;
  const decode = definition.requestDeserialize;
  return {
    ...service,
    [method]: {
      ...definition,
      requestDeserialize: (bytes: Buffer) => {
        const count = countField(bytes, 1, limit);
        // Not decoded either: a top level the counter cannot walk could hide any number of
        // requests from it. Thrown, it becomes an UndecodableRequest (guardDecoding), which the
        // interceptor answers INVALID_ARGUMENT.
        if (count === undefined) throw new Error('its top level is not well-formed protobuf (a truncated tag or length, a group, or an unknown wire type), so its requests cannot be counted');
        return count > limit ? { ...empty, [OVER_COUNT]: count } : decode(bytes);
      },
    },
  };
}

/** The count a message refused before decoding carried (see countedRequests), if it was refused. */
function overCount(message: object): number | undefined {
  return (message as { [OVER_COUNT]?: number })[OVER_COUNT];
}

/**
 * Ends a stream with a status (grpc-js sends the status of an 'error' emitted on a server stream)
 * and stops reading it.
 */
function refuseStream(call: grpc.ServerDuplexStream<unknown, unknown>, gate: ReadGate, code: grpc.status, details: string): void {
  gate.hold('bytes-full');
  call.emit('error', { code, details, metadata: trailers(false) });
}

/**
 * Until a Batch stream's first get is answered, a get is charged this fraction of streamBytesMax
 * for its answer (so at most this many gets of unknown size start at once on a fresh stream: a
 * client that opens with thousands of gets of large values does not have them all read at once).
 */
const GETS_BEFORE_AN_ANSWER = 64;

/**
 * After it, a get is charged the largest recent answer: each answer sets it to the larger of its
 * own size and the previous estimate times this (so one large value stops counting after some
 * tens of small ones).
 */
const ANSWER_ESTIMATE_DECAY = 0.9;

/** An answer and the bytes charged for it until the transport takes it. */
interface Charged<T> {
  readonly item: T;
  readonly bytes: number;
}

/**
 * A client's Batch stream. Its operations count against three byte budgets (./byte-budget.ts):
 * the stream's (streamBytesMax), its connection's (connectionBytesMax) and the node's
 * (nodeBytesMax): an operation's request bytes from when it is read until it is answered (a get
 * also its likely answer: see GETS_BEFORE_AN_ANSWER), and its answer's bytes
 * until the transport takes them.
 *
 * When a budget is full the node stops reading the stream (backpressure) rather than refusing:
 * the operations already read are in memory anyway, and a client that sends large values quickly
 * but reads its answers is slowed, not failed. Stopping reading does not stop the answers of the
 * operations in flight, though: a client that never reads, with thousands of gets in flight,
 * would have them all queued. So a get's answer that would take a non-empty budget past its bound
 * is not queued: the get is answered RESOURCE_EXHAUSTED naming the budget, its value and its limit
 * (a get changes nothing; the client may ask again once it has read). Write answers are always
 * queued: they are small, and the client must learn that its write applied.
 */
function serveBatch(call: grpc.ServerDuplexStream<BatchRequest__Output, BatchResponse>, handlers: NodeHandlers, options: ServerOptions, shared: SharedBudgets, access: AccessControl, opener: Caller): void {
  let caller = opener;
  let inFlight = 0;
  let open = true;
  readAheadOne(call);
  const gate = new ReadGate(call);
  const connection = call.getPeer();
  const bytes = new StreamBytes(new ByteBudget('streamBytesMax', 'this stream', shared.limits.streamBytesMax), [shared.connections.acquire(connection), shared.node]);
  /** What a get is charged for its answer until it comes: a guess until the stream's first answer, then a decaying maximum. */
  let answerEstimate = Math.floor(shared.limits.streamBytesMax / GETS_BEFORE_AN_ANSWER);
  let answerSeen = false;
  const out = new Batcher<Charged<OperationResult>>(
    (answers) => {
      if (!open) return;
      const charged = answers.reduce((n, a) => n + a.bytes, 0);
      writesPending++;
      writeWithBackpressure(call, gate, { results: answers.map((a) => a.item) }, () => {
        writesPending--;
        refusedSinceWrite = false;
        bytes.give(charged);
        recheck();
      });
    },
    // An answer was charged its size already; only the replies charged nothing are sized here.
    (a) => (a.bytes > 0 ? a.bytes : sizeOfResult(a.item)),
    { itemsMax: options.batchOpsMax, bytesMax: Math.floor(options.messageBytesMax / 2) },
  );
  /** Answers written and not yet taken by the transport. */
  let writesPending = 0;
  /**
   * A get's answer was refused and the transport has taken nothing since: the client is not
   * reading. The stream stays unread until it takes something (or, if nothing of this stream is
   * waiting, until the full budget frees): refusing answers frees their bytes at once, and reading
   * on would only run more gets whose answers are refused in turn.
   */
  let refusedSinceWrite = false;
  const recheck = (): void => {
    if (!open) return;
    const full = bytes.full();
    const unread = refusedSinceWrite && writesPending > 0;
    if (full === undefined && !unread) return gate.release('bytes-full');
    gate.hold('bytes-full');
    full?.whenFree(recheck);
  };
  const onStatus = options.onStatus;
  const reply = (r: OperationResult, charged = 0) => {
    onStatus?.('Batch', statusName(r.error ? (r.error.code ?? grpc.status.UNKNOWN) : grpc.status.OK));
    out.push({ item: r, bytes: charged });
  };
  const answer = (r: OperationResult) => {
    if (!open) return;
    let size = sizeOfResult(r);
    if (r.get) {
      answerEstimate = answerSeen ? Math.max(size, Math.floor(answerEstimate * ANSWER_ESTIMATE_DECAY)) : size;
      answerSeen = true;
      // Refused only for bytes actually held (unsent answers, requests): the estimates charged for
      // gets still in flight would otherwise refuse a fresh stream's first answers.
      const over = bytes.wouldHold(size);
      if (over !== undefined && over.held > 0) {
        const refused = new KvError('Overloaded', `get answer of ${size} bytes not sent: ${over.describe()}; read the answers, or send fewer gets at once`);
        r = { id: r.id, error: errorToMessage(refused) };
        refusedSinceWrite = true;
        size = sizeOfResult(r);
      }
    }
    bytes.take(size);
    reply(r, size);
    recheck();
  };
  call.on('data', (msg: BatchRequest__Output) => {
    if (!open) return;
    const undecodable = decodeRefusal(msg, BATCH_PATH);
    if (undecodable !== undefined) {
      countMalformed(onStatus, BATCH_PATH);
      return refuseStream(call, gate, grpc.status.INVALID_ARGUMENT, undecodable);
    }
    // Who the caller is, again for each message: a client removed from (or changed in) the client
    // auth file while its stream is open loses (or changes) its rights from its next message on.
    const who = access.client(call, 'read');
    if ('denial' in who) return refuseStream(call, gate, who.denial.code, `${who.denial.details} (checked again on this open Batch stream)`);
    caller = who.caller;
    const count = overCount(msg);
    if (count !== undefined) {
      return refuseStream(call, gate, grpc.status.INVALID_ARGUMENT, `ops: more than ${options.batchOpsMax} operations in one BatchRequest (${count} counted before it was refused), the limit (batchOpsMax) is ${options.batchOpsMax}: the stream is closed`);
    }
    for (const m of msg.ops) {
      const op = opFromMessage(m);
      if (!op) {
        reply({ id: m.id, error: { code: grpc.status.INVALID_ARGUMENT, message: `op: operation ${m.id} has none of get, put, delete` } });
        continue;
      }
      // Each operation is checked on its own: a denied one fails, the others proceed.
      if (op.kind !== 'get' && !roleAllows(caller.entry.role, 'write')) {
        reply({ id: m.id, error: errorToMessage(new KvError('PermissionDenied', `client ${caller.name} has role ${caller.entry.role}; a ${op.kind} in Batch needs read-write or above`)) });
        continue;
      }
      const keyDenial = access.key(caller, op.key);
      if (keyDenial) {
        reply({ id: m.id, error: errorToMessage(new KvError('PermissionDenied', keyDenial.details)) });
        continue;
      }
      // Here as well as in the coordinator: a gateway, which has none, refuses it too.
      const asked = checkTimeoutMs(opTimeoutMs(m));
      if (!asked.ok) {
        reply(resultToMessage(m.id, asked));
        continue;
      }
      if (inFlight >= options.streamInFlightMax) {
        reply({ id: m.id, error: { code: grpc.status.RESOURCE_EXHAUSTED, message: `stream has ${inFlight} operations in flight, the limit (streamInFlightMax) is ${options.streamInFlightMax}` } });
        continue;
      }
      inFlight++;
      const estimated = op.kind === 'get' ? answerEstimate : 0;
      const requestBytes = sizeOfOperation(m) + estimated;
      bytes.take(requestBytes, estimated);
      handlers.execute(op, { timeoutMs: asked.value }).then(
        (r) => {
          inFlight--;
          bytes.give(requestBytes, estimated);
          answer(resultToMessage(m.id, r));
        },
        (e) => {
          inFlight--;
          bytes.give(requestBytes, estimated);
          answer({ id: m.id, error: { code: grpc.status.INTERNAL, message: String(e) } });
        },
      );
    }
    recheck();
  });
  onStreamClose(call, () => {
    open = false;
    out.clear();
    bytes.close();
    bytes.forget(recheck);
    shared.connections.release(connection);
  });
}

/** Approximate wire bytes of a peer response, for the batch byte bound. */
function sizeOfPeerResponse(r: PeerResponse): number {
  return (
    ((r.fetched?.object as Uint8Array | undefined)?.length ?? 0) +
    (r.forwarded ? sizeOfResult(r.forwarded) : 0) +
    ((r.aeTree?.segments as Uint8Array | undefined)?.length ?? 0) +
    (r.aeKeys?.keys ?? []).reduce((n, k) => n + (k as Uint8Array).length + 24, 0) +
    (r.foldPartition?.objects ?? []).reduce((n, o) => n + (o as Uint8Array).length + 16, 0) +
    (r.foldPartition?.keys ?? []).reduce((n, k) => n + (k as Uint8Array).length, 0) +
    (r.gossip?.state?.length ?? 0) +
    16
  );
}

/** A peer request read from its stream, waiting for a slot. */
interface Arrived {
  readonly req: PeerRequest__Output;
  readonly arrivedAt: number;
}

/**
 * The peer service: answers one peer's requests, in any order, on its Exchange stream.
 *
 * A message of more than peerMessageRequestsMax requests is refused before it is decoded: the
 * stream ends INVALID_ARGUMENT naming the limit (the node's own peer transport never sends more).
 * At most peerStreamInFlightMax requests from the stream are worked on at once, and none starts
 * while the stream's answers not yet taken by the transport hold peerStreamBytesMax bytes. Beyond
 * either the
 * requests already read wait, in order, and the stream is not read further until they have all
 * started (backpressure, rather than answering Overloaded as the client Batch stream does): the
 * work a peer sends is replica work for operations a coordinator already admitted, and refusing
 * it would turn a burst into failed replica writes, hints on fallbacks and read repairs, more work
 * at the moment there is too much. The caller's own window (peerWindowMax) bounds what it sends,
 * and the request's timeout_ms bounds how long it waits here: a request still waiting when its
 * timeout has passed (counted from when it was read) is answered DEADLINE_EXCEEDED, not run, and
 * says that nothing was applied. A request that started runs to its end (see peer.proto).
 * A heartbeat never waits for a slot: one that is read is answered at once. While the stream is
 * held, the next heartbeat is read when a request finishes, and that request's answer already
 * tells the caller this node is alive. The bound is met only when a caller has more requests here
 * than its own window, which happens when its requests timed out there while they ran on here.
 */
function servePeer(call: grpc.ServerDuplexStream<PeerRequests__Output, PeerResponses>, handlers: NodeHandlers, options: ServerOptions, limits: ResourceLimits, log: Logger): void {
  let open = true;
  // Who is calling: the peer transport names itself in the stream's metadata.
  const from = String(call.metadata.get('kv-from')[0] ?? '');
  readAheadOne(call);
  const gate = new ReadGate(call);
  // Answers queued and not yet taken by the transport: while they fill the budget no waiting
  // request starts (a slot needs room in it as well as a count), as for peerStreamInFlightMax.
  const unsent = new ByteBudget('peerStreamBytesMax', 'this peer stream', limits.peerStreamBytesMax);
  const batcher = new Batcher<Charged<PeerResponse>>(
    (answers) => {
      if (!open) return;
      const charged = answers.reduce((n, a) => n + a.bytes, 0);
      writeWithBackpressure(call, gate, { responses: answers.map((a) => a.item) }, () => {
        if (!open) return;
        unsent.give(charged);
        startWaiting();
      });
    },
    (a) => a.bytes,
  );
  const out = {
    push: (r: PeerResponse): void => {
      if (!open) return;
      const bytes = sizeOfPeerResponse(r);
      unsent.take(bytes);
      batcher.push({ item: r, bytes });
    },
    clear: (): void => void batcher.clear(),
  };
  /** Works on one request; `timeoutMs` is the time its caller still waits (0: no limit). */
  const handle = async (req: PeerRequest__Output, timeoutMs: number): Promise<PeerResponse> => {
    const invalid = options.peerLimits && checkPeerRequest(req, options.peerLimits);
    if (invalid) return { id: req.id, error: errorToMessage(invalid) };
    try {
      switch (req.op) {
        case 'fetch': {
          const r = await handlers.fetch(req.fetch!.partition, req.fetch!.key, req.fetch!.hintFor || undefined, req.traceparent || undefined);
          if (!r.ok) return { id: req.id, error: errorToMessage(r.error) };
          const object = r.value;
          return { id: req.id, fetched: object === undefined ? { found: false } : { found: true, object: Buffer.from(object.buffer, object.byteOffset, object.length) } };
        }
        case 'replicate': {
          const r = await handlers.replicate(req.replicate!.partition, req.replicate!.key, req.replicate!.object, req.replicate!.hintFor || undefined, req.traceparent || undefined);
          return r.ok ? { id: req.id, replicated: {} } : { id: req.id, error: errorToMessage(r.error) };
        }
        case 'ping':
          return { id: req.id, pong: handlers.ping?.(from, req.ping!.dataId) ?? {} };
        case 'hintCheck': {
          // A node that cannot answer says it holds one: the reaper then keeps the tombstone.
          const held = handlers.holdsHint ? await handlers.holdsHint(req.hintCheck!.partition, req.hintCheck!.key) : true;
          return { id: req.id, hintCheck: { held } };
        }
        case 'reap': {
          const reaped = handlers.reap ? await handlers.reap(req.reap!.partition, req.reap!.key, req.reap!.object) : false;
          return { id: req.id, reap: { reaped } };
        }
        case 'aeTree': {
          const segments = await handlers.aeTree?.(req.aeTree!.partition);
          return { id: req.id, aeTree: segments === undefined ? { ready: false } : { ready: true, segments: Buffer.from(segments) } };
        }
        case 'aeKeys': {
          if (!handlers.aeKeys) return { id: req.id, aeKeys: { keys: [], hashes: [], truncated: true } };
          const limit = Math.min(req.aeKeys!.limit, AE_KEYS_LIMIT_MAX);
          const r = await handlers.aeKeys(req.aeKeys!.partition, req.aeKeys!.segments, limit);
          return { id: req.id, aeKeys: { keys: r.entries.map((e) => Buffer.from(e.key)), hashes: r.entries.map((e) => Buffer.from(e.hash)), truncated: r.truncated } };
        }
        case 'gossip': {
          if (!handlers.gossip) return { id: req.id, gossip: { state: '' } };
          const r = await handlers.gossip(req.gossip!.state, from);
          return r.ok ? { id: req.id, gossip: { state: r.value ?? '' } } : { id: req.id, error: errorToMessage(r.error) };
        }
        case 'foldPartition': {
          if (!handlers.foldPartition) return { id: req.id, error: { code: grpc.status.UNIMPLEMENTED, message: 'this node does not serve partition folds' } };
          const f = req.foldPartition!;
          // Half a message for the objects, so the answer always fits.
          const page = await handlers.foldPartition(f.partition, f.after.length === 0 ? undefined : f.after, Math.min(f.limit, FOLD_LIMIT_MAX), Math.floor(options.messageBytesMax / 2));
          return { id: req.id, foldPartition: { keys: page.entries.map((e) => Buffer.from(e.key)), objects: page.entries.map((e) => Buffer.from(e.object)), done: page.done } };
        }
        case 'transferDone': {
          if (!handlers.transferDone) return { id: req.id, error: { code: grpc.status.UNIMPLEMENTED, message: 'this node does not take transfer reports' } };
          const r = await handlers.transferDone(req.transferDone!.partition, req.transferDone!.to, Number(req.transferDone!.change));
          return r.ok ? { id: req.id, transferDone: {} } : { id: req.id, error: errorToMessage(r.error) };
        }
        case 'forward': {
          const op = opFromMessage(req.forward!);
          if (!op) return { id: req.id, error: { code: grpc.status.INVALID_ARGUMENT, message: 'forward: empty operation' } };
          const r = await handlers.execute(op, { timeoutMs, forwarded: true, traceparent: req.traceparent || undefined });
          return { id: req.id, forwarded: resultToMessage(req.forward!.id, r) };
        }
        default:
          return { id: req.id, error: { code: grpc.status.INVALID_ARGUMENT, message: 'peer request has no operation' } };
      }
    } catch (e) {
      log.error('peer request failed', { op: req.op, error: String(e), ...traceFields(req.traceparent || undefined) });
      const failure = e instanceof KvError ? e : new KvError(storeFailureCondition(e) ?? 'Internal', String((e as Error).message ?? e));
      return { id: req.id, error: errorToMessage(failure) };
    }
  };
  let inFlight = 0;
  // Reading stops while requests wait, so this holds at most the requests of one message.
  let waiting: Arrived[] = [];
  let head = 0;
  const start = ({ req, arrivedAt }: Arrived, now: number): void => {
    const waitedMs = now - arrivedAt;
    if (req.timeoutMs > 0 && waitedMs >= req.timeoutMs) {
      const late = new KvError('DeadlineExceeded', `peer request ${req.id} (${req.op}) waited ${waitedMs} ms at this node for a slot (peerStreamInFlightMax ${options.peerStreamInFlightMax}), past its timeout of ${req.timeoutMs} ms: not started`);
      out.push({ id: req.id, error: errorToMessage(late) });
      return;
    }
    inFlight++;
    void handle(req, req.timeoutMs > 0 ? req.timeoutMs - waitedMs : 0).then((r) => {
      inFlight--;
      out.push(r);
      startWaiting();
    });
  };
  const startWaiting = (): void => {
    // Nothing waits: the gate is not held for a slot (it is released whenever the queue empties).
    if (!open || head === waiting.length) return;
    const now = Date.now();
    while (inFlight < options.peerStreamInFlightMax && !unsent.full && head < waiting.length) start(waiting[head++]!, now);
    if (head < waiting.length) {
      gate.hold('in-flight-full');
      return;
    }
    waiting = [];
    head = 0;
    gate.release('in-flight-full');
  };
  call.on('data', (msg: PeerRequests__Output) => {
    if (!open) return;
    const undecodable = decodeRefusal(msg, EXCHANGE_PATH);
    if (undecodable !== undefined) return refuseStream(call, gate, grpc.status.INVALID_ARGUMENT, undecodable);
    const count = overCount(msg);
    if (count !== undefined) {
      log.warn('peer message refused: too many requests', { from, requests: count, peerMessageRequestsMax: limits.peerMessageRequestsMax });
      return refuseStream(call, gate, grpc.status.INVALID_ARGUMENT, `requests: more than ${limits.peerMessageRequestsMax} requests in one PeerRequests message (${count} counted before it was refused), the limit (peerMessageRequestsMax) is ${limits.peerMessageRequestsMax}: the stream is closed`);
    }
    const arrivedAt = Date.now();
    for (const req of msg.requests) {
      if (req.op === 'ping') void handle(req, 0).then((r) => out.push(r));
      else waiting.push({ req, arrivedAt });
    }
    startWaiting();
  });
  onStreamClose(call, () => {
    open = false;
    waiting = [];
    head = 0;
    out.clear();
  });
}

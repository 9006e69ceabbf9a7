/**
 * ReplicaTransport over gRPC: one long-lived bidirectional Exchange stream per peer (a
 * multiplexed stream, ./multiplexed-stream.ts: requests batched into messages, a bounded window
 * of requests in flight per peer, a timeout each), and a failure detector.
 *
 * The failure detector's rule, per peer:
 * - down: its stream failed (connection refused, reset, closed). Requests fail at once until the
 *   channel reconnects, or a capped exponential backoff (INITIAL_BACKOFF_MS .. MAX_BACKOFF_MS) ends.
 * - suspected: a request to it has waited longer than `suspectAfterMs` and nothing at all has
 *   come back from it for that long. This catches a peer whose connection stays open but which
 *   does not answer (a frozen process, SIGSTOP, a stalled VM). A heartbeat (Ping) goes to every
 *   peer each `heartbeatMs`, so an idle peer is judged too. On suspicion the requests waiting on
 *   the peer fail, and new ones fail at once (operations pick fallbacks and other primaries
 *   instead of waiting for their deadline), while heartbeats keep probing it: the first answer
 *   from it clears the suspicion.
 * A request that failed after it was sent may still have run at the peer: such failures carry
 * writeMayHaveApplied, so that a forwarded write is never sent to a second coordinator.
 */
import * as grpc from '@grpc/grpc-js';
import { GRPC_COMMON_OPTIONS } from './grpc-options';
import { KvError, Result, ok, err } from '../errors';
import { Logger, silentLogger } from '../../observability/log';
import { ClientOp, OpResult } from '../api/ops';
import { AntiEntropyPeers, KeyHashes } from '../replication/anti-entropy';
import type { FoldPage } from '../membership/transfers';
import { ReaperPeers } from '../replication/tombstone-reaper';
import { MultiplexedStream, StreamEnded, StreamFailure } from './multiplexed-stream';
import type { PeerClient } from './generated/kv/v1/Peer';
import type { PeerRequest } from './generated/kv/v1/PeerRequest';
import type { PeerRequests } from './generated/kv/v1/PeerRequests';
import type { PeerResponse__Output } from './generated/kv/v1/PeerResponse';
import type { PeerResponses__Output } from './generated/kv/v1/PeerResponses';
import { protos } from './proto-definition';
import { channelSecurity, ClientSecurity } from './tls';
import type { OpError__Output } from './generated/kv/v1/OpError';
import { errorFromCode } from './status-map';
import { opToMessage, resultFromMessage, sizeOfOperation } from './wire';

const errorFromMessage = (e: OpError__Output) => errorFromCode(e.code, e.message, e.writeMayHaveApplied, e.condition);

/** The kinds of answer a request expects (the oneof fields of PeerResponse). */
type AnswerField = 'fetched' | 'replicated' | 'forwarded' | 'aeTree' | 'aeKeys' | 'hintCheck' | 'reap' | 'gossip' | 'foldPartition' | 'transferDone';

export const INITIAL_BACKOFF_MS = 100;
export const MAX_BACKOFF_MS = 2000;
/** Default heartbeat period and suspicion threshold (the node's peerHeartbeatMs and peerSuspectMs). */
export const HEARTBEAT_MS_DEFAULT = 500;
export const SUSPECT_AFTER_MS_DEFAULT = 2000;

export interface PeerTransportOptions {
  readonly self: string;
  /** id -> host:port of every other member. */
  readonly peers: ReadonlyMap<string, string>;
  /** Requests in flight to one peer at most; beyond it a request fails with RESOURCE_EXHAUSTED. */
  readonly windowMax: number;
  /** Requests in one stream message at most. */
  readonly batchItemsMax: number;
  /** Largest message the transport sends or accepts. */
  readonly messageBytesMax: number;
  readonly log?: Logger;
  /** Told the number of requests in each message sent to a peer (for metrics). */
  readonly onMessageSent?: (requests: number) => void;
  /** @default HEARTBEAT_MS_DEFAULT */
  readonly heartbeatMs?: number;
  /** @default SUSPECT_AFTER_MS_DEFAULT */
  readonly suspectAfterMs?: number;
  /** Told when a peer becomes suspected or is cleared (for logs and metrics). */
  readonly onSuspicion?: (peer: string, suspected: boolean) => void;
  /** This node's data directory id, sent with every heartbeat. @default '' */
  readonly dataId?: string;
  /** Told each heartbeat answer: the peer's data directory id, and the one it knew for us before. */
  readonly onPong?: (peer: string, pong: { dataId: string; knewDataId: string }) => void;
  /**
   * TLS with this node's certificate (mutual TLS): the peer must present a node certificate too.
   * @default - plaintext
   */
  readonly security?: ClientSecurity;
}

type Exchange = MultiplexedStream<PeerRequest, PeerResponse__Output, PeerRequests, PeerResponses__Output>;

/** Approximate wire bytes of a request, for the batch byte bound. */
function sizeOfRequest(r: PeerRequest): number {
  return (r.replicate ? (r.replicate.object as Uint8Array).length + (r.replicate.key as Uint8Array).length : 0) + (r.forward ? sizeOfOperation(r.forward) : 0) + (r.traceparent?.length ?? 0) + 32;
}

class PeerConnection {
  private readonly exchange: Exchange;
  private backoffMs = 0;
  private downUntil = 0;
  private lastError = '';
  private watching = false;
  private closed = false;
  /** When anything last came back from the peer. */
  private lastHeardAt = Date.now();
  private suspected = false;
  /** A heartbeat is waiting for its answer. */
  private pinging = false;

  constructor(
    readonly id: string,
    readonly address: string,
    private readonly client: PeerClient,
    private readonly options: PeerTransportOptions,
    private readonly log: Logger,
  ) {
    this.exchange = new MultiplexedStream<PeerRequest, PeerResponse__Output, PeerRequests, PeerResponses__Output>({
      codec: {
        open: () => {
          const meta = new grpc.Metadata();
          meta.set('kv-from', options.self);
          return client.Exchange(meta);
        },
        encode: (requests) => ({ requests }),
        decode: (message, answer) => {
          for (const response of message.responses) answer(Number(response.id), response);
        },
        sizeOf: sizeOfRequest,
      },
      inFlightMax: options.windowMax,
      batch: { itemsMax: options.batchItemsMax, bytesMax: Math.floor(options.messageBytesMax / 2) },
      onMessageSent: options.onMessageSent,
      onMessage: () => {
        this.backoffMs = 0;
        this.heard();
      },
      // A stream whose call never got a connection sent nothing to the peer (./delivery.ts).
      onEnded: (end) => this.markDown(end),
      onSwept: (now, oldestSentAt) => this.judge(now, oldestSentAt),
    });
  }

  /** Neither down nor suspected. */
  get up(): boolean {
    return !this.suspected && Date.now() >= this.downUntil;
  }

  get isSuspected(): boolean {
    return this.suspected;
  }

  /** Connected: the channel is ready and the stream has not failed. */
  get reachable(): boolean {
    return this.up && this.client.getChannel().getConnectivityState(true) === grpc.connectivityState.READY;
  }

  private suspectedError(sent: boolean): KvError {
    return new KvError('PeerUnreachable', `peer ${this.id} (${this.address}) ${this.suspicion}`, sent);
  }

  private get suspicion(): string {
    return `is suspected: nothing came back from it for over ${this.suspectAfterMs} ms`;
  }

  /** A failure of the stream, as the peer's error: each failed request may have run there, unless it provably was not sent. */
  private errorOf(f: StreamFailure): KvError {
    switch (f.kind) {
      case 'window-full':
        return new KvError('Overloaded', `peer ${this.id}: ${f.inFlight} requests in flight, the limit (peerWindowMax) is ${f.inFlightMax}`);
      case 'timed-out':
        return new KvError('DeadlineExceeded', `peer ${this.id} did not answer in time`, true);
      case 'stream-ended':
        return new KvError('PeerUnreachable', `peer ${this.id} (${this.address}): ${reasonOf(f)}`, f.delivery === 'maybe-sent');
      case 'given-up':
        return new KvError('PeerUnreachable', `peer ${this.id} (${this.address}) ${f.reason}`, true);
    }
  }

  send(request: Omit<PeerRequest, 'id'>, timeoutMs: number, probe = false): Promise<Result<PeerResponse__Output>> {
    if (!probe) {
      if (this.suspected) return Promise.resolve(err(this.suspectedError(false)));
      if (!this.up) return Promise.resolve(err(new KvError('PeerUnreachable', `peer ${this.id} (${this.address}) is down: ${this.lastError}`)));
    }
    return new Promise((resolve) =>
      this.exchange.dispatch((id) => ({ ...request, id, timeoutMs }), { timeoutMs, probe }, (r) => resolve(r.ok ? r : err(this.errorOf(r.error)))),
    );
  }

  private get suspectAfterMs(): number {
    return this.options.suspectAfterMs ?? SUSPECT_AFTER_MS_DEFAULT;
  }

  /** A heartbeat: sent whether or not the peer is suspected (it is how a suspected peer is probed). */
  heartbeat(): void {
    if (this.closed || Date.now() < this.downUntil) return;
    // One heartbeat at a time is enough to judge the peer.
    if (this.pinging) return;
    this.pinging = true;
    void this.send({ ping: { dataId: this.options.dataId ?? '' } }, this.suspectAfterMs * 2, true).then((r) => {
      this.pinging = false;
      if (r.ok && r.value.pong) this.options.onPong?.(this.id, r.value.pong);
    });
  }

  /** After each sweep for timeouts: suspect a peer that leaves a request waiting and says nothing. */
  private judge(now: number, oldestSentAt: number): void {
    const threshold = this.suspectAfterMs;
    if (!this.suspected && now - oldestSentAt > threshold && now - this.lastHeardAt > threshold) this.suspect(now);
  }

  private suspect(now: number): void {
    this.suspected = true;
    this.log.warn('peer suspected', { peer: this.id, address: this.address, silentMs: now - this.lastHeardAt });
    this.options.onSuspicion?.(this.id, true);
    // Fail what waits on it, except the heartbeat that will tell us it is back.
    this.exchange.failAll({ kind: 'given-up', reason: this.suspicion }, { probes: true });
  }

  private heard(): void {
    this.lastHeardAt = Date.now();
    if (!this.suspected) return;
    this.suspected = false;
    this.log.info('peer answers again', { peer: this.id, address: this.address });
    this.options.onSuspicion?.(this.id, false);
  }

  /** Fails every pending request, the queued ones too (unless the stream never connected, each may have run at the peer). */
  private markDown(end: StreamEnded): void {
    const why = reasonOf(end);
    this.backoffMs = Math.min(this.backoffMs === 0 ? INITIAL_BACKOFF_MS : this.backoffMs * 2, MAX_BACKOFF_MS);
    this.downUntil = Date.now() + this.backoffMs;
    this.watchForRecovery();
    if (why !== this.lastError) this.log.warn('peer unreachable', { peer: this.id, address: this.address, error: why, backoffMs: this.backoffMs });
    this.lastError = why;
    this.exchange.failAll(end);
  }

  /** A peer that comes back is up again as soon as its channel reconnects, not after the backoff. */
  private watchForRecovery(): void {
    if (this.watching || this.closed) return;
    this.watching = true;
    const channel = this.client.getChannel();
    const watch = () => {
      const state = channel.getConnectivityState(true);
      if (this.closed) {
        this.watching = false;
        return;
      }
      if (state === grpc.connectivityState.READY) {
        this.watching = false;
        this.downUntil = 0;
        // A fresh connection starts a fresh judgement.
        this.lastHeardAt = Date.now();
        return;
      }
      channel.watchConnectivityState(state, Date.now() + MAX_BACKOFF_MS, watch);
    };
    watch();
  }

  close(): void {
    this.closed = true;
    this.markDown({ kind: 'stream-ended', code: grpc.status.CANCELLED, details: 'transport closed', delivery: 'maybe-sent' });
    // Cancels the stream, not ends it (issue 8): see MultiplexedStream.close.
    this.exchange.close();
    this.downUntil = Number.POSITIVE_INFINITY;
    this.client.close();
  }
}

/** What the log and the error say about an ended stream (grpc-js appends an empty resolution note). */
function reasonOf(end: StreamEnded): string {
  return end.details.replace(/\.? ?Resolution note: ?$/, '');
}

export class GrpcPeerTransport implements AntiEntropyPeers, ReaperPeers {
  private readonly connections = new Map<string, PeerConnection>();

  private readonly log: Logger;

  constructor(private readonly options: PeerTransportOptions) {
    this.log = options.log ?? silentLogger;
    this.setPeers(options.peers);
    this.heartbeats = setInterval(() => {
      for (const c of this.connections.values()) c.heartbeat();
    }, options.heartbeatMs ?? HEARTBEAT_MS_DEFAULT);
    this.heartbeats.unref();
  }

  /**
   * The members to keep connections to (the cluster state changed): connects to new ones and to
   * members whose address changed, and closes those no longer listed.
   */
  setPeers(peers: ReadonlyMap<string, string>): void {
    const options = this.options;
    const log = this.log;
    const { Peer } = protos().peer;
    for (const [id, c] of this.connections) {
      if (peers.get(id) === c.address) continue;
      c.close();
      this.connections.delete(id);
    }
    for (const [id, address] of peers) {
      if (id === options.self || this.connections.has(id)) continue;
      const { credentials, clientOptions } = channelSecurity(options.security, { address, requireNode: true });
      const client = new Peer(address, credentials, {
        ...clientOptions,
        ...GRPC_COMMON_OPTIONS,
        'grpc.max_send_message_length': options.messageBytesMax,
        'grpc.max_receive_message_length': options.messageBytesMax,
        // Detect a peer that vanished without closing its connections (a pulled cable, a frozen VM).
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.initial_reconnect_backoff_ms': INITIAL_BACKOFF_MS,
        'grpc.max_reconnect_backoff_ms': MAX_BACKOFF_MS,
      });
      this.connections.set(id, new PeerConnection(id, address, client, options, log));
      // Connect now, so reachability is known before the first request needs it.
      client.getChannel().getConnectivityState(true);
    }
  }

  private readonly heartbeats: NodeJS.Timeout;

  isSuspected(node: string): boolean {
    return this.connections.get(node)?.isSuspected ?? false;
  }

  private connection(node: string): PeerConnection {
    const c = this.connections.get(node);
    if (!c) throw new Error(`transport: ${node} is not a known peer`);
    return c;
  }

  isUp(node: string): boolean {
    return this.connections.get(node)?.up ?? false;
  }

  isReachable(node: string): boolean {
    return this.connections.get(node)?.reachable ?? false;
  }

  /**
   * Sends one request and takes its answer: the peer's error as the condition it named, or an
   * answer of another kind than `field` as Internal.
   */
  private async call<F extends AnswerField>(node: string, request: Omit<PeerRequest, 'id'>, timeoutMs: number, field: F, what: string): Promise<Result<NonNullable<PeerResponse__Output[F]>>> {
    const r = await this.connection(node).send(request, timeoutMs);
    if (!r.ok) return r;
    if (r.value.error) return err(errorFromMessage(r.value.error));
    const answer = r.value[field];
    if (answer === null || answer === undefined) return err(new KvError('Internal', `peer ${node} answered a ${what} with ${r.value.result}`));
    return ok(answer as NonNullable<PeerResponse__Output[F]>);
  }

  async fetch(node: string, partition: number, key: Uint8Array, timeoutMs: number, hintFor?: string, traceparent?: string): Promise<Result<Uint8Array | undefined>> {
    const r = await this.call(node, { fetch: { partition, key, hintFor: hintFor ?? '' }, traceparent }, timeoutMs, 'fetched', 'fetch');
    return r.ok ? ok(r.value.found ? r.value.object : undefined) : r;
  }

  async replicate(node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number, hintFor?: string, traceparent?: string): Promise<Result<void>> {
    const r = await this.call(node, { replicate: { partition, key, object, hintFor: hintFor ?? '' }, traceparent }, timeoutMs, 'replicated', 'replicate');
    return r.ok ? ok(undefined) : r;
  }

  async aeTree(node: string, partition: number, timeoutMs: number): Promise<Result<Uint8Array | undefined>> {
    const r = await this.call(node, { aeTree: { partition } }, timeoutMs, 'aeTree', 'anti-entropy tree request');
    return r.ok ? ok(r.value.ready ? r.value.segments : undefined) : r;
  }

  async aeKeys(node: string, partition: number, segments: readonly number[], limit: number, timeoutMs: number): Promise<Result<KeyHashes>> {
    const r = await this.call(node, { aeKeys: { partition, segments: [...segments], limit } }, timeoutMs, 'aeKeys', 'anti-entropy keys request');
    if (!r.ok) return r;
    const k = r.value;
    if (k.keys.length !== k.hashes.length) return err(new KvError('Internal', `peer ${node} answered an anti-entropy keys request with ${k.keys.length} keys and ${k.hashes.length} hashes`));
    return ok({ entries: k.keys.map((key, i) => ({ key, hash: k.hashes[i]! })), truncated: k.truncated });
  }

  async holdsHint(node: string, partition: number, key: Uint8Array, timeoutMs: number): Promise<Result<boolean>> {
    const r = await this.call(node, { hintCheck: { partition, key } }, timeoutMs, 'hintCheck', 'hint check');
    return r.ok ? ok(r.value.held) : r;
  }

  async reap(node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number): Promise<Result<boolean>> {
    const r = await this.call(node, { reap: { partition, key, object } }, timeoutMs, 'reap', 'reap');
    return r.ok ? ok(r.value.reaped) : r;
  }

  async gossip(node: string, state: string, timeoutMs: number): Promise<Result<string | undefined>> {
    const r = await this.call(node, { gossip: { state } }, timeoutMs, 'gossip', 'gossip');
    return r.ok ? ok(r.value.state === '' ? undefined : r.value.state) : r;
  }

  async foldPartition(node: string, partition: number, after: Uint8Array | undefined, limit: number, timeoutMs: number): Promise<Result<FoldPage>> {
    const r = await this.call(node, { foldPartition: { partition, after: after ?? Buffer.alloc(0), limit } }, timeoutMs, 'foldPartition', 'partition fold');
    if (!r.ok) return r;
    const f = r.value;
    if (f.keys.length !== f.objects.length) return err(new KvError('Internal', `peer ${node} answered a partition fold with ${f.keys.length} keys and ${f.objects.length} objects`));
    return ok({ entries: f.keys.map((key, i) => ({ key, object: f.objects[i]! })), done: f.done });
  }

  async transferDone(node: string, partition: number, to: string, change: number, timeoutMs: number): Promise<Result<void>> {
    const r = await this.call(node, { transferDone: { partition, to, change } }, timeoutMs, 'transferDone', 'transfer report');
    return r.ok ? ok(undefined) : r;
  }

  async forward(node: string, op: ClientOp, timeoutMs: number, traceparent?: string): Promise<Result<OpResult>> {
    const r = await this.call(node, { forward: opToMessage(0, op, timeoutMs), traceparent }, timeoutMs, 'forwarded', 'forward');
    return r.ok ? resultFromMessage(r.value) : r;
  }

  close(): void {
    clearInterval(this.heartbeats);
    for (const c of this.connections.values()) c.close();
  }
}

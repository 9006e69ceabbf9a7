/**
 * Many requests multiplexed over one long-lived bidirectional gRPC stream: each request gets an
 * id, requests queued in one turn of the event loop travel in one message (./batcher.ts), a
 * bounded window of them is in flight, each may have a timeout, and when the stream breaks the
 * requests written to it fail. The peer transport, the client's Batch channel and the transport
 * floor are thin users: each brings its message types (an encoder, a decoder, a way to open the
 * stream) and maps the failures below onto its own error type.
 *
 * The stream is opened on the first write, and again on the first write after it broke. Requests
 * still queued when a stream breaks go out on the next one, unless the owner fails them (failAll).
 */
import * as grpc from '@grpc/grpc-js';
import { Result, ok, err } from '../errors';
import { Batcher, BatcherLimits } from './batcher';
import { Delivery, deliveryOf } from './delivery';

/** How often requests past their timeout are failed (cheaper than a timer a request). */
export const SWEEP_INTERVAL_MS = 25;

/** What the stream's status becomes when the node ended it cleanly with requests still pending. */
const ENDED_CLEANLY = { code: grpc.status.UNAVAILABLE, details: 'the node ended the stream' } as const;

/** An expected failure of one request, for its owner to map onto its own error type. */
export type StreamFailure =
  /** The window was full: the request was not sent. */
  | { readonly kind: 'window-full'; readonly inFlight: number; readonly inFlightMax: number }
  /** No answer came within the request's timeout; it was sent, or queued to be. */
  | { readonly kind: 'timed-out'; readonly timeoutMs: number }
  /** The stream ended before the answer came (a clean end reads as UNAVAILABLE). */
  | StreamEnded
  /** The owner gave up on the request (failAll): it was sent, or queued to be. */
  | { readonly kind: 'given-up'; readonly reason: string };

/**
 * `delivery` says whether the request may have reached the other side: 'not-sent' only when the
 * stream never had a connection (./delivery.ts).
 */
export interface StreamEnded {
  readonly kind: 'stream-ended';
  readonly code: number;
  readonly details: string;
  readonly delivery: Delivery;
}

/** The stream's own messages: how to open it, and how requests and answers travel in it. */
export interface StreamCodec<Item, Answer, Out, In> {
  /** Opens a new underlying stream (on the first write, and on the first write after a break). */
  open(): grpc.ClientDuplexStream<Out, In>;
  /** One stream message carrying a batch of requests. */
  encode(items: Item[]): Out;
  /** Calls `answer` for each answer in a message, with the id of the request it answers. */
  decode(message: In, answer: (id: number, value: Answer) => void): void;
  /** Approximate wire bytes of a request, for the batch byte bound. */
  sizeOf(item: Item): number;
}

export interface MultiplexedStreamOptions<Item, Answer, Out, In> {
  readonly codec: StreamCodec<Item, Answer, Out, In>;
  /** Requests pending at most (queued or written, not yet answered); beyond it send fails with window-full. */
  readonly inFlightMax: number;
  /** Requests, and bytes, in one stream message at most. */
  readonly batch: BatcherLimits;
  /** Told the number of requests in each message written. */
  readonly onMessageSent?: (requests: number) => void;
  /** Told of each message that comes back (anything at all: the other side is alive). */
  readonly onMessage?: () => void;
  /**
   * Told at once when the current stream ends, before its pending requests fail (they fail once
   * its last answers are read), so the owner may fail everything itself. Not told of the stream
   * that close() cancels.
   */
  readonly onEnded?: (end: StreamEnded) => void;
  /** Told after each sweep for timeouts: the time, and when the oldest pending request was sent. */
  readonly onSwept?: (now: number, oldestSentAt: number) => void;
}

export interface SendOptions {
  /** Fail the request with timed-out when no answer came this long after send. @default - never */
  readonly timeoutMs?: number;
  /**
   * A probe (a heartbeat): not refused when the window is full, and spared by failAll when it is
   * asked to spare probes. @default false
   */
  readonly probe?: boolean;
}

type ClientStream<Out, In> = grpc.ClientDuplexStream<Out, In>;

interface Pending<Item, Answer, Out, In> {
  readonly id: number;
  /** The request until it is written (then dropped, so a pending request holds no payload). */
  item: Item | undefined;
  readonly resolve: (r: Result<Answer, StreamFailure>) => void;
  readonly sentAt: number;
  readonly expiresAt: number;
  readonly timeoutMs: number;
  readonly probe: boolean;
  /** The stream it was written to; undefined while it waits in the outbox. */
  stream: ClientStream<Out, In> | undefined;
}

export class MultiplexedStream<Item, Answer, Out = unknown, In = unknown> {
  private stream: ClientStream<Out, In> | undefined;
  private readonly pending = new Map<number, Pending<Item, Answer, Out, In>>();
  private nextId = 1;
  private readonly outbox: Batcher<Pending<Item, Answer, Out, In>>;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly answer = (id: number, value: Answer): void => {
    const p = this.pending.get(id);
    if (!p) return; // timed out or failed already
    this.pending.delete(id);
    p.resolve(ok(value));
  };

  constructor(private readonly options: MultiplexedStreamOptions<Item, Answer, Out, In>) {
    if (!(options.inFlightMax >= 1)) throw new Error(`multiplexed stream: inFlightMax is ${options.inFlightMax}; it must be at least 1`);
    const { codec } = options;
    this.outbox = new Batcher((batch) => this.write(batch), (p) => codec.sizeOf(p.item!), options.batch);
  }

  /** Requests pending: queued or written, not yet answered, failed or timed out. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sends one request, built with the id its answer will carry. Resolves with the answer, or with
   * the failure; never rejects.
   */
  send(build: (id: number) => Item, options: SendOptions = {}): Promise<Result<Answer, StreamFailure>> {
    return new Promise((resolve) => this.dispatch(build, options, resolve));
  }

  /**
   * As send, but tells `done` (once) instead of returning a promise: for users that would only
   * chain a promise onto it, which costs a measurable share of a small request (the floor).
   */
  dispatch(build: (id: number) => Item, options: SendOptions, done: (r: Result<Answer, StreamFailure>) => void): void {
    const probe = options.probe ?? false;
    if (this.closed) return done(err({ kind: 'given-up', reason: 'the stream is closed' }));
    if (!probe && this.pending.size >= this.options.inFlightMax) {
      return done(err({ kind: 'window-full', inFlight: this.pending.size, inFlightMax: this.options.inFlightMax }));
    }
    const id = this.nextId++;
    const timed = options.timeoutMs !== undefined;
    // Without a timeout the request is never swept, so it needs no clock reading.
    const sentAt = timed ? Date.now() : 0;
    const timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY;
    const p: Pending<Item, Answer, Out, In> = { id, item: build(id), resolve: done, sentAt, expiresAt: sentAt + timeoutMs, timeoutMs, probe, stream: undefined };
    this.pending.set(id, p);
    if (timed) this.sweepSoon();
    this.outbox.push(p);
  }

  /** Fails every pending request, written or queued, with `failure` (but probes, if asked). */
  failAll(failure: StreamFailure, spare: { probes?: boolean } = {}): void {
    const failed: Pending<Item, Answer, Out, In>[] = [];
    for (const [id, p] of this.pending) {
      if (spare.probes && p.probe) continue;
      this.pending.delete(id);
      failed.push(p);
    }
    // A spared probe still queued goes out with the next flush; the rest are dropped from the outbox.
    const kept = this.outbox.clear().filter((p) => this.pending.has(p.id));
    for (const p of kept) this.outbox.push(p);
    for (const p of failed) p.resolve(err(failure));
  }

  /** Fails the requests past their timeout. */
  sweep(now = Date.now()): void {
    let oldestSentAt = Number.POSITIVE_INFINITY;
    for (const [id, p] of this.pending) {
      if (p.expiresAt <= now) {
        this.pending.delete(id);
        p.resolve(err({ kind: 'timed-out', timeoutMs: p.timeoutMs }));
        continue;
      }
      if (p.sentAt < oldestSentAt) oldestSentAt = p.sentAt;
    }
    this.options.onSwept?.(now, oldestSentAt);
    if (this.pending.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** The sweep runs only while requests are pending. */
  private sweepSoon(): void {
    if (this.sweeper !== undefined) return;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  private write(batch: Pending<Item, Answer, Out, In>[]): void {
    const stream = (this.stream ??= this.open());
    const items: Item[] = [];
    for (const p of batch) {
      items.push(p.item!);
      p.item = undefined;
      p.stream = stream;
    }
    stream.write(this.options.codec.encode(items));
    this.options.onMessageSent?.(items.length);
  }

  private open(): ClientStream<Out, In> {
    const stream = this.options.codec.open();
    stream.on('data', (message: In) => {
      this.options.onMessage?.();
      this.options.codec.decode(message, this.answer);
    });
    // grpc-js gives the status before the last answers are read ('end' follows those). On the
    // status, new requests start going to a new stream; on 'end' (or one turn later, should 'end'
    // not come), what is still pending on this stream fails.
    let end: StreamEnded = { kind: 'stream-ended', ...ENDED_CLEANLY, delivery: 'maybe-sent' };
    stream.on('status', (s: grpc.StatusObject) => {
      if (s.code !== grpc.status.OK) end = { kind: 'stream-ended', code: s.code, details: s.details, delivery: deliveryOf(s.code, s.details) };
      if (this.stream === stream) {
        this.stream = undefined;
        this.options.onEnded?.(end);
      }
      setImmediate(() => this.failWrittenTo(stream, end));
    });
    stream.on('error', () => {
      // Handled by the 'status' event, which follows every error with the same code and details.
    });
    stream.on('end', () => this.failWrittenTo(stream, end));
    return stream;
  }

  private failWrittenTo(stream: ClientStream<Out, In>, end: StreamEnded): void {
    if (this.stream === stream) this.stream = undefined;
    for (const [id, p] of this.pending) {
      if (p.stream !== stream) continue;
      this.pending.delete(id);
      p.resolve(err(end));
    }
  }

  /**
   * Cancels the stream (not ends: a half-closed stream keeps its connection open until the other
   * side ends its half, which a frozen process never does) and fails what is still pending as
   * given up. Later sends fail at once.
   */
  close(): void {
    this.closed = true;
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.failAll({ kind: 'given-up', reason: 'the stream was closed' });
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

/**
 * Bytes in flight against a bound: a client stream's (streamBytesMax), a connection's
 * (connectionBytesMax), the node's (nodeBytesMax), a peer stream's (peerStreamBytesMax).
 *
 * What counts is what the node holds because of a caller: the request bytes of the operations it
 * admitted and has not answered, and the answer bytes it queued and the transport has not taken
 * yet (a caller that does not read its answers leaves them queued). A count of operations alone
 * does not bound memory: 8192 operations of 512 KiB are 4 GiB.
 *
 * A budget never refuses by itself: callers look at `full` and stop reading (backpressure) or
 * refuse (see app/rpc/server.ts for which, and why). It may go past its bound by what was already
 * read when it filled (one message), never by more.
 *
 * Part of what it counts may be estimated: a get in flight is charged the answer it will likely
 * bring (see GETS_BEFORE_AN_ANSWER in ./server.ts). Estimates count for reading (`full`: a stream
 * stops reading while answers it expects would fill the bound) but not for refusing (`held`,
 * `wouldHold`): they are not in memory, and a fresh stream's first gets, charged large guesses
 * until an answer comes, must not make the node refuse its own answers or other callers' calls.
 */
export class ByteBudget {
  private usedBytes = 0;
  private estimatedBytes = 0;
  private readonly waiting = new Set<() => void>();

  /**
   * @param setting the setting that sets `max`, as error messages name it (streamBytesMax ...)
   * @param scope what the bytes are of, as error messages say it ("this stream", "this connection")
   */
  constructor(
    readonly setting: string,
    readonly scope: string,
    readonly max: number,
  ) {}

  get used(): number {
    return this.usedBytes;
  }

  get full(): boolean {
    return this.usedBytes >= this.max;
  }

  /** Bytes actually held: requests and unsent answers, without the estimated answers of gets in flight. */
  get held(): number {
    return this.usedBytes - this.estimatedBytes;
  }

  /** Whether the bytes actually held have reached the bound (a unary call is then refused). */
  get heldFull(): boolean {
    return this.held >= this.max;
  }

  /** Whether `bytes` more would take the bytes actually held past the bound. */
  wouldHold(bytes: number): boolean {
    return this.held + bytes > this.max;
  }

  /** Takes `bytes`, of which `estimated` are an estimate (see the class comment). */
  take(bytes: number, estimated = 0): void {
    this.usedBytes += bytes;
    this.estimatedBytes += estimated;
  }

  give(bytes: number, estimated = 0): void {
    this.usedBytes -= bytes;
    this.estimatedBytes -= estimated;
    if (this.usedBytes < 0 || this.estimatedBytes < 0) throw new Error(`byte budget ${this.setting} (${this.scope}) gave back more than it took: ${this.usedBytes} (${this.estimatedBytes} estimated)`);
    if (this.full || this.waiting.size === 0) return;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const f of waiting) f();
  }

  /** Calls `f` once, the next time the budget goes below its bound (now if it is below). */
  whenFree(f: () => void): void {
    if (!this.full) f();
    else this.waiting.add(f);
  }

  forget(f: () => void): void {
    this.waiting.delete(f);
  }

  /** What a refusal says: the scope, the bytes it holds, the setting and its value. */
  describe(): string {
    return `${this.scope} holds ${this.held} bytes of requests and unsent answers, the limit (${this.setting}) is ${this.max}`;
  }
}

/**
 * The budgets of one stream, charged together: its own, its connection's and the node's. Closing
 * gives back whatever the stream still holds (answers the transport never took because the stream
 * was cancelled never call back), and later takes and gives are ignored.
 */
export class StreamBytes {
  private closed = false;

  /** Its own budget and the shared ones, in one array made once (every operation walks it twice). */
  private readonly all: readonly ByteBudget[];

  constructor(
    readonly own: ByteBudget,
    shared: readonly ByteBudget[],
  ) {
    this.all = [own, ...shared];
  }

  /** The first budget that is full, if any. */
  full(): ByteBudget | undefined {
    return this.all.find((b) => b.full);
  }

  /** The first budget whose bytes actually held `bytes` more would take past its bound, if any. */
  wouldHold(bytes: number): ByteBudget | undefined {
    return this.all.find((b) => b.wouldHold(bytes));
  }

  /** Takes `bytes`, of which `estimated` are an estimate (see ByteBudget). */
  take(bytes: number, estimated = 0): void {
    if (this.closed) return;
    for (const b of this.all) b.take(bytes, estimated);
  }

  give(bytes: number, estimated = 0): void {
    if (this.closed) return;
    for (const b of this.all) b.give(bytes, estimated);
  }

  /** Forgets `f` on every budget it may wait on (see ByteBudget.whenFree). */
  forget(f: () => void): void {
    for (const b of this.all) b.forget(f);
  }

  close(): void {
    if (this.closed) return;
    this.give(this.own.used, this.own.used - this.own.held);
    this.closed = true;
  }
}

/** One budget per connection, shared by its streams and calls, dropped when the last lets go. */
export class ConnectionBudgets {
  private readonly byConnection = new Map<string, { budget: ByteBudget; users: number }>();

  constructor(private readonly max: number) {}

  /** The budget of the connection `key` names (its remote address and port). */
  acquire(key: string): ByteBudget {
    let entry = this.byConnection.get(key);
    if (entry === undefined) {
      entry = { budget: new ByteBudget('connectionBytesMax', `connection ${key}`, this.max), users: 0 };
      this.byConnection.set(key, entry);
    }
    entry.users++;
    return entry.budget;
  }

  release(key: string): void {
    const entry = this.byConnection.get(key);
    if (entry === undefined) return;
    if (--entry.users === 0) this.byConnection.delete(key);
  }

  /** Connections with a call open (for tests and figures). */
  get size(): number {
    return this.byConnection.size;
  }
}

const MIB = 1024 * 1024;

/**
 * The defaults of the node's resource bounds (the rows of app/node/config.ts take theirs from
 * here, and so does a server started without them, as in tests).
 */
export const RESOURCE_LIMITS_DEFAULT = {
  /** Requests and unsent answers of one client Batch stream. */
  streamBytesMax: 16 * MIB,
  /** Requests and unsent answers of all client calls on one connection. */
  connectionBytesMax: 64 * MIB,
  /** Requests and unsent answers of all client calls on the node. */
  nodeBytesMax: 128 * MIB,
  /** Unsent answers on one peer's stream. */
  peerStreamBytesMax: 64 * MIB,
  /** Requests in one peer message. */
  peerMessageRequestsMax: 1024,
  /** HTTP/2 streams (calls) open at once on one connection. */
  connectionStreamsMax: 1000,
  /** Connections open at once. */
  connectionsMax: 4096,
  /** Idle time after which the server pings a connection. */
  keepaliveMs: 30_000,
  /** How long the server waits for the answer to its ping before it closes the connection. */
  keepaliveTimeoutMs: 20_000,
} as const;

/** The node's resource bounds, as the server takes them (see RESOURCE_LIMITS_DEFAULT). */
export type ResourceLimits = { readonly [K in keyof typeof RESOURCE_LIMITS_DEFAULT]: number };

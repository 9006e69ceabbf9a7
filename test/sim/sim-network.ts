/**
 * The simulated network between nodes, and each node's failure detector.
 *
 * A request and its reply are separate messages, each delivered after a seeded delay (so
 * messages overtake each other), each possibly dropped, and checked at delivery against the
 * partition in force and against the incarnation it was sent to (a message to a node that crashed
 * and restarted meanwhile is lost with the connection). A request without a reply fails at its
 * deadline with DeadlineExceeded, writeMayHaveApplied = true, as the real peer transport does. A
 * request to a crashed node sometimes fails fast instead (a connection reset: PeerUnreachable,
 * may have applied). Idempotent requests (fetch, replicate, anti-entropy, gossip, partition folds,
 * transfer reports) are sometimes delivered twice; forwarded client operations never are: the
 * peer stream is TCP, which does not duplicate, and a duplicate would only give the write a
 * second dot (a cosmetic sibling), not test anything.
 *
 * Partitions cut links in both directions or in one. A paused node (a long GC or VM pause) keeps
 * everything but does nothing: messages to it and its own timers wait until it resumes.
 *
 * The failure detector (isUp) is each node's own view: it follows the truth (the peer runs, is not
 * paused, and the link works both ways) after a seeded detection delay, and can be wrong for a
 * while (a false suspicion). A node counted down is not sent anything (PeerUnreachable, never sent), as a
 * suspected peer is in the real transport; a node counted up but unreachable costs a timeout.
 */
import { KvError, Result, err } from '../../app/errors';
import { Rng } from './rng';
import { NodeLife, Scheduler } from './sim-clock';

/** A node incarnation as the network sees it. */
export interface Endpoint {
  readonly id: string;
  /** Which start of the node this is (1 for the first); a restart is a new incarnation. */
  readonly incarnation: number;
  readonly life: NodeLife;
}

export type MessageKind = 'fetch' | 'replicate' | 'forward' | 'aeTree' | 'aeKeys' | 'gossip' | 'fold' | 'transferDone';

export interface NetworkFaults {
  /** Probability that a message (request or reply) is lost. */
  dropRate: number;
  /** Probability that an idempotent request is delivered twice. */
  duplicateRate: number;
  /** Probability that a message is slow (slowMaxMs at most), often past its deadline. */
  slowRate: number;
}

export const NETWORK_CALM: NetworkFaults = { dropRate: 0, duplicateRate: 0, slowRate: 0 };

/** Delay of an ordinary message. */
const DELAY_MIN_MS = 1;
const DELAY_MAX_MS = 8;
/** Delay of a slow message (requestTimeoutMs is 200 in the simulated cluster). */
const SLOW_MAX_MS = 400;
/** Probability that a request to a crashed node fails fast (connection reset) rather than vanishing. */
const RESET_RATE = 0.5;
/** How long a failure detector takes to notice that the truth changed. */
const DETECT_MIN_MS = 20;
const DETECT_MAX_MS = 400;

/** Gossip merges, a fold page is a read, a second report of a finished transfer changes nothing. */
const IDEMPOTENT: ReadonlySet<MessageKind> = new Set(['fetch', 'replicate', 'aeTree', 'aeKeys', 'gossip', 'fold', 'transferDone']);

export interface NetworkStats {
  requests: number;
  dropped: number;
  duplicated: number;
  timedOut: number;
  resets: number;
  refused: number;
}

/** Requests that carry a write: while one is on its way, the cluster is not quiet. */
const CARRIES_WRITES: ReadonlySet<MessageKind> = new Set(['replicate', 'forward']);

export class SimNetwork<N extends Endpoint> {
  faults: NetworkFaults = { ...NETWORK_CALM };
  /**
   * Requests that carry a write (replicate, forward) whose caller has no answer yet: until then,
   * even one already delivered may still change what the caller does next (a put whose
   * replicate times out sends it to a fallback as a hint).
   */
  private writesUnanswered = 0;
  /** Write-carrying requests on the wire: one may arrive long after its caller gave up on it. */
  private writesOnTheWire = 0;
  readonly stats: NetworkStats = { requests: 0, dropped: 0, duplicated: 0, timedOut: 0, resets: 0, refused: 0 };
  /** Links cut by a partition, as "from>to". */
  private cut = new Set<string>();
  /** observer>target -> what the observer's failure detector last concluded. */
  private readonly detected = new Map<string, boolean>();
  /** observer>target -> until when the observer wrongly suspects the target. */
  private readonly suspectedUntil = new Map<string, number>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: Rng,
    readonly ids: readonly string[],
    /** The running incarnation of a node, or undefined while it is down. */
    private readonly running: (id: string) => N | undefined,
  ) {}

  /** Whether a message from `from` to `to` is lost to a partition. */
  blocked(from: string, to: string): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  /**
   * Cuts the links between `side` and the other nodes: both ways, or (oneWay) only from `side`
   * to the others, so that requests go out from the others and their replies never come back.
   */
  partition(side: readonly string[], oneWay = false): void {
    this.cut = new Set();
    const others = this.ids.filter((id) => !side.includes(id));
    for (const a of side) {
      for (const b of others) {
        this.cut.add(`${a}>${b}`);
        if (!oneWay) this.cut.add(`${b}>${a}`);
      }
    }
    this.truthChanged();
  }

  heal(): void {
    this.cut = new Set();
    this.truthChanged();
  }

  /** The failure detector of `observer`: whether it counts `target` up. */
  isUp(observer: string, target: string): boolean {
    if (observer === target) return true;
    const k = `${observer}>${target}`;
    return this.detected.get(k) !== false && this.scheduler.now >= (this.suspectedUntil.get(k) ?? 0);
  }

  /** `observer` wrongly suspects `target` for `ms` (it is up and reachable, but counted down). */
  suspect(observer: string, target: string, ms: number): void {
    this.suspectedUntil.set(`${observer}>${target}`, this.scheduler.now + ms);
  }

  clearSuspicions(): void {
    this.suspectedUntil.clear();
  }

  /** Every failure detector notices, after its own delay, whatever changed. */
  truthChanged(): void {
    for (const o of this.ids) for (const t of this.ids) if (o !== t) this.detectLater(o, t);
  }

  /**
   * A node (re)started: its new failure detector counts everyone up, as a fresh peer transport
   * does, and learns better after the detection delay; the others notice it is back.
   */
  started(id: string): void {
    for (const t of this.ids) if (t !== id) this.detected.set(`${id}>${t}`, true);
    this.truthChanged();
  }

  /** Whether some write-carrying request is unanswered or still on its way. */
  get writesInFlight(): boolean {
    return this.writesUnanswered > 0 || this.writesOnTheWire > 0;
  }

  private detectLater(observer: string, target: string): void {
    this.scheduler.after(this.rng.int(DETECT_MIN_MS, DETECT_MAX_MS), () => {
      const t = this.running(target);
      const reachable = t !== undefined && !t.life.paused && !this.blocked(observer, target) && !this.blocked(target, observer);
      this.detected.set(`${observer}>${target}`, reachable);
    });
  }

  private delay(): number {
    return this.rng.chance(this.faults.slowRate) ? this.rng.int(DELAY_MAX_MS, SLOW_MAX_MS) : this.rng.int(DELAY_MIN_MS, DELAY_MAX_MS);
  }

  /**
   * Sends a request from `from` to `to` and resolves with the reply, or a failure: PeerUnreachable
   * (never sent: `to` is counted down), DeadlineExceeded after timeoutMs, or a connection reset.
   * The promise of a caller whose incarnation died never settles: nothing is left to receive it.
   */
  call<T>(from: Endpoint, to: string, kind: MessageKind, timeoutMs: number, run: (target: N) => Promise<Result<T>>, onHandlerError: (e: unknown) => Result<T>): Promise<Result<T>> {
    if (!from.life.alive) return new Promise(() => {});
    if (!this.isUp(from.id, to)) {
      this.stats.refused++;
      return Promise.resolve(err(new KvError('PeerUnreachable', `peer ${to} is suspected by ${from.id}`)));
    }
    this.stats.requests++;
    const target = this.running(to);
    const toIncarnation = target?.incarnation;
    const carries = CARRIES_WRITES.has(kind);
    if (carries) this.writesUnanswered++;
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        done = true;
        if (carries) this.writesUnanswered--;
      };
      const settle = (r: Result<T>) => {
        if (done || !from.life.alive) return;
        finish();
        cancelDeadline();
        resolve(r);
      };
      // On the global clock: it fires even for a caller that died, so the count above comes down.
      const cancelDeadline = this.scheduler.after(timeoutMs, () => {
        if (done) return;
        if (!from.life.alive) return finish();
        this.stats.timedOut++;
        settle(err(new KvError('DeadlineExceeded', `peer ${to} did not answer ${kind} from ${from.id} in ${timeoutMs} ms`, true)));
      });
      const copies = IDEMPOTENT.has(kind) && this.rng.chance(this.faults.duplicateRate) ? 2 : 1;
      if (copies === 2) this.stats.duplicated++;
      for (let c = 0; c < copies; c++) {
        if (this.rng.chance(this.faults.dropRate)) {
          this.stats.dropped++;
          continue;
        }
        if (carries) this.writesOnTheWire++;
        this.scheduler.after(this.delay(), () => {
          if (carries) this.writesOnTheWire--;
          const now = this.running(to);
          if (now === undefined || now.incarnation !== toIncarnation || this.blocked(from.id, to)) {
            // A crashed peer's connection resets (the caller learns fast, but the request may have
            // run); a partition or a restart loses the message silently.
            if (now === undefined && !this.blocked(to, from.id) && this.rng.chance(RESET_RATE)) {
              this.stats.resets++;
              this.reply(from, to, () => settle(err(new KvError('PeerUnreachable', `peer ${to}: connection reset (${kind} from ${from.id})`, true))));
            } else {
              this.stats.dropped++;
            }
            return;
          }
          this.whenRunning(now, () => {
            let handled: Promise<Result<T>>;
            try {
              handled = run(now);
            } catch (e) {
              handled = Promise.resolve(onHandlerError(e));
            }
            void handled
              .catch((e: unknown) => onHandlerError(e))
              .then((r) => {
                // A peer that crashed while handling the request never answers it.
                if (!now.life.alive) return;
                this.reply(from, to, () => settle(r));
              });
          });
        });
      }
    });
  }

  /** Delivers a reply from `to` back to `from` after a delay, unless it is dropped or cut off. */
  private reply(from: Endpoint, to: string, deliver: () => void): void {
    if (this.rng.chance(this.faults.dropRate)) {
      this.stats.dropped++;
      return;
    }
    this.scheduler.after(this.delay(), () => {
      if (this.blocked(to, from.id)) {
        this.stats.dropped++;
        return;
      }
      this.whenRunning(from, deliver);
    });
  }

  /** Runs `fn` on `node` now, or when it resumes if it is paused; never if it crashed meanwhile. */
  whenRunning(node: Endpoint, fn: () => void): void {
    node.life.run(fn);
  }
}

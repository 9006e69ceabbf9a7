/**
 * Virtual time: a queue of events ordered by (time, sequence), taken one at a time. Taking an
 * event sets `now`, runs it, then lets every promise continuation it started run to completion
 * before the next event (the code under test is promise-based, and over MemoryStore it does no
 * real I/O, so one turn of the event loop drains it). Nothing waits on real time: a run of
 * minutes of virtual time takes milliseconds, and the same seed gives the same order of events.
 *
 * Each simulated node's incarnation gets its own Clock (`scoped`): when the node crashes, its
 * timers never fire again, so the dropped objects of a dead incarnation stay parked forever.
 */
import { Clock } from '../../app/replication/clock';

interface Scheduled {
  readonly time: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Lets every pending promise continuation run (setImmediate runs after the microtask queue is empty). */
const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Scheduler {
  private nowMs = 0;
  private seq = 0;
  private readonly heap: Scheduled[] = [];
  /** Events run so far (for the figures). */
  events = 0;
  /** A hash of the (time, sequence) of every event run: equal for two runs that took the same events in the same order. */
  digest = 0x811c9dc5;
  /** Exceptions thrown by events: a bug in the code under test or the simulator. */
  readonly errors: string[] = [];

  get now(): number {
    return this.nowMs;
  }

  /** Runs `fn` at now + ms (ms below 0 or not a number count as 0); returns a cancel function. */
  after(ms: number, fn: () => void): () => void {
    const delay = ms > 0 ? ms : 0;
    const entry: Scheduled = { time: this.nowMs + delay, seq: this.seq++, fn, cancelled: false };
    this.push(entry);
    return () => {
      entry.cancelled = true;
    };
  }

  /** The global clock (clients, faults, the checker's probes). */
  readonly clock: Clock = { now: () => this.nowMs, after: (ms, fn) => this.after(ms, fn) };

  /** A node incarnation's clock: its timers wait while the node is paused, and die with it. */
  scoped(life: NodeLife): Clock {
    return {
      now: () => this.nowMs,
      after: (ms, fn) => {
        let cancelled = false;
        this.after(ms, () =>
          life.run(() => {
            if (!cancelled) fn();
          }),
        );
        return () => {
          cancelled = true;
        };
      },
    };
  }

  /**
   * Takes events in order until `stop()` holds (checked after each event and its continuations),
   * or the next event is later than `untilMs`. Resolves with whether `stop()` held. Time then
   * stands at the last event run, or at untilMs when the queue ran past it.
   */
  async run(untilMs: number, stop: () => boolean = () => false): Promise<boolean> {
    await drain();
    if (stop()) return true;
    for (;;) {
      const next = this.heap[0];
      if (next === undefined || next.time > untilMs) {
        this.nowMs = Math.max(this.nowMs, untilMs);
        return false;
      }
      this.pop();
      if (next.cancelled) continue;
      this.nowMs = next.time;
      this.events++;
      this.digest = Math.imul(Math.imul(this.digest ^ next.time, 0x01000193) ^ next.seq, 0x01000193) >>> 0;
      try {
        next.fn();
      } catch (e) {
        this.errors.push(`at ${this.nowMs} ms: an event threw: ${(e as Error).stack ?? String(e)}`);
      }
      await drain();
      if (stop()) return true;
    }
  }

  /** Runs events until `promise` settles or untilMs passes; resolves with its value, or undefined. */
  async runUntilSettled<T>(promise: Promise<T>, untilMs: number): Promise<{ value: T } | undefined> {
    let settled: { value: T } | undefined;
    void promise.then((value) => (settled = { value }));
    await this.run(untilMs, () => settled !== undefined);
    return settled;
  }

  private less(a: Scheduled, b: Scheduled): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  private push(entry: Scheduled): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/**
 * Whether a node incarnation runs: alive until it crashes or stops, and possibly paused (a long
 * GC or VM pause). Whatever would run on it while it is paused (a timer, a message delivered to
 * it) is parked and runs, in order, when it resumes; nothing runs on it once it died.
 */
export class NodeLife {
  alive = true;
  private pausedUntilMs = 0;
  private parked: Array<() => void> = [];

  constructor(private readonly scheduler: Scheduler) {}

  get paused(): boolean {
    return this.scheduler.now < this.pausedUntilMs;
  }

  /** Work parked until the node resumes. */
  get parkedCount(): number {
    return this.parked.length;
  }

  /** Runs `fn` now, or when the node resumes; never if it died. */
  run(fn: () => void): void {
    if (!this.alive) return;
    if (this.paused) this.parked.push(fn);
    else fn();
  }

  pause(ms: number): void {
    this.pausedUntilMs = Math.max(this.pausedUntilMs, this.scheduler.now + ms);
    this.scheduler.after(ms, () => {
      if (!this.paused) this.resume();
    });
  }

  resume(): void {
    this.pausedUntilMs = 0;
    const parked = this.parked;
    this.parked = [];
    for (const fn of parked) this.run(fn);
  }
}

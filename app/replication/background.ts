/**
 * Background work (handoff, anti-entropy, tombstone reaping) runs at its own pace, one round at a
 * time, never in direct reaction to events: a round starts only after the previous one ended and
 * its pause passed. A round that throws is logged and the loop goes on.
 */
import { Logger } from '../../observability/log';
import { Clock } from './clock';

export class BackgroundLoop<R> {
  private cancelTimer: (() => void) | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly clock: Clock,
    private readonly round: () => Promise<R>,
    /** The pause before the next round, given what the last one returned (undefined if it threw). */
    private readonly pauseAfter: (result: R | undefined) => number,
    private readonly log: Logger,
  ) {}

  start(firstPauseMs: number): void {
    this.schedule(firstPauseMs);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Stops scheduling rounds and waits for the one in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    await this.running?.catch(() => undefined);
  }

  /** Runs `work` as part of the loop, so that stop() waits for it too. */
  track<T>(work: Promise<T>): Promise<T> {
    this.running = work;
    return work;
  }

  private schedule(pauseMs: number): void {
    if (this.stopped) return;
    this.cancelTimer = this.clock.after(pauseMs, () => {
      const round = this.round().then(
        (result) => result,
        (e: unknown) => {
          this.log.error(`${this.name} round failed`, { error: String(e) });
          return undefined;
        },
      );
      this.running = round;
      void round.then((result) => this.schedule(this.pauseAfter(result)));
    });
  }
}

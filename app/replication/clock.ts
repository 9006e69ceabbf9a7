/**
 * Time as the replication layer sees it: the system's in a node, a virtual one in the simulator
 * (test/sim), which then owns every timer and replays a run exactly from its seed. Nothing in
 * app/replication reads Date.now or calls setTimeout directly.
 */
export interface Clock {
  /** Milliseconds since the epoch (or since the simulation began). */
  now(): number;
  /** Runs `fn` once after `ms`; the function returned cancels it. */
  after(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    // Background timers never keep a stopping process alive; the servers do while they serve.
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}

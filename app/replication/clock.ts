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

/** The longest delay Node's setTimeout keeps (2^31-1 ms, about 24.8 days). */
const TIMER_MS_MAX = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    // Node fires a timer of more than 2^31-1 ms at once; requests longer than that are refused
    // (TIMEOUT_MS_MAX), and this keeps any other such delay from turning into none.
    const timer = setTimeout(fn, Math.min(ms, TIMER_MS_MAX));
    // Background timers never keep a stopping process alive; the servers do while they serve.
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}

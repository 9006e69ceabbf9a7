/**
 * Waiting in tests: poll a condition, never sleep a fixed time and hope. A test that must let
 * time pass on purpose (to show that something does not happen) sleeps, and says so.
 */

export interface WaitForOptions {
  /** How long the condition may take to hold before the wait fails. */
  readonly timeoutMs: number;
  /** What is waited for, as the failure names it: "kv-3 suspecting the frozen kv-1". */
  readonly what: string;
  /**
   * Time between checks.
   * @default - 100 ms
   */
  readonly intervalMs?: number;
}

/** What a condition answers: true when it holds; false, or what still falls short, when not. */
export type Condition = () => boolean | string | Promise<boolean | string>;

const INTERVAL_MS_DEFAULT = 100;

/**
 * Checks `condition` until it holds and returns how long that took. Once `timeoutMs` has passed
 * it fails naming `what`, with the condition's last account of what still fell short. An error
 * the condition throws ends the wait at once (catch inside the condition what is expected).
 */
export async function waitFor(condition: Condition, options: WaitForOptions): Promise<number> {
  const { timeoutMs, what, intervalMs = INTERVAL_MS_DEFAULT } = options;
  const started = Date.now();
  for (;;) {
    const answer = await condition();
    if (answer === true) return Date.now() - started;
    const waitedMs = Date.now() - started;
    if (waitedMs >= timeoutMs) {
      throw new Error(`waited ${waitedMs} ms (the limit is ${timeoutMs} ms) for ${what}, in vain${typeof answer === 'string' ? `: ${answer}` : ''}`);
    }
    await sleep(Math.min(intervalMs, timeoutMs - waitedMs));
  }
}

/** Lets time pass on purpose. Use waitFor to wait for something; the caller says why it sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Stops reading a server stream while any of several reasons holds, and reads again once none
 * does. A stream may have to wait for two things at once (the transport to take our answers, and
 * a slot for the next request), and one reason ending must not resume reading while the other
 * still holds.
 */
/** bytes-full: a byte budget of the stream, its connection or the node is full (./byte-budget.ts). */
export type HoldReason = 'answers-unread' | 'in-flight-full' | 'bytes-full';

export class ReadGate {
  private readonly holds = new Set<HoldReason>();

  constructor(private readonly stream: { pause(): unknown; resume(): unknown }) {}

  isHeld(reason: HoldReason): boolean {
    return this.holds.has(reason);
  }

  hold(reason: HoldReason): void {
    if (this.holds.has(reason)) return;
    this.holds.add(reason);
    if (this.holds.size === 1) this.stream.pause();
  }

  release(reason: HoldReason): void {
    if (this.holds.delete(reason) && this.holds.size === 0) this.stream.resume();
  }
}

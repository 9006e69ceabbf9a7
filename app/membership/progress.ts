/**
 * How far the membership change in progress is, for the ETA an operator sees (metric and kv admin
 * --wait): replicas moved since the change was first seen here, over the time since, gives a rate;
 * the replicas left over that rate, the time left. Pure: the caller passes the time.
 */
import { ClusterState } from './cluster-state';

export class ChangeProgress {
  private start: { atMs: number; done: number; total: number } | undefined;

  /**
   * Seconds the change in progress needs still, at the rate seen so far: 0 when no change is in
   * progress, undefined while nothing has moved yet (no rate to go by).
   */
  etaSeconds(state: ClusterState, nowMs: number): number | undefined {
    if (!state.target) {
      this.start = undefined;
      return 0;
    }
    const total = state.transfers.length;
    const done = state.transfers.filter((t) => t.done).length;
    // A new change: its transfers replace the last one's (a change keeps its list until it completes).
    if (!this.start || this.start.total !== total || done < this.start.done) this.start = { atMs: nowMs, done, total };
    const moved = done - this.start.done;
    const elapsedS = (nowMs - this.start.atMs) / 1000;
    if (moved === 0 || elapsedS <= 0) return undefined;
    return (total - done) / (moved / elapsedS);
  }
}

/**
 * What a workload is to the checker: cycles, issued on an open-loop schedule (`ratePerS` a
 * second, at most `concurrency` in flight), each doing one or two logical operations on one of
 * `keys` keys; and the keys whose final state the verdict checks.
 */
import { WorkloadName } from './history';
import type { Recorder } from './recorder';
import type { CheckedStore } from './store';

export interface WorkloadOptions {
  /** Distinct keys the workload cycles over at any time. */
  readonly keys: number;
  /** Cycles in flight at most (concurrent clients). */
  readonly concurrency: number;
  /** Cycles started a second. */
  readonly ratePerS: number;
}

export interface Workload {
  readonly name: WorkloadName;
  /** One cycle, due at `dueMs` (ms since the epoch): its wait for a free slot counts in its latency. */
  cycle(dueMs: number): Promise<void>;
  /** The keys whose final state the verdict checks (every key written, for the checked workloads). */
  keysToCheck(): string[];
}

/** What every workload works with. */
export interface WorkloadContext {
  readonly store: CheckedStore;
  /** Runs and records each logical operation, with retries. */
  readonly recorder: Recorder;
  readonly options: WorkloadOptions;
  /** Every key the workload writes starts with it. */
  readonly prefix: string;
}

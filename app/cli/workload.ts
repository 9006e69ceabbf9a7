/**
 * What `kv bench` asks of a store, as pure functions: the operation mix of each workload (YCSB's
 * core workloads A, B, C and F, and the bench's own put, get and mixed), the keys, and YCSB's
 * Zipfian key chooser.
 */
import { createHash } from 'node:crypto';

/** One operation of a workload: a read, an update, or a read-modify-write (a read, then a write based on it). */
export type OpKind = 'get' | 'put' | 'rmw';

/** Each workload's share of each kind of operation; the shares add up to 1. */
export const WORKLOADS = {
  put: { get: 0, put: 1, rmw: 0 },
  get: { get: 1, put: 0, rmw: 0 },
  /** YCSB A, under the bench's older name. */
  mixed: { get: 0.5, put: 0.5, rmw: 0 },
  /** YCSB A: update heavy. */
  a: { get: 0.5, put: 0.5, rmw: 0 },
  /** YCSB B: read mostly. */
  b: { get: 0.95, put: 0.05, rmw: 0 },
  /** YCSB C: read only. */
  c: { get: 1, put: 0, rmw: 0 },
  /** YCSB F: read and read-modify-write. */
  f: { get: 0.5, put: 0, rmw: 0.5 },
} as const satisfies Record<string, Readonly<Record<OpKind, number>>>;

export type WorkloadName = keyof typeof WORKLOADS;
export const WORKLOAD_NAMES = Object.keys(WORKLOADS) as WorkloadName[];

/** The operation a workload issues for a uniform draw u in [0, 1): reads first, then updates, then read-modify-writes. */
export function opOf(workload: WorkloadName, u: number): OpKind {
  const mix = WORKLOADS[workload];
  if (u < mix.get) return 'get';
  if (u < mix.get + mix.put) return 'put';
  return mix.rmw > 0 ? 'rmw' : mix.put > 0 ? 'put' : 'get';
}

/** Whether a workload writes (then the store's puts need every key's context first). */
export function writes(workload: WorkloadName): boolean {
  return WORKLOADS[workload].put + WORKLOADS[workload].rmw > 0;
}

/** Key i of the bench's key space: hashed, so that neighbouring i do not share a partition. */
export function benchKey(i: number): string {
  return `bench-${createHash('md5').update(String(i)).digest('hex').slice(0, 12)}`;
}

/** YCSB's Zipfian generator over [0, n). */
export class Zipfian {
  private readonly zetan: number;
  private readonly alpha: number;
  private readonly eta: number;
  constructor(
    private readonly n: number,
    private readonly theta = 0.99,
  ) {
    let zetan = 0;
    for (let i = 1; i <= n; i++) zetan += 1 / Math.pow(i, theta);
    const zeta2 = 1 + 1 / Math.pow(2, theta);
    this.zetan = zetan;
    this.alpha = 1 / (1 - theta);
    this.eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / zetan);
  }
  next(u = Math.random()): number {
    const uz = u * this.zetan;
    if (uz < 1) return 0;
    if (uz < 1 + Math.pow(0.5, this.theta)) return 1;
    return Math.min(this.n - 1, Math.floor(this.n * Math.pow(this.eta * u - this.eta + 1, this.alpha)));
  }
}

/** A chooser of key indices in [0, keys): uniform, or Zipfian (theta 0.99). */
export function keyChooser(keys: number, distribution: 'uniform' | 'zipfian'): () => number {
  if (distribution === 'uniform') return () => Math.floor(Math.random() * keys);
  const zipf = new Zipfian(keys);
  return () => zipf.next();
}

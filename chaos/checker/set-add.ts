/**
 * The set-add workload: read a key, union its siblings' sets, add a unique element, write the
 * union back with the read's context. An element whose write was acknowledged must be in the
 * key's final state, as a value or in a sibling. Each attempt adds an element of its own, so an
 * element names one write.
 *
 * A key's set grows with every cycle; once it holds ELEMENTS_PER_KEY_MAX acknowledged elements the
 * cycle moves to a fresh key (the old one is still checked), so values stay small.
 */
import { Workload, WorkloadContext } from './workload';

export const ELEMENTS_PER_KEY_MAX = 500;

/** The elements of a set-add key's values: each value is a comma-separated set ('' is empty). */
export function elementsOf(values: readonly string[]): Set<string> {
  return new Set(values.flatMap((v) => (v === '' ? [] : v.split(','))));
}

export class SetAddWorkload implements Workload {
  readonly name = 'set-add';
  /** Per key, the elements whose write was acknowledged. */
  readonly acked = new Map<string, Set<string>>();
  private readonly used = new Set<string>();
  private readonly generation: number[];
  private seq = 0;

  constructor(private readonly w: WorkloadContext) {
    this.generation = new Array<number>(w.options.keys).fill(0);
  }

  async cycle(dueMs: number): Promise<void> {
    const seq = this.seq++;
    const slot = seq % this.w.options.keys;
    const generation = this.generation[slot]!;
    const key = `${this.w.prefix}set-${slot}.${generation}`;
    this.used.add(key);
    let element = '';
    const r = await this.w.recorder.run(
      'set-add',
      'update',
      async (attempt) => {
        element = `e${seq}.${attempt}`;
        const read = await this.w.store.get(key);
        if (!read.ok) return read;
        const union = elementsOf(read.value.values);
        union.add(element);
        return this.w.store.put(key, [...union].join(','), read.value.context);
      },
      dueMs,
    );
    if (!r.ok) return;
    const acked = this.acked.get(key) ?? new Set<string>();
    acked.add(element);
    this.acked.set(key, acked);
    if (acked.size >= ELEMENTS_PER_KEY_MAX && this.generation[slot] === generation) this.generation[slot] = generation + 1;
  }

  keysToCheck(): string[] {
    return [...this.used];
  }
}

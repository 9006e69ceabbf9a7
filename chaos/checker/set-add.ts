/**
 * The set-add workload: read a key, union its siblings' sets, add a unique element, write the
 * union back with the read's context. An element that an acknowledged write carried must be in
 * the key's final state, as a value or in a sibling.
 *
 * A write that may have applied is settled by reading the key back (recorder.ts): the element is
 * in some sibling, and the operation succeeded; or it is not, and the cycle runs again with the
 * same element (a fresh read, the union, the element, the new context): adding an element twice
 * is harmless for a set.
 *
 * What must survive (`acked`): every element of every acknowledged write, the operation's own and
 * those it carried from its read. Not an element a read-back merely saw: the store acknowledged
 * no write of it (a read can return a write that reached one replica only, short of W), so it
 * promised nothing about it. Once an acknowledged write carries it, the store promised that
 * write, and with it every element in it: a later write replaces it only if its read returned it
 * (its context covers it), and then carries the union; a write whose read did not return it is
 * concurrent and leaves it a sibling. So an element seen by a read-back, or only written by a
 * write that may have applied, and then carried by an acknowledged write, is tracked from then on.
 *
 * A key's set grows with every cycle; once it holds ELEMENTS_PER_KEY_MAX acknowledged elements the
 * cycle moves to a fresh key (the old one is still checked), so values stay small.
 */
import { readBack } from './store';
import { Workload, WorkloadContext } from './workload';

export const ELEMENTS_PER_KEY_MAX = 500;

/** The elements of a set-add key's values: each value is a comma-separated set ('' is empty). */
export function elementsOf(values: readonly string[]): Set<string> {
  return new Set(values.flatMap((v) => (v === '' ? [] : v.split(','))));
}

export class SetAddWorkload implements Workload {
  readonly name = 'set-add';
  /** Per key, the elements some acknowledged write carried. */
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
    const acked = this.acked.get(key) ?? new Set<string>();
    this.acked.set(key, acked);
    // One element for the whole logical operation: its retries and redone writes add it again.
    const element = `e${seq}`;
    await this.w.recorder.runWrite(
      'set-add',
      'update',
      {
        write: async () => {
          const read = await this.w.store.get(key);
          if (!read.ok) return read;
          const union = elementsOf(read.value.values);
          union.add(element);
          const written = await this.w.store.put(key, [...union].join(','), read.value.context);
          if (written.ok) for (const e of union) acked.add(e);
          return written;
        },
        readBack: () => readBack(this.w.store, key, (read) => elementsOf(read.values).has(element)),
      },
      dueMs,
    );
    if (acked.size >= ELEMENTS_PER_KEY_MAX && this.generation[slot] === generation) this.generation[slot] = generation + 1;
  }

  keysToCheck(): string[] {
    return [...this.used];
  }
}

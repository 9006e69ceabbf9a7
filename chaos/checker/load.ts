/**
 * The plain load: gets and puts in turn at a fixed rate over its own keys, retried as a client
 * does (recorder.ts). A put carries the context of the key's last get or put (or read-back), so
 * the load does not pile up siblings. Its values are not checked: it measures availability and
 * latency. Each put attempt writes a value of its own, so that a read-back after a put that may
 * have applied can tell whether it did; if not, the put is made again, with a new value and the
 * read-back's context.
 */
import { readBack } from './store';
import { Workload, WorkloadContext } from './workload';

export class LoadWorkload implements Workload {
  readonly name = 'load';
  private readonly contexts = new Map<string, string>();
  private seq = 0;

  constructor(private readonly w: WorkloadContext) {}

  async cycle(dueMs: number): Promise<void> {
    const seq = this.seq++;
    // Two cycles a key, a get then a put, so every key sees both.
    const key = `${this.w.prefix}load-${Math.floor(seq / 2) % this.w.options.keys}`;
    if (seq % 2 === 0) {
      const r = await this.w.recorder.run('load', 'get', () => this.w.store.get(key), dueMs);
      if (r.ok) this.contexts.set(key, r.value.context);
      return;
    }
    let writes = 0;
    const inDoubt: string[] = [];
    const r = await this.w.recorder.runWrite(
      'load',
      'put',
      {
        write: async () => {
          const value = `l${seq}.${++writes}`;
          const put = await this.w.store.put(key, value, this.contexts.get(key));
          if (!put.ok && put.error.mayHaveApplied) inDoubt.push(value);
          return put;
        },
        readBack: () =>
          readBack(this.w.store, key, (read) => {
            this.contexts.set(key, read.context);
            return read.values.some((v) => inDoubt.includes(v));
          }),
      },
      dueMs,
    );
    if (r.acked !== undefined) this.contexts.set(key, r.acked.context);
  }

  keysToCheck(): string[] {
    return [];
  }
}

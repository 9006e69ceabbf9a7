/**
 * The plain load: gets and puts in turn at a fixed rate over its own keys, retried as a client
 * does (recorder.ts). A put carries the context of the key's last get or put, so the load does
 * not pile up siblings. Its values are not checked: it measures availability and latency.
 */
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
    const r = seq % 2 === 0
      ? await this.w.recorder.run('load', 'get', () => this.w.store.get(key), dueMs)
      : await this.w.recorder.run('load', 'put', () => this.w.store.put(key, `l${seq}`, this.contexts.get(key)), dueMs);
    if (r.ok) this.contexts.set(key, r.value.context);
  }

  keysToCheck(): string[] {
    return [];
  }
}

/**
 * Client workloads for tests that change or break a running cluster, and the checks of what they
 * were told: a set-add workload (read, union the siblings, add a unique element, write back with
 * the context) and a register workload with deletes (write a key, read it, delete what was read).
 * An operation counts only when the store acknowledged it; a failed one may or may not have
 * happened, and the checks allow for both.
 */
import { KvClient } from '../../app/client/client';

/** The elements of a set value: comma-separated, '' for the empty set. */
const elementsOf = (v: Buffer): string[] => (v.length === 0 ? [] : v.toString().split(','));

export interface WorkloadCounts {
  ok: number;
  failed: number;
  /** A few failure messages, for the test's output. */
  readonly errors: string[];
}

export class SetAddWorkload {
  /** Per key, the elements whose write was acknowledged. */
  readonly acked = new Map<string, Set<string>>();
  readonly counts: WorkloadCounts = { ok: 0, failed: 0, errors: [] };
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly client: KvClient,
    readonly keys: readonly string[],
    private readonly clients = 4,
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.clients }, (_, c) => this.loop(c));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(c: number): Promise<void> {
    for (let i = 0; this.running; i++) {
      const key = this.keys[(c + i * this.clients) % this.keys.length]!;
      const element = `c${c}-${i}`;
      try {
        const read = await this.client.get(key);
        const union = new Set(read.values.flatMap(elementsOf));
        union.add(element);
        await this.client.put(key, [...union].join(','), { context: read.context });
        if (!this.acked.has(key)) this.acked.set(key, new Set());
        this.acked.get(key)!.add(element);
        this.counts.ok++;
      } catch (e) {
        this.counts.failed++;
        if (this.counts.errors.length < 5) this.counts.errors.push((e as Error).message);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** Acknowledged elements missing from a read of each key (R as given), by key. */
  async missing(reader: KvClient, r: number): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const [key, elements] of this.acked) {
      const read = await reader.get(key, { r });
      const present = new Set(read.values.flatMap(elementsOf));
      const lost = [...elements].filter((e) => !present.has(e));
      if (lost.length > 0) out.set(key, lost);
    }
    return out;
  }
}

/** Writes keys and deletes them again; a key whose delete was acknowledged must stay deleted. */
export class RegisterDeleteWorkload {
  /** Keys whose last acknowledged operation is a delete of everything the write put there. */
  readonly deleted = new Set<string>();
  /** Keys whose last acknowledged operation is a write, with its value. */
  readonly written = new Map<string, string>();
  readonly counts: WorkloadCounts = { ok: 0, failed: 0, errors: [] };
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: KvClient,
    private readonly prefix: string,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    for (let i = 0; this.running; i++) {
      const key = `${this.prefix}${i}`;
      try {
        await this.client.put(key, `v${i}`);
        this.written.set(key, `v${i}`);
        this.counts.ok++;
        // Every other key is deleted again, with the context of a read that saw the write.
        if (i % 2 === 0) {
          const read = await this.client.get(key);
          await this.client.delete(key, { context: read.context });
          this.written.delete(key);
          this.deleted.add(key);
          this.counts.ok++;
        }
      } catch (e) {
        // Neither the write nor the delete is known to have happened: the key is checked for neither.
        this.written.delete(key);
        this.counts.failed++;
        if (this.counts.errors.length < 5) this.counts.errors.push((e as Error).message);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** Deleted keys that read back with a value, and written keys that do not read back. */
  async violations(reader: KvClient, r: number): Promise<{ resurrected: string[]; lost: string[] }> {
    const resurrected: string[] = [];
    const lost: string[] = [];
    for (const key of this.deleted) if ((await reader.get(key, { r })).values.length > 0) resurrected.push(key);
    for (const [key, value] of this.written) if (!(await reader.get(key, { r })).values.map(String).includes(value)) lost.push(key);
    return { resurrected, lost };
  }
}

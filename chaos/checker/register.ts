/**
 * The register workload with deletes: each cycle writes a unique value to a key without a
 * context (a sibling of whatever the key holds), and every other cycle on that key then reads
 * the key and deletes what that read returned, with its context. Every write attempt writes a
 * value of its own, so a value names one write (one dot).
 *
 * A write that may have applied is settled by reading the key back (recorder.ts). A put: one of
 * the operation's values that may have applied is there, and it succeeded; none is, and it
 * writes a new value (never one that may have applied: that could give one value two dots). A
 * delete: none of the values it was based on is there, and it succeeded; one is, and it deletes
 * again, based on a fresh read (a delete of what a read returned is idempotent).
 *
 * What it records, for the verdict (verdict.ts says the rules), per attempt: each acknowledged
 * write (key, value, when the ack arrived) and each delete attempt that was acknowledged or may
 * have applied (key, when its read started, what its read returned). A delete that failed for
 * sure removed nothing. A read-back records nothing: a value it found was not acknowledged (it
 * is never held lost nor resurrected), and a delete it found applied stays "may have applied"
 * (the read may have missed the values on replicas the delete did not reach).
 */
import { outcomeOf, readBack } from './store';
import { Workload, WorkloadContext } from './workload';

export interface AckedWrite {
  readonly key: string;
  readonly value: string;
  /** When the client had the acknowledgement (ms since the epoch). */
  readonly ackedAtMs: number;
}

export interface DeleteRecord {
  readonly key: string;
  /** When the read this delete is based on started. */
  readonly readStartMs: number;
  /** What that read returned: exactly what the delete's context covers. */
  readonly readValues: readonly string[];
  readonly outcome: 'ok' | 'indeterminate';
}

export interface RegisterLedger {
  readonly writes: AckedWrite[];
  readonly deletes: DeleteRecord[];
}

export class RegisterWorkload implements Workload {
  readonly name = 'register';
  readonly ledger: RegisterLedger = { writes: [], deletes: [] };
  private readonly used = new Set<string>();
  private seq = 0;

  constructor(private readonly w: WorkloadContext) {}

  async cycle(dueMs: number): Promise<void> {
    const seq = this.seq++;
    const slot = seq % this.w.options.keys;
    const key = `${this.w.prefix}reg-${slot}`;
    this.used.add(key);
    let writes = 0;
    const inDoubt: string[] = [];
    await this.w.recorder.runWrite(
      'register',
      'put',
      {
        write: async () => {
          const value = `v${seq}.${++writes}`;
          const r = await this.w.store.put(key, value, undefined);
          if (r.ok) this.ledger.writes.push({ key, value, ackedAtMs: this.w.recorder.now() });
          else if (r.error.mayHaveApplied) inDoubt.push(value);
          return r;
        },
        readBack: () => readBack(this.w.store, key, (read) => read.values.some((v) => inDoubt.includes(v))),
      },
      dueMs,
    );
    // Each key's cycles alternate: write only, then write and delete.
    if (Math.floor(seq / this.w.options.keys) % 2 === 0) return;
    // What the last delete that may have applied was based on: the read-back looks for it.
    let removing: readonly string[] = [];
    await this.w.recorder.runWrite('register', 'delete', {
      write: async () => {
        const readStartMs = this.w.recorder.now();
        const got = await this.w.store.get(key);
        if (!got.ok) return got;
        const r = await this.w.store.delete(key, got.value.context);
        const outcome = outcomeOf(r);
        if (outcome !== 'failed') this.ledger.deletes.push({ key, readStartMs, readValues: got.value.values, outcome });
        if (outcome === 'indeterminate') removing = got.value.values;
        return r;
      },
      readBack: () => readBack(this.w.store, key, (read) => !read.values.some((v) => removing.includes(v))),
    });
  }

  keysToCheck(): string[] {
    return [...this.used];
  }
}

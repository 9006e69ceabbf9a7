/**
 * The register workload with deletes: each cycle writes a unique value to a key without a
 * context (a sibling of whatever the key holds), and every other cycle on that key then reads
 * the key and deletes what that read returned, with its context. Every attempt writes a value of its own, so
 * a value names one write (one dot).
 *
 * What it records, for the verdict (verdict.ts says the rules): each acknowledged write (key,
 * value, when the ack arrived) and each delete that was acknowledged or may have applied (key,
 * when its read started, what its read returned). A delete that failed for sure removed nothing.
 */
import { outcomeOf, ReadReply } from './store';
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
    let value = '';
    const written = await this.w.recorder.run(
      'register',
      'put',
      (attempt) => {
        value = `v${seq}.${attempt}`;
        return this.w.store.put(key, value, undefined);
      },
      dueMs,
    );
    if (written.ok) this.ledger.writes.push({ key, value, ackedAtMs: this.w.recorder.now() });
    // Each key's cycles alternate: write only, then write and delete.
    if (Math.floor(seq / this.w.options.keys) % 2 === 0) return;
    let read: { startMs: number; reply: ReadReply } | undefined;
    const deleted = await this.w.recorder.run('register', 'delete', async () => {
      read = undefined;
      const startMs = this.w.recorder.now();
      const got = await this.w.store.get(key);
      if (!got.ok) return got;
      read = { startMs, reply: got.value };
      return this.w.store.delete(key, got.value.context);
    });
    const outcome = outcomeOf(deleted);
    if (read !== undefined && outcome !== 'failed') this.ledger.deletes.push({ key, readStartMs: read.startMs, readValues: read.reply.values, outcome });
  }

  keysToCheck(): string[] {
    return [...this.used];
  }
}

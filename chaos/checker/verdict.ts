/**
 * The verdict's rules, pure: what the workloads were told (acknowledged elements, writes and
 * deletes) against each key's final state, read after the faults healed (at R=N).
 *
 * - Lost element (set-add): an element that an acknowledged write carried is in no value of its
 *   key. A set-add write carries the union of what its read returned, so nothing removes an
 *   element. (An element only a read-back found is not held: set-add.ts says why.)
 * - Lost write (register): a value whose write was acknowledged is not in its key's final state,
 *   and no delete that was acknowledged or may have applied was based on a read that returned it.
 *   Register writes carry no context, so only such a delete can remove a value.
 * - Resurrected delete (register): a value is in its key's final state although an acknowledged
 *   delete of that key was based on a read that
 *     (1) started after the value's write was acknowledged, and
 *     (2) returned the value.
 *   (2) is what the delete removed: its context covers exactly what its read returned. A write the
 *   read did not see (under sloppy quorum a read can miss an acknowledged write that only
 *   fallbacks hold) is concurrent with the delete and rightly survives it. (1) keeps the rule to
 *   what the client was told before it read: a value still in flight when the read ran is not
 *   held against the store. Each attempt writes a value of its own and a write that may have
 *   applied is never resent (a read-back that does not find it leads to a new value), so a value
 *   has one dot and cannot come back legitimately. A value only a read-back found was never
 *   acknowledged, so it is held neither lost nor resurrected.
 * - Siblings: a key's final state holds more than `siblingsMax` values.
 * - Unreadable: a key's final read failed; nothing can be said of it, and the verdict fails.
 */
import { elementsOf } from './set-add';
import { RegisterLedger } from './register';

export type FinalRead = { readonly ok: true; readonly values: readonly string[] } | { readonly ok: false; readonly error: string };

export interface Finding {
  readonly key: string;
  /** The element or value. */
  readonly value: string;
}

export interface Judgement {
  readonly keysChecked: number;
  readonly lostElements: readonly Finding[];
  readonly lostWrites: readonly Finding[];
  readonly resurrected: readonly Finding[];
  readonly siblingsOver: ReadonlyArray<{ readonly key: string; readonly siblings: number }>;
  /** The most values any key's final state holds. */
  readonly siblingsMaxSeen: number;
  readonly unreadable: ReadonlyArray<{ readonly key: string; readonly error: string }>;
}

export interface JudgeInput {
  /** set-add: per key, the elements acknowledged writes carried. */
  readonly acked: ReadonlyMap<string, ReadonlySet<string>>;
  readonly register: RegisterLedger;
  /** Every checked key's final read. */
  readonly finals: ReadonlyMap<string, FinalRead>;
  readonly siblingsMax: number;
}

const id = (key: string, value: string) => `${key}\u0000${value}`;

/** Per key, the values that must never be read again (rule "resurrected delete" above). */
export function mustStayDeleted(ledger: RegisterLedger): Map<string, Set<string>> {
  const ackedAt = new Map(ledger.writes.map((w) => [id(w.key, w.value), w.ackedAtMs]));
  const out = new Map<string, Set<string>>();
  for (const d of ledger.deletes) {
    if (d.outcome !== 'ok') continue;
    for (const v of d.readValues) {
      const at = ackedAt.get(id(d.key, v));
      if (at === undefined || at >= d.readStartMs) continue;
      const set = out.get(d.key) ?? new Set<string>();
      set.add(v);
      out.set(d.key, set);
    }
  }
  return out;
}

export function judge(input: JudgeInput): Judgement {
  const lostElements: Finding[] = [];
  const lostWrites: Finding[] = [];
  const resurrected: Finding[] = [];
  const siblingsOver: Array<{ key: string; siblings: number }> = [];
  const unreadable: Array<{ key: string; error: string }> = [];
  let siblingsMaxSeen = 0;
  const present = new Map<string, ReadonlySet<string>>();
  for (const [key, read] of input.finals) {
    if (!read.ok) {
      unreadable.push({ key, error: read.error });
      continue;
    }
    present.set(key, new Set(read.values));
    siblingsMaxSeen = Math.max(siblingsMaxSeen, read.values.length);
    if (read.values.length > input.siblingsMax) siblingsOver.push({ key, siblings: read.values.length });
  }
  for (const [key, elements] of input.acked) {
    const read = input.finals.get(key);
    if (read === undefined) throw new Error(`judge: no final read of set-add key ${key}`);
    if (!read.ok) continue;
    const have = elementsOf(read.values);
    for (const e of elements) if (!have.has(e)) lostElements.push({ key, value: e });
  }
  // Values some delete (acknowledged or maybe applied) was based on a read of: it may have removed them.
  const mayBeDeleted = new Set(input.register.deletes.flatMap((d) => d.readValues.map((v) => id(d.key, v))));
  for (const w of input.register.writes) {
    if (!input.finals.has(w.key)) throw new Error(`judge: no final read of register key ${w.key}`);
    const have = present.get(w.key);
    if (have !== undefined && !have.has(w.value) && !mayBeDeleted.has(id(w.key, w.value))) lostWrites.push({ key: w.key, value: w.value });
  }
  for (const [key, values] of mustStayDeleted(input.register)) {
    const have = present.get(key);
    for (const v of values) if (have?.has(v)) resurrected.push({ key, value: v });
  }
  return { keysChecked: input.finals.size, lostElements, lostWrites, resurrected, siblingsOver, siblingsMaxSeen, unreadable };
}

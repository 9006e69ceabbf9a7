/**
 * The get state machine: asks the replicas of a key, answers once the read core has R replies
 * (pr of them from primaries), keeps waiting a bounded time for the rest, then hands the read
 * core's repair orders to the read repairer. It owns the timers; the core decides.
 *
 * Who is asked: every primary, and for each primary the failure detector counts as down, the
 * next up fallback, which answers from the hint it holds for that primary (sloppy quorum). What
 * counts toward R: a primary's answer, found or not (unless it is still syncing after it lost its
 * data: see ./replica-sync.ts), and a fallback's hint; a fallback with no hint does not count.
 */
import { KvError, Result, err, ok } from '../errors';
import { PartitionReplicas } from '../ring/ring';
import { decodeObject } from '../versioning/codec';
import { ContextSeal } from '../versioning/context-seal';
import { isDeleted, liveValues, VersionedObject, VersionVector } from '../versioning/dvv';
import { CheckedOp, GetResult } from '../api/ops';
import { Clock } from './clock';
import { ReadCore, ReadReply } from './quorum';
import { ReadRepairer } from './read-repair';
import { TraceSpan } from './trace';
import { ReplicaTransport } from './transport';

export interface GetFsmDeps {
  readonly replicas: ReplicaTransport;
  /** Seals the context the get answers with. */
  readonly contexts: ContextSeal;
  readonly repairer: ReadRepairer;
  /** How long a get keeps waiting for the remaining replicas after it answered, for read repair. */
  readonly readRepairWaitMs: number;
  readonly clock: Clock;
  /** The operation's span when it is traced: read repair becomes a child of it. */
  readonly trace?: TraceSpan;
}

/** Failures of replicas known to lack the object, which read repair sends it to. */
const REPAIRABLE = new Set(['CorruptRecord', 'ReplicaSyncing']);

export function runGet(deps: GetFsmDeps, partition: number, op: CheckedOp & { kind: 'get' }, placement: PartitionReplicas, timeoutMs: number): Promise<Result<GetResult>> {
  const { replicas, repairer, readRepairWaitMs, clock } = deps;
  const asked: Array<{ node: string; hintFor?: string }> = placement.primaries.map((node) => ({ node }));
  const fallbacks: string[] = [];
  // The fallbacks are looked at only when a primary is down (the common case asks none).
  let spare: string[] | undefined;
  for (const primary of placement.primaries) {
    if (replicas.isUp(primary)) continue;
    spare ??= placement.fallbacks.filter((f) => replicas.isUp(f));
    const fallback = spare.shift();
    if (fallback === undefined) continue;
    asked.push({ node: fallback, hintFor: primary });
    fallbacks.push(fallback);
  }
  const core = new ReadCore(
    op.r,
    asked.map((a) => a.node),
    op.pr,
    fallbacks,
  );
  const failures: string[] = [];
  // Says how far the read got, and when it gave up before every reply was in, why: the replies
  // still outstanding could no longer make up R (or pr), so waiting for them was pointless.
  const describe = (gaveUp = false) => {
    const counted = `${core.okCount} of the ${op.r} replies R=${op.r} requires counted (${core.primaryOkCount} from primaries${op.pr > 0 ? `, pr=${op.pr} required` : ''})`;
    const pending = core.outstanding > 0 ? `, ${core.outstanding} still outstanding` : '';
    const hopeless = gaveUp && core.outstanding > 0 ? `; ${core.failedCount} of the ${asked.length} replicas asked failed, so at most ${core.okCount + core.outstanding} could count` : '';
    return `${counted}${pending}${hopeless} (N=${placement.primaries.length}, asked ${asked.map((a) => (a.hintFor ? `${a.node} for ${a.hintFor}` : a.node)).join(', ')})${failures.length > 0 ? `; ${failures.join('; ')}` : ''}`;
  };
  return new Promise((resolve) => {
    let answered = false;
    let finished = false;
    let cancelRepairTimer: (() => void) | undefined;
    const answer = (result: Result<GetResult>) => {
      if (answered) return;
      answered = true;
      resolve(result);
      if (!core.complete) cancelRepairTimer = clock.after(readRepairWaitMs, finish);
    };
    const cancelDeadline = clock.after(timeoutMs, () => {
      answer(err(new KvError('DeadlineExceeded', `get: within ${timeoutMs} ms, ${describe()}`)));
      finish();
    });
    const finish = () => {
      if (finished) return;
      finished = true;
      cancelDeadline();
      cancelRepairTimer?.();
      repairer.repair(partition, op.key, core.finalAction(), deps.trace);
    };
    const onReply = (node: string, reply: ReadReply) => {
      if (finished) return;
      core.add(node, reply);
      const outcome = core.outcome;
      if (outcome === 'success') answer(ok(toGetResult(core.response(), (vv) => deps.contexts.seal(op.key, vv))));
      else if (outcome === 'failure') answer(err(new KvError('InsufficientReplicas', `get: ${describe(true)}`)));
      if (core.complete) finish();
    };
    // Replicas in sync return the same bytes: decode each distinct answer once, so the merge of
    // identical replies is the object itself.
    const seen: Array<{ bytes: Uint8Array; reply: ReadReply }> = [];
    const decodeOnce = (bytes: Uint8Array | undefined): ReadReply => {
      if (bytes === undefined) return { ok: true, object: undefined };
      for (const d of seen) if (Buffer.compare(d.bytes, bytes) === 0) return d.reply;
      const reply = decodeReply(bytes);
      seen.push({ bytes, reply });
      return reply;
    };
    for (const { node, hintFor } of asked) {
      replicas.fetch(node, partition, op.key, timeoutMs, hintFor).then((r) => {
        if (!r.ok) {
          failures.push(`${node}: ${r.error.message}`);
          return onReply(node, { ok: false, repair: REPAIRABLE.has(r.error.condition) });
        }
        // A fallback without a hint for the key knows nothing about it: its "not found" does not
        // count toward R (only a hint it holds does), or a read could miss a write held by the
        // primaries that are down.
        if (r.value === undefined && hintFor !== undefined) {
          failures.push(`${node} (fallback for ${hintFor}) holds no hint for the key`);
          return onReply(node, { ok: false });
        }
        onReply(node, decodeOnce(r.value));
      });
    }
  });
}

function decodeReply(bytes: Uint8Array): ReadReply {
  try {
    return { ok: true, object: decodeObject(bytes) };
  } catch {
    // It passed the replica's checksum but is not a well-formed object: repair it like corruption.
    return { ok: false, repair: true };
  }
}

function toGetResult(obj: VersionedObject | undefined, seal: (vv: VersionVector) => Uint8Array): GetResult {
  const values = liveValues(obj);
  return {
    kind: 'get',
    found: values.length > 0,
    values,
    context: obj === undefined ? Buffer.alloc(0) : seal(obj.vv),
    deleted: isDeleted(obj),
  };
}

/**
 * The put state machine (puts and deletes): decides the write locally with a new dot, then sends
 * the resulting object to the targets the write core picks (up primaries, and fallbacks carrying
 * a hint for down ones) while its own commit is flushed, replacing a target that fails, and
 * answers once the core says W acknowledgements (pw from primaries; its own counts once durable)
 * are in, or that they cannot be. It owns the timer.
 */
import { KvError, Result, err, ok } from '../errors';
import { PartitionReplicas } from '../ring/ring';
import { ContextSeal } from '../versioning/context-seal';
import { liveValues } from '../versioning/dvv';
import { Clock } from './clock';
import { CheckedOp, WriteResult } from '../api/ops';
import { LocalReplica } from './replica';
import { SPAN, TraceSpan } from './trace';
import { ReplicaTransport } from './transport';
import { WriteCore, WriteTarget } from './write-core';

export interface PutFsmDeps {
  readonly self: string;
  readonly local: LocalReplica;
  readonly replicas: ReplicaTransport;
  /** Seals the context the write answers with. */
  readonly contexts: ContextSeal;
  readonly limitWarning: (message: string) => void;
  /** Told of every write that went to a fallback as a hint. */
  readonly hinted?: (target: WriteTarget) => void;
  readonly clock: Clock;
  /** The operation's span when it is traced: the local write becomes a child of it. */
  readonly trace?: TraceSpan;
}

export async function runPut(deps: PutFsmDeps, partition: number, op: CheckedOp & { kind: 'put' | 'delete' }, placement: PartitionReplicas, timeoutMs: number): Promise<Result<WriteResult>> {
  const { self, local, replicas } = deps;
  const nodes = (primaries: number, fallbacks: number) => `${primaries} primar${primaries === 1 ? 'y' : 'ies'}${fallbacks > 0 ? ` and ${fallbacks} fallback${fallbacks === 1 ? '' : 's'}` : ''}`;
  const required = () => `of ${op.w} required (W=${op.w}${op.pw > 0 ? `, ${op.pw} primaries required (pw)` : ''}, N=${placement.primaries.length})`;
  const core = new WriteCore(op.w, op.pw, placement.primaries, placement.fallbacks, self, (node) => replicas.isUp(node), placement.target);
  // Fail fast, before anything is written, when the nodes this one can reach are too few for W
  // (or PW): a coordinator cut off from its peers would otherwise store the write alone and
  // answer "may have applied", which a client must not resend. Refused here, the write is
  // certainly not applied, and the client tries another node (riak_kv's put FSM checks its
  // preference list against W the same way).
  if (core.outcome === 'failure') {
    const primaries = 1 + core.initial.filter((t) => t.hintFor === undefined && !t.receiver).length;
    const fallbacks = core.initial.filter((t) => t.hintFor !== undefined).length;
    const failures = core.tally.failures;
    return err(new KvError('InsufficientReplicas', `${op.kind}: node ${self} can reach ${nodes(primaries, fallbacks)} ${required()}${failures.length ? `; ${failures.join('; ')}` : ''}; nothing was written, so another node may take the write`));
  }
  const localSpan = deps.trace?.child(SPAN.localWrite, { 'kv.peer': self, 'kv.partition': partition });
  const written = await local.coordinateWrite(partition, op.key, op.context, op.value);
  if (!written.ok) {
    localSpan?.end(`${written.error.condition}: ${written.error.message}`);
    return written;
  }
  for (const w of written.value.warnings) deps.limitWarning(w);
  const result: WriteResult = { kind: op.kind, context: deps.contexts.seal(op.key, written.value.object.vv), siblings: liveValues(written.value.object).length };
  const describe = () => {
    const t = core.tally;
    const moving = t.targetNeeded !== undefined ? `; the partition is moving to ${placement.target!.join(', ')}: ${t.targetAcks} of the ${t.targetNeeded} acknowledgements it needs there` : '';
    return `acknowledged by ${nodes(t.primaryAcks, t.fallbackAcks)} ${required()}${moving}${t.failures.length ? `; ${t.failures.join('; ')}` : ''}`;
  };
  return new Promise((resolve) => {
    let answered = false;
    const answer = (r: Result<WriteResult>) => {
      if (answered) return;
      answered = true;
      cancelTimer();
      resolve(r);
    };
    const cancelTimer = deps.clock.after(timeoutMs, () => answer(err(new KvError('DeadlineExceeded', `${op.kind}: within ${timeoutMs} ms ${describe()}; the write may still become visible`, true))));
    const settle = () => {
      const outcome = core.outcome;
      if (outcome === 'success') answer(ok(result));
      // A write refused because hint backlogs are full says so (RESOURCE_EXHAUSTED, naming the bound).
      else if (outcome === 'failure') answer(err(new KvError(backlogFull ? 'HintBacklogFull' : 'InsufficientReplicas', `${op.kind}: ${describe()}; the write may still become visible`, true)));
    };
    let backlogFull = false;
    const send = (target: WriteTarget) => {
      if (target.hintFor !== undefined) deps.hinted?.(target);
      replicas.replicate(target.node, partition, op.key, written.value.encoded, timeoutMs, target.hintFor).then((r) => {
        if (!r.ok && r.error.condition === 'HintBacklogFull') backlogFull = true;
        // Answers after the outcome still replace failed primaries, so the write reaches N replicas.
        const replacement = core.add(target.node, r.ok, r.ok ? undefined : r.error.message);
        if (replacement) send(replacement);
        settle();
      });
    };
    for (const target of core.initial) send(target);
    written.value.durable.then(
      () => {
        localSpan?.end();
        core.add(self, true);
        settle();
      },
      (e: unknown) => {
        const why = `its own write failed: ${(e as Error).message ?? String(e)}`;
        localSpan?.end(why);
        core.add(self, false, why);
        settle();
      },
    );
  });
}


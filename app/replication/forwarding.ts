/**
 * Forwarding: a node that is not a primary of a key (or is shutting down) sends the client
 * operation on to a primary, which coordinates it. Primaries are tried in preference order, those
 * the failure detector counts as up first.
 *
 * The next primary is tried only when the operation certainly did not run at the one tried: it
 * was never sent (the peer was down), or the peer refused it before starting (ShuttingDown,
 * Overloaded, NotPrimary: during a membership change the peer's cluster state may not make it a
 * primary yet, or any more). A get is also retried after any failure of the peer. A put or delete that may have
 * reached a primary is never sent to a second one: that primary would give it a second dot, and
 * readers would see the value twice, as siblings.
 */
import { KvError, Result, err } from '../errors';
import { Clock } from './clock';
import { ClientOp, OpResult } from '../api/ops';
import { ReplicaTransport } from './transport';

/** Conditions under which the forwarded operation did not run at the peer. */
const NOT_STARTED = new Set(['ShuttingDown', 'Overloaded', 'NotPrimary']);
/** Conditions of a failed peer (a get may go elsewhere after these). */
const PEER_FAILED = new Set(['PeerUnreachable', 'DeadlineExceeded', 'ShuttingDown', 'Overloaded', 'InsufficientReplicas', 'NotPrimary']);

export interface ForwardEvents {
  forwarded(): void;
}

export async function forward(transport: ReplicaTransport, op: ClientOp, primaries: readonly string[], timeoutMs: number, events: ForwardEvents, clock: Clock): Promise<Result<OpResult>> {
  const deadline = clock.now() + timeoutMs;
  const order = [...primaries.filter((p) => transport.isUp(p)), ...primaries.filter((p) => !transport.isUp(p))];
  const failures: string[] = [];
  for (const node of order) {
    const left = deadline - clock.now();
    if (left <= 0) break;
    events.forwarded();
    const result = await transport.forward(node, op, left);
    if (result.ok) return result;
    const e = result.error;
    const retry = op.kind === 'get' ? PEER_FAILED.has(e.condition) : NOT_STARTED.has(e.condition) || (e.condition === 'PeerUnreachable' && !e.writeMayHaveApplied);
    if (!retry) return result;
    failures.push(`${node}: ${e.message}`);
  }
  return err(new KvError('InsufficientReplicas', `${op.kind}: no primary of the key could coordinate it (${failures.join('; ') || 'deadline passed'})`));
}

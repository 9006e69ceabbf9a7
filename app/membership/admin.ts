/**
 * The Admin RPC (kv admin) on the claimant: stage, plan, commit and clear membership changes.
 * Refusals (not the claimant, a change in progress, a bad change) are FAILED_PRECONDITION with
 * the reason; they change nothing.
 */
import { err, KvError, ok, Result } from '../errors';
import type { AdminRequest__Output } from '../rpc/generated/kv/v1/AdminRequest';
import type { AdminResponse } from '../rpc/generated/kv/v1/AdminResponse';
import { Change, MembershipError } from './cluster-state';
import { Claimant } from './claimant';
import { Membership } from './membership';
import { MEMBER_ADDRESS, MEMBER_ID, ZONE_MAX } from './state-codec';

// The same checks a cluster state's members pass: a change the codec would refuse is refused here.
const ID = MEMBER_ID;
const ADDRESS = MEMBER_ADDRESS;

/** Runs a membership step, turning a refusal into a MembershipRefused error. */
export async function localResult<T>(work: () => Promise<T>): Promise<Result<T, KvError>> {
  try {
    return ok(await work());
  } catch (e) {
    if (e instanceof MembershipError) return err(new KvError('MembershipRefused', e.message));
    throw e;
  }
}

function describe(c: Change): string {
  return c.kind === 'join' ? `join ${c.id} at ${c.address}${c.zone ? ` zone ${c.zone}` : ''}` : `${c.kind} ${c.id}`;
}

function changeOf(request: AdminRequest__Output): Change | KvError | undefined {
  const bad = (field: string, value: string, what: string) => new KvError('InvalidArgument', `${field}: ${JSON.stringify(value.slice(0, 80))} is not ${what}`);
  switch (request.action) {
    case 'join': {
      const j = request.join!;
      if (!ID.test(j.id)) return bad('join.id', j.id, 'a member id of 1-63 [a-z0-9-]');
      if (!ADDRESS.test(j.address)) return bad('join.address', j.address, 'host:port');
      if (j.zone.length > ZONE_MAX) return bad('join.zone', j.zone, `a zone of at most ${ZONE_MAX} characters`);
      return { kind: 'join', id: j.id, address: j.address, zone: j.zone };
    }
    case 'leave':
    case 'remove': {
      const id = request[request.action] ?? '';
      if (!ID.test(id)) return bad(request.action, id, 'a member id of 1-63 [a-z0-9-]');
      return { kind: request.action, id };
    }
    default:
      return undefined;
  }
}

export async function admin(claimant: Claimant, membership: Membership, request: AdminRequest__Output): Promise<Result<AdminResponse, KvError>> {
  // Bad input (INVALID_ARGUMENT), not a refused change: nothing was asked.
  if (request.action === undefined) return err(new KvError('InvalidArgument', 'action: the request names no action; it names one of join, leave, remove, plan, commit or clear'));
  const change = changeOf(request);
  if (change instanceof KvError) return err(change);
  return localResult(async (): Promise<AdminResponse> => {
    if (change) {
      const staged = claimant.stage(change);
      return { staged: staged.map(describe), version: membership.state.version };
    }
    switch (request.action) {
      case 'clear':
        claimant.clear();
        return { staged: [], version: membership.state.version };
      case 'plan':
      case 'commit': {
        const view = request.action === 'plan' ? claimant.plan() : await claimant.commit();
        return { staged: view.staged.map(describe), moves: view.transfers.map((t) => ({ partition: t.partition, to: t.to })), keys: view.keys, bytes: view.bytes, version: membership.state.version, warnings: [...view.warnings] };
      }
      default:
        throw new MembershipError('the request names no action: join, leave, remove, plan, commit or clear');
    }
  });
}

/**
 * The cluster state on the wire and on disk: JSON, checked field by field when read, because it
 * comes from peers (gossip) and from the data directory. A state that fails a check is rejected
 * whole, with a message naming the field, the value and the limit; nothing of it is used.
 */
import { isPowerOfTwo, PARTITIONS_MAX } from '../ring/ring';
import { ClusterState, Departure, Member, MemberStatus, Transfer } from './cluster-state';
import { Placement } from '../ring/placement';

/** Members a cluster state may list. */
export const MEMBERS_MAX = 256;
/** The largest replication factor a state may carry (the node's own bound on N). */
export const STATE_N_MAX = 16;
/** A member id (as a node id): 1-63 of [a-z0-9-], not starting or ending with '-'. */
export const MEMBER_ID = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** A member's address: host:port. */
export const MEMBER_ADDRESS = /^[^\s:,]{1,253}:\d{1,5}$/;
/** Longest zone name, in characters. */
export const ZONE_MAX = 63;
const ID = MEMBER_ID;
const ADDRESS = MEMBER_ADDRESS;
const TEXT_MAX = ZONE_MAX;
const STATUSES: readonly MemberStatus[] = ['joining', 'valid', 'leaving'];

export class StateCodecError extends Error {
  constructor(message: string) {
    super(`cluster state: ${message}`);
    this.name = 'StateCodecError';
  }
}

export function encodeState(state: ClusterState): string {
  return JSON.stringify({
    cluster: state.cluster,
    partitions: state.partitions,
    n: state.n,
    version: state.version,
    author: state.author,
    members: state.members,
    placement: state.placement.primaries,
    ...(state.target ? { target: state.target.primaries } : {}),
    transfers: state.transfers,
    ...(state.changeVersion !== undefined ? { changeVersion: state.changeVersion } : {}),
    ...(state.departures ? { departures: state.departures } : {}),
  });
}

const show = (v: unknown) => JSON.stringify(v)?.slice(0, 80) ?? String(v);

function fail(field: string, value: unknown, limit: string): never {
  throw new StateCodecError(`${field}: ${show(value)} ${limit}`);
}

function int(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(field, v, `is not an integer within ${min}..${max}`);
  return v;
}

function text(field: string, v: unknown, pattern: RegExp | undefined, what: string): string {
  if (typeof v !== 'string' || v.length > (pattern ? 300 : TEXT_MAX) || (pattern && !pattern.test(v))) fail(field, v, `is not ${what}`);
  return v;
}

function array(field: string, v: unknown, max: number): unknown[] {
  if (!Array.isArray(v)) fail(field, v, 'is not a list');
  if (v.length > max) fail(field, `${v.length} entries`, `is more than the ${max} allowed`);
  return v;
}

function rows(field: string, v: unknown, partitions: number, n: number, members: ReadonlySet<string>): Placement {
  const list = array(field, v, partitions);
  if (list.length !== partitions) fail(field, `${list.length} rows`, `is not one row for each of the ${partitions} partitions`);
  const primaries = list.map((row, p) => {
    const ids = array(`${field}[${p}]`, row, n).map((id, i) => text(`${field}[${p}][${i}]`, id, ID, 'a member id'));
    if (ids.length === 0) fail(`${field}[${p}]`, ids, 'has no primary');
    if (new Set(ids).size !== ids.length) fail(`${field}[${p}]`, ids, 'names a member twice');
    for (const id of ids) if (!members.has(id)) fail(`${field}[${p}]`, id, 'is not a member of the state');
    return ids;
  });
  return { partitions, n, primaries };
}

/** Reads a state; throws StateCodecError naming the first field that is wrong. */
export function decodeState(json: string): ClusterState {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(json) as Record<string, unknown>;
  } catch (e) {
    throw new StateCodecError(`not JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('state', raw, 'is not an object');
  const cluster = text('cluster', raw.cluster, ID, 'a cluster name of 1-63 [a-z0-9-]');
  const partitions = int('partitions', raw.partitions, 1, PARTITIONS_MAX);
  if (!isPowerOfTwo(partitions)) fail('partitions', partitions, 'is not a power of two');
  const n = int('n', raw.n, 1, STATE_N_MAX);
  const version = int('version', raw.version, 1, Number.MAX_SAFE_INTEGER);
  const author = raw.author === '' ? '' : text('author', raw.author, ID, 'a member id');
  const members = array('members', raw.members, MEMBERS_MAX).map((m, i): Member => {
    if (typeof m !== 'object' || m === null) fail(`members[${i}]`, m, 'is not an object');
    const r = m as Record<string, unknown>;
    const status = r.status as MemberStatus;
    if (!STATUSES.includes(status)) fail(`members[${i}].status`, r.status, `is not one of ${STATUSES.join(', ')}`);
    return { id: text(`members[${i}].id`, r.id, ID, 'a member id of 1-63 [a-z0-9-]'), address: text(`members[${i}].address`, r.address, ADDRESS, 'host:port'), zone: text(`members[${i}].zone`, r.zone, undefined, `a zone name of at most ${TEXT_MAX} characters`), status };
  });
  if (members.length === 0) fail('members', members, 'is empty');
  const ids = new Set(members.map((m) => m.id));
  if (ids.size !== members.length) fail('members', members.map((m) => m.id), 'names a member twice');
  for (let i = 1; i < members.length; i++) if (members[i - 1]!.id > members[i]!.id) fail('members', members.map((m) => m.id), 'is not sorted by id');
  const placement = rows('placement', raw.placement, partitions, n, ids);
  const target = raw.target === undefined ? undefined : rows('target', raw.target, partitions, n, ids);
  const transfers = array('transfers', raw.transfers, partitions * n).map((t, i): Transfer => {
    if (typeof t !== 'object' || t === null) fail(`transfers[${i}]`, t, 'is not an object');
    const r = t as Record<string, unknown>;
    const to = text(`transfers[${i}].to`, r.to, ID, 'a member id');
    if (!ids.has(to)) fail(`transfers[${i}].to`, to, 'is not a member of the state');
    if (typeof r.done !== 'boolean') fail(`transfers[${i}].done`, r.done, 'is not true or false');
    return { partition: int(`transfers[${i}].partition`, r.partition, 0, partitions - 1), to, done: r.done };
  });
  if (transfers.length > 0 && target === undefined) fail('transfers', `${transfers.length} transfers`, 'are listed without a target placement');
  const changeVersion = raw.changeVersion === undefined ? undefined : int('changeVersion', raw.changeVersion, 1, version);
  if (changeVersion !== undefined && target === undefined) fail('changeVersion', changeVersion, 'is given without a change in progress (no target placement)');
  const departures =
    raw.departures === undefined
      ? undefined
      : array('departures', raw.departures, MEMBERS_MAX).map((d, i): Departure => {
          if (typeof d !== 'object' || d === null) fail(`departures[${i}]`, d, 'is not an object');
          const r = d as Record<string, unknown>;
          if (r.how !== 'left' && r.how !== 'removed') fail(`departures[${i}].how`, r.how, 'is not left or removed');
          return { id: text(`departures[${i}].id`, r.id, ID, 'a member id'), how: r.how };
        });
  return { cluster, partitions, n, version, author, members, placement, ...(target ? { target } : {}), transfers, ...(changeVersion !== undefined ? { changeVersion } : {}), ...(departures ? { departures } : {}) };
}

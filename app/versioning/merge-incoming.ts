/**
 * Merging an object that came from another node into the one stored here: the decision a replica
 * (replicated writes, read repair, handoff, anti-entropy) and a hint holder both make.
 */
import { encodeObject } from './codec';
import { merge, sameHistory, VersionedObject } from './dvv';

/**
 * The merge of `mine` (undefined: nothing stored) and `theirs` (decoded from `incoming`), and the
 * bytes to store: none when `mine` already holds everything; `incoming` itself when it supersedes
 * `mine` (its bytes are already the canonical encoding, so nothing is encoded again).
 */
export function mergeIncoming(mine: VersionedObject | undefined, theirs: VersionedObject, incoming: Uint8Array): { merged: VersionedObject; write?: Uint8Array } {
  const merged = merge(mine, theirs)!;
  if (mine !== undefined && sameHistory(merged, mine)) return { merged };
  return { merged, write: sameHistory(merged, theirs) ? incoming : encodeObject(merged) };
}

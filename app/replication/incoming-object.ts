/**
 * An object that arrived from another node (a replicated write, a read repair, a hint, a
 * transfer), decoded before anything is stored. Bytes that do not decode are the sender's bad
 * input: INVALID_ARGUMENT, with nothing changed. They are not DATA_LOSS, which says that a record
 * this node stored failed its check.
 */
import { KvError } from '../errors';
import { decodeObject } from '../versioning/codec';
import { VersionedObject } from '../versioning/dvv';

export function decodeIncoming(incoming: Uint8Array): VersionedObject {
  try {
    return decodeObject(incoming);
  } catch (e) {
    throw new KvError('InvalidArgument', `object: ${incoming.length} bytes do not decode as a stored object (${(e as Error).message}); nothing was changed`);
  }
}

/**
 * The checks a peer request passes before the node works on it: its partition exists, its key
 * is one the store can hold, and a fold asks for at least one object. Another node never sends anything else; a request
 * that fails them comes from a different build or configuration, or from something that is no
 * node, and is answered INVALID_ARGUMENT naming the field, the value and the limit (without them
 * the storage layer refused it with an exception, answered INTERNAL).
 */
import { invalidArgument, KvError } from '../errors';
import type { PeerRequest__Output } from './generated/kv/v1/PeerRequest';

export interface PeerRequestLimits {
  /** Partitions of the cluster (Q): a partition is 0..Q-1. */
  readonly partitions: number;
  /**
   * Longest key the store holds (KEY_BYTES_MAX), not the client limit (--key-bytes-max): an
   * operator may lower that while longer keys are still stored and copied between nodes.
   */
  readonly keyBytesMax: number;
}

/** The partition and key a request names, with the field names they travel in. */
function addressOf(req: PeerRequest__Output): { partition?: number; key?: Uint8Array } {
  switch (req.op) {
    case 'fetch':
      return req.fetch!;
    case 'replicate':
      return req.replicate!;
    case 'hintCheck':
      return req.hintCheck!;
    case 'reap':
      return req.reap!;
    case 'aeTree':
      return { partition: req.aeTree!.partition };
    case 'aeKeys':
      return { partition: req.aeKeys!.partition };
    case 'foldPartition':
      return { partition: req.foldPartition!.partition };
    case 'transferDone':
      return { partition: req.transferDone!.partition };
    default:
      return {};
  }
}

/** An INVALID_ARGUMENT error for a request out of the limits, else undefined. */
export function checkPeerRequest(req: PeerRequest__Output, limits: PeerRequestLimits): KvError | undefined {
  const { partition, key } = addressOf(req);
  const op = req.op ?? 'request';
  if (partition !== undefined && partition >= limits.partitions) {
    return invalidArgument(`${op}.partition`, partition, `is out of range: the cluster's partitions are 0..${limits.partitions - 1}`);
  }
  if (key !== undefined && (key.length === 0 || key.length > limits.keyBytesMax)) {
    return invalidArgument(`${op}.key`, key, `is out of range: a key has 1 to ${limits.keyBytesMax} bytes`);
  }
  if (req.op === 'foldPartition') {
    const { limit, after } = req.foldPartition!;
    if (limit < 1) return invalidArgument('foldPartition.limit', limit, 'is out of range: a fold asks for at least 1 object');
    if (after.length > limits.keyBytesMax) return invalidArgument('foldPartition.after', after, `is out of range: a key has at most ${limits.keyBytesMax} bytes`);
  }
  return undefined;
}

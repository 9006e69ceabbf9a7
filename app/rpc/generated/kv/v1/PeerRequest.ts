// Original file: app/rpc/proto/kv/v1/peer.proto

import type { Fetch as _kv_v1_Fetch, Fetch__Output as _kv_v1_Fetch__Output } from '../../kv/v1/Fetch';
import type { Replicate as _kv_v1_Replicate, Replicate__Output as _kv_v1_Replicate__Output } from '../../kv/v1/Replicate';
import type { Operation as _kv_v1_Operation, Operation__Output as _kv_v1_Operation__Output } from '../../kv/v1/Operation';
import type { Ping as _kv_v1_Ping, Ping__Output as _kv_v1_Ping__Output } from '../../kv/v1/Ping';
import type { AeTree as _kv_v1_AeTree, AeTree__Output as _kv_v1_AeTree__Output } from '../../kv/v1/AeTree';
import type { AeKeys as _kv_v1_AeKeys, AeKeys__Output as _kv_v1_AeKeys__Output } from '../../kv/v1/AeKeys';
import type { HintCheck as _kv_v1_HintCheck, HintCheck__Output as _kv_v1_HintCheck__Output } from '../../kv/v1/HintCheck';
import type { Reap as _kv_v1_Reap, Reap__Output as _kv_v1_Reap__Output } from '../../kv/v1/Reap';
import type { Gossip as _kv_v1_Gossip, Gossip__Output as _kv_v1_Gossip__Output } from '../../kv/v1/Gossip';
import type { FoldPartition as _kv_v1_FoldPartition, FoldPartition__Output as _kv_v1_FoldPartition__Output } from '../../kv/v1/FoldPartition';
import type { TransferDone as _kv_v1_TransferDone, TransferDone__Output as _kv_v1_TransferDone__Output } from '../../kv/v1/TransferDone';
import type { Long } from '@grpc/proto-loader';

export interface PeerRequest {
  /**
   * Unique among the sender's in-flight requests on this stream.
   */
  'id'?: (number | string | Long);
  /**
   * Time the sender waits for the answer, from when it sent the request; 0: no limit. The callee
   * counts it from when it reads the request. A request it has not started when that time has
   * passed (it waited for a slot: the callee works on peer-stream-in-flight-max requests of a
   * stream at once) is not run, and is answered with an error of code DEADLINE_EXCEEDED and
   * write_may_have_applied false. A request it started runs to its end, even past the time: a
   * replicate or a reap is one store transaction, which cannot stop half way, and a sender that
   * stopped waiting drops the late answer. A forward's operation gets the time left as its own
   * timeout. A ping is answered at once.
   */
  'timeoutMs'?: (number);
  /**
   * Read a replica's stored object.
   */
  'fetch'?: (_kv_v1_Fetch | null);
  /**
   * Merge an object into the replica's store (coordinated writes and read repair).
   */
  'replicate'?: (_kv_v1_Replicate | null);
  /**
   * A client operation sent on to a node that is a replica of the key.
   */
  'forward'?: (_kv_v1_Operation | null);
  /**
   * A heartbeat: answered at once, so a frozen or vanished peer is suspected within a bound.
   */
  'ping'?: (_kv_v1_Ping | null);
  /**
   * Anti-entropy: the callee's hash tree of a partition.
   */
  'aeTree'?: (_kv_v1_AeTree | null);
  /**
   * Anti-entropy: the callee's keys, and their hashes, in some segments of a partition's tree.
   */
  'aeKeys'?: (_kv_v1_AeKeys | null);
  /**
   * Tombstone reaping: does the callee hold a hint for the key (for any primary)?
   */
  'hintCheck'?: (_kv_v1_HintCheck | null);
  /**
   * Tombstone reaping: remove the key if the callee stores exactly this object (a tombstone).
   */
  'reap'?: (_kv_v1_Reap | null);
  /**
   * Membership: the sender's cluster state; the callee merges it and answers its own if newer.
   */
  'gossip'?: (_kv_v1_Gossip | null);
  /**
   * Membership: the callee's objects of a partition in key order (a receiver copying it).
   */
  'foldPartition'?: (_kv_v1_FoldPartition | null);
  /**
   * Membership: a receiver finished copying a partition (sent to the claimant).
   */
  'transferDone'?: (_kv_v1_TransferDone | null);
  /**
   * W3C trace context (https://www.w3.org/TR/trace-context/#traceparent-header) of the sender's
   * span for this request, set only when the operation is traced (fetch, replicate, forward):
   * the callee continues the trace. Empty: not traced.
   */
  'traceparent'?: (string);
  'op'?: "fetch"|"replicate"|"forward"|"ping"|"aeTree"|"aeKeys"|"hintCheck"|"reap"|"gossip"|"foldPartition"|"transferDone";
}

export interface PeerRequest__Output {
  /**
   * Unique among the sender's in-flight requests on this stream.
   */
  'id': (number);
  /**
   * Time the sender waits for the answer, from when it sent the request; 0: no limit. The callee
   * counts it from when it reads the request. A request it has not started when that time has
   * passed (it waited for a slot: the callee works on peer-stream-in-flight-max requests of a
   * stream at once) is not run, and is answered with an error of code DEADLINE_EXCEEDED and
   * write_may_have_applied false. A request it started runs to its end, even past the time: a
   * replicate or a reap is one store transaction, which cannot stop half way, and a sender that
   * stopped waiting drops the late answer. A forward's operation gets the time left as its own
   * timeout. A ping is answered at once.
   */
  'timeoutMs': (number);
  /**
   * Read a replica's stored object.
   */
  'fetch'?: (_kv_v1_Fetch__Output | null);
  /**
   * Merge an object into the replica's store (coordinated writes and read repair).
   */
  'replicate'?: (_kv_v1_Replicate__Output | null);
  /**
   * A client operation sent on to a node that is a replica of the key.
   */
  'forward'?: (_kv_v1_Operation__Output | null);
  /**
   * A heartbeat: answered at once, so a frozen or vanished peer is suspected within a bound.
   */
  'ping'?: (_kv_v1_Ping__Output | null);
  /**
   * Anti-entropy: the callee's hash tree of a partition.
   */
  'aeTree'?: (_kv_v1_AeTree__Output | null);
  /**
   * Anti-entropy: the callee's keys, and their hashes, in some segments of a partition's tree.
   */
  'aeKeys'?: (_kv_v1_AeKeys__Output | null);
  /**
   * Tombstone reaping: does the callee hold a hint for the key (for any primary)?
   */
  'hintCheck'?: (_kv_v1_HintCheck__Output | null);
  /**
   * Tombstone reaping: remove the key if the callee stores exactly this object (a tombstone).
   */
  'reap'?: (_kv_v1_Reap__Output | null);
  /**
   * Membership: the sender's cluster state; the callee merges it and answers its own if newer.
   */
  'gossip'?: (_kv_v1_Gossip__Output | null);
  /**
   * Membership: the callee's objects of a partition in key order (a receiver copying it).
   */
  'foldPartition'?: (_kv_v1_FoldPartition__Output | null);
  /**
   * Membership: a receiver finished copying a partition (sent to the claimant).
   */
  'transferDone'?: (_kv_v1_TransferDone__Output | null);
  /**
   * W3C trace context (https://www.w3.org/TR/trace-context/#traceparent-header) of the sender's
   * span for this request, set only when the operation is traced (fetch, replicate, forward):
   * the callee continues the trace. Empty: not traced.
   */
  'traceparent': (string);
  'op'?: "fetch"|"replicate"|"forward"|"ping"|"aeTree"|"aeKeys"|"hintCheck"|"reap"|"gossip"|"foldPartition"|"transferDone";
}

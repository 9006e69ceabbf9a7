// Original file: app/rpc/proto/kv/v1/kv.proto

import type { Member as _kv_v1_Member, Member__Output as _kv_v1_Member__Output } from '../../kv/v1/Member';
import type { PartitionPrimaries as _kv_v1_PartitionPrimaries, PartitionPrimaries__Output as _kv_v1_PartitionPrimaries__Output } from '../../kv/v1/PartitionPrimaries';
import type { Long } from '@grpc/proto-loader';

export interface StatusResponse {
  'nodeId'?: (string);
  /**
   * The node's actor id: node id and the epoch of its data directory.
   */
  'actor'?: (string);
  'partitions'?: (number);
  'n'?: (number);
  'r'?: (number);
  'w'?: (number);
  'members'?: (_kv_v1_Member)[];
  /**
   * Whether this node's "not found" answers count toward R yet: "synced"; "awaiting-verdict"
   * (its data directory is new and no peer has yet said whether it knew an earlier one);
   * "syncing" (a peer knew an earlier directory: the node lost its data and anti-entropy is
   * refilling it).
   */
  'syncState'?: (string);
  /**
   * Partitions this node is a primary of whose "not found" answers do not count yet.
   */
  'partitionsSyncing'?: (number);
  /**
   * The node's operating-system process id: a launcher (kv cluster) checks that the node answering
   * on an address is the process it started, not another one that holds the port.
   */
  'pid'?: (number);
  /**
   * Each partition's primaries, owner first (placement[p] for partition p): a partition-aware
   * client sends an operation straight to a primary of its key.
   */
  'placement'?: (_kv_v1_PartitionPrimaries)[];
  /**
   * The version of the cluster state this node has (nodes agree when they report the same).
   */
  'stateVersion'?: (number | string | Long);
  /**
   * The member that commits membership changes, as this node sees it.
   */
  'claimant'?: (string);
  /**
   * Transfers of the change in progress not done yet (0: none in progress).
   */
  'transfersLeft'?: (number);
  /**
   * "storage" (a member holding data), or "gateway": a node that holds no data and forwards each
   * operation to a primary of its key. A gateway lists itself as the only member and the only
   * primary of every partition, so a partition-aware client sends it everything; the other fields
   * are the store's, as the gateway last read them.
   */
  'role'?: (string);
}

export interface StatusResponse__Output {
  'nodeId': (string);
  /**
   * The node's actor id: node id and the epoch of its data directory.
   */
  'actor': (string);
  'partitions': (number);
  'n': (number);
  'r': (number);
  'w': (number);
  'members': (_kv_v1_Member__Output)[];
  /**
   * Whether this node's "not found" answers count toward R yet: "synced"; "awaiting-verdict"
   * (its data directory is new and no peer has yet said whether it knew an earlier one);
   * "syncing" (a peer knew an earlier directory: the node lost its data and anti-entropy is
   * refilling it).
   */
  'syncState': (string);
  /**
   * Partitions this node is a primary of whose "not found" answers do not count yet.
   */
  'partitionsSyncing': (number);
  /**
   * The node's operating-system process id: a launcher (kv cluster) checks that the node answering
   * on an address is the process it started, not another one that holds the port.
   */
  'pid': (number);
  /**
   * Each partition's primaries, owner first (placement[p] for partition p): a partition-aware
   * client sends an operation straight to a primary of its key.
   */
  'placement': (_kv_v1_PartitionPrimaries__Output)[];
  /**
   * The version of the cluster state this node has (nodes agree when they report the same).
   */
  'stateVersion': (number);
  /**
   * The member that commits membership changes, as this node sees it.
   */
  'claimant': (string);
  /**
   * Transfers of the change in progress not done yet (0: none in progress).
   */
  'transfersLeft': (number);
  /**
   * "storage" (a member holding data), or "gateway": a node that holds no data and forwards each
   * operation to a primary of its key. A gateway lists itself as the only member and the only
   * primary of every partition, so a partition-aware client sends it everything; the other fields
   * are the store's, as the gateway last read them.
   */
  'role': (string);
}

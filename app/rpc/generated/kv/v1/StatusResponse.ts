// Original file: app/rpc/proto/kv/v1/kv.proto

import type { Member as _kv_v1_Member, Member__Output as _kv_v1_Member__Output } from '../../kv/v1/Member';

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
}

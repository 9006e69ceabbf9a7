// Original file: app/rpc/proto/kv/v1/kv.proto

import type { ReplicaState as _kv_v1_ReplicaState, ReplicaState__Output as _kv_v1_ReplicaState__Output } from '../../kv/v1/ReplicaState';

export interface InspectResponse {
  'partition'?: (number);
  /**
   * The primaries in preference order, then every other member (asked for hints).
   */
  'replicas'?: (_kv_v1_ReplicaState)[];
}

export interface InspectResponse__Output {
  'partition': (number);
  /**
   * The primaries in preference order, then every other member (asked for hints).
   */
  'replicas': (_kv_v1_ReplicaState__Output)[];
}

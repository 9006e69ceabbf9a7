// Original file: app/rpc/proto/kv/v1/kv.proto

import type { AdminMove as _kv_v1_AdminMove, AdminMove__Output as _kv_v1_AdminMove__Output } from '../../kv/v1/AdminMove';
import type { Long } from '@grpc/proto-loader';

export interface AdminResponse {
  /**
   * The staged changes, one line each ("join kv-4 at 127.0.0.1:7004 zone a").
   */
  'staged'?: (string)[];
  /**
   * The replicas the plan moves: partition and receiving member.
   */
  'moves'?: (_kv_v1_AdminMove)[];
  /**
   * Keys and bytes of the moving partitions, as the claimant stores them.
   */
  'keys'?: (number | string | Long);
  'bytes'?: (number | string | Long);
  /**
   * The cluster state's version after the action.
   */
  'version'?: (number | string | Long);
  /**
   * What to know before committing (a member the zone rule overloads).
   */
  'warnings'?: (string)[];
}

export interface AdminResponse__Output {
  /**
   * The staged changes, one line each ("join kv-4 at 127.0.0.1:7004 zone a").
   */
  'staged': (string)[];
  /**
   * The replicas the plan moves: partition and receiving member.
   */
  'moves': (_kv_v1_AdminMove__Output)[];
  /**
   * Keys and bytes of the moving partitions, as the claimant stores them.
   */
  'keys': (number);
  'bytes': (number);
  /**
   * The cluster state's version after the action.
   */
  'version': (number);
  /**
   * What to know before committing (a member the zone rule overloads).
   */
  'warnings': (string)[];
}

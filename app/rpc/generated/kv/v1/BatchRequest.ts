// Original file: app/rpc/proto/kv/v1/kv.proto

import type { Operation as _kv_v1_Operation, Operation__Output as _kv_v1_Operation__Output } from '../../kv/v1/Operation';

/**
 * One message of the Batch stream: several operations, so that a busy client pays the per-message
 * cost once for many operations.
 */
export interface BatchRequest {
  /**
   * At most batch_ops_max operations (default 1024).
   */
  'ops'?: (_kv_v1_Operation)[];
}

/**
 * One message of the Batch stream: several operations, so that a busy client pays the per-message
 * cost once for many operations.
 */
export interface BatchRequest__Output {
  /**
   * At most batch_ops_max operations (default 1024).
   */
  'ops': (_kv_v1_Operation__Output)[];
}

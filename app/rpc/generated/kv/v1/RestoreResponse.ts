// Original file: app/rpc/proto/kv/v1/backup.proto

import type { RestoreFailure as _kv_v1_RestoreFailure, RestoreFailure__Output as _kv_v1_RestoreFailure__Output } from '../../kv/v1/RestoreFailure';

export interface RestoreResponse {
  /**
   * Objects merged by at least w primaries.
   */
  'merged'?: (number);
  /**
   * Objects that were not: key and reason. Sending them again is safe (merges are idempotent).
   */
  'failed'?: (_kv_v1_RestoreFailure)[];
}

export interface RestoreResponse__Output {
  /**
   * Objects merged by at least w primaries.
   */
  'merged': (number);
  /**
   * Objects that were not: key and reason. Sending them again is safe (merges are idempotent).
   */
  'failed': (_kv_v1_RestoreFailure__Output)[];
}

// Original file: app/rpc/proto/kv/v1/backup.proto

import type { RestoreObject as _kv_v1_RestoreObject, RestoreObject__Output as _kv_v1_RestoreObject__Output } from '../../kv/v1/RestoreObject';

export interface RestoreRequest {
  'objects'?: (_kv_v1_RestoreObject)[];
  /**
   * The write quorum each object needs (primaries that merged it); 0: the cluster's W.
   */
  'w'?: (number);
}

export interface RestoreRequest__Output {
  'objects': (_kv_v1_RestoreObject__Output)[];
  /**
   * The write quorum each object needs (primaries that merged it); 0: the cluster's W.
   */
  'w': (number);
}

// Original file: app/rpc/proto/kv/v1/kv.proto

import type { OperationResult as _kv_v1_OperationResult, OperationResult__Output as _kv_v1_OperationResult__Output } from '../../kv/v1/OperationResult';

export interface BatchResponse {
  'results'?: (_kv_v1_OperationResult)[];
}

export interface BatchResponse__Output {
  'results': (_kv_v1_OperationResult__Output)[];
}

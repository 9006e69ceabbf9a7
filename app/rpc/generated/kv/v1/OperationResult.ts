// Original file: app/rpc/proto/kv/v1/kv.proto

import type { GetResponse as _kv_v1_GetResponse, GetResponse__Output as _kv_v1_GetResponse__Output } from '../../kv/v1/GetResponse';
import type { PutResponse as _kv_v1_PutResponse, PutResponse__Output as _kv_v1_PutResponse__Output } from '../../kv/v1/PutResponse';
import type { DeleteResponse as _kv_v1_DeleteResponse, DeleteResponse__Output as _kv_v1_DeleteResponse__Output } from '../../kv/v1/DeleteResponse';
import type { OpError as _kv_v1_OpError, OpError__Output as _kv_v1_OpError__Output } from '../../kv/v1/OpError';
import type { Long } from '@grpc/proto-loader';

export interface OperationResult {
  'id'?: (number | string | Long);
  'get'?: (_kv_v1_GetResponse | null);
  'put'?: (_kv_v1_PutResponse | null);
  'delete'?: (_kv_v1_DeleteResponse | null);
  'error'?: (_kv_v1_OpError | null);
  'result'?: "get"|"put"|"delete"|"error";
}

export interface OperationResult__Output {
  'id': (number);
  'get'?: (_kv_v1_GetResponse__Output | null);
  'put'?: (_kv_v1_PutResponse__Output | null);
  'delete'?: (_kv_v1_DeleteResponse__Output | null);
  'error'?: (_kv_v1_OpError__Output | null);
  'result'?: "get"|"put"|"delete"|"error";
}

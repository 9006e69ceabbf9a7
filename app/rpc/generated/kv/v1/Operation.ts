// Original file: app/rpc/proto/kv/v1/kv.proto

import type { GetRequest as _kv_v1_GetRequest, GetRequest__Output as _kv_v1_GetRequest__Output } from '../../kv/v1/GetRequest';
import type { PutRequest as _kv_v1_PutRequest, PutRequest__Output as _kv_v1_PutRequest__Output } from '../../kv/v1/PutRequest';
import type { DeleteRequest as _kv_v1_DeleteRequest, DeleteRequest__Output as _kv_v1_DeleteRequest__Output } from '../../kv/v1/DeleteRequest';
import type { Long } from '@grpc/proto-loader';

export interface Operation {
  /**
   * Chosen by the client, echoed in the result; unique among the stream's in-flight operations.
   */
  'id'?: (number | string | Long);
  'get'?: (_kv_v1_GetRequest | null);
  'put'?: (_kv_v1_PutRequest | null);
  'delete'?: (_kv_v1_DeleteRequest | null);
  'op'?: "get"|"put"|"delete";
}

export interface Operation__Output {
  /**
   * Chosen by the client, echoed in the result; unique among the stream's in-flight operations.
   */
  'id': (number);
  'get'?: (_kv_v1_GetRequest__Output | null);
  'put'?: (_kv_v1_PutRequest__Output | null);
  'delete'?: (_kv_v1_DeleteRequest__Output | null);
  'op'?: "get"|"put"|"delete";
}

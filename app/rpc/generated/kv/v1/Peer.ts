// Original file: app/rpc/proto/kv/v1/peer.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { PeerRequests as _kv_v1_PeerRequests, PeerRequests__Output as _kv_v1_PeerRequests__Output } from '../../kv/v1/PeerRequests';
import type { PeerResponses as _kv_v1_PeerResponses, PeerResponses__Output as _kv_v1_PeerResponses__Output } from '../../kv/v1/PeerResponses';

export interface PeerClient extends grpc.Client {
  /**
   * The caller sends batches of requests; the callee answers with batches of responses, matched
   * by id, in any order. The caller bounds how many requests it has in flight; the callee bounds
   * how many of them it works on at once, and reads no further until one finishes.
   */
  Exchange(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_kv_v1_PeerRequests, _kv_v1_PeerResponses__Output>;
  Exchange(options?: grpc.CallOptions): grpc.ClientDuplexStream<_kv_v1_PeerRequests, _kv_v1_PeerResponses__Output>;
  /**
   * The caller sends batches of requests; the callee answers with batches of responses, matched
   * by id, in any order. The caller bounds how many requests it has in flight; the callee bounds
   * how many of them it works on at once, and reads no further until one finishes.
   */
  exchange(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_kv_v1_PeerRequests, _kv_v1_PeerResponses__Output>;
  exchange(options?: grpc.CallOptions): grpc.ClientDuplexStream<_kv_v1_PeerRequests, _kv_v1_PeerResponses__Output>;
  
}

export interface PeerHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The caller sends batches of requests; the callee answers with batches of responses, matched
   * by id, in any order. The caller bounds how many requests it has in flight; the callee bounds
   * how many of them it works on at once, and reads no further until one finishes.
   */
  Exchange: grpc.handleBidiStreamingCall<_kv_v1_PeerRequests__Output, _kv_v1_PeerResponses>;
  
}

export interface PeerDefinition extends grpc.ServiceDefinition {
  Exchange: MethodDefinition<_kv_v1_PeerRequests, _kv_v1_PeerResponses, _kv_v1_PeerRequests__Output, _kv_v1_PeerResponses__Output>
}

// Original file: app/rpc/proto/kv/v1/kv.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AdminRequest as _kv_v1_AdminRequest, AdminRequest__Output as _kv_v1_AdminRequest__Output } from '../../kv/v1/AdminRequest';
import type { AdminResponse as _kv_v1_AdminResponse, AdminResponse__Output as _kv_v1_AdminResponse__Output } from '../../kv/v1/AdminResponse';
import type { BatchRequest as _kv_v1_BatchRequest, BatchRequest__Output as _kv_v1_BatchRequest__Output } from '../../kv/v1/BatchRequest';
import type { BatchResponse as _kv_v1_BatchResponse, BatchResponse__Output as _kv_v1_BatchResponse__Output } from '../../kv/v1/BatchResponse';
import type { DeleteRequest as _kv_v1_DeleteRequest, DeleteRequest__Output as _kv_v1_DeleteRequest__Output } from '../../kv/v1/DeleteRequest';
import type { DeleteResponse as _kv_v1_DeleteResponse, DeleteResponse__Output as _kv_v1_DeleteResponse__Output } from '../../kv/v1/DeleteResponse';
import type { GetRequest as _kv_v1_GetRequest, GetRequest__Output as _kv_v1_GetRequest__Output } from '../../kv/v1/GetRequest';
import type { GetResponse as _kv_v1_GetResponse, GetResponse__Output as _kv_v1_GetResponse__Output } from '../../kv/v1/GetResponse';
import type { InspectRequest as _kv_v1_InspectRequest, InspectRequest__Output as _kv_v1_InspectRequest__Output } from '../../kv/v1/InspectRequest';
import type { InspectResponse as _kv_v1_InspectResponse, InspectResponse__Output as _kv_v1_InspectResponse__Output } from '../../kv/v1/InspectResponse';
import type { PutRequest as _kv_v1_PutRequest, PutRequest__Output as _kv_v1_PutRequest__Output } from '../../kv/v1/PutRequest';
import type { PutResponse as _kv_v1_PutResponse, PutResponse__Output as _kv_v1_PutResponse__Output } from '../../kv/v1/PutResponse';
import type { StatusRequest as _kv_v1_StatusRequest, StatusRequest__Output as _kv_v1_StatusRequest__Output } from '../../kv/v1/StatusRequest';
import type { StatusResponse as _kv_v1_StatusResponse, StatusResponse__Output as _kv_v1_StatusResponse__Output } from '../../kv/v1/StatusResponse';

export interface KVClient extends grpc.Client {
  /**
   * Membership changes (Riak's plan/commit), served by the claimant only: another node answers
   * FAILED_PRECONDITION naming the claimant and its address. Stage join, leave or remove, look at
   * the plan, commit it; one change is in progress at a time.
   */
  Admin(argument: _kv_v1_AdminRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_AdminResponse__Output>): grpc.ClientUnaryCall;
  Admin(argument: _kv_v1_AdminRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_AdminResponse__Output>): grpc.ClientUnaryCall;
  Admin(argument: _kv_v1_AdminRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_AdminResponse__Output>): grpc.ClientUnaryCall;
  Admin(argument: _kv_v1_AdminRequest, callback: grpc.requestCallback<_kv_v1_AdminResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Membership changes (Riak's plan/commit), served by the claimant only: another node answers
   * FAILED_PRECONDITION naming the claimant and its address. Stage join, leave or remove, look at
   * the plan, commit it; one change is in progress at a time.
   */
  admin(argument: _kv_v1_AdminRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_AdminResponse__Output>): grpc.ClientUnaryCall;
  admin(argument: _kv_v1_AdminRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_AdminResponse__Output>): grpc.ClientUnaryCall;
  admin(argument: _kv_v1_AdminRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_AdminResponse__Output>): grpc.ClientUnaryCall;
  admin(argument: _kv_v1_AdminRequest, callback: grpc.requestCallback<_kv_v1_AdminResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * High-throughput API: one long-lived stream of operations; each response carries the id of
   * its request and may arrive out of order. Errors are per operation, never fail the stream.
   */
  Batch(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_kv_v1_BatchRequest, _kv_v1_BatchResponse__Output>;
  Batch(options?: grpc.CallOptions): grpc.ClientDuplexStream<_kv_v1_BatchRequest, _kv_v1_BatchResponse__Output>;
  /**
   * High-throughput API: one long-lived stream of operations; each response carries the id of
   * its request and may arrive out of order. Errors are per operation, never fail the stream.
   */
  batch(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_kv_v1_BatchRequest, _kv_v1_BatchResponse__Output>;
  batch(options?: grpc.CallOptions): grpc.ClientDuplexStream<_kv_v1_BatchRequest, _kv_v1_BatchResponse__Output>;
  
  /**
   * Deletes a key by writing a tombstone, which is versioned and merged like a value.
   */
  Delete(argument: _kv_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _kv_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _kv_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  Delete(argument: _kv_v1_DeleteRequest, callback: grpc.requestCallback<_kv_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Deletes a key by writing a tombstone, which is versioned and merged like a value.
   */
  delete(argument: _kv_v1_DeleteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _kv_v1_DeleteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _kv_v1_DeleteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  delete(argument: _kv_v1_DeleteRequest, callback: grpc.requestCallback<_kv_v1_DeleteResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Reads a key from R replicas and returns every concurrent value (siblings) and one context.
   */
  Get(argument: _kv_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _kv_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _kv_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _kv_v1_GetRequest, callback: grpc.requestCallback<_kv_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Reads a key from R replicas and returns every concurrent value (siblings) and one context.
   */
  get(argument: _kv_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _kv_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _kv_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _kv_v1_GetRequest, callback: grpc.requestCallback<_kv_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * An operator's view of one key: what each primary stores and what every other node holds for
   * it as hints, with siblings, dots, clocks and tombstones, straight from each replica (no quorum,
   * no merge, no repair).
   */
  Inspect(argument: _kv_v1_InspectRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  Inspect(argument: _kv_v1_InspectRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  Inspect(argument: _kv_v1_InspectRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  Inspect(argument: _kv_v1_InspectRequest, callback: grpc.requestCallback<_kv_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  /**
   * An operator's view of one key: what each primary stores and what every other node holds for
   * it as hints, with siblings, dots, clocks and tombstones, straight from each replica (no quorum,
   * no merge, no repair).
   */
  inspect(argument: _kv_v1_InspectRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  inspect(argument: _kv_v1_InspectRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  inspect(argument: _kv_v1_InspectRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  inspect(argument: _kv_v1_InspectRequest, callback: grpc.requestCallback<_kv_v1_InspectResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Writes a value. With the context of the get it is based on, the value replaces what that get
   * returned; without a context on an existing key it is added as a sibling (never overwrites).
   */
  Put(argument: _kv_v1_PutRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  Put(argument: _kv_v1_PutRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  Put(argument: _kv_v1_PutRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  Put(argument: _kv_v1_PutRequest, callback: grpc.requestCallback<_kv_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Writes a value. With the context of the get it is based on, the value replaces what that get
   * returned; without a context on an existing key it is added as a sibling (never overwrites).
   */
  put(argument: _kv_v1_PutRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  put(argument: _kv_v1_PutRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  put(argument: _kv_v1_PutRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  put(argument: _kv_v1_PutRequest, callback: grpc.requestCallback<_kv_v1_PutResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Membership, partitions owned and reachability as this node sees them.
   */
  Status(argument: _kv_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _kv_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _kv_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  Status(argument: _kv_v1_StatusRequest, callback: grpc.requestCallback<_kv_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Membership, partitions owned and reachability as this node sees them.
   */
  status(argument: _kv_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _kv_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _kv_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  status(argument: _kv_v1_StatusRequest, callback: grpc.requestCallback<_kv_v1_StatusResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface KVHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Membership changes (Riak's plan/commit), served by the claimant only: another node answers
   * FAILED_PRECONDITION naming the claimant and its address. Stage join, leave or remove, look at
   * the plan, commit it; one change is in progress at a time.
   */
  Admin: grpc.handleUnaryCall<_kv_v1_AdminRequest__Output, _kv_v1_AdminResponse>;
  
  /**
   * High-throughput API: one long-lived stream of operations; each response carries the id of
   * its request and may arrive out of order. Errors are per operation, never fail the stream.
   */
  Batch: grpc.handleBidiStreamingCall<_kv_v1_BatchRequest__Output, _kv_v1_BatchResponse>;
  
  /**
   * Deletes a key by writing a tombstone, which is versioned and merged like a value.
   */
  Delete: grpc.handleUnaryCall<_kv_v1_DeleteRequest__Output, _kv_v1_DeleteResponse>;
  
  /**
   * Reads a key from R replicas and returns every concurrent value (siblings) and one context.
   */
  Get: grpc.handleUnaryCall<_kv_v1_GetRequest__Output, _kv_v1_GetResponse>;
  
  /**
   * An operator's view of one key: what each primary stores and what every other node holds for
   * it as hints, with siblings, dots, clocks and tombstones, straight from each replica (no quorum,
   * no merge, no repair).
   */
  Inspect: grpc.handleUnaryCall<_kv_v1_InspectRequest__Output, _kv_v1_InspectResponse>;
  
  /**
   * Writes a value. With the context of the get it is based on, the value replaces what that get
   * returned; without a context on an existing key it is added as a sibling (never overwrites).
   */
  Put: grpc.handleUnaryCall<_kv_v1_PutRequest__Output, _kv_v1_PutResponse>;
  
  /**
   * Membership, partitions owned and reachability as this node sees them.
   */
  Status: grpc.handleUnaryCall<_kv_v1_StatusRequest__Output, _kv_v1_StatusResponse>;
  
}

export interface KVDefinition extends grpc.ServiceDefinition {
  Admin: MethodDefinition<_kv_v1_AdminRequest, _kv_v1_AdminResponse, _kv_v1_AdminRequest__Output, _kv_v1_AdminResponse__Output>
  Batch: MethodDefinition<_kv_v1_BatchRequest, _kv_v1_BatchResponse, _kv_v1_BatchRequest__Output, _kv_v1_BatchResponse__Output>
  Delete: MethodDefinition<_kv_v1_DeleteRequest, _kv_v1_DeleteResponse, _kv_v1_DeleteRequest__Output, _kv_v1_DeleteResponse__Output>
  Get: MethodDefinition<_kv_v1_GetRequest, _kv_v1_GetResponse, _kv_v1_GetRequest__Output, _kv_v1_GetResponse__Output>
  Inspect: MethodDefinition<_kv_v1_InspectRequest, _kv_v1_InspectResponse, _kv_v1_InspectRequest__Output, _kv_v1_InspectResponse__Output>
  Put: MethodDefinition<_kv_v1_PutRequest, _kv_v1_PutResponse, _kv_v1_PutRequest__Output, _kv_v1_PutResponse__Output>
  Status: MethodDefinition<_kv_v1_StatusRequest, _kv_v1_StatusResponse, _kv_v1_StatusRequest__Output, _kv_v1_StatusResponse__Output>
}

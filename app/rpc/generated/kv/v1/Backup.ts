// Original file: app/rpc/proto/kv/v1/backup.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { RestoreRequest as _kv_v1_RestoreRequest, RestoreRequest__Output as _kv_v1_RestoreRequest__Output } from '../../kv/v1/RestoreRequest';
import type { RestoreResponse as _kv_v1_RestoreResponse, RestoreResponse__Output as _kv_v1_RestoreResponse__Output } from '../../kv/v1/RestoreResponse';
import type { SnapshotChunk as _kv_v1_SnapshotChunk, SnapshotChunk__Output as _kv_v1_SnapshotChunk__Output } from '../../kv/v1/SnapshotChunk';
import type { SnapshotRequest as _kv_v1_SnapshotRequest, SnapshotRequest__Output as _kv_v1_SnapshotRequest__Output } from '../../kv/v1/SnapshotRequest';

/**
 * Backup and restore, for operators and their jobs (kv backup, kv restore).
 * 
 * Errors are gRPC statuses:
 * RESOURCE_EXHAUSTED   a snapshot of this node is already being taken (one at a time), restore
 * requests in flight are at their bound, or the disk has no room for the copy.
 * INVALID_ARGUMENT     a restore request breaks a bound (objects per request, w); the message
 * names it, and nothing was written. An object with a bad key or one that
 * does not decode is reported in RestoreResponse.failed, never written.
 * FAILED_PRECONDITION  the node stores its data in memory (nothing to snapshot), or is not a
 * member of a cluster yet.
 */
export interface BackupClient extends grpc.Client {
  /**
   * Merges restored objects into the cluster through the write path: each goes to the primaries
   * of its key in this cluster's placement, which merge it with what they hold (never overwrite),
   * so siblings, clocks and tombstones survive and any ring layout works. Idempotent.
   */
  Restore(argument: _kv_v1_RestoreRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  Restore(argument: _kv_v1_RestoreRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  Restore(argument: _kv_v1_RestoreRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  Restore(argument: _kv_v1_RestoreRequest, callback: grpc.requestCallback<_kv_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Merges restored objects into the cluster through the write path: each goes to the primaries
   * of its key in this cluster's placement, which merge it with what they hold (never overwrite),
   * so siblings, clocks and tombstones survive and any ring layout works. Idempotent.
   */
  restore(argument: _kv_v1_RestoreRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  restore(argument: _kv_v1_RestoreRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kv_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  restore(argument: _kv_v1_RestoreRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kv_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  restore(argument: _kv_v1_RestoreRequest, callback: grpc.requestCallback<_kv_v1_RestoreResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * A consistent copy of this node's store: LMDB's copy of the environment made inside one read
   * transaction while the node keeps serving, streamed as a header, the file's bytes in order,
   * and a trailer with the file's SHA-256.
   */
  Snapshot(argument: _kv_v1_SnapshotRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kv_v1_SnapshotChunk__Output>;
  Snapshot(argument: _kv_v1_SnapshotRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kv_v1_SnapshotChunk__Output>;
  /**
   * A consistent copy of this node's store: LMDB's copy of the environment made inside one read
   * transaction while the node keeps serving, streamed as a header, the file's bytes in order,
   * and a trailer with the file's SHA-256.
   */
  snapshot(argument: _kv_v1_SnapshotRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kv_v1_SnapshotChunk__Output>;
  snapshot(argument: _kv_v1_SnapshotRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kv_v1_SnapshotChunk__Output>;
  
}

/**
 * Backup and restore, for operators and their jobs (kv backup, kv restore).
 * 
 * Errors are gRPC statuses:
 * RESOURCE_EXHAUSTED   a snapshot of this node is already being taken (one at a time), restore
 * requests in flight are at their bound, or the disk has no room for the copy.
 * INVALID_ARGUMENT     a restore request breaks a bound (objects per request, w); the message
 * names it, and nothing was written. An object with a bad key or one that
 * does not decode is reported in RestoreResponse.failed, never written.
 * FAILED_PRECONDITION  the node stores its data in memory (nothing to snapshot), or is not a
 * member of a cluster yet.
 */
export interface BackupHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Merges restored objects into the cluster through the write path: each goes to the primaries
   * of its key in this cluster's placement, which merge it with what they hold (never overwrite),
   * so siblings, clocks and tombstones survive and any ring layout works. Idempotent.
   */
  Restore: grpc.handleUnaryCall<_kv_v1_RestoreRequest__Output, _kv_v1_RestoreResponse>;
  
  /**
   * A consistent copy of this node's store: LMDB's copy of the environment made inside one read
   * transaction while the node keeps serving, streamed as a header, the file's bytes in order,
   * and a trailer with the file's SHA-256.
   */
  Snapshot: grpc.handleServerStreamingCall<_kv_v1_SnapshotRequest__Output, _kv_v1_SnapshotChunk>;
  
}

export interface BackupDefinition extends grpc.ServiceDefinition {
  Restore: MethodDefinition<_kv_v1_RestoreRequest, _kv_v1_RestoreResponse, _kv_v1_RestoreRequest__Output, _kv_v1_RestoreResponse__Output>
  Snapshot: MethodDefinition<_kv_v1_SnapshotRequest, _kv_v1_SnapshotChunk, _kv_v1_SnapshotRequest__Output, _kv_v1_SnapshotChunk__Output>
}

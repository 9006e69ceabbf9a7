import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { BackupClient as _kv_v1_BackupClient, BackupDefinition as _kv_v1_BackupDefinition } from './kv/v1/Backup';
import type { RestoreFailure as _kv_v1_RestoreFailure, RestoreFailure__Output as _kv_v1_RestoreFailure__Output } from './kv/v1/RestoreFailure';
import type { RestoreObject as _kv_v1_RestoreObject, RestoreObject__Output as _kv_v1_RestoreObject__Output } from './kv/v1/RestoreObject';
import type { RestoreRequest as _kv_v1_RestoreRequest, RestoreRequest__Output as _kv_v1_RestoreRequest__Output } from './kv/v1/RestoreRequest';
import type { RestoreResponse as _kv_v1_RestoreResponse, RestoreResponse__Output as _kv_v1_RestoreResponse__Output } from './kv/v1/RestoreResponse';
import type { SnapshotChunk as _kv_v1_SnapshotChunk, SnapshotChunk__Output as _kv_v1_SnapshotChunk__Output } from './kv/v1/SnapshotChunk';
import type { SnapshotHeader as _kv_v1_SnapshotHeader, SnapshotHeader__Output as _kv_v1_SnapshotHeader__Output } from './kv/v1/SnapshotHeader';
import type { SnapshotRequest as _kv_v1_SnapshotRequest, SnapshotRequest__Output as _kv_v1_SnapshotRequest__Output } from './kv/v1/SnapshotRequest';
import type { SnapshotTrailer as _kv_v1_SnapshotTrailer, SnapshotTrailer__Output as _kv_v1_SnapshotTrailer__Output } from './kv/v1/SnapshotTrailer';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  kv: {
    v1: {
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
      Backup: SubtypeConstructor<typeof grpc.Client, _kv_v1_BackupClient> & { service: _kv_v1_BackupDefinition }
      RestoreFailure: MessageTypeDefinition<_kv_v1_RestoreFailure, _kv_v1_RestoreFailure__Output>
      RestoreObject: MessageTypeDefinition<_kv_v1_RestoreObject, _kv_v1_RestoreObject__Output>
      RestoreRequest: MessageTypeDefinition<_kv_v1_RestoreRequest, _kv_v1_RestoreRequest__Output>
      RestoreResponse: MessageTypeDefinition<_kv_v1_RestoreResponse, _kv_v1_RestoreResponse__Output>
      SnapshotChunk: MessageTypeDefinition<_kv_v1_SnapshotChunk, _kv_v1_SnapshotChunk__Output>
      SnapshotHeader: MessageTypeDefinition<_kv_v1_SnapshotHeader, _kv_v1_SnapshotHeader__Output>
      SnapshotRequest: MessageTypeDefinition<_kv_v1_SnapshotRequest, _kv_v1_SnapshotRequest__Output>
      SnapshotTrailer: MessageTypeDefinition<_kv_v1_SnapshotTrailer, _kv_v1_SnapshotTrailer__Output>
    }
  }
}


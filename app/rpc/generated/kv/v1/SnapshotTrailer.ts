// Original file: app/rpc/proto/kv/v1/backup.proto

import type { Long } from '@grpc/proto-loader';

export interface SnapshotTrailer {
  'bytes'?: (number | string | Long);
  /**
   * SHA-256 of the file's bytes, lowercase hex.
   */
  'sha256'?: (string);
}

export interface SnapshotTrailer__Output {
  'bytes': (number);
  /**
   * SHA-256 of the file's bytes, lowercase hex.
   */
  'sha256': (string);
}

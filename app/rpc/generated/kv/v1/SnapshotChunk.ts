// Original file: app/rpc/proto/kv/v1/backup.proto

import type { SnapshotHeader as _kv_v1_SnapshotHeader, SnapshotHeader__Output as _kv_v1_SnapshotHeader__Output } from '../../kv/v1/SnapshotHeader';
import type { SnapshotTrailer as _kv_v1_SnapshotTrailer, SnapshotTrailer__Output as _kv_v1_SnapshotTrailer__Output } from '../../kv/v1/SnapshotTrailer';

export interface SnapshotChunk {
  'header'?: (_kv_v1_SnapshotHeader | null);
  /**
   * The next bytes of the copy (at most 1 MiB each).
   */
  'data'?: (Buffer | Uint8Array | string);
  'trailer'?: (_kv_v1_SnapshotTrailer | null);
  'part'?: "header"|"data"|"trailer";
}

export interface SnapshotChunk__Output {
  'header'?: (_kv_v1_SnapshotHeader__Output | null);
  /**
   * The next bytes of the copy (at most 1 MiB each).
   */
  'data'?: (Buffer);
  'trailer'?: (_kv_v1_SnapshotTrailer__Output | null);
  'part'?: "header"|"data"|"trailer";
}

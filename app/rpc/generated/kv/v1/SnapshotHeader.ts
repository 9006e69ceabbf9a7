// Original file: app/rpc/proto/kv/v1/backup.proto

import type { Long } from '@grpc/proto-loader';

export interface SnapshotHeader {
  'nodeId'?: (string);
  /**
   * The actor id the node writes with (its epoch).
   */
  'actor'?: (string);
  /**
   * Ring partitions and replication factor of the cluster.
   */
  'partitions'?: (number);
  'n'?: (number);
  /**
   * The cluster state's version when the copy was taken.
   */
  'stateVersion'?: (number | string | Long);
  /**
   * Partitions this node is a primary of.
   */
  'primaryPartitions'?: (number)[];
  /**
   * The file format: "lmdb-env-copy/1" (data.mdb of the store, sub-databases data, hints, meta).
   */
  'format'?: (string);
  /**
   * Milliseconds since the epoch when the copy was taken.
   */
  'takenAtMs'?: (number | string | Long);
  /**
   * Size of the copy: the data chunks add up to this.
   */
  'bytes'?: (number | string | Long);
}

export interface SnapshotHeader__Output {
  'nodeId': (string);
  /**
   * The actor id the node writes with (its epoch).
   */
  'actor': (string);
  /**
   * Ring partitions and replication factor of the cluster.
   */
  'partitions': (number);
  'n': (number);
  /**
   * The cluster state's version when the copy was taken.
   */
  'stateVersion': (number);
  /**
   * Partitions this node is a primary of.
   */
  'primaryPartitions': (number)[];
  /**
   * The file format: "lmdb-env-copy/1" (data.mdb of the store, sub-databases data, hints, meta).
   */
  'format': (string);
  /**
   * Milliseconds since the epoch when the copy was taken.
   */
  'takenAtMs': (number);
  /**
   * Size of the copy: the data chunks add up to this.
   */
  'bytes': (number);
}

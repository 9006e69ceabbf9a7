// Original file: app/rpc/proto/kv/v1/peer.proto


export interface FoldPartitionResult {
  'keys'?: (Buffer | Uint8Array | string)[];
  /**
   * The stored object of each key.
   */
  'objects'?: (Buffer | Uint8Array | string)[];
  /**
   * True when the fold reached the end of the partition.
   */
  'done'?: (boolean);
}

export interface FoldPartitionResult__Output {
  'keys': (Buffer)[];
  /**
   * The stored object of each key.
   */
  'objects': (Buffer)[];
  /**
   * True when the fold reached the end of the partition.
   */
  'done': (boolean);
}

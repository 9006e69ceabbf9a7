// Original file: app/rpc/proto/kv/v1/peer.proto


export interface AeTreeResult {
  /**
   * False while the callee is still building its tree for the partition (after a start).
   */
  'ready'?: (boolean);
  /**
   * The segment hashes, 16 bytes each, in segment order.
   */
  'segments'?: (Buffer | Uint8Array | string);
}

export interface AeTreeResult__Output {
  /**
   * False while the callee is still building its tree for the partition (after a start).
   */
  'ready': (boolean);
  /**
   * The segment hashes, 16 bytes each, in segment order.
   */
  'segments': (Buffer);
}

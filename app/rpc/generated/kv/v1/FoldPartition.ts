// Original file: app/rpc/proto/kv/v1/peer.proto


export interface FoldPartition {
  'partition'?: (number);
  /**
   * Objects after this key (empty: from the start).
   */
  'after'?: (Buffer | Uint8Array | string);
  /**
   * Objects at most (the callee also bounds the answer's bytes).
   */
  'limit'?: (number);
}

export interface FoldPartition__Output {
  'partition': (number);
  /**
   * Objects after this key (empty: from the start).
   */
  'after': (Buffer);
  /**
   * Objects at most (the callee also bounds the answer's bytes).
   */
  'limit': (number);
}

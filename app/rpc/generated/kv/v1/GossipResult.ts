// Original file: app/rpc/proto/kv/v1/peer.proto


export interface GossipResult {
  /**
   * The callee's state when it is newer than the sender's, else empty.
   */
  'state'?: (string);
}

export interface GossipResult__Output {
  /**
   * The callee's state when it is newer than the sender's, else empty.
   */
  'state': (string);
}

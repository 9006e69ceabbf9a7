// Original file: app/rpc/proto/kv/v1/peer.proto


export interface Gossip {
  /**
   * The sender's cluster state (JSON, see app/membership/state-codec.ts).
   */
  'state'?: (string);
}

export interface Gossip__Output {
  /**
   * The sender's cluster state (JSON, see app/membership/state-codec.ts).
   */
  'state': (string);
}

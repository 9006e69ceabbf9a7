// Original file: app/rpc/proto/kv/v1/peer.proto


export interface AeKeys {
  'partition'?: (number);
  'segments'?: (number)[];
  /**
   * Most keys to return; the answer says when there were more.
   */
  'limit'?: (number);
}

export interface AeKeys__Output {
  'partition': (number);
  'segments': (number)[];
  /**
   * Most keys to return; the answer says when there were more.
   */
  'limit': (number);
}

// Original file: app/rpc/proto/kv/v1/peer.proto


export interface AeKeysResult {
  'keys'?: (Buffer | Uint8Array | string)[];
  /**
   * 16 bytes for each key: the hash of the key and its stored object.
   */
  'hashes'?: (Buffer | Uint8Array | string)[];
  /**
   * True when the segments held more than `limit` keys.
   */
  'truncated'?: (boolean);
}

export interface AeKeysResult__Output {
  'keys': (Buffer)[];
  /**
   * 16 bytes for each key: the hash of the key and its stored object.
   */
  'hashes': (Buffer)[];
  /**
   * True when the segments held more than `limit` keys.
   */
  'truncated': (boolean);
}

// Original file: app/rpc/proto/kv/v1/peer.proto


export interface Replicate {
  'partition'?: (number);
  'key'?: (Buffer | Uint8Array | string);
  /**
   * An encoded versioned object (vector and siblings).
   */
  'object'?: (Buffer | Uint8Array | string);
}

export interface Replicate__Output {
  'partition': (number);
  'key': (Buffer);
  /**
   * An encoded versioned object (vector and siblings).
   */
  'object': (Buffer);
}

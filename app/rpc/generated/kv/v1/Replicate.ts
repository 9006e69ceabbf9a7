// Original file: app/rpc/proto/kv/v1/peer.proto


export interface Replicate {
  'partition'?: (number);
  'key'?: (Buffer | Uint8Array | string);
  /**
   * An encoded versioned object (vector and siblings).
   */
  'object'?: (Buffer | Uint8Array | string);
  /**
   * Set when the callee is a fallback standing in for this primary (sloppy quorum): store the
   * object durably as a hint for it, apart from the callee's own data, and hand it off later.
   */
  'hintFor'?: (string);
}

export interface Replicate__Output {
  'partition': (number);
  'key': (Buffer);
  /**
   * An encoded versioned object (vector and siblings).
   */
  'object': (Buffer);
  /**
   * Set when the callee is a fallback standing in for this primary (sloppy quorum): store the
   * object durably as a hint for it, apart from the callee's own data, and hand it off later.
   */
  'hintFor': (string);
}

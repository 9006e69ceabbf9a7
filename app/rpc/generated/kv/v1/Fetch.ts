// Original file: app/rpc/proto/kv/v1/peer.proto


export interface Fetch {
  'partition'?: (number);
  'key'?: (Buffer | Uint8Array | string);
  /**
   * Set when the callee is asked as a fallback: answer from the hint it holds for this primary.
   */
  'hintFor'?: (string);
}

export interface Fetch__Output {
  'partition': (number);
  'key': (Buffer);
  /**
   * Set when the callee is asked as a fallback: answer from the hint it holds for this primary.
   */
  'hintFor': (string);
}

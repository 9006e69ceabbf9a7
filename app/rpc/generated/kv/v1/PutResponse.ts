// Original file: app/rpc/proto/kv/v1/kv.proto


export interface PutResponse {
  /**
   * The context of the object after this write (covers the write itself).
   */
  'context'?: (Buffer | Uint8Array | string);
  /**
   * How many siblings the key holds on the coordinator after the write.
   */
  'siblings'?: (number);
}

export interface PutResponse__Output {
  /**
   * The context of the object after this write (covers the write itself).
   */
  'context': (Buffer);
  /**
   * How many siblings the key holds on the coordinator after the write.
   */
  'siblings': (number);
}

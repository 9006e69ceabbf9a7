// Original file: app/rpc/proto/kv/v1/kv.proto


export interface DeleteResponse {
  /**
   * The context of the object after this delete (covers the delete itself).
   */
  'context'?: (Buffer | Uint8Array | string);
  /**
   * Live values the key still holds on the coordinator after the delete: values the delete's
   * context did not cover (written concurrently with the read it was based on). 0 when the key
   * now reads as deleted.
   */
  'siblings'?: (number);
}

export interface DeleteResponse__Output {
  /**
   * The context of the object after this delete (covers the delete itself).
   */
  'context': (Buffer);
  /**
   * Live values the key still holds on the coordinator after the delete: values the delete's
   * context did not cover (written concurrently with the read it was based on). 0 when the key
   * now reads as deleted.
   */
  'siblings': (number);
}

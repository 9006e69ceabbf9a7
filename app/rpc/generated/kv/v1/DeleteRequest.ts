// Original file: app/rpc/proto/kv/v1/kv.proto


export interface DeleteRequest {
  'key'?: (Buffer | Uint8Array | string);
  /**
   * The context from the get this delete is based on; a delete without one leaves concurrent
   * values as siblings of the tombstone.
   */
  'context'?: (Buffer | Uint8Array | string);
  'w'?: (number);
  'timeoutMs'?: (number);
  /**
   * As in PutRequest.
   */
  'pw'?: (number);
}

export interface DeleteRequest__Output {
  'key': (Buffer);
  /**
   * The context from the get this delete is based on; a delete without one leaves concurrent
   * values as siblings of the tombstone.
   */
  'context': (Buffer);
  'w': (number);
  'timeoutMs': (number);
  /**
   * As in PutRequest.
   */
  'pw': (number);
}

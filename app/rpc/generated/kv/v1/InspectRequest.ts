// Original file: app/rpc/proto/kv/v1/kv.proto


export interface InspectRequest {
  'key'?: (Buffer | Uint8Array | string);
  /**
   * Time budget in milliseconds when the call carries no gRPC deadline; 0: the node's default.
   * At most 2147483647 (2^31-1, the longest timer Node keeps); more is INVALID_ARGUMENT.
   */
  'timeoutMs'?: (number);
}

export interface InspectRequest__Output {
  'key': (Buffer);
  /**
   * Time budget in milliseconds when the call carries no gRPC deadline; 0: the node's default.
   * At most 2147483647 (2^31-1, the longest timer Node keeps); more is INVALID_ARGUMENT.
   */
  'timeoutMs': (number);
}

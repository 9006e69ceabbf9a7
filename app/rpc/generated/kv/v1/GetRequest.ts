// Original file: app/rpc/proto/kv/v1/kv.proto


export interface GetRequest {
  /**
   * The key: 1 to key_bytes_max bytes (default 1024).
   */
  'key'?: (Buffer | Uint8Array | string);
  /**
   * Read quorum for this request, 1..N; 0 means the cluster's R.
   */
  'r'?: (number);
  /**
   * Time budget in milliseconds when the call carries no gRPC deadline (batch operations);
   * 0 means the node's default request timeout. At most 2147483647 (2^31-1, the longest timer
   * Node keeps); more is INVALID_ARGUMENT, even on a call with a deadline.
   */
  'timeoutMs'?: (number);
  /**
   * Of the R replies, how many must come from primaries (not fallbacks), 0..R; default 0.
   */
  'pr'?: (number);
}

export interface GetRequest__Output {
  /**
   * The key: 1 to key_bytes_max bytes (default 1024).
   */
  'key': (Buffer);
  /**
   * Read quorum for this request, 1..N; 0 means the cluster's R.
   */
  'r': (number);
  /**
   * Time budget in milliseconds when the call carries no gRPC deadline (batch operations);
   * 0 means the node's default request timeout. At most 2147483647 (2^31-1, the longest timer
   * Node keeps); more is INVALID_ARGUMENT, even on a call with a deadline.
   */
  'timeoutMs': (number);
  /**
   * Of the R replies, how many must come from primaries (not fallbacks), 0..R; default 0.
   */
  'pr': (number);
}

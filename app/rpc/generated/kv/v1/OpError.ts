// Original file: app/rpc/proto/kv/v1/kv.proto


/**
 * A per-operation failure inside a stream.
 */
export interface OpError {
  /**
   * A gRPC status code (google.rpc.Code), as the unary call would return.
   */
  'code'?: (number);
  'message'?: (string);
}

/**
 * A per-operation failure inside a stream.
 */
export interface OpError__Output {
  /**
   * A gRPC status code (google.rpc.Code), as the unary call would return.
   */
  'code': (number);
  'message': (string);
}

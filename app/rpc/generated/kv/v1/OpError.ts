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
  /**
   * For a failed put or delete: true when the write may have reached some replicas (fewer than
   * W acknowledged, or the deadline passed), so it may still become visible. A client must not
   * blindly resend such a write to another node: that would add a duplicate sibling. Unary calls
   * carry the same flag as the trailer `kv-write-may-have-applied: true`.
   */
  'writeMayHaveApplied'?: (boolean);
  /**
   * The store's name for the condition (InsufficientReplicas, ShuttingDown ...), so that one node
   * can tell another's conditions apart where the status code is shared.
   */
  'condition'?: (string);
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
  /**
   * For a failed put or delete: true when the write may have reached some replicas (fewer than
   * W acknowledged, or the deadline passed), so it may still become visible. A client must not
   * blindly resend such a write to another node: that would add a duplicate sibling. Unary calls
   * carry the same flag as the trailer `kv-write-may-have-applied: true`.
   */
  'writeMayHaveApplied': (boolean);
  /**
   * The store's name for the condition (InsufficientReplicas, ShuttingDown ...), so that one node
   * can tell another's conditions apart where the status code is shared.
   */
  'condition': (string);
}

// Original file: app/rpc/proto/kv/v1/kv.proto


export interface PutRequest {
  /**
   * The key: 1 to key_bytes_max bytes (default 1024).
   */
  'key'?: (Buffer | Uint8Array | string);
  /**
   * The value: 0 to value_bytes_max bytes (default 1 MiB).
   */
  'value'?: (Buffer | Uint8Array | string);
  /**
   * The context from the get this write is based on; empty for a blind write.
   */
  'context'?: (Buffer | Uint8Array | string);
  /**
   * Write quorum for this request, 1..N; 0 means the cluster's W. Acknowledgements of fallbacks
   * that store the write as a hint for a down primary count (sloppy quorum).
   */
  'w'?: (number);
  /**
   * As in GetRequest.
   */
  'timeoutMs'?: (number);
  /**
   * Of the W acknowledgements, how many must come from primaries, 0..W; default 0.
   */
  'pw'?: (number);
}

export interface PutRequest__Output {
  /**
   * The key: 1 to key_bytes_max bytes (default 1024).
   */
  'key': (Buffer);
  /**
   * The value: 0 to value_bytes_max bytes (default 1 MiB).
   */
  'value': (Buffer);
  /**
   * The context from the get this write is based on; empty for a blind write.
   */
  'context': (Buffer);
  /**
   * Write quorum for this request, 1..N; 0 means the cluster's W. Acknowledgements of fallbacks
   * that store the write as a hint for a down primary count (sloppy quorum).
   */
  'w': (number);
  /**
   * As in GetRequest.
   */
  'timeoutMs': (number);
  /**
   * Of the W acknowledgements, how many must come from primaries, 0..W; default 0.
   */
  'pw': (number);
}

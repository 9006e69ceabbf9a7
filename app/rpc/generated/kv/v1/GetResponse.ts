// Original file: app/rpc/proto/kv/v1/kv.proto


export interface GetResponse {
  /**
   * True when at least one live value exists.
   */
  'found'?: (boolean);
  /**
   * Every concurrent value (siblings), in a stable order. Empty when not found.
   */
  'values'?: (Buffer | Uint8Array | string)[];
  /**
   * Opaque causal context: pass it to the put or delete based on this read. Present even when
   * the key was deleted, so that a later write supersedes the tombstone.
   */
  'context'?: (Buffer | Uint8Array | string);
  /**
   * True when the key exists only as tombstones.
   */
  'deleted'?: (boolean);
}

export interface GetResponse__Output {
  /**
   * True when at least one live value exists.
   */
  'found': (boolean);
  /**
   * Every concurrent value (siblings), in a stable order. Empty when not found.
   */
  'values': (Buffer)[];
  /**
   * Opaque causal context: pass it to the put or delete based on this read. Present even when
   * the key was deleted, so that a later write supersedes the tombstone.
   */
  'context': (Buffer);
  /**
   * True when the key exists only as tombstones.
   */
  'deleted': (boolean);
}

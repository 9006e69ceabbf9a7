// Original file: app/rpc/proto/kv/v1/peer.proto


export interface ReapResult {
  /**
   * False when the callee stores something else for the key (a newer write): nothing was removed.
   */
  'reaped'?: (boolean);
}

export interface ReapResult__Output {
  /**
   * False when the callee stores something else for the key (a newer write): nothing was removed.
   */
  'reaped': (boolean);
}

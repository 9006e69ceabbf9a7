// Original file: app/rpc/proto/kv/v1/peer.proto


export interface Pong {
  /**
   * The id of the callee's data directory.
   */
  'dataId'?: (string);
  /**
   * The data directory id the callee knew for the sender before this ping ("" when none). A
   * sender whose directory is new, told of an earlier one, lost its data: its "not found"
   * answers do not count until anti-entropy has synced it.
   */
  'knewDataId'?: (string);
}

export interface Pong__Output {
  /**
   * The id of the callee's data directory.
   */
  'dataId': (string);
  /**
   * The data directory id the callee knew for the sender before this ping ("" when none). A
   * sender whose directory is new, told of an earlier one, lost its data: its "not found"
   * answers do not count until anti-entropy has synced it.
   */
  'knewDataId': (string);
}

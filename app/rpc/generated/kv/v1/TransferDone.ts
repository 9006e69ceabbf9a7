// Original file: app/rpc/proto/kv/v1/peer.proto


export interface TransferDone {
  'partition'?: (number);
  /**
   * The member that received it.
   */
  'to'?: (string);
}

export interface TransferDone__Output {
  'partition': (number);
  /**
   * The member that received it.
   */
  'to': (string);
}

// Original file: app/rpc/proto/kv/v1/peer.proto


export interface Ping {
  /**
   * The id of the sender's data directory (a new one when the directory started empty).
   */
  'dataId'?: (string);
}

export interface Ping__Output {
  /**
   * The id of the sender's data directory (a new one when the directory started empty).
   */
  'dataId': (string);
}

// Original file: app/rpc/proto/kv/v1/peer.proto


export interface HintCheckResult {
  'held'?: (boolean);
}

export interface HintCheckResult__Output {
  'held': (boolean);
}

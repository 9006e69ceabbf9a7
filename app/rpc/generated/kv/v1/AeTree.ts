// Original file: app/rpc/proto/kv/v1/peer.proto


export interface AeTree {
  'partition'?: (number);
}

export interface AeTree__Output {
  'partition': (number);
}

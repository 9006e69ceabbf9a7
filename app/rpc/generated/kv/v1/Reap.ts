// Original file: app/rpc/proto/kv/v1/peer.proto


export interface Reap {
  'partition'?: (number);
  'key'?: (Buffer | Uint8Array | string);
  'object'?: (Buffer | Uint8Array | string);
}

export interface Reap__Output {
  'partition': (number);
  'key': (Buffer);
  'object': (Buffer);
}

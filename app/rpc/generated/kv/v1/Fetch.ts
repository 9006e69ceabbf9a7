// Original file: app/rpc/proto/kv/v1/peer.proto


export interface Fetch {
  'partition'?: (number);
  'key'?: (Buffer | Uint8Array | string);
}

export interface Fetch__Output {
  'partition': (number);
  'key': (Buffer);
}

// Original file: app/rpc/proto/kv/v1/peer.proto


export interface HintCheck {
  'partition'?: (number);
  'key'?: (Buffer | Uint8Array | string);
}

export interface HintCheck__Output {
  'partition': (number);
  'key': (Buffer);
}

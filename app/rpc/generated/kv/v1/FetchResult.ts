// Original file: app/rpc/proto/kv/v1/peer.proto


export interface FetchResult {
  'found'?: (boolean);
  'object'?: (Buffer | Uint8Array | string);
}

export interface FetchResult__Output {
  'found': (boolean);
  'object': (Buffer);
}

// Original file: app/rpc/proto/kv/v1/kv.proto


export interface DeleteResponse {
  'context'?: (Buffer | Uint8Array | string);
}

export interface DeleteResponse__Output {
  'context': (Buffer);
}

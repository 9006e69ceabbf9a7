// Original file: app/rpc/proto/kv/v1/backup.proto


export interface RestoreFailure {
  'key'?: (Buffer | Uint8Array | string);
  'reason'?: (string);
}

export interface RestoreFailure__Output {
  'key': (Buffer);
  'reason': (string);
}

// Original file: app/rpc/proto/kv/v1/kv.proto

import type { Long } from '@grpc/proto-loader';

export interface SiblingState {
  'actor'?: (string);
  'counter'?: (number | string | Long);
  'tombstone'?: (boolean);
  'value'?: (Buffer | Uint8Array | string);
  'writtenAtMs'?: (number | string | Long);
}

export interface SiblingState__Output {
  'actor': (string);
  'counter': (number);
  'tombstone': (boolean);
  'value': (Buffer);
  'writtenAtMs': (number);
}

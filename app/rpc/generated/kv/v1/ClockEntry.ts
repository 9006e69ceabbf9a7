// Original file: app/rpc/proto/kv/v1/kv.proto

import type { Long } from '@grpc/proto-loader';

export interface ClockEntry {
  'actor'?: (string);
  'counter'?: (number | string | Long);
}

export interface ClockEntry__Output {
  'actor': (string);
  'counter': (number);
}

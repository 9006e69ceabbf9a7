// Original file: app/rpc/proto/kv/v1/kv.proto

import type { Long } from '@grpc/proto-loader';

export interface Member {
  'id'?: (string);
  'address'?: (string);
  /**
   * Whether this node currently has a working peer stream to the member (always true for itself).
   */
  'reachable'?: (boolean);
  /**
   * Partitions whose ring owner is this member.
   */
  'partitionsOwned'?: (number);
  /**
   * Partitions for which this member is one of the N primaries.
   */
  'partitionsReplicated'?: (number);
  'self'?: (boolean);
  /**
   * Whether this node's failure detector suspects the member: its connection is open but nothing
   * came back from it for longer than peer_suspect_ms (a frozen process).
   */
  'suspected'?: (boolean);
  /**
   * Hints this node holds for the member (writes it accepted as a fallback while the member was
   * down), their bytes, and the age of the oldest, in milliseconds (0 when none).
   */
  'hintsPending'?: (number | string | Long);
  'hintBytes'?: (number | string | Long);
  'oldestHintAgeMs'?: (number | string | Long);
  /**
   * joining, valid or leaving (see Admin).
   */
  'status'?: (string);
  'zone'?: (string);
}

export interface Member__Output {
  'id': (string);
  'address': (string);
  /**
   * Whether this node currently has a working peer stream to the member (always true for itself).
   */
  'reachable': (boolean);
  /**
   * Partitions whose ring owner is this member.
   */
  'partitionsOwned': (number);
  /**
   * Partitions for which this member is one of the N primaries.
   */
  'partitionsReplicated': (number);
  'self': (boolean);
  /**
   * Whether this node's failure detector suspects the member: its connection is open but nothing
   * came back from it for longer than peer_suspect_ms (a frozen process).
   */
  'suspected': (boolean);
  /**
   * Hints this node holds for the member (writes it accepted as a fallback while the member was
   * down), their bytes, and the age of the oldest, in milliseconds (0 when none).
   */
  'hintsPending': (number);
  'hintBytes': (number);
  'oldestHintAgeMs': (number);
  /**
   * joining, valid or leaving (see Admin).
   */
  'status': (string);
  'zone': (string);
}

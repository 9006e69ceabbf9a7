// Original file: app/rpc/proto/kv/v1/kv.proto


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
}

// Original file: app/rpc/proto/kv/v1/kv.proto


export interface PartitionPrimaries {
  'members'?: (string)[];
}

export interface PartitionPrimaries__Output {
  'members': (string)[];
}

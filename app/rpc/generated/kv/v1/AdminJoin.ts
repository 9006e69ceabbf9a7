// Original file: app/rpc/proto/kv/v1/kv.proto


export interface AdminJoin {
  'id'?: (string);
  'address'?: (string);
  'zone'?: (string);
}

export interface AdminJoin__Output {
  'id': (string);
  'address': (string);
  'zone': (string);
}

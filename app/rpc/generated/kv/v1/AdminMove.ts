// Original file: app/rpc/proto/kv/v1/kv.proto


export interface AdminMove {
  'partition'?: (number);
  'to'?: (string);
}

export interface AdminMove__Output {
  'partition': (number);
  'to': (string);
}

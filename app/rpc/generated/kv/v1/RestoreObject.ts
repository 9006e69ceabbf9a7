// Original file: app/rpc/proto/kv/v1/backup.proto


export interface RestoreObject {
  'key'?: (Buffer | Uint8Array | string);
  /**
   * The stored object, encoded as the nodes store it (siblings, dots, clock).
   */
  'object'?: (Buffer | Uint8Array | string);
}

export interface RestoreObject__Output {
  'key': (Buffer);
  /**
   * The stored object, encoded as the nodes store it (siblings, dots, clock).
   */
  'object': (Buffer);
}

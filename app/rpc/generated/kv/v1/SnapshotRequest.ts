// Original file: app/rpc/proto/kv/v1/backup.proto


export interface SnapshotRequest {
}

export interface SnapshotRequest__Output {
}

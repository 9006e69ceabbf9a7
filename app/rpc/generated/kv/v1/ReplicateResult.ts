// Original file: app/rpc/proto/kv/v1/peer.proto


export interface ReplicateResult {
}

export interface ReplicateResult__Output {
}

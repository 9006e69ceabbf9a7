// Original file: app/rpc/proto/kv/v1/peer.proto


export interface TransferDoneResult {
}

export interface TransferDoneResult__Output {
}

// Original file: app/rpc/proto/kv/v1/peer.proto


export interface Ping {
}

export interface Ping__Output {
}

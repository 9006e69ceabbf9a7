// Original file: app/rpc/proto/kv/v1/peer.proto


export interface Pong {
}

export interface Pong__Output {
}

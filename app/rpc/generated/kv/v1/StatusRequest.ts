// Original file: app/rpc/proto/kv/v1/kv.proto


export interface StatusRequest {
}

export interface StatusRequest__Output {
}

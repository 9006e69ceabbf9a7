// Original file: app/rpc/proto/kv/v1/kv.proto


export interface AdminShow {
}

export interface AdminShow__Output {
}

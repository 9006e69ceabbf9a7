// Original file: app/rpc/proto/kv/v1/peer.proto

import type { PeerRequest as _kv_v1_PeerRequest, PeerRequest__Output as _kv_v1_PeerRequest__Output } from '../../kv/v1/PeerRequest';

export interface PeerRequests {
  'requests'?: (_kv_v1_PeerRequest)[];
}

export interface PeerRequests__Output {
  'requests': (_kv_v1_PeerRequest__Output)[];
}

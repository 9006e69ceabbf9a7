// Original file: app/rpc/proto/kv/v1/peer.proto

import type { PeerResponse as _kv_v1_PeerResponse, PeerResponse__Output as _kv_v1_PeerResponse__Output } from '../../kv/v1/PeerResponse';

export interface PeerResponses {
  'responses'?: (_kv_v1_PeerResponse)[];
}

export interface PeerResponses__Output {
  'responses': (_kv_v1_PeerResponse__Output)[];
}

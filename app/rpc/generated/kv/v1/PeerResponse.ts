// Original file: app/rpc/proto/kv/v1/peer.proto

import type { FetchResult as _kv_v1_FetchResult, FetchResult__Output as _kv_v1_FetchResult__Output } from '../../kv/v1/FetchResult';
import type { ReplicateResult as _kv_v1_ReplicateResult, ReplicateResult__Output as _kv_v1_ReplicateResult__Output } from '../../kv/v1/ReplicateResult';
import type { OperationResult as _kv_v1_OperationResult, OperationResult__Output as _kv_v1_OperationResult__Output } from '../../kv/v1/OperationResult';
import type { OpError as _kv_v1_OpError, OpError__Output as _kv_v1_OpError__Output } from '../../kv/v1/OpError';
import type { Pong as _kv_v1_Pong, Pong__Output as _kv_v1_Pong__Output } from '../../kv/v1/Pong';
import type { AeTreeResult as _kv_v1_AeTreeResult, AeTreeResult__Output as _kv_v1_AeTreeResult__Output } from '../../kv/v1/AeTreeResult';
import type { AeKeysResult as _kv_v1_AeKeysResult, AeKeysResult__Output as _kv_v1_AeKeysResult__Output } from '../../kv/v1/AeKeysResult';
import type { HintCheckResult as _kv_v1_HintCheckResult, HintCheckResult__Output as _kv_v1_HintCheckResult__Output } from '../../kv/v1/HintCheckResult';
import type { ReapResult as _kv_v1_ReapResult, ReapResult__Output as _kv_v1_ReapResult__Output } from '../../kv/v1/ReapResult';
import type { GossipResult as _kv_v1_GossipResult, GossipResult__Output as _kv_v1_GossipResult__Output } from '../../kv/v1/GossipResult';
import type { FoldPartitionResult as _kv_v1_FoldPartitionResult, FoldPartitionResult__Output as _kv_v1_FoldPartitionResult__Output } from '../../kv/v1/FoldPartitionResult';
import type { TransferDoneResult as _kv_v1_TransferDoneResult, TransferDoneResult__Output as _kv_v1_TransferDoneResult__Output } from '../../kv/v1/TransferDoneResult';
import type { Long } from '@grpc/proto-loader';

export interface PeerResponse {
  'id'?: (number | string | Long);
  'fetched'?: (_kv_v1_FetchResult | null);
  'replicated'?: (_kv_v1_ReplicateResult | null);
  'forwarded'?: (_kv_v1_OperationResult | null);
  'error'?: (_kv_v1_OpError | null);
  'pong'?: (_kv_v1_Pong | null);
  'aeTree'?: (_kv_v1_AeTreeResult | null);
  'aeKeys'?: (_kv_v1_AeKeysResult | null);
  'hintCheck'?: (_kv_v1_HintCheckResult | null);
  'reap'?: (_kv_v1_ReapResult | null);
  'gossip'?: (_kv_v1_GossipResult | null);
  'foldPartition'?: (_kv_v1_FoldPartitionResult | null);
  'transferDone'?: (_kv_v1_TransferDoneResult | null);
  'result'?: "fetched"|"replicated"|"forwarded"|"error"|"pong"|"aeTree"|"aeKeys"|"hintCheck"|"reap"|"gossip"|"foldPartition"|"transferDone";
}

export interface PeerResponse__Output {
  'id': (number);
  'fetched'?: (_kv_v1_FetchResult__Output | null);
  'replicated'?: (_kv_v1_ReplicateResult__Output | null);
  'forwarded'?: (_kv_v1_OperationResult__Output | null);
  'error'?: (_kv_v1_OpError__Output | null);
  'pong'?: (_kv_v1_Pong__Output | null);
  'aeTree'?: (_kv_v1_AeTreeResult__Output | null);
  'aeKeys'?: (_kv_v1_AeKeysResult__Output | null);
  'hintCheck'?: (_kv_v1_HintCheckResult__Output | null);
  'reap'?: (_kv_v1_ReapResult__Output | null);
  'gossip'?: (_kv_v1_GossipResult__Output | null);
  'foldPartition'?: (_kv_v1_FoldPartitionResult__Output | null);
  'transferDone'?: (_kv_v1_TransferDoneResult__Output | null);
  'result'?: "fetched"|"replicated"|"forwarded"|"error"|"pong"|"aeTree"|"aeKeys"|"hintCheck"|"reap"|"gossip"|"foldPartition"|"transferDone";
}

import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdminJoin as _kv_v1_AdminJoin, AdminJoin__Output as _kv_v1_AdminJoin__Output } from './kv/v1/AdminJoin';
import type { AdminMove as _kv_v1_AdminMove, AdminMove__Output as _kv_v1_AdminMove__Output } from './kv/v1/AdminMove';
import type { AdminRequest as _kv_v1_AdminRequest, AdminRequest__Output as _kv_v1_AdminRequest__Output } from './kv/v1/AdminRequest';
import type { AdminResponse as _kv_v1_AdminResponse, AdminResponse__Output as _kv_v1_AdminResponse__Output } from './kv/v1/AdminResponse';
import type { AdminShow as _kv_v1_AdminShow, AdminShow__Output as _kv_v1_AdminShow__Output } from './kv/v1/AdminShow';
import type { AeKeys as _kv_v1_AeKeys, AeKeys__Output as _kv_v1_AeKeys__Output } from './kv/v1/AeKeys';
import type { AeKeysResult as _kv_v1_AeKeysResult, AeKeysResult__Output as _kv_v1_AeKeysResult__Output } from './kv/v1/AeKeysResult';
import type { AeTree as _kv_v1_AeTree, AeTree__Output as _kv_v1_AeTree__Output } from './kv/v1/AeTree';
import type { AeTreeResult as _kv_v1_AeTreeResult, AeTreeResult__Output as _kv_v1_AeTreeResult__Output } from './kv/v1/AeTreeResult';
import type { BatchRequest as _kv_v1_BatchRequest, BatchRequest__Output as _kv_v1_BatchRequest__Output } from './kv/v1/BatchRequest';
import type { BatchResponse as _kv_v1_BatchResponse, BatchResponse__Output as _kv_v1_BatchResponse__Output } from './kv/v1/BatchResponse';
import type { ClockEntry as _kv_v1_ClockEntry, ClockEntry__Output as _kv_v1_ClockEntry__Output } from './kv/v1/ClockEntry';
import type { DeleteRequest as _kv_v1_DeleteRequest, DeleteRequest__Output as _kv_v1_DeleteRequest__Output } from './kv/v1/DeleteRequest';
import type { DeleteResponse as _kv_v1_DeleteResponse, DeleteResponse__Output as _kv_v1_DeleteResponse__Output } from './kv/v1/DeleteResponse';
import type { Fetch as _kv_v1_Fetch, Fetch__Output as _kv_v1_Fetch__Output } from './kv/v1/Fetch';
import type { FetchResult as _kv_v1_FetchResult, FetchResult__Output as _kv_v1_FetchResult__Output } from './kv/v1/FetchResult';
import type { FoldPartition as _kv_v1_FoldPartition, FoldPartition__Output as _kv_v1_FoldPartition__Output } from './kv/v1/FoldPartition';
import type { FoldPartitionResult as _kv_v1_FoldPartitionResult, FoldPartitionResult__Output as _kv_v1_FoldPartitionResult__Output } from './kv/v1/FoldPartitionResult';
import type { GetRequest as _kv_v1_GetRequest, GetRequest__Output as _kv_v1_GetRequest__Output } from './kv/v1/GetRequest';
import type { GetResponse as _kv_v1_GetResponse, GetResponse__Output as _kv_v1_GetResponse__Output } from './kv/v1/GetResponse';
import type { Gossip as _kv_v1_Gossip, Gossip__Output as _kv_v1_Gossip__Output } from './kv/v1/Gossip';
import type { GossipResult as _kv_v1_GossipResult, GossipResult__Output as _kv_v1_GossipResult__Output } from './kv/v1/GossipResult';
import type { HintCheck as _kv_v1_HintCheck, HintCheck__Output as _kv_v1_HintCheck__Output } from './kv/v1/HintCheck';
import type { HintCheckResult as _kv_v1_HintCheckResult, HintCheckResult__Output as _kv_v1_HintCheckResult__Output } from './kv/v1/HintCheckResult';
import type { InspectRequest as _kv_v1_InspectRequest, InspectRequest__Output as _kv_v1_InspectRequest__Output } from './kv/v1/InspectRequest';
import type { InspectResponse as _kv_v1_InspectResponse, InspectResponse__Output as _kv_v1_InspectResponse__Output } from './kv/v1/InspectResponse';
import type { KVClient as _kv_v1_KVClient, KVDefinition as _kv_v1_KVDefinition } from './kv/v1/KV';
import type { Member as _kv_v1_Member, Member__Output as _kv_v1_Member__Output } from './kv/v1/Member';
import type { OpError as _kv_v1_OpError, OpError__Output as _kv_v1_OpError__Output } from './kv/v1/OpError';
import type { Operation as _kv_v1_Operation, Operation__Output as _kv_v1_Operation__Output } from './kv/v1/Operation';
import type { OperationResult as _kv_v1_OperationResult, OperationResult__Output as _kv_v1_OperationResult__Output } from './kv/v1/OperationResult';
import type { PartitionPrimaries as _kv_v1_PartitionPrimaries, PartitionPrimaries__Output as _kv_v1_PartitionPrimaries__Output } from './kv/v1/PartitionPrimaries';
import type { PeerClient as _kv_v1_PeerClient, PeerDefinition as _kv_v1_PeerDefinition } from './kv/v1/Peer';
import type { PeerRequest as _kv_v1_PeerRequest, PeerRequest__Output as _kv_v1_PeerRequest__Output } from './kv/v1/PeerRequest';
import type { PeerRequests as _kv_v1_PeerRequests, PeerRequests__Output as _kv_v1_PeerRequests__Output } from './kv/v1/PeerRequests';
import type { PeerResponse as _kv_v1_PeerResponse, PeerResponse__Output as _kv_v1_PeerResponse__Output } from './kv/v1/PeerResponse';
import type { PeerResponses as _kv_v1_PeerResponses, PeerResponses__Output as _kv_v1_PeerResponses__Output } from './kv/v1/PeerResponses';
import type { Ping as _kv_v1_Ping, Ping__Output as _kv_v1_Ping__Output } from './kv/v1/Ping';
import type { Pong as _kv_v1_Pong, Pong__Output as _kv_v1_Pong__Output } from './kv/v1/Pong';
import type { PutRequest as _kv_v1_PutRequest, PutRequest__Output as _kv_v1_PutRequest__Output } from './kv/v1/PutRequest';
import type { PutResponse as _kv_v1_PutResponse, PutResponse__Output as _kv_v1_PutResponse__Output } from './kv/v1/PutResponse';
import type { Reap as _kv_v1_Reap, Reap__Output as _kv_v1_Reap__Output } from './kv/v1/Reap';
import type { ReapResult as _kv_v1_ReapResult, ReapResult__Output as _kv_v1_ReapResult__Output } from './kv/v1/ReapResult';
import type { ReplicaState as _kv_v1_ReplicaState, ReplicaState__Output as _kv_v1_ReplicaState__Output } from './kv/v1/ReplicaState';
import type { Replicate as _kv_v1_Replicate, Replicate__Output as _kv_v1_Replicate__Output } from './kv/v1/Replicate';
import type { ReplicateResult as _kv_v1_ReplicateResult, ReplicateResult__Output as _kv_v1_ReplicateResult__Output } from './kv/v1/ReplicateResult';
import type { SiblingState as _kv_v1_SiblingState, SiblingState__Output as _kv_v1_SiblingState__Output } from './kv/v1/SiblingState';
import type { StatusRequest as _kv_v1_StatusRequest, StatusRequest__Output as _kv_v1_StatusRequest__Output } from './kv/v1/StatusRequest';
import type { StatusResponse as _kv_v1_StatusResponse, StatusResponse__Output as _kv_v1_StatusResponse__Output } from './kv/v1/StatusResponse';
import type { TransferDone as _kv_v1_TransferDone, TransferDone__Output as _kv_v1_TransferDone__Output } from './kv/v1/TransferDone';
import type { TransferDoneResult as _kv_v1_TransferDoneResult, TransferDoneResult__Output as _kv_v1_TransferDoneResult__Output } from './kv/v1/TransferDoneResult';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  kv: {
    v1: {
      AdminJoin: MessageTypeDefinition<_kv_v1_AdminJoin, _kv_v1_AdminJoin__Output>
      AdminMove: MessageTypeDefinition<_kv_v1_AdminMove, _kv_v1_AdminMove__Output>
      AdminRequest: MessageTypeDefinition<_kv_v1_AdminRequest, _kv_v1_AdminRequest__Output>
      AdminResponse: MessageTypeDefinition<_kv_v1_AdminResponse, _kv_v1_AdminResponse__Output>
      AdminShow: MessageTypeDefinition<_kv_v1_AdminShow, _kv_v1_AdminShow__Output>
      AeKeys: MessageTypeDefinition<_kv_v1_AeKeys, _kv_v1_AeKeys__Output>
      AeKeysResult: MessageTypeDefinition<_kv_v1_AeKeysResult, _kv_v1_AeKeysResult__Output>
      AeTree: MessageTypeDefinition<_kv_v1_AeTree, _kv_v1_AeTree__Output>
      AeTreeResult: MessageTypeDefinition<_kv_v1_AeTreeResult, _kv_v1_AeTreeResult__Output>
      BatchRequest: MessageTypeDefinition<_kv_v1_BatchRequest, _kv_v1_BatchRequest__Output>
      BatchResponse: MessageTypeDefinition<_kv_v1_BatchResponse, _kv_v1_BatchResponse__Output>
      ClockEntry: MessageTypeDefinition<_kv_v1_ClockEntry, _kv_v1_ClockEntry__Output>
      DeleteRequest: MessageTypeDefinition<_kv_v1_DeleteRequest, _kv_v1_DeleteRequest__Output>
      DeleteResponse: MessageTypeDefinition<_kv_v1_DeleteResponse, _kv_v1_DeleteResponse__Output>
      Fetch: MessageTypeDefinition<_kv_v1_Fetch, _kv_v1_Fetch__Output>
      FetchResult: MessageTypeDefinition<_kv_v1_FetchResult, _kv_v1_FetchResult__Output>
      FoldPartition: MessageTypeDefinition<_kv_v1_FoldPartition, _kv_v1_FoldPartition__Output>
      FoldPartitionResult: MessageTypeDefinition<_kv_v1_FoldPartitionResult, _kv_v1_FoldPartitionResult__Output>
      GetRequest: MessageTypeDefinition<_kv_v1_GetRequest, _kv_v1_GetRequest__Output>
      GetResponse: MessageTypeDefinition<_kv_v1_GetResponse, _kv_v1_GetResponse__Output>
      Gossip: MessageTypeDefinition<_kv_v1_Gossip, _kv_v1_Gossip__Output>
      GossipResult: MessageTypeDefinition<_kv_v1_GossipResult, _kv_v1_GossipResult__Output>
      HintCheck: MessageTypeDefinition<_kv_v1_HintCheck, _kv_v1_HintCheck__Output>
      HintCheckResult: MessageTypeDefinition<_kv_v1_HintCheckResult, _kv_v1_HintCheckResult__Output>
      InspectRequest: MessageTypeDefinition<_kv_v1_InspectRequest, _kv_v1_InspectRequest__Output>
      InspectResponse: MessageTypeDefinition<_kv_v1_InspectResponse, _kv_v1_InspectResponse__Output>
      KV: SubtypeConstructor<typeof grpc.Client, _kv_v1_KVClient> & { service: _kv_v1_KVDefinition }
      Member: MessageTypeDefinition<_kv_v1_Member, _kv_v1_Member__Output>
      OpError: MessageTypeDefinition<_kv_v1_OpError, _kv_v1_OpError__Output>
      Operation: MessageTypeDefinition<_kv_v1_Operation, _kv_v1_Operation__Output>
      OperationResult: MessageTypeDefinition<_kv_v1_OperationResult, _kv_v1_OperationResult__Output>
      PartitionPrimaries: MessageTypeDefinition<_kv_v1_PartitionPrimaries, _kv_v1_PartitionPrimaries__Output>
      Peer: SubtypeConstructor<typeof grpc.Client, _kv_v1_PeerClient> & { service: _kv_v1_PeerDefinition }
      PeerRequest: MessageTypeDefinition<_kv_v1_PeerRequest, _kv_v1_PeerRequest__Output>
      PeerRequests: MessageTypeDefinition<_kv_v1_PeerRequests, _kv_v1_PeerRequests__Output>
      PeerResponse: MessageTypeDefinition<_kv_v1_PeerResponse, _kv_v1_PeerResponse__Output>
      PeerResponses: MessageTypeDefinition<_kv_v1_PeerResponses, _kv_v1_PeerResponses__Output>
      Ping: MessageTypeDefinition<_kv_v1_Ping, _kv_v1_Ping__Output>
      Pong: MessageTypeDefinition<_kv_v1_Pong, _kv_v1_Pong__Output>
      PutRequest: MessageTypeDefinition<_kv_v1_PutRequest, _kv_v1_PutRequest__Output>
      PutResponse: MessageTypeDefinition<_kv_v1_PutResponse, _kv_v1_PutResponse__Output>
      Reap: MessageTypeDefinition<_kv_v1_Reap, _kv_v1_Reap__Output>
      ReapResult: MessageTypeDefinition<_kv_v1_ReapResult, _kv_v1_ReapResult__Output>
      ReplicaState: MessageTypeDefinition<_kv_v1_ReplicaState, _kv_v1_ReplicaState__Output>
      Replicate: MessageTypeDefinition<_kv_v1_Replicate, _kv_v1_Replicate__Output>
      ReplicateResult: MessageTypeDefinition<_kv_v1_ReplicateResult, _kv_v1_ReplicateResult__Output>
      SiblingState: MessageTypeDefinition<_kv_v1_SiblingState, _kv_v1_SiblingState__Output>
      StatusRequest: MessageTypeDefinition<_kv_v1_StatusRequest, _kv_v1_StatusRequest__Output>
      StatusResponse: MessageTypeDefinition<_kv_v1_StatusResponse, _kv_v1_StatusResponse__Output>
      TransferDone: MessageTypeDefinition<_kv_v1_TransferDone, _kv_v1_TransferDone__Output>
      TransferDoneResult: MessageTypeDefinition<_kv_v1_TransferDoneResult, _kv_v1_TransferDoneResult__Output>
    }
  }
}


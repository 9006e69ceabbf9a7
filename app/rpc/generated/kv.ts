import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdminJoin as _kv_v1_AdminJoin, AdminJoin__Output as _kv_v1_AdminJoin__Output } from './kv/v1/AdminJoin';
import type { AdminMove as _kv_v1_AdminMove, AdminMove__Output as _kv_v1_AdminMove__Output } from './kv/v1/AdminMove';
import type { AdminRequest as _kv_v1_AdminRequest, AdminRequest__Output as _kv_v1_AdminRequest__Output } from './kv/v1/AdminRequest';
import type { AdminResponse as _kv_v1_AdminResponse, AdminResponse__Output as _kv_v1_AdminResponse__Output } from './kv/v1/AdminResponse';
import type { AdminShow as _kv_v1_AdminShow, AdminShow__Output as _kv_v1_AdminShow__Output } from './kv/v1/AdminShow';
import type { BatchRequest as _kv_v1_BatchRequest, BatchRequest__Output as _kv_v1_BatchRequest__Output } from './kv/v1/BatchRequest';
import type { BatchResponse as _kv_v1_BatchResponse, BatchResponse__Output as _kv_v1_BatchResponse__Output } from './kv/v1/BatchResponse';
import type { ClockEntry as _kv_v1_ClockEntry, ClockEntry__Output as _kv_v1_ClockEntry__Output } from './kv/v1/ClockEntry';
import type { DeleteRequest as _kv_v1_DeleteRequest, DeleteRequest__Output as _kv_v1_DeleteRequest__Output } from './kv/v1/DeleteRequest';
import type { DeleteResponse as _kv_v1_DeleteResponse, DeleteResponse__Output as _kv_v1_DeleteResponse__Output } from './kv/v1/DeleteResponse';
import type { GetRequest as _kv_v1_GetRequest, GetRequest__Output as _kv_v1_GetRequest__Output } from './kv/v1/GetRequest';
import type { GetResponse as _kv_v1_GetResponse, GetResponse__Output as _kv_v1_GetResponse__Output } from './kv/v1/GetResponse';
import type { InspectRequest as _kv_v1_InspectRequest, InspectRequest__Output as _kv_v1_InspectRequest__Output } from './kv/v1/InspectRequest';
import type { InspectResponse as _kv_v1_InspectResponse, InspectResponse__Output as _kv_v1_InspectResponse__Output } from './kv/v1/InspectResponse';
import type { KVClient as _kv_v1_KVClient, KVDefinition as _kv_v1_KVDefinition } from './kv/v1/KV';
import type { Member as _kv_v1_Member, Member__Output as _kv_v1_Member__Output } from './kv/v1/Member';
import type { OpError as _kv_v1_OpError, OpError__Output as _kv_v1_OpError__Output } from './kv/v1/OpError';
import type { Operation as _kv_v1_Operation, Operation__Output as _kv_v1_Operation__Output } from './kv/v1/Operation';
import type { OperationResult as _kv_v1_OperationResult, OperationResult__Output as _kv_v1_OperationResult__Output } from './kv/v1/OperationResult';
import type { PartitionPrimaries as _kv_v1_PartitionPrimaries, PartitionPrimaries__Output as _kv_v1_PartitionPrimaries__Output } from './kv/v1/PartitionPrimaries';
import type { PutRequest as _kv_v1_PutRequest, PutRequest__Output as _kv_v1_PutRequest__Output } from './kv/v1/PutRequest';
import type { PutResponse as _kv_v1_PutResponse, PutResponse__Output as _kv_v1_PutResponse__Output } from './kv/v1/PutResponse';
import type { ReplicaState as _kv_v1_ReplicaState, ReplicaState__Output as _kv_v1_ReplicaState__Output } from './kv/v1/ReplicaState';
import type { SiblingState as _kv_v1_SiblingState, SiblingState__Output as _kv_v1_SiblingState__Output } from './kv/v1/SiblingState';
import type { StatusRequest as _kv_v1_StatusRequest, StatusRequest__Output as _kv_v1_StatusRequest__Output } from './kv/v1/StatusRequest';
import type { StatusResponse as _kv_v1_StatusResponse, StatusResponse__Output as _kv_v1_StatusResponse__Output } from './kv/v1/StatusResponse';

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
      BatchRequest: MessageTypeDefinition<_kv_v1_BatchRequest, _kv_v1_BatchRequest__Output>
      BatchResponse: MessageTypeDefinition<_kv_v1_BatchResponse, _kv_v1_BatchResponse__Output>
      ClockEntry: MessageTypeDefinition<_kv_v1_ClockEntry, _kv_v1_ClockEntry__Output>
      DeleteRequest: MessageTypeDefinition<_kv_v1_DeleteRequest, _kv_v1_DeleteRequest__Output>
      DeleteResponse: MessageTypeDefinition<_kv_v1_DeleteResponse, _kv_v1_DeleteResponse__Output>
      GetRequest: MessageTypeDefinition<_kv_v1_GetRequest, _kv_v1_GetRequest__Output>
      GetResponse: MessageTypeDefinition<_kv_v1_GetResponse, _kv_v1_GetResponse__Output>
      InspectRequest: MessageTypeDefinition<_kv_v1_InspectRequest, _kv_v1_InspectRequest__Output>
      InspectResponse: MessageTypeDefinition<_kv_v1_InspectResponse, _kv_v1_InspectResponse__Output>
      KV: SubtypeConstructor<typeof grpc.Client, _kv_v1_KVClient> & { service: _kv_v1_KVDefinition }
      Member: MessageTypeDefinition<_kv_v1_Member, _kv_v1_Member__Output>
      OpError: MessageTypeDefinition<_kv_v1_OpError, _kv_v1_OpError__Output>
      Operation: MessageTypeDefinition<_kv_v1_Operation, _kv_v1_Operation__Output>
      OperationResult: MessageTypeDefinition<_kv_v1_OperationResult, _kv_v1_OperationResult__Output>
      PartitionPrimaries: MessageTypeDefinition<_kv_v1_PartitionPrimaries, _kv_v1_PartitionPrimaries__Output>
      PutRequest: MessageTypeDefinition<_kv_v1_PutRequest, _kv_v1_PutRequest__Output>
      PutResponse: MessageTypeDefinition<_kv_v1_PutResponse, _kv_v1_PutResponse__Output>
      ReplicaState: MessageTypeDefinition<_kv_v1_ReplicaState, _kv_v1_ReplicaState__Output>
      SiblingState: MessageTypeDefinition<_kv_v1_SiblingState, _kv_v1_SiblingState__Output>
      StatusRequest: MessageTypeDefinition<_kv_v1_StatusRequest, _kv_v1_StatusRequest__Output>
      StatusResponse: MessageTypeDefinition<_kv_v1_StatusResponse, _kv_v1_StatusResponse__Output>
    }
  }
}


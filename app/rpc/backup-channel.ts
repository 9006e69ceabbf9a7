/**
 * The client side of kv.v1.Backup for one node address: a node's snapshot as a stream of chunks,
 * and restore requests. Failures throw BackupRpcError, naming the node and the gRPC status.
 */
import * as grpc from '@grpc/grpc-js';
import type { BackupClient } from './generated/kv/v1/Backup';
import type { RestoreObject } from './generated/kv/v1/RestoreObject';
import type { RestoreResponse__Output } from './generated/kv/v1/RestoreResponse';
import type { SnapshotChunk__Output } from './generated/kv/v1/SnapshotChunk';
import { protos } from './proto-definition';
import { MESSAGE_BYTES_MAX_DEFAULT } from './kv-channel';
import { channelSecurity, ClientSecurity } from './tls';

export type SnapshotChunk = SnapshotChunk__Output;
export type RestoreAnswer = RestoreResponse__Output;

export class BackupRpcError extends Error {
  constructor(
    readonly address: string,
    readonly code: number,
    readonly codeName: string,
    details: string,
  ) {
    super(`${address}: ${codeName}: ${details}`);
    this.name = 'BackupRpcError';
  }
}

function rpcError(address: string, e: grpc.ServiceError): BackupRpcError {
  return new BackupRpcError(address, e.code, grpc.status[e.code] ?? String(e.code), e.details || e.message);
}

export class BackupChannel {
  private readonly client: BackupClient;

  constructor(
    readonly address: string,
    security?: ClientSecurity,
  ) {
    const { credentials, clientOptions } = channelSecurity(security, { address });
    this.client = new (protos().backup.Backup)(address, credentials, {
      ...clientOptions,
      'grpc.max_send_message_length': MESSAGE_BYTES_MAX_DEFAULT,
      'grpc.max_receive_message_length': MESSAGE_BYTES_MAX_DEFAULT,
    });
  }

  /**
   * The node's snapshot, chunk by chunk (header, data..., trailer). The stream is read as the
   * caller consumes it, so a slow consumer slows the node's reading, not its memory.
   */
  async *snapshot(): AsyncGenerator<SnapshotChunk> {
    const call = this.client.Snapshot({});
    try {
      for await (const chunk of call as AsyncIterable<SnapshotChunk>) yield chunk;
    } catch (e) {
      throw 'code' in (e as object) ? rpcError(this.address, e as grpc.ServiceError) : e;
    } finally {
      call.cancel();
    }
  }

  restore(objects: RestoreObject[], w: number, timeoutMs: number): Promise<RestoreAnswer> {
    return new Promise((resolve, reject) => {
      this.client.Restore({ objects, w }, { deadline: Date.now() + timeoutMs }, (e, answer) => {
        if (e) reject(rpcError(this.address, e));
        else resolve(answer!);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}

/**
 * What the coordinator needs from the network: a narrow interface, implemented over gRPC streams
 * in app/rpc and by in-process fakes in tests. Expected failures are values, never exceptions.
 */
import { KvError, Result } from '../errors';
import { ClientOp, OpResult } from './ops';

export interface ReplicaTransport {
  /** A replica's stored object (encoded), or undefined when it holds nothing for the key. */
  fetch(node: string, partition: number, key: Uint8Array, timeoutMs: number): Promise<Result<Uint8Array | undefined>>;
  /** Merge an encoded object into a replica's store; resolves once the replica has it durably. */
  replicate(node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number): Promise<Result<void>>;
  /** Send a client operation on to a replica of its key, which coordinates it. */
  forward(node: string, op: ClientOp, timeoutMs: number): Promise<Result<OpResult, KvError>>;
  /** The failure detector's view: false only when the node is known to be unreachable. */
  isUp(node: string): boolean;
}

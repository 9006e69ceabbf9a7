/**
 * What the coordinator needs from the network: a narrow interface, implemented over gRPC streams
 * in app/rpc, by the node's own replica (Replicas, ./replicas.ts, routes a call for this node to
 * its local store) and by in-process fakes in tests. Expected failures are values, never exceptions.
 */
import { KvError, Result } from '../errors';
import { ClientOp, OpResult } from '../api/ops';

/*
 * `traceparent` (W3C trace context) is set only for an operation being traced (./trace.ts): the
 * receiving node continues the trace from it. Implementations that do not trace ignore it.
 */

export interface ReplicaTransport {
  /**
   * A replica's stored object (encoded), or undefined when it holds nothing for the key. With
   * `hintFor`, the node is asked as a fallback: it answers from the hint it holds for that primary.
   */
  fetch(node: string, partition: number, key: Uint8Array, timeoutMs: number, hintFor?: string, traceparent?: string): Promise<Result<Uint8Array | undefined>>;
  /**
   * Merge an encoded object into a replica's store; resolves once the replica has it durably.
   * With `hintFor`, the node is a fallback and stores the object as a hint for that primary.
   */
  replicate(node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number, hintFor?: string, traceparent?: string): Promise<Result<void>>;
  /** Send a client operation on to a replica of its key, which coordinates it. */
  forward(node: string, op: ClientOp, timeoutMs: number, traceparent?: string): Promise<Result<OpResult, KvError>>;
  /** The failure detector's view: false when the node is unreachable or suspected. */
  isUp(node: string): boolean;
}

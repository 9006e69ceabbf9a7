/**
 * Partitions: the key space (the first 32 bits of a key's MD5) is cut into Q equal partitions, Q
 * a power of two fixed when the cluster is created (Dynamo's strategy 3). Which members hold each
 * partition is the placement's business (./placement.ts).
 */
import { hash } from 'node:crypto';

/** Default number of partitions: 64 gives 12-13 partitions a node on a 5-node cluster. */
export const PARTITIONS_DEFAULT = 64;
export const PARTITIONS_MAX = 65536;

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

/** The partition of a key: the top log2(Q) bits of the first 32 bits of MD5(key). */
export function partitionOf(key: Uint8Array, partitions: number): number {
  // One-shot: one native call, where a Hash object takes three and a stream's setup (every
  // operation routes its key).
  const digest = hash('md5', key, 'buffer') as Buffer;
  const h = digest.readUInt32BE(0);
  const bits = Math.log2(partitions);
  return bits === 0 ? 0 : Math.floor(h / 2 ** (32 - bits));
}

/** A partition's primaries and, after them, its fallbacks in the order they stand in. */
export interface PartitionReplicas {
  readonly primaries: readonly string[];
  readonly fallbacks: readonly string[];
  /**
   * While a membership change moves the partition: its primaries in the target placement. Writes
   * also go to the members it adds, and need a quorum there too; reads stay with `primaries`.
   */
  readonly target?: readonly string[];
}

/** Where a key's replicas are: what the coordinator routes by (the placement of the current cluster state). */
export interface Routing {
  readonly partitions: number;
  replicas(partition: number): PartitionReplicas;
}

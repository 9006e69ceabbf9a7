/**
 * An operator's view of one key (`kv get <key> --replicas`): what each primary stores and what
 * every other member holds for it as hints, read from each replica as it is: no quorum, no merge,
 * no read repair. Members are asked in parallel, each within the time budget.
 */
import { PartitionReplicas } from '../ring/ring';
import { decodeObject } from '../versioning/codec';
import { VersionedObject } from '../versioning/dvv';
import { ReplicaTransport } from './transport';

export interface ReplicaView {
  readonly node: string;
  readonly role: 'primary' | 'fallback';
  readonly answered: boolean;
  readonly error: string;
  readonly hint: boolean;
  readonly object: VersionedObject | undefined;
  readonly objectBytes: number;
}

export async function inspectKey(replicas: ReplicaTransport, partition: number, key: Uint8Array, placement: PartitionReplicas, timeoutMs: number): Promise<ReplicaView[]> {
  const first = placement.primaries[0]!;
  const asks = [
    ...placement.primaries.map((node) => ({ node, role: 'primary' as const, hintFor: undefined })),
    // A fallback answers with every hint it holds for the key, whichever primary it is for.
    ...placement.fallbacks.map((node) => ({ node, role: 'fallback' as const, hintFor: first })),
  ];
  return Promise.all(
    asks.map(async ({ node, role, hintFor }): Promise<ReplicaView> => {
      const r = await replicas.fetch(node, partition, key, timeoutMs, hintFor);
      const base = { node, role, hint: role === 'fallback' };
      if (!r.ok) return { ...base, answered: r.error.condition !== 'PeerUnreachable' && r.error.condition !== 'DeadlineExceeded', error: `${r.error.condition}: ${r.error.message}`, object: undefined, objectBytes: 0 };
      if (r.value === undefined) return { ...base, answered: true, error: '', object: undefined, objectBytes: 0 };
      try {
        return { ...base, answered: true, error: '', object: decodeObject(r.value), objectBytes: r.value.length };
      } catch (e) {
        return { ...base, answered: true, error: `CorruptRecord: ${(e as Error).message}`, object: undefined, objectBytes: r.value.length };
      }
    }),
  );
}

/**
 * Every replica behind one interface: calls for this node go to its LocalReplica (and its hint
 * store), calls for other nodes to the peer transport. The state machines never ask whether a
 * replica is local; this is the one place that knows.
 */
import { KvError, Result, err, ok } from '../errors';
import { ClientOp, OpResult } from '../api/ops';
import { LocalReplica } from './replica';
import { ReplicaSync } from './replica-sync';
import { ReplicaTransport } from './transport';

export class Replicas implements ReplicaTransport {
  constructor(
    private readonly self: string,
    private readonly local: LocalReplica,
    private readonly remote: ReplicaTransport,
    /** Whether this node's not-found answers count yet (see ./replica-sync.ts); absent: they always do. */
    private readonly sync?: ReplicaSync,
    /**
     * Whether this node is a member of the cluster. One that is not (it left) takes no hints: a
     * coordinator whose state still lists it picks another fallback, rather than leave a hint on
     * a node about to exit. Absent: it always is.
     */
    private readonly isMember?: () => boolean,
  ) {}

  async fetch(node: string, partition: number, key: Uint8Array, timeoutMs: number, hintFor?: string, traceparent?: string): Promise<Result<Uint8Array | undefined>> {
    if (node !== this.self) return this.remote.fetch(node, partition, key, timeoutMs, hintFor, traceparent);
    try {
      if (hintFor !== undefined && hintFor !== this.self) return ok(await this.local.fetchHints(partition, key));
      const stored = await this.local.fetchEncoded(partition, key);
      if (stored === undefined && this.sync && !this.sync.notFoundCounts(partition)) {
        return err(new KvError('ReplicaSyncing', `${this.self} holds nothing for the key but is ${this.sync.current} after losing its data (partition ${partition}); its "not found" does not count until anti-entropy has synced the partition`));
      }
      return ok(stored);
    } catch (e) {
      return err(this.local.failure('fetch', e));
    }
  }

  async replicate(node: string, partition: number, key: Uint8Array, object: Uint8Array, timeoutMs: number, hintFor?: string, traceparent?: string): Promise<Result<void>> {
    if (node !== this.self) return this.remote.replicate(node, partition, key, object, timeoutMs, hintFor, traceparent);
    try {
      // A hint for this node itself (the sender's membership differs from ours) is simply a write.
      if (hintFor === undefined || hintFor === this.self) {
        await this.local.mergeEncoded(partition, key, object);
        return ok(undefined);
      }
      if (this.isMember !== undefined && !this.isMember()) return err(new KvError('NotMember', `${this.self} is not a member of the cluster any more: it takes no hints (the coordinator's cluster state is older; it tries another fallback)`));
      return await this.local.storeHint(hintFor, partition, key, object);
    } catch (e) {
      return err(this.local.failure('replicate', e));
    }
  }

  forward(node: string, op: ClientOp, timeoutMs: number, traceparent?: string): Promise<Result<OpResult, KvError>> {
    if (node === this.self) throw new Error(`replicas: ${this.self} cannot forward an operation to itself`);
    return this.remote.forward(node, op, timeoutMs, traceparent);
  }

  isUp(node: string): boolean {
    return node === this.self || this.remote.isUp(node);
  }
}

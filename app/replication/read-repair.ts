/**
 * Read repair: after a get has answered, the merged object goes to every primary that answered
 * with an older history, nothing, or a corrupt record. Repairs run in the background with a bound
 * on how many are in flight; beyond it a repair is skipped and counted (anti-entropy catches up).
 *
 * At the object-size limit: a repair is a merge, and merges are never refused for size (replicas
 * must converge); only client writes are bounded by objectBytesMax. So repair never stops at the
 * limit; the merged object may exceed it until a client resolves the siblings.
 */
import { Logger } from '../../observability/log';
import { encodeObject } from '../versioning/codec';
import { RepairOrder } from './quorum';
import { ReplicaTransport } from './transport';

export interface ReadRepairEvents {
  readRepair(node: string): void;
  readRepairSkipped(): void;
}

export class ReadRepairer {
  private inFlight = 0;

  constructor(
    private readonly replicas: ReplicaTransport,
    /** Repairs in flight at once (readRepairsInFlightMax). */
    private readonly inFlightMax: number,
    private readonly timeoutMs: number,
    private readonly events: ReadRepairEvents,
    private readonly log: Logger,
  ) {}

  repair(partition: number, key: Uint8Array, orders: readonly RepairOrder[]): void {
    if (orders.length === 0) return;
    // Every order carries the same merged object: encode it once.
    const encoded = encodeObject(orders[0]!.object);
    for (const order of orders) {
      if (this.inFlight >= this.inFlightMax) {
        this.events.readRepairSkipped();
        continue;
      }
      this.inFlight++;
      this.events.readRepair(order.node);
      this.replicas.replicate(order.node, partition, key, encoded, this.timeoutMs).then((r) => {
        this.inFlight--;
        if (!r.ok) this.log.warn('read repair failed', { partition, node: order.node, error: r.error.message });
      });
    }
  }
}

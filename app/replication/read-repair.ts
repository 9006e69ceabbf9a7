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
import { SPAN, traceFields, TraceSpan } from './trace';
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

  /** With `trace` (the get's span), the repair is a `kv.read_repair` child of it, one replicate span per replica repaired. */
  repair(partition: number, key: Uint8Array, orders: readonly RepairOrder[], trace?: TraceSpan): void {
    if (orders.length === 0) return;
    // Every order carries the same merged object: encode it once.
    const encoded = encodeObject(orders[0]!.object);
    const span = trace?.child(SPAN.readRepair, { 'kv.partition': partition, 'kv.read_repair': orders.length });
    let pending = 0;
    let skipped = 0;
    const settled = () => {
      if (--pending === 0) span?.end();
    };
    for (const order of orders) {
      if (this.inFlight >= this.inFlightMax) {
        this.events.readRepairSkipped();
        skipped++;
        continue;
      }
      this.inFlight++;
      pending++;
      this.events.readRepair(order.node);
      const child = span?.child(SPAN.replicate, { 'kv.peer': order.node, 'kv.partition': partition });
      this.replicas.replicate(order.node, partition, key, encoded, this.timeoutMs, undefined, child?.traceparent).then((r) => {
        this.inFlight--;
        child?.end(r.ok ? undefined : `${r.error.condition}: ${r.error.message}`);
        if (!r.ok) this.log.warn('read repair failed', { partition, node: order.node, error: r.error.message, ...traceFields(child?.traceparent) });
        settled();
      });
    }
    span?.set({ 'kv.read_repair.skipped': skipped });
    if (pending === 0) span?.end();
  }
}

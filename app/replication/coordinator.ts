/**
 * The coordinator: the thin, stateful shell around the pure quorum cores. It owns timers and
 * fan-out; the cores only count replies. Any node accepts an operation; a node that is not a
 * primary of the key forwards it to one that is, so the coordinator is always a replica.
 *
 * Put: write locally with a new dot, send the resulting object to the other primaries in
 * parallel, answer after W acknowledgements (the local one included). Get: ask the N primaries,
 * answer after R replies with their merge, then wait a bounded time for the rest and send the
 * merged object to any replica that was stale or missing it (read repair).
 */
import { KvError, Result, ok, err, storeFailureCondition } from '../errors';
import { Logger, silentLogger } from '../log';
import { partitionOf, primariesLookup, Ring } from '../ring/ring';
import { decodeObject, encodeContext, encodeObject } from '../versioning/codec';
import { isDeleted, liveValues, VersionedObject } from '../versioning/dvv';
import { CheckedOp, checkOp, ClientOp, GetResult, OpResult, RequestLimits, WriteResult } from './ops';
import { QuorumCounter, ReadCore, ReadReply } from './quorum';
import { LocalReplica } from './replica';
import { ReplicaTransport } from './transport';

export interface CoordinatorConfig extends RequestLimits {
  /** Time budget of an operation without a deadline of its own. */
  readonly requestTimeoutMs: number;
  /** How long a get keeps waiting for the remaining replicas after it answered, for read repair. */
  readonly readRepairWaitMs: number;
  /** Operations this node coordinates or forwards at once; beyond it, RESOURCE_EXHAUSTED. */
  readonly inFlightMax: number;
  /** Read repairs in flight at once; beyond it a repair is skipped (anti-entropy catches up). */
  readonly readRepairsInFlightMax: number;
}

/** Counters the coordinator reports; the node wires them to Prometheus. */
export interface CoordinatorEvents {
  readRepair(node: string): void;
  readRepairSkipped(): void;
  forwarded(): void;
  limitWarning(message: string): void;
}

const NO_EVENTS: CoordinatorEvents = { readRepair() {}, readRepairSkipped() {}, forwarded() {}, limitWarning() {} };

export interface CoordinatorDeps {
  readonly self: string;
  readonly ring: () => Ring;
  readonly replica: LocalReplica;
  readonly transport: ReplicaTransport;
  readonly config: CoordinatorConfig;
  readonly log?: Logger;
  readonly events?: CoordinatorEvents;
}

export interface ExecuteOptions {
  readonly timeoutMs?: number;
  /** The operation was forwarded by another node: coordinate it here, never forward again. */
  readonly forwarded?: boolean;
}

export class Coordinator {
  private inFlight = 0;
  private repairsInFlight = 0;
  private draining = false;
  private drained: (() => void) | undefined;
  private readonly log: Logger;
  private readonly events: CoordinatorEvents;

  constructor(private readonly deps: CoordinatorDeps) {
    this.log = deps.log ?? silentLogger;
    this.events = deps.events ?? NO_EVENTS;
  }

  get operationsInFlight(): number {
    return this.inFlight;
  }

  async execute(op: ClientOp, options: ExecuteOptions = {}): Promise<Result<OpResult>> {
    if (this.draining) return err(new KvError('ShuttingDown', `node ${this.deps.self} is shutting down; retry on another node`));
    const { config } = this.deps;
    if (this.inFlight >= config.inFlightMax) {
      return err(new KvError('Overloaded', `node ${this.deps.self} has ${this.inFlight} operations in flight, the limit (inFlightMax) is ${config.inFlightMax}; retry with backoff`));
    }
    const checked = checkOp(op, config);
    if (!checked.ok) return checked;
    const timeoutMs = options.timeoutMs && options.timeoutMs > 0 ? options.timeoutMs : config.requestTimeoutMs;
    this.inFlight++;
    try {
      return await this.route(op, checked.value, timeoutMs, options.forwarded === true);
    } catch (e) {
      if (e instanceof KvError) return err(e);
      this.log.error('operation failed', { error: String(e), detail: (e as { detail?: unknown }).detail, stack: (e as Error).stack });
      const condition = isCorrupt(e) ? 'CorruptRecord' : (storeFailureCondition(e) ?? 'Internal');
      const hint = condition === 'CorruptRecord' ? '; a get of the key repairs the record from the other replicas' : '';
      return err(new KvError(condition, `${op.kind} failed on ${this.deps.self}: ${(e as Error).message}${hint}`));
    } finally {
      this.inFlight--;
      if (this.draining && this.inFlight === 0) this.drained?.();
    }
  }

  /** Stops accepting operations and resolves when those in flight have answered. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  /** The primaries lookup of the current ring (rebuilt when the ring changes). */
  private primaries: { ring: Ring; of: (partition: number) => readonly string[] } | undefined;

  private primariesOf(key: Uint8Array): { partition: number; primaries: readonly string[] } {
    const ring = this.deps.ring();
    if (this.primaries?.ring !== ring) this.primaries = { ring, of: primariesLookup(ring, this.deps.config.n) };
    const partition = partitionOf(key, ring.partitions);
    return { partition, primaries: this.primaries.of(partition) };
  }

  private async route(op: ClientOp, checked: CheckedOp, timeoutMs: number, forwarded: boolean): Promise<Result<OpResult>> {
    const { partition, primaries } = this.primariesOf(checked.key);
    if (primaries.includes(this.deps.self)) {
      return checked.kind === 'get' ? this.coordinateGet(partition, checked, primaries, timeoutMs) : this.coordinateWrite(partition, checked, primaries, timeoutMs);
    }
    if (forwarded) {
      return err(new KvError('Internal', `node ${this.deps.self} received a forwarded ${op.kind} for partition ${partition} but is not one of its primaries (${primaries.join(', ')}): the nodes disagree on membership`));
    }
    return this.forward(op, primaries, timeoutMs);
  }

  /** Tries the primaries in order, up ones first, until one is reachable. */
  private async forward(op: ClientOp, primaries: readonly string[], timeoutMs: number): Promise<Result<OpResult>> {
    const deadline = Date.now() + timeoutMs;
    const order = [...primaries.filter((p) => this.deps.transport.isUp(p)), ...primaries.filter((p) => !this.deps.transport.isUp(p))];
    const failures: string[] = [];
    for (const node of order) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      this.events.forwarded();
      const result = await this.deps.transport.forward(node, op, left);
      if (result.ok || result.error.condition !== 'PeerUnreachable') return result;
      failures.push(`${node}: ${result.error.message}`);
    }
    return err(new KvError('InsufficientReplicas', `${op.kind}: no primary of the key could be reached to coordinate it (${failures.join('; ') || 'deadline passed'})`));
  }

  private coordinateGet(partition: number, op: CheckedOp & { kind: 'get' }, primaries: readonly string[], timeoutMs: number): Promise<Result<GetResult>> {
    const { replica, transport, self, config } = this.deps;
    const core = new ReadCore(op.r, primaries);
    return new Promise((resolve) => {
      let answered = false;
      let finished = false;
      let repairTimer: NodeJS.Timeout | undefined;
      const answer = (result: Result<GetResult>) => {
        if (answered) return;
        answered = true;
        resolve(result);
        if (!core.complete) repairTimer = setTimeout(finish, config.readRepairWaitMs);
      };
      const deadlineTimer = setTimeout(() => {
        answer(err(new KvError('DeadlineExceeded', `get: ${core.okCount} of ${op.r} required replicas answered within ${timeoutMs} ms (N=${primaries.length})`)));
        finish();
      }, timeoutMs);
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(deadlineTimer);
        if (repairTimer) clearTimeout(repairTimer);
        this.readRepair(partition, op.key, core);
      };
      const onReply = (node: string, reply: ReadReply) => {
        if (finished) return;
        core.add(node, reply);
        const outcome = core.outcome;
        if (outcome === 'success') answer(ok(toGetResult(core.response())));
        else if (outcome === 'failure') {
          answer(err(new KvError('InsufficientReplicas', `get: ${core.okCount} of ${op.r} required replicas answered (N=${primaries.length}, asked ${primaries.join(', ')}); the others are unreachable or failed`)));
        }
        if (core.complete) finish();
      };
      // Replicas in sync return the same bytes: decode each distinct answer once, so the merge
      // of identical replies is the object itself.
      const seen: Array<{ bytes: Uint8Array; reply: ReadReply }> = [];
      const decodeOnce = (bytes: Uint8Array | undefined): ReadReply => {
        if (bytes === undefined) return { ok: true, object: undefined };
        for (const d of seen) if (Buffer.compare(d.bytes, bytes) === 0) return d.reply;
        const reply = decodeReply(bytes);
        seen.push({ bytes, reply });
        return reply;
      };
      for (const node of primaries) {
        if (node === self) {
          replica.fetchEncoded(partition, op.key).then(
            (bytes) => onReply(node, decodeOnce(bytes)),
            (e) => {
              this.log.error('local read failed', { partition, error: String(e) });
              onReply(node, { ok: false, corrupt: isCorrupt(e) });
            },
          );
        } else {
          transport.fetch(node, partition, op.key, timeoutMs).then((r) => onReply(node, r.ok ? decodeOnce(r.value) : { ok: false, corrupt: r.error.condition === 'CorruptRecord' }));
        }
      }
    });
  }

  private readRepair(partition: number, key: Uint8Array, core: ReadCore): void {
    const orders = core.finalAction();
    if (orders.length === 0) return;
    const { replica, transport, self, config } = this.deps;
    const encoded = encodeObject(orders[0]!.object);
    for (const order of orders) {
      if (this.repairsInFlight >= config.readRepairsInFlightMax) {
        this.events.readRepairSkipped();
        continue;
      }
      this.repairsInFlight++;
      this.events.readRepair(order.node);
      const done = () => this.repairsInFlight--;
      if (order.node === self) {
        replica.mergeEncoded(partition, key, encoded).then(done, (e) => {
          done();
          this.log.warn('read repair of the local replica failed', { partition, error: String(e) });
        });
      } else {
        transport.replicate(order.node, partition, key, encoded, config.requestTimeoutMs).then(done);
      }
    }
  }

  private async coordinateWrite(partition: number, op: CheckedOp & { kind: 'put' | 'delete' }, primaries: readonly string[], timeoutMs: number): Promise<Result<WriteResult>> {
    const { replica, transport, self } = this.deps;
    const local = await replica.coordinateWrite(partition, op.key, op.context, op.value);
    if (!local.ok) return local;
    for (const w of local.value.warnings) this.events.limitWarning(w);
    const result: WriteResult = { kind: op.kind, context: encodeContext(local.value.object.vv), siblings: liveValues(local.value.object).length };
    const counter = new QuorumCounter(op.w, primaries.length);
    counter.add(true);
    const failed: string[] = [];
    return new Promise((resolve) => {
      let answered = false;
      const answer = (r: Result<WriteResult>) => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(
        () => answer(err(new KvError('DeadlineExceeded', `${op.kind}: acknowledged by ${counter.okCount} of ${op.w} required replicas within ${timeoutMs} ms (N=${primaries.length}); the write may still become visible`, true))),
        timeoutMs,
      );
      const settle = () => {
        const outcome = counter.outcome;
        if (outcome === 'success') answer(ok(result));
        else if (outcome === 'failure') {
          answer(err(new KvError('InsufficientReplicas', `${op.kind}: acknowledged by ${counter.okCount} of ${op.w} required replicas (N=${primaries.length}; failed: ${failed.join('; ')}); the write may still become visible`, true)));
        }
      };
      settle();
      for (const node of primaries) {
        if (node === self) continue;
        transport.replicate(node, partition, op.key, local.value.encoded, timeoutMs).then((r) => {
          if (!r.ok) failed.push(`${node} (${r.error.message})`);
          counter.add(r.ok);
          settle();
        });
      }
    });
  }
}

function decodeReply(bytes: Uint8Array): ReadReply {
  try {
    return { ok: true, object: decodeObject(bytes) };
  } catch {
    // It passed the replica's checksum but is not a well-formed object: repair it like corruption.
    return { ok: false, corrupt: true };
  }
}

function toGetResult(obj: VersionedObject | undefined): GetResult {
  const values = liveValues(obj);
  return {
    kind: 'get',
    found: values.length > 0,
    values,
    context: obj === undefined ? Buffer.alloc(0) : encodeContext(obj.vv),
    deleted: isDeleted(obj),
  };
}

function isCorrupt(e: unknown): boolean {
  return e instanceof Error && (e.name === 'CorruptRecordError' || e.name === 'CodecError');
}

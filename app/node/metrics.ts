/**
 * The node's Prometheus metrics (prom-client), on their own registry, served over HTTP at
 * /metrics on the metrics port. Names follow Prometheus conventions: units last, _total counters.
 */
import * as http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CoordinatorEvents } from '../replication/coordinator';
import { StoreObserver } from '../storage/local-store';

export class NodeMetrics {
  readonly registry = new Registry();
  readonly operations: Counter<'op' | 'outcome'>;
  readonly operationSeconds: Histogram<'op'>;
  readonly readRepairs: Counter<'peer'>;
  readonly readRepairsSkipped: Counter;
  readonly forwarded: Counter;
  readonly limitWarnings: Counter;
  readonly inFlight: Gauge;
  readonly peerUp: Gauge<'peer'>;
  readonly commitSeconds: Histogram;
  readonly commitUpdates: Histogram;
  readonly corruptRecords: Counter;
  readonly peerMessageRequests: Histogram;
  /** Where kv_peer_up reads reachability: set by the node once its transport exists. */
  peerSource: () => Iterable<[string, boolean]> = () => [];
  /** Where kv_operations_in_flight reads its value: the coordinator's own count, set by the node. */
  inFlightSource: () => number = () => 0;

  constructor(nodeId: string) {
    this.registry.setDefaultLabels({ node: nodeId });
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.operations = new Counter({ name: 'kv_operations_total', help: 'Client operations coordinated or forwarded by this node, by outcome (ok or the gRPC status name).', labelNames: ['op', 'outcome'], registers });
    this.operationSeconds = new Histogram({
      name: 'kv_operation_duration_seconds',
      help: 'Time from receiving a client operation to answering it.',
      labelNames: ['op'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.readRepairs = new Counter({ name: 'kv_read_repairs_total', help: 'Merged objects sent to stale replicas after a get.', labelNames: ['peer'], registers });
    this.readRepairsSkipped = new Counter({ name: 'kv_read_repairs_skipped_total', help: 'Read repairs skipped because readRepairsInFlightMax was reached.', registers });
    this.forwarded = new Counter({ name: 'kv_forwarded_total', help: 'Operations sent on to a primary because this node is not a replica of the key.', registers });
    this.limitWarnings = new Counter({ name: 'kv_object_limit_warnings_total', help: 'Writes that left an object above a sibling or clock warning level.', registers });
    const inFlight = () => this.inFlightSource();
    this.inFlight = new Gauge({
      name: 'kv_operations_in_flight',
      help: 'Operations being coordinated by this node.',
      registers,
      // Read at scrape time from the coordinator, which counts them anyway.
      collect() {
        this.set(inFlight());
      },
    });
    this.commitSeconds = new Histogram({
      name: 'kv_store_commit_duration_seconds',
      help: 'Time of one LMDB write transaction: its updates decided and written, then committed with the fsync (durable mode). The event loop waits for it.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    const powersOfTwo = Array.from({ length: 11 }, (_, i) => 2 ** i);
    this.commitUpdates = new Histogram({ name: 'kv_store_commit_updates', help: 'Updates queued together into one LMDB write transaction (group commit), those that wrote nothing included.', buckets: powersOfTwo, registers });
    this.corruptRecords = new Counter({ name: 'kv_store_corrupt_records_total', help: 'Reads that found a record failing its checksum or payload check (answered DATA_LOSS or repaired).', registers });
    this.peerMessageRequests = new Histogram({ name: 'kv_peer_message_requests', help: 'Requests carried by one message on a peer stream (batching).', buckets: powersOfTwo, registers });
    const peers = () => this.peerSource();
    this.peerUp = new Gauge({
      name: 'kv_peer_up',
      help: '1 when the peer stream to the member is connected.',
      labelNames: ['peer'],
      registers,
      // Read at scrape time, so the value is never stale.
      collect() {
        for (const [peer, up] of peers()) this.set({ peer }, up ? 1 : 0);
      },
    });
  }

  storeObserver(): StoreObserver {
    return {
      commit: (updates, seconds) => {
        this.commitUpdates.observe(updates);
        this.commitSeconds.observe(seconds);
      },
      corruptRecord: () => this.corruptRecords.inc(),
    };
  }

  coordinatorEvents(onWarning: (message: string) => void): CoordinatorEvents {
    return {
      readRepair: (peer) => this.readRepairs.inc({ peer }),
      readRepairSkipped: () => this.readRepairsSkipped.inc(),
      forwarded: () => this.forwarded.inc(),
      limitWarning: (message) => {
        this.limitWarnings.inc();
        onWarning(message);
      },
    };
  }

  /** Serves /metrics; resolves with the bound port. */
  serve(host: string, port: number): Promise<http.Server> {
    const server = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('not found: metrics are at /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
        (e) => res.writeHead(500).end(String(e)),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`cannot serve metrics on ${host}:${port}: ${e.message}`)));
      server.listen(port, host, () => resolve(server));
    });
  }
}

/**
 * What a `kv bench` process exposes while it runs (`--metrics-port`), so that a load test of many
 * pods on Kubernetes (constructs/k8s/kv-bench-job.ts) is one report in Prometheus: operations by
 * kind and outcome, and latency from each operation's intended start, summed over the pods.
 */
import * as http from 'node:http';
import { Counter, Histogram, Registry } from 'prom-client';

/** Latency buckets, seconds: 0.5 ms to 10 s. */
const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];

export class BenchMetrics {
  readonly registry = new Registry();
  private readonly operations: Counter<'kind' | 'outcome'>;
  private readonly latency: Histogram<'kind'>;

  constructor(labels: { readonly workload: string; readonly pod: string }) {
    this.registry.setDefaultLabels({ workload: labels.workload, bench: labels.pod });
    this.operations = new Counter({ name: 'kv_bench_operations_total', help: 'Operations the bench completed, measured ones only, by kind (get, put, rmw) and outcome (ok, or the gRPC status).', labelNames: ['kind', 'outcome'], registers: [this.registry] });
    this.latency = new Histogram({ name: 'kv_bench_latency_seconds', help: 'Latency of measured operations from their intended start (open loop: coordinated omission counted).', labelNames: ['kind'], buckets: LATENCY_BUCKETS_S, registers: [this.registry] });
  }

  done(kind: string, seconds: number | undefined, outcome: string): void {
    this.operations.inc({ kind, outcome });
    if (seconds !== undefined) this.latency.observe({ kind }, seconds);
  }

  serve(host: string, port: number): Promise<http.Server> {
    const server = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`cannot serve bench metrics on ${host}:${port}: ${e.message}`)));
      server.listen(port, host, () => resolve(server));
    });
  }
}

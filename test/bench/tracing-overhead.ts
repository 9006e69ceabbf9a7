/**
 * What tracing costs the coordinator: operations a second through an in-process cluster
 * (test/support/memory-cluster.ts: real coordinators, replicas and in-memory stores, no network),
 * with tracing off, and with 10% and 100% of operations sampled and exported over OTLP/HTTP to a
 * sink in this process that reads and drops each export. A program that prints figures, not a
 * test (STYLE.md 8).
 *
 *   npm run build && node dist/test/bench/tracing-overhead.js [seconds-per-round]
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { MemoryCluster } from '../support/memory-cluster';
import { startTracing, NodeTracing } from '../../observability/tracing';

const NODES = 3;
const KEYS = 1000;
const CONCURRENCY = 64;
const ROUNDS = 3;

async function sink(): Promise<{ url: string; exports: () => number; close(): void }> {
  let exports = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v1/traces`, exports: () => exports, close: () => server.close() };
}

interface Figures {
  readonly opsPerS: number;
  /** Process CPU time (user + system) per operation, microseconds: every node's share of it and the exporter's. */
  readonly cpuUsPerOp: number;
}

/** Operations a second over `seconds`: half puts, half gets, CONCURRENCY in flight, each node coordinating a third. */
async function measure(cluster: MemoryCluster, seconds: number): Promise<Figures> {
  const cpu = process.cpuUsage();
  const ids = [...Array(NODES).keys()].map((i) => `n${i + 1}`);
  const end = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async (w: number) => {
    for (let i = w; Date.now() < end; i += CONCURRENCY) {
      const key = `k${i % KEYS}`;
      const via = ids[i % NODES]!;
      const r = i % 2 === 0 ? await cluster.put(via, key, 'v'.repeat(100)) : await cluster.get(via, key);
      if (!r.ok) throw new Error(r.error.message);
      done++;
    }
  };
  await Promise.all([...Array(CONCURRENCY).keys()].map(worker));
  const used = process.cpuUsage(cpu);
  return { opsPerS: done / seconds, cpuUsPerOp: (used.user + used.system) / done };
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  const receiver = await sink();
  const modes: Array<{ name: string; ratio: number }> = [
    { name: 'off', ratio: 0 },
    { name: '10% sampled', ratio: 0.1 },
    { name: '100% sampled', ratio: 1 },
  ];
  const results = new Map<string, Figures[]>(modes.map((m) => [m.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of modes) {
      const tracing: NodeTracing | undefined = mode.ratio > 0 ? startTracing({ nodeId: 'bench', sampleRatio: mode.ratio, url: receiver.url }) : undefined;
      const cluster = await MemoryCluster.start(NODES, { config: { requestTimeoutMs: 5000, readRepairWaitMs: 0 }, tracer: tracing?.tracer });
      await measure(cluster, 0.5); // warm-up
      results.get(mode.name)!.push(await measure(cluster, seconds));
      await tracing?.shutdown();
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = results.get('off')!;
  const baseOps = median(base.map((f) => f.opsPerS));
  const baseCpu = median(base.map((f) => f.cpuUsPerOp));
  console.log(`coordinator ops/s and CPU per operation, ${NODES} in-process nodes, ${CONCURRENCY} in flight, half puts, half gets; median of ${ROUNDS} rounds of ${seconds} s (Node ${process.version})`);
  for (const [name, xs] of results) {
    const ops = median(xs.map((f) => f.opsPerS));
    const cpu = median(xs.map((f) => f.cpuUsPerOp));
    console.log(
      `  tracing ${name.padEnd(13)} ${ops.toFixed(0).padStart(8)} ops/s (${(((ops - baseOps) / baseOps) * 100).toFixed(1).padStart(5)}% vs off)` +
        `  ${cpu.toFixed(1).padStart(6)} µs CPU/op (${(cpu - baseCpu >= 0 ? '+' : '') + (cpu - baseCpu).toFixed(1)} µs vs off)  rounds: ${xs.map((x) => x.opsPerS.toFixed(0)).join(', ')}`,
    );
  }
  console.log(`  exports received by the sink: ${receiver.exports()}`);
  receiver.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * `kv floor`: measures the transport floor (app/rpc/transport-floor.ts) the way `kv bench --rate`
 * measures the store. It starts floor node processes on 127.0.0.1, drives them with an open loop
 * of mixed operations at a fixed rate (latency counts from each operation's intended start), and
 * prints ops/s, latency percentiles and the CPU the node processes used per 1,000 operations.
 * Comparing it with `kv bench --rate` at the same rate shows what the store adds to the floor.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';
import { FLOOR_GET, FLOOR_PUT, FLOOR_REPLICAS, FLOOR_VALUE_BYTES_MAX, FloorClient, serveFloor } from '../rpc/transport-floor';
import { CliError } from './cli-error';
import { integerFlag, latencyFigures, LatencyFigures, MeasuredWindow, newLatencyHistogram, numberFlag, openLoop, per1000Ops, WindowFigures } from './measure';

export const FLOOR_USAGE = `kv floor: a lower bound on what a quorum operation costs over grpc-js on this machine

Starts floor nodes (separate processes) that pass each operation from a coordinator to two
replicas and back, batched per turn of the event loop like the store's streams, with raw bytes
and no protobuf, storage, versioning or routing; loads them like \`kv bench --rate\`; prints
ops/s, latency and node CPU per 1,000 operations.

Options:
  --rate OPS              open loop at this many mixed (50/50) ops/s           (default 5000)
  --duration-s S          measured seconds                                    (default 8)
  --warmup-s S            unmeasured seconds before                           (default 2)
  --concurrency C         operations in flight at most; the rest wait         (default 1024)
  --nodes K               floor node processes, at least 3                    (default 5)
  --base-port P           node i (0-based) listens on P + i                   (default 18601)
  --value-bytes B         value size, at most ${FLOOR_VALUE_BYTES_MAX}               (default 1024)
  --json                  print the figures as one JSON object

  --serve I               (used by kv floor itself) run floor node I; prints "ready" once it
                          listens, stops on SIGTERM or when its stdin closes`;

interface FloorFigures {
  rateTarget: number;
  nodes: number;
  durationS: number;
  ops: number;
  opsPerSecond: number;
  latencyMs: LatencyFigures;
  nodeCpuSeconds: number;
  nodeCpuSecondsPer1000Ops: number;
  clientCpuSecondsPer1000Ops: number;
}

/** How long the floor nodes get to start listening. */
const READY_TIMEOUT_MS = 10_000;
const READY_LINE = 'ready';
/** Exit status of a run that failed (bad usage exits with 2). */
const RUN_FAILED = 1;

export async function floorCommand(argv: readonly string[], kvScript: string): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        rate: { type: 'string', default: '5000' },
        'duration-s': { type: 'string', default: '8' },
        'warmup-s': { type: 'string', default: '2' },
        concurrency: { type: 'string', default: '1024' },
        nodes: { type: 'string', default: '5' },
        'base-port': { type: 'string', default: '18601' },
        'value-bytes': { type: 'string', default: '1024' },
        serve: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (e) {
    throw new CliError(`kv floor: ${(e as Error).message}; see kv floor --help`);
  }
  if (values.help) {
    process.stdout.write(`${FLOOR_USAGE}\n`);
    return;
  }
  const nodes = integerFlag(values, 'nodes', FLOOR_REPLICAS + 1, 64);
  const basePort = integerFlag(values, 'base-port', 1, 65535 - nodes + 1);
  const valueBytes = integerFlag(values, 'value-bytes', 0, FLOOR_VALUE_BYTES_MAX);
  if (values.serve !== undefined) return serve(integerFlag(values, 'serve', 0, nodes - 1), nodes, basePort, valueBytes);
  const rate = numberFlag(values, 'rate', 1, 1_000_000);
  const durationS = numberFlag(values, 'duration-s', 1, 3600);
  const warmupS = numberFlag(values, 'warmup-s', 0, 600);
  const concurrency = integerFlag(values, 'concurrency', 1, 1_000_000);

  const stop = new AbortController();
  let floor: FloorNodes | undefined;
  try {
    floor = await startFloorNodes(kvScript, { nodes, basePort, valueBytes }, stop.signal);
    const { client, children, died } = floor;
    const value = Buffer.alloc(valueBytes, 'v');
    const figures = await Promise.race([measure(client, children, { rate, durationS, warmupS, concurrency, nodes, value }, stop.signal), died]);
    process.stdout.write(
      values.json
        ? `${JSON.stringify(figures)}\n`
        : [
            `floor: ${nodes} nodes, mixed 50/50, ${valueBytes} B values, target ${rate} ops/s`,
            `ops/s          ${figures.opsPerSecond}   (${figures.ops} ops in ${figures.durationS} s)`,
            `latency ms     p50 ${figures.latencyMs.p50}   p99 ${figures.latencyMs.p99}   p99.9 ${figures.latencyMs.p999}   max ${figures.latencyMs.max}`,
            `node CPU       ${figures.nodeCpuSeconds} s = ${figures.nodeCpuSecondsPer1000Ops} CPU-s per 1,000 ops (client itself: ${figures.clientCpuSecondsPer1000Ops})`,
          ].join('\n') + '\n',
    );
  } finally {
    stop.abort();
    await floor?.stop();
  }
}

/** Floor node processes, listening, and a client connected to each. */
export interface FloorNodes {
  readonly client: FloorClient;
  readonly children: readonly ChildProcess[];
  /** Rejects when a node exits (it said why on stderr), or when a stream to one fails. */
  readonly died: Promise<never>;
  /** Closes the client and stops every node (SIGTERM); resolves once they have exited. */
  stop(): Promise<void>;
}

/**
 * Starts `nodes` floor nodes (`kv floor --serve i`) on 127.0.0.1:basePort.. and connects a client
 * to each; for `kv floor`, and for `kv bench compare --floor`, which loads them beside the store.
 */
export async function startFloorNodes(kvScript: string, spec: { nodes: number; basePort: number; valueBytes: number }, signal: AbortSignal): Promise<FloorNodes> {
  const { nodes, basePort, valueBytes } = spec;
  const common = ['--nodes', String(nodes), '--base-port', String(basePort), '--value-bytes', String(valueBytes)];
  const children: ChildProcess[] = [];
  const client = new FloorClient(nodes, basePort);
  const stop = async () => {
    client.close();
    // Their exits are no longer failures of the run.
    for (const child of children) child.removeAllListeners('exit');
    const exited = children.map((child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()))));
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(exited);
  };
  try {
    for (let i = 0; i < nodes; i++) children.push(spawn(process.execPath, [kvScript, 'floor', '--serve', String(i), ...common], {
        stdio: ['pipe', 'pipe', 'inherit'],
        // grpc-js would also log a failed bind; the node's own error line says it with the port.
        env: { ...process.env, GRPC_VERBOSITY: process.env.GRPC_VERBOSITY ?? 'NONE' },
      }));
    // A floor node that exits ends the run: before it is ready (its port is taken, say: it said
    // why on stderr), or during it (its operations would never be answered).
    const exited = new Promise<never>((_, reject) => {
      for (const [i, child] of children.entries()) {
        child.once('exit', (code, signal) => reject(new CliError(`kv floor: floor node ${i} (port ${basePort + i}) exited (${signal ?? `code ${code}`})`, RUN_FAILED)));
      }
    });
    // Waiting for the nodes ends when one exits, or when the caller gives up.
    const waiting = new AbortController();
    exited.catch(() => waiting.abort());
    signal.addEventListener('abort', () => waiting.abort(), { once: true });
    const failed = client.failed.catch((e: Error) => {
      throw new CliError(`kv floor: ${e.message}`, RUN_FAILED);
    });
    failed.catch(() => {}); // raced by the caller; a failure after the run (close() cancels the streams) is no error
    const died = Promise.race([exited, failed]);
    died.catch(() => {});
    await Promise.race([allReady(children, basePort, waiting.signal), exited]);
    // Every node has bound its own port, so the client cannot reach another run's nodes.
    await Promise.race([client.connect(READY_TIMEOUT_MS), exited]);
    return { client, children, died, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Runs floor node `index` until SIGTERM or until the parent goes away (its end of stdin closes). */
async function serve(index: number, nodes: number, basePort: number, valueBytes: number): Promise<void> {
  let server: Awaited<ReturnType<typeof serveFloor>>;
  try {
    server = await serveFloor({ index, nodes, basePort, valueBytes });
  } catch (e) {
    throw new CliError(`kv floor --serve ${index}: cannot listen on 127.0.0.1:${basePort + index}: ${(e as Error).message}`);
  }
  process.stdout.write(`${READY_LINE}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.stdin.on('close', resolve).resume();
  });
  server.forceShutdown();
  process.exit(0);
}

/** Resolves when every child has printed its ready line. */
function allReady(children: readonly ChildProcess[], basePort: number, signal: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CliError(`kv floor: the floor nodes on ports ${basePort}..${basePort + children.length - 1} did not start within ${READY_TIMEOUT_MS} ms`, RUN_FAILED)), READY_TIMEOUT_MS);
  });
  const ready = children.map(
    (child) =>
      new Promise<void>((resolve) => {
        const lines = readline.createInterface({ input: child.stdout! });
        lines.on('line', (line) => {
          if (line.trim() === READY_LINE) {
            lines.close();
            resolve();
          }
        });
      }),
  );
  return Promise.race([Promise.all(ready).then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

async function measure(
  client: FloorClient,
  children: readonly ChildProcess[],
  run: { rate: number; durationS: number; warmupS: number; concurrency: number; nodes: number; value: Uint8Array },
  signal: AbortSignal,
): Promise<FloorFigures> {
  const pids = children.map((c) => c.pid).filter((p): p is number => p !== undefined);
  const histogram = newLatencyHistogram();
  let measuring = false;
  let ops = 0;
  const empty = new Uint8Array(0);
  const runOne = async (intendedAtNs: bigint) => {
    const put = Math.random() < 0.5;
    await client.send(Math.floor(Math.random() * run.nodes), put ? FLOOR_PUT : FLOOR_GET, put ? run.value : empty);
    if (!measuring) return;
    ops++;
    histogram.recordValue(Math.max(1, Number((process.hrtime.bigint() - intendedAtNs) / 1000n)));
  };
  const window = new MeasuredWindow(pids, run.warmupS, () => {
    measuring = true;
    histogram.reset();
  });
  let figures: WindowFigures;
  try {
    await openLoop(run.rate, run.concurrency, Date.now() + (run.warmupS + run.durationS) * 1000, runOne, signal);
  } finally {
    figures = window.finish();
  }
  const { elapsedS, serverCpuSeconds: nodeCpuSeconds, selfCpuSeconds: clientCpuSeconds } = figures;
  const per1000 = (seconds: number) => per1000Ops(seconds, ops);
  return {
    rateTarget: run.rate,
    nodes: run.nodes,
    durationS: Math.round(elapsedS * 100) / 100,
    ops,
    opsPerSecond: Math.round(ops / elapsedS),
    latencyMs: latencyFigures(histogram),
    nodeCpuSeconds: Math.round(nodeCpuSeconds * 100) / 100,
    nodeCpuSecondsPer1000Ops: per1000(nodeCpuSeconds),
    clientCpuSecondsPer1000Ops: per1000(clientCpuSeconds),
  };
}

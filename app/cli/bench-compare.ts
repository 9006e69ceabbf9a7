/**
 * `kv bench compare`: the store and etcd side by side on this machine, in one command. It starts
 * a 3-node store cluster (N=3, R=W=2, durable) and a 3-member etcd (./../local/etcd-peer.ts),
 * each with ports and data of its own, preloads every key on both, then for each workload and
 * each load (a closed loop, and an open loop at each rate) runs every target in turn, round
 * after round (the store's Batch and unary APIs, and etcd), and prints one table of the medians
 * over the rounds with the ratios store/etcd. A benchmark prints figures; it never passes or fails
 * on them.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { KvClient } from '../client/client';
import { EtcdPeer, etcdMissing } from '../local/etcd-peer';
import { LocalCluster } from '../local/local-cluster';
import { EtcdKvClient } from '../rpc/etcd-kv';
import { BENCH_TIMEOUT_MS, loadShape, oneOf } from './bench';
import { LoadFigures, preload, runLoad } from './bench-load';
import { BenchTarget, EtcdTarget, FloorTarget, StoreTarget } from './bench-target';
import { CliError } from './cli-error';
import { CompareReport, CompareSettings, compareRows, compareTable, ETCD_MEMBERS, ETCD_TARGET, formatMs, loadLabel, STORE_N, STORE_NODES, STORE_R, STORE_W } from './compare-figures';
import { FloorNodes, startFloorNodes } from './floor';
import { integerFlag, numberFlag } from './measure';
import { WORKLOAD_NAMES } from './workload';

const RATES_MAX = 10;
const ROUNDS_MAX = 100;
/** Exit status of a run that failed (bad usage exits with 2). */
const RUN_FAILED = 1;
/** Exit status after Ctrl-C. */
const INTERRUPTED = 130;

/** Defaults sized for a full comparison in about ten minutes on a 2-core machine. */
const DEFAULTS: Readonly<Record<string, string>> = {
  workloads: 'a,b,c,f',
  apis: 'batch,unary',
  rounds: '3',
  concurrency: '256',
  rates: '1000,2000',
  'duration-s': '5',
  'warmup-s': '1',
  keys: '10000',
  distribution: 'uniform',
  'value-bytes': '1024',
  'base-port': '7401',
  'etcd-base-port': '12379',
  'floor-base-port': '18601',
};
/** --quick: one round, one rate, short runs (about a minute). */
const QUICK: Readonly<Record<string, string>> = { ...DEFAULTS, rounds: '1', rates: '1000', 'duration-s': '2', 'warmup-s': '0.5', keys: '1000' };

export const COMPARE_USAGE = `kv bench compare: the store and etcd side by side on this machine, in one command

Starts a ${STORE_NODES}-node store cluster (N=${STORE_N}, R=${STORE_R}, W=${STORE_W}, durable: fsync per commit) and a
${ETCD_MEMBERS}-member etcd (Debian's etcd-server, its defaults: fsync per write; linearizable reads),
each on 127.0.0.1 with ports of its own and data in a temporary directory; preloads every key
on both; then for each workload and load runs the store (each API) and etcd in turn, round
after round, under the same load: a closed loop at --concurrency, and an open loop at each of
--rates (at most --concurrency in flight). Prints one table of medians over the rounds, with the
ratios store/etcd. Takes about (runs x (warm-up + duration)); the defaults, about 12 minutes.

Options:
  --workloads W,...       YCSB a | b | c | f, or put | get | mixed       (default ${DEFAULTS.workloads})
  --apis A,...            the store's APIs: batch | unary (etcd: unary)  (default ${DEFAULTS.apis})
  --rounds R              runs of each target per workload and load      (default ${DEFAULTS.rounds})
  --concurrency C         closed loop: operations in flight; open loop: at most (default ${DEFAULTS.concurrency})
  --rates R1,R2,...       open-loop rates, ops/s                         (default ${DEFAULTS.rates})
  --duration-s S          measured seconds of each run                   (default ${DEFAULTS['duration-s']})
  --warmup-s S            unmeasured seconds before each                 (default ${DEFAULTS['warmup-s']})
  --keys K                distinct keys, all preloaded                   (default ${DEFAULTS.keys})
  --distribution D        uniform | zipfian (theta 0.99)                 (default ${DEFAULTS.distribution})
  --value-bytes B         value size                                     (default ${DEFAULTS['value-bytes']})
  --base-port P           store node i listens on P+i-1                  (default ${DEFAULTS['base-port']})
  --etcd-base-port E      etcd member i: clients on E+2(i-1), peers on E+2(i-1)+1 (default ${DEFAULTS['etcd-base-port']})
  --floor                 also run the transport floor (kv floor: ${STORE_NODES} nodes passing each operation
                          to two others over the Batch API's streams, with no storage, versioning
                          or routing) as a third target under the same load: the least an
                          operation of this design costs on grpc-js here, beside etcd's cost
  --floor-base-port F     floor node i listens on F+i-1                  (default ${DEFAULTS['floor-base-port']})
  --data DIR              data directory, kept afterwards (default: a temporary one, removed)
  --quick                 1 round, rate 1000 only, 2 s runs, 1000 keys: about a minute
                          (flags given as well still count)
  --json                  print the figures as one JSON object instead of the table
  --report FILE.html      also write an HTML report: latency against throughput, per workload`;

function listFlag<T>(values: Record<string, unknown>, name: string, parse: (item: string) => T, limit: number): T[] {
  const text = String(values[name]);
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new CliError(`--${name}: ${JSON.stringify(text)} has an empty item; give a comma-separated list`);
  if (items.length > limit) throw new CliError(`--${name}: ${JSON.stringify(text)} has ${items.length} items, at most ${limit}`);
  if (new Set(items).size !== items.length) throw new CliError(`--${name}: ${JSON.stringify(text)} names an item twice`);
  return items.map(parse);
}

/** Every flag, validated, before anything starts. */
export function parseCompareFlags(argv: readonly string[]): { settings: CompareSettings; data?: string; json: boolean; report?: string } | 'help' {
  let parsed: Record<string, string | boolean | undefined>;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, { type: 'string' as const }])),
        data: { type: 'string' },
        report: { type: 'string' },
        quick: { type: 'boolean', default: false },
        floor: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (e) {
    throw new CliError(`kv bench compare: ${(e as Error).message}; see kv bench compare --help`);
  }
  if (parsed.help) return 'help';
  const values = { ...(parsed.quick ? QUICK : DEFAULTS), ...Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined)) };
  const shape = loadShape(values);
  const basePort = integerFlag(values, 'base-port', 1, 65536 - STORE_NODES);
  const etcdBasePort = integerFlag(values, 'etcd-base-port', 1, 65536 - 2 * ETCD_MEMBERS);
  if (etcdBasePort < basePort + STORE_NODES && basePort < etcdBasePort + 2 * ETCD_MEMBERS) {
    throw new CliError(`--etcd-base-port: ${etcdBasePort}..${etcdBasePort + 2 * ETCD_MEMBERS - 1} overlaps the store's ports (--base-port ${basePort}..${basePort + STORE_NODES - 1}); choose ranges apart`);
  }
  const floorBasePort = integerFlag(values, 'floor-base-port', 1, 65536 - STORE_NODES);
  const floor = values.floor === true;
  if (floor) {
    const ranges: [string, number, number][] = [
      ['the store\'s ports (--base-port', basePort, STORE_NODES],
      ['etcd\'s ports (--etcd-base-port', etcdBasePort, 2 * ETCD_MEMBERS],
    ];
    for (const [what, from, count] of ranges) {
      if (floorBasePort < from + count && from < floorBasePort + STORE_NODES) {
        throw new CliError(`--floor-base-port: ${floorBasePort}..${floorBasePort + STORE_NODES - 1} overlaps ${what} ${from}..${from + count - 1}); choose ranges apart`);
      }
    }
  }
  const settings: CompareSettings = {
    workloads: listFlag(values, 'workloads', (w) => oneOf({ workloads: w }, 'workloads', WORKLOAD_NAMES), WORKLOAD_NAMES.length),
    apis: listFlag(values, 'apis', (a) => oneOf({ apis: a }, 'apis', ['batch', 'unary'] as const), 2),
    rounds: integerFlag(values, 'rounds', 1, ROUNDS_MAX),
    rates: listFlag(values, 'rates', (r) => numberFlag({ rates: r }, 'rates', 1, 10_000_000), RATES_MAX),
    ...shape,
    basePort,
    etcdBasePort,
    floor,
    floorBasePort,
  };
  if (typeof values.report === 'string' && !values.report.endsWith('.html')) throw new CliError(`--report: ${JSON.stringify(values.report)} must name an .html file`);
  return { settings, data: values.data as string | undefined, json: values.json === true, report: values.report as string | undefined };
}

function etcdVersion(): string {
  try {
    const first = execFileSync('etcd', ['--version'], { encoding: 'utf8', timeout: 10_000 }).split('\n')[0] ?? '';
    return `etcd ${first.replace(/^etcd Version:\s*/, '').trim()}`;
  } catch {
    return 'etcd (version unknown)';
  }
}

export async function benchCompareCommand(argv: readonly string[], kvScript: string): Promise<void> {
  const flags = parseCompareFlags(argv);
  if (flags === 'help') {
    process.stdout.write(`${COMPARE_USAGE}\n`);
    return;
  }
  const { settings: s, data, json, report: reportFile } = flags;
  const missing = etcdMissing('etcd');
  if (missing) throw new CliError(`kv bench compare: ${missing}`, RUN_FAILED);
  const log = (line: string) => process.stderr.write(`kv bench compare: ${line}\n`);
  const dataDir = data === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'kv-bench-compare-')) : path.resolve(data);
  for (const sub of ['kv', 'etcd']) {
    if (data !== undefined && fs.existsSync(path.join(dataDir, sub))) throw new CliError(`--data: ${path.join(dataDir, sub)} exists; the comparison starts from empty stores (remove it, or choose another --data)`);
  }
  const targetsPerRound = s.apis.length + (s.floor ? 1 : 0) + 1;
  const loads = [0, ...s.rates];
  const runsTotal = s.workloads.length * loads.length * s.rounds * targetsPerRound;
  log(`${runsTotal} runs of ${s.warmupS + s.durationS} s: about ${Math.ceil((runsTotal * (s.warmupS + s.durationS)) / 60)} min, plus starting and preloading; data in ${dataDir}`);

  const cluster = new LocalCluster({
    nodes: STORE_NODES,
    basePort: s.basePort,
    metricsBasePort: 0,
    dataDir: path.join(dataDir, 'kv'),
    n: STORE_N,
    r: STORE_R,
    w: STORE_W,
    durability: 'durable',
    kvScript,
    logs: 'file',
  });
  let peer: EtcdPeer | undefined;
  let floor: FloorNodes | undefined;
  const floorStarting = new AbortController();
  const targets: BenchTarget[] = [];
  let failed = false;
  let interrupted = false;
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      floorStarting.abort();
      for (const t of targets) t.close();
      await Promise.all([cluster.stop(), peer?.stop(true), floor?.stop()]);
      // Kept after a failure, for its logs; not after Ctrl-C.
      if (data === undefined && (interrupted || !failed)) fs.rmSync(dataDir, { recursive: true, force: true });
      else log(`data and logs kept in ${dataDir}`);
    })());
  const onSignal = () => {
    interrupted = true;
    log('interrupted: stopping the store and etcd');
    void stopAll().finally(() => process.exit(INTERRUPTED));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const runs: LoadFigures[] = [];
  const startedAt = new Date().toISOString();
  try {
    log(`starting the store (${STORE_NODES} nodes on 127.0.0.1:${s.basePort}..${s.basePort + STORE_NODES - 1}) and etcd (${ETCD_MEMBERS} members, clients on 127.0.0.1:${s.etcdBasePort}, ${s.etcdBasePort + 2}, ${s.etcdBasePort + 4})`);
    try {
      await cluster.start();
      peer = await EtcdPeer.start({ basePort: s.etcdBasePort, dataDir: path.join(dataDir, 'etcd'), members: ETCD_MEMBERS });
      if (s.floor) {
        log(`starting the transport floor (${STORE_NODES} nodes on 127.0.0.1:${s.floorBasePort}..${s.floorBasePort + STORE_NODES - 1})`);
        floor = await startFloorNodes(kvScript, { nodes: STORE_NODES, basePort: s.floorBasePort, valueBytes: s.valueBytes }, floorStarting.signal);
      }
    } catch (e) {
      throw new CliError(`kv bench compare: ${(e as Error).message}`, RUN_FAILED);
    }
    const storePids = cluster.nodes.map((n) => n.process?.pid).filter((p): p is number => p !== undefined);
    const contexts = new Map<string, string>();
    for (const api of s.apis) {
      const client = new KvClient({ endpoints: cluster.endpoints, routing: 'primary', batch: api === 'batch', timeoutMs: BENCH_TIMEOUT_MS, attemptsMax: 1, batchInFlightMax: 100_000 });
      targets.push(new StoreTarget(`kv ${api}`, [client], storePids, contexts));
    }
    if (floor !== undefined) {
      targets.push(new FloorTarget(floor.client, STORE_NODES, floor.children.map((c) => c.pid).filter((p): p is number => p !== undefined)));
    }
    targets.push(new EtcdTarget(new EtcdKvClient(peer.endpoints, BENCH_TIMEOUT_MS), peer.pids));
    const value = Buffer.alloc(s.valueBytes, 'v');
    // One store target preloads for all: they share the cluster and the contexts it learns.
    for (const t of [targets[0]!, targets[targets.length - 1]!]) {
      log(`preloading ${s.keys} keys into ${t.name === ETCD_TARGET ? 'etcd' : 'the store'}`);
      await preload(t, s.keys, value, s.concurrency);
    }
    const checkAlive = () => {
      const down = cluster.nodes.filter((n) => !cluster.isRunning(n.id)).map((n) => `${n.id} (see ${path.join(n.dataDir, 'node.log')})`);
      for (const m of peer!.exited()) down.push(`${m.name} (see ${m.log})`);
      for (const [i, c] of (floor?.children ?? []).entries()) if (c.exitCode !== null || c.signalCode !== null) down.push(`floor node ${i}`);
      if (down.length > 0) throw new CliError(`kv bench compare: a server process exited during the run: ${down.join(', ')}`, RUN_FAILED);
    };
    for (const workload of s.workloads) {
      for (const rate of loads) {
        for (let round = 1; round <= s.rounds; round++) {
          // Every other round in the reverse order, so that no target always follows the same one.
          for (const target of round % 2 === 1 ? targets : [...targets].reverse()) {
            const figures = await runLoad(target, { workload, rate, value, keys: s.keys, distribution: s.distribution, concurrency: s.concurrency, durationS: s.durationS, warmupS: s.warmupS });
            runs.push(figures);
            checkAlive();
            log(
              `[${runs.length}/${runsTotal}] ${workload} ${loadLabel(rate, s.concurrency)} round ${round} ${target.name}: ${figures.opsPerSecond} ops/s, p50 ${formatMs(figures.latencyMs.p50)} ms, p99 ${formatMs(figures.latencyMs.p99)} ms, ${figures.errors} errors${figures.errors ? ` ${JSON.stringify(figures.errorKinds)}` : ''}`,
            );
          }
        }
      }
    }
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopAll();
  }
  const report: CompareReport = {
    startedAt,
    machine: `${os.availableParallelism()} CPUs, Node ${process.version}`,
    etcdVersion: etcdVersion(),
    settings: s,
    rows: compareRows(runs),
    runs,
  };
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : compareTable(report));
  if (reportFile !== undefined) {
    try {
      const { compareReportHtml } = await import('./bench-report');
      fs.writeFileSync(reportFile, compareReportHtml(report));
    } catch (e) {
      throw new CliError(`kv bench compare: the report ${reportFile} was not written: ${(e as Error).message}`, RUN_FAILED);
    }
    log(`report: ${path.resolve(reportFile)}`);
  }
}

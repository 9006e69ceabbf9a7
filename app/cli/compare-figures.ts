/**
 * The figures of `kv bench compare` as pure functions of its runs: the medians over rounds per
 * workload, load and target, the ratios store/etcd, and the table that the command prints and
 * the HTML report (./bench-report.ts) shows.
 */
import type { LoadFigures } from './bench-load';
import type { WorkloadName } from './workload';

/** The store's cluster, as the comparison runs it. */
export const STORE_NODES = 3;
export const STORE_N = 3;
export const STORE_R = 2;
export const STORE_W = 2;
export const ETCD_MEMBERS = 3;

export interface CompareSettings {
  readonly workloads: readonly WorkloadName[];
  readonly apis: ReadonlyArray<'batch' | 'unary'>;
  readonly rounds: number;
  readonly concurrency: number;
  readonly rates: readonly number[];
  readonly durationS: number;
  readonly warmupS: number;
  readonly keys: number;
  readonly distribution: 'uniform' | 'zipfian';
  readonly valueBytes: number;
  readonly basePort: number;
  readonly etcdBasePort: number;
  /** Whether the transport floor ran beside them (--floor): STORE_NODES floor nodes from floorBasePort. */
  readonly floor: boolean;
  readonly floorBasePort: number;
}

/** The medians over the rounds of one target under one workload and load. */
export interface CompareRow {
  readonly workload: WorkloadName;
  /** ops/s of the open loop; 0 for the closed loop. */
  readonly rate: number;
  readonly concurrency: number;
  readonly target: string;
  readonly rounds: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  /** CPU milliseconds the target's server processes spent per operation. */
  readonly serverCpuMsPerOp: number;
  /** CPU milliseconds the bench itself spent per operation. */
  readonly benchCpuMsPerOp: number;
  /** Every failed operation of every round (not a median). */
  readonly errors: number;
  /** This row's medians divided by etcd's under the same workload and load (absent on etcd's rows). */
  readonly vsEtcd?: Ratios;
}

export interface Ratios {
  readonly opsPerSecond: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly p999Ms: number | null;
  readonly serverCpuMsPerOp: number | null;
}

export interface CompareReport {
  readonly startedAt: string;
  readonly machine: string;
  readonly etcdVersion: string;
  readonly settings: CompareSettings;
  readonly rows: readonly CompareRow[];
  /** Every run, in the order they ran. */
  readonly runs: readonly LoadFigures[];
}

export const ETCD_TARGET = 'etcd';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** What a load is called in the table: `closed 256` or `1000/s`. */
export function loadLabel(rate: number, concurrency: number): string {
  return rate === 0 ? `closed ${concurrency}` : `${rate}/s`;
}

/** The runs grouped by workload, load and target (in the order first run), as medians, with the ratios to etcd. */
export function compareRows(runs: readonly LoadFigures[]): CompareRow[] {
  const groups = new Map<string, LoadFigures[]>();
  for (const r of runs) {
    const k = JSON.stringify([r.workload, r.rateTarget, r.target]);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const rows = [...groups.values()].map((g): CompareRow => {
    const m = (f: (r: LoadFigures) => number) => median(g.map(f));
    return {
      workload: g[0]!.workload,
      rate: g[0]!.rateTarget,
      concurrency: g[0]!.concurrency,
      target: g[0]!.target,
      rounds: g.length,
      opsPerSecond: Math.round(m((r) => r.opsPerSecond)),
      p50Ms: m((r) => r.latencyMs.p50),
      p99Ms: m((r) => r.latencyMs.p99),
      p999Ms: m((r) => r.latencyMs.p999),
      serverCpuMsPerOp: m((r) => r.nodeCpuSecondsPer1000Ops),
      benchCpuMsPerOp: m((r) => r.benchCpuSecondsPer1000Ops),
      errors: g.reduce((sum, r) => sum + r.errors, 0),
    };
  });
  const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? Math.round((a / b) * 100) / 100 : null);
  return rows.map((row) => {
    if (row.target === ETCD_TARGET) return row;
    const etcd = rows.find((e) => e.target === ETCD_TARGET && e.workload === row.workload && e.rate === row.rate);
    if (etcd === undefined) return row;
    return {
      ...row,
      vsEtcd: {
        opsPerSecond: ratio(row.opsPerSecond, etcd.opsPerSecond),
        p50Ms: ratio(row.p50Ms, etcd.p50Ms),
        p99Ms: ratio(row.p99Ms, etcd.p99Ms),
        p999Ms: ratio(row.p999Ms, etcd.p999Ms),
        serverCpuMsPerOp: ratio(row.serverCpuMsPerOp, etcd.serverCpuMsPerOp),
      },
    };
  });
}

/** Milliseconds with about three significant digits. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : String(Math.round(ms));
}

const formatRatio = (r: number | null | undefined) => (r === null || r === undefined ? '' : r.toFixed(2));

/** The columns of the table, as the text table and the HTML report both print them. */
export const TABLE_HEADER = ['workload', 'load', 'target', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'server CPU ms/op', 'bench CPU ms/op', 'errors', 'ops/s kv/etcd', 'p50 kv/etcd', 'p99 kv/etcd', 'p99.9 kv/etcd', 'CPU/op kv/etcd'];

export function tableCells(row: CompareRow): string[] {
  const v = row.vsEtcd;
  return [
    row.workload,
    loadLabel(row.rate, row.concurrency),
    row.target,
    String(row.opsPerSecond),
    formatMs(row.p50Ms),
    formatMs(row.p99Ms),
    formatMs(row.p999Ms),
    row.serverCpuMsPerOp.toFixed(3),
    row.benchCpuMsPerOp.toFixed(3),
    String(row.errors),
    formatRatio(v?.opsPerSecond),
    formatRatio(v?.p50Ms),
    formatRatio(v?.p99Ms),
    formatRatio(v?.p999Ms),
    formatRatio(v?.serverCpuMsPerOp),
  ];
}

/** One line saying what ran, for the table's head and the report's. */
export function describeSettings(report: CompareReport): string {
  const s = report.settings;
  return (
    `kv (${STORE_NODES} nodes, N=${STORE_N} R=${STORE_R} W=${STORE_W}, durable, primary routing) vs ${report.etcdVersion} (${ETCD_MEMBERS} members, fsync per write, linearizable reads); ` +
    // Reports written before --floor existed have no floor setting.
    (s.floor === true ? `floor: the transport floor (${STORE_NODES} nodes, kv floor's pattern, no storage); ` : '') +
    `${s.distribution} over ${s.keys} keys, ${s.valueBytes} B values; ${s.durationS} s measured after ${s.warmupS} s warm-up; medians of ${s.rounds} round${s.rounds === 1 ? '' : 's'}; ${report.machine}`
  );
}

/** The text table: one line per workload, load and target. */
export function compareTable(report: CompareReport): string {
  const lines = [TABLE_HEADER, ...report.rows.map(tableCells)];
  const widths = TABLE_HEADER.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const text = lines.map((l) => l.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
  return [describeSettings(report), ...text].join('\n') + '\n';
}

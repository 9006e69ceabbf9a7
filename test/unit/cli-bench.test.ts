import { benchCommand } from '../../app/cli/bench';
import type { LoadFigures } from '../../app/cli/bench-load';
import { parseCompareFlags } from '../../app/cli/bench-compare';
import { CliError } from '../../app/cli/cli-error';
import { CompareReport, compareRows, compareTable, median } from '../../app/cli/compare-figures';
import { OpKind, opOf, WORKLOADS, WorkloadName, Zipfian } from '../../app/cli/workload';

describe('YCSB operation mix', () => {
  const shares = (workload: WorkloadName, draws = 100_000): Record<OpKind, number> => {
    const counts: Record<OpKind, number> = { get: 0, put: 0, rmw: 0 };
    for (let i = 0; i < draws; i++) counts[opOf(workload, Math.random())]++;
    return { get: counts.get / draws, put: counts.put / draws, rmw: counts.rmw / draws };
  };

  test.each([
    ['a', { get: 0.5, put: 0.5, rmw: 0 }],
    ['b', { get: 0.95, put: 0.05, rmw: 0 }],
    ['c', { get: 1, put: 0, rmw: 0 }],
    ['f', { get: 0.5, put: 0, rmw: 0.5 }],
    ['mixed', { get: 0.5, put: 0.5, rmw: 0 }],
    ['put', { get: 0, put: 1, rmw: 0 }],
    ['get', { get: 1, put: 0, rmw: 0 }],
  ] as const)('workload %s issues reads, updates and read-modify-writes in its proportions', (workload, expected) => {
    const got = shares(workload);
    for (const kind of ['get', 'put', 'rmw'] as const) expect(Math.abs(got[kind] - expected[kind])).toBeLessThan(0.01);
  });

  test('every workload\'s shares add up to 1, and a draw at either end of [0, 1) is an operation it issues', () => {
    for (const [name, mix] of Object.entries(WORKLOADS) as Array<[WorkloadName, (typeof WORKLOADS)[WorkloadName]]>) {
      expect(mix.get + mix.put + mix.rmw).toBeCloseTo(1, 10);
      for (const u of [0, 0.999999]) expect(mix[opOf(name, u)]).toBeGreaterThan(0);
    }
  });

  test('the boundaries fall where the shares say: b reads below 0.95 and updates above', () => {
    expect(opOf('b', 0.9499)).toBe('get');
    expect(opOf('b', 0.95)).toBe('put');
    expect(opOf('f', 0.4999)).toBe('get');
    expect(opOf('f', 0.5)).toBe('rmw');
  });

  test('Zipfian keys stay within [0, n) and the first key is the most frequent', () => {
    const z = new Zipfian(1000);
    const counts = new Array<number>(1000).fill(0);
    const drawn = Array.from({ length: 50_000 }, () => z.next());
    expect(Math.min(...drawn)).toBe(0);
    expect(Math.max(...drawn)).toBeLessThan(1000);
    expect(drawn.every(Number.isInteger)).toBe(true);
    for (const k of drawn) counts[k]!++;
    expect(Math.max(...counts)).toBe(counts[0]);
    expect(counts[0]! / 50_000).toBeGreaterThan(0.05); // uniform would give 0.001
  });
});

describe('kv bench flags', () => {
  test.each([
    [['--workload', 'scan'], '--workload: "scan" is not one of put, get, mixed, a, b, c, f'],
    [['--target', 'redis'], '--target: "redis" is not one of kv, etcd'],
    [['--target', 'etcd', '--api', 'batch'], '--api: "batch": etcd\'s KV API has unary calls only'],
    [['--target', 'etcd', '--routing', 'any'], '--routing: etcd has no routing choice'],
    [['--api', 'stream'], '--api: "stream" is not one of batch, unary'],
    [['--concurrency', '0'], '--concurrency: "0" must be an integer within 1..100000'],
    [['--duration-s', 'ten'], '--duration-s: "ten" must be a number within 1..3600'],
  ])('rejects kv bench %j, naming the flag and its value', async (argv, message) => {
    const run = benchCommand(argv);
    await expect(run).rejects.toThrow(CliError);
    await expect(benchCommand(argv)).rejects.toThrow(message);
  });
});

describe('kv bench compare flags', () => {
  test.each([
    [['--workloads', 'a,x'], '--workloads: "x" is not one of put, get, mixed, a, b, c, f'],
    [['--workloads', 'a,a'], '--workloads: "a,a" names an item twice'],
    [['--apis', 'batch,grpc'], '--apis: "grpc" is not one of batch, unary'],
    [['--rates', '1000,'], '--rates: "1000," has an empty item'],
    [['--rates', '0'], '--rates: "0" must be a number within 1..10000000'],
    [['--rates', '1,2,3,4,5,6,7,8,9,10,11'], 'has 11 items, at most 10'],
    [['--rounds', '0'], '--rounds: "0" must be an integer within 1..100'],
    [['--base-port', '12380'], '--etcd-base-port: 12379..12384 overlaps the store\'s ports (--base-port 12380..12382)'],
    [['--etcd-base-port', '65531'], '--etcd-base-port: "65531" must be an integer within 1..65530'],
    [['--report', 'figures.txt'], '--report: "figures.txt" must name an .html file'],
    [['--floor', '--floor-base-port', '7402'], '--floor-base-port: 7402..7404 overlaps the store\'s ports (--base-port 7401..7403)'],
    [['--floor', '--floor-base-port', '12384'], '--floor-base-port: 12384..12386 overlaps etcd\'s ports (--etcd-base-port 12379..12384)'],
    [['--floor-base-port', '0'], '--floor-base-port: "0" must be an integer within 1..65533'],
    [['--frobnicate'], "Unknown option '--frobnicate'"],
  ])('rejects kv bench compare %j before starting anything, naming the flag and its value', (argv, message) => {
    expect(() => parseCompareFlags(argv)).toThrow(CliError);
    expect(() => parseCompareFlags(argv)).toThrow(message);
  });

  test('the defaults run every YCSB workload on both store APIs, three rounds, closed loop and two rates', () => {
    const flags = parseCompareFlags([]);
    if (flags === 'help') throw new Error('no --help was given');
    expect(flags.settings).toMatchObject({ workloads: ['a', 'b', 'c', 'f'], apis: ['batch', 'unary'], rounds: 3, rates: [1000, 2000], keys: 10000, valueBytes: 1024 });
  });

  test('the transport floor runs only when asked for, on ports of its own', () => {
    const without = parseCompareFlags([]);
    const withFloor = parseCompareFlags(['--floor', '--floor-base-port', '7404']);
    if (without === 'help' || withFloor === 'help') throw new Error('no --help was given');
    expect(without.settings).toMatchObject({ floor: false, floorBasePort: 18601 });
    // Right after the store's ports is apart from them; without --floor, its ports are not checked.
    expect(withFloor.settings).toMatchObject({ floor: true, floorBasePort: 7404 });
    expect(parseCompareFlags(['--floor-base-port', '7401'])).toMatchObject({ settings: { floor: false } });
  });

  test('--quick shortens the run, and flags given beside it still count', () => {
    const flags = parseCompareFlags(['--quick', '--rates', '300']);
    if (flags === 'help') throw new Error('no --help was given');
    expect(flags.settings).toMatchObject({ rounds: 1, rates: [300], durationS: 2 });
  });

  test('--help is answered even beside a flag that would not validate', () => {
    expect(parseCompareFlags(['--help', '--rounds', '0'])).toBe('help');
  });
});

describe('kv bench compare figures', () => {
  const run = (target: string, workload: WorkloadName, rate: number, ops: number, p99: number, cpu: number, errors = 0): LoadFigures => ({
    target,
    workload,
    concurrency: 64,
    rateTarget: rate,
    durationS: 1,
    ops,
    errors,
    errorKinds: errors ? { UNAVAILABLE: errors } : {},
    opsPerSecond: ops,
    latencyMs: { p50: p99 / 4, p99, p999: p99 * 2, max: p99 * 3, mean: p99 / 3 },
    latencyMsByKind: {},
    nodeCpuSeconds: (cpu * ops) / 1000,
    nodeCpuSecondsPer1000Ops: cpu,
    benchCpuSecondsPer1000Ops: 0.1,
    nodePids: [1, 2, 3],
  });

  test('median takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  test('rows are medians over the rounds per workload, load and target, errors summed, with the store\'s ratios to etcd', () => {
    const runs = [
      run('kv batch', 'a', 0, 1000, 10, 0.2),
      run('etcd', 'a', 0, 500, 20, 0.5),
      run('kv batch', 'a', 0, 3000, 30, 0.4, 2),
      run('etcd', 'a', 0, 700, 40, 0.1),
      run('kv batch', 'a', 0, 2000, 20, 0.3),
      run('etcd', 'a', 0, 600, 30, 0.4),
      run('kv batch', 'a', 1000, 990, 5, 1),
      run('etcd', 'a', 1000, 995, 2, 0.5),
    ];
    const rows = compareRows(runs);
    expect(rows.map((r) => [r.workload, r.rate, r.target, r.rounds])).toEqual([
      ['a', 0, 'kv batch', 3],
      ['a', 0, 'etcd', 3],
      ['a', 1000, 'kv batch', 1],
      ['a', 1000, 'etcd', 1],
    ]);
    expect(rows[0]).toMatchObject({ opsPerSecond: 2000, p99Ms: 20, serverCpuMsPerOp: 0.3, errors: 2 });
    expect(rows[1]).toMatchObject({ opsPerSecond: 600, p99Ms: 30, serverCpuMsPerOp: 0.4, errors: 0 });
    expect(rows[0]!.vsEtcd).toEqual({ opsPerSecond: 3.33, p50Ms: 0.67, p99Ms: 0.67, p999Ms: 0.67, serverCpuMsPerOp: 0.75 });
    expect(rows[1]!.vsEtcd).toBeUndefined();
    expect(rows[2]!.vsEtcd?.p99Ms).toBe(2.5);
  });

  test('the text table has a line per row, both stores, and the ratios on the store\'s lines', () => {
    const runs = [run('kv batch', 'f', 0, 1000, 10, 0.2), run('kv unary', 'f', 0, 400, 10, 0.8), run('etcd', 'f', 0, 500, 20, 0.5)];
    const flags = parseCompareFlags(['--workloads', 'f', '--rounds', '1']);
    if (flags === 'help') throw new Error('no --help was given');
    const report: CompareReport = { startedAt: 'now', machine: '2 CPUs', etcdVersion: 'etcd 3.4.23', settings: flags.settings, rows: compareRows(runs), runs };
    const lines = compareTable(report).trimEnd().split('\n');
    expect(lines[0]).toContain('vs etcd 3.4.23');
    expect(lines[1]).toMatch(/^workload\s+load\s+target\s+ops\/s/);
    expect(lines).toHaveLength(5);
    expect(lines[2]).toMatch(/^f\s+closed 64\s+kv batch\s+1000\s.*\s2\.00\s+0\.50\s+0\.50\s+0\.50\s+0\.40$/);
    expect(lines[3]).toMatch(/^f\s+closed 64\s+kv unary\s+400\s.*\s0\.80\s+0\.50\s+0\.50\s+0\.50\s+1\.60$/);
    expect(lines[4]).toMatch(/^f\s+closed 64\s+etcd\s+500\s.*\s0$/);
  });
});

/**
 * `kv chaos check`'s flags: the defaults, the hypothesis an experiment brings, and bad input
 * refused with exit code 2 and a message naming the flag and the value. Its metrics follow the
 * node's conventions.
 */
import { CliError } from '../../app/cli/cli-error';
import { parseChaosCheckArgs } from '../../chaos/checker/command';
import { CheckerMetrics } from '../../observability/checker-metrics';

const ENDPOINTS = ['--endpoints', '127.0.0.1:18599'];

function parse(...args: string[]) {
  return parseChaosCheckArgs([...ENDPOINTS, ...args])!;
}

test('defaults: every workload, the checker\'s hypothesis, no metrics server, a fresh key prefix', () => {
  const p = parse('--duration-s', '30');
  expect(p.endpoints).toEqual(['127.0.0.1:18599']);
  expect(p.durationS).toBe(30);
  expect(p.options).toMatchObject({ workloads: ['set-add', 'register', 'load'], ratePerS: 50, keys: 16, availabilityMin: 0.99, convergeWithinS: 60 });
  expect(p.metrics).toBeUndefined();
  expect(p.options.keyPrefix).toMatch(/^chaos-check\/\d{8}T\d{9}Z-[a-z0-9]+\/$/);
  expect(parse('--duration-s', '30').options.keyPrefix).not.toBe(p.options.keyPrefix);
});

test('--experiment brings that experiment\'s hypothesis; flags given win', () => {
  expect(parse('--duration-s', '5', '--experiment', 'peer-delay').options).toMatchObject({ availabilityMin: 0.99, convergeWithinS: 120 });
  expect(parse('--duration-s', '5', '--experiment', 'node-kill', '--availability-min', '0.5').options).toMatchObject({ availabilityMin: 0.5, convergeWithinS: 60 });
});

test('flags: workloads, rates, the metrics port', () => {
  const p = parse('--duration-s', '5', '--workloads', 'register,set-add', '--rate', '12.5', '--keys', '3', '--metrics-port', '18599', '--metrics-host', '0.0.0.0', '--attempts', '2');
  expect(p.options).toMatchObject({ workloads: ['register', 'set-add'], ratePerS: 12.5, keys: 3, retry: { attemptsMax: 2 } });
  expect(p.metrics).toEqual({ host: '0.0.0.0', port: 18599 });
});

test.each([
  [['--duration-s', '0'], /--duration-s: "0" must be an integer within 1\.\./],
  [[], /--duration-s is required/],
  [['--duration-s', '5', '--workloads', 'set-add,bogus'], /--workloads: "set-add,bogus" must be a comma-separated list of set-add, register, load/],
  [['--duration-s', '5', '--rate', 'fast'], /--rate: "fast" must be a number/],
  [['--duration-s', '5', '--availability-min', '1.5'], /--availability-min: "1.5" must be a number within 0\.\.1/],
  [['--duration-s', '5', '--experiment', 'nope'], /--experiment: no experiment "nope"; there are: node-kill/],
  [['--duration-s', '5', '--metrics-port', '70000'], /--metrics-port: "70000"/],
  [['--duration-s', '5', '--bogus'], /kv chaos check: Unknown option '--bogus'/],
  [['--duration-s', '604800', '--rate', '10000'], /more than the 2000000 the history keeps; lower --rate or --duration-s/],
  [['--duration-s', '5', '--result-file', '/nonexistent-dir/r.json'], /--result-file: cannot write "\/nonexistent-dir\/r.json"/],
])('rejects %j with exit code 2', (args, message) => {
  let error: unknown;
  try {
    parse(...args);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CliError);
  expect((error as CliError).exitCode).toBe(2);
  expect((error as CliError).message).toMatch(message);
});

test('rejects endpoints that are not host:port, and --endpoint with --endpoints', () => {
  expect(() => parseChaosCheckArgs(['--endpoints', 'localhost', '--duration-s', '5'])).toThrow(/--endpoints: "localhost" is not host:port/);
  expect(() => parseChaosCheckArgs([...ENDPOINTS, '--endpoint', '127.0.0.1:1', '--duration-s', '5'])).toThrow(/not both/);
});

test('the checker\'s metrics follow the conventions: _total counters only, base units, bounded labels', async () => {
  const metrics = (await new CheckerMetrics().registry.getMetricsAsJSON()).filter((m) => m.name.startsWith('kv_checker_'));
  expect(metrics.map((m) => m.name).sort()).toEqual([
    'kv_checker_indeterminate_writes_total',
    'kv_checker_lost_writes_total',
    'kv_checker_operation_duration_seconds',
    'kv_checker_operations_total',
    'kv_checker_recent_availability_ratio',
    'kv_checker_resurrected_deletes_total',
    'kv_checker_retries_total',
    'kv_checker_steady_state',
  ]);
  expect(metrics.filter((m) => (String(m.type) === 'counter') !== m.name.endsWith('_total')).map((m) => m.name)).toEqual([]);
  expect(metrics.filter((m) => m.help.length < 20).map((m) => m.name)).toEqual([]);
});

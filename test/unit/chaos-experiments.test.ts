/** The experiment definitions: every one valid, every fault the plan names present, bad ones refused with the field. */
import { Experiment, EXPERIMENTS, experimentsOf, FaultKind, SUITES, validateExperiment } from '../../chaos/experiments';

test('every experiment is valid, and names are unique', () => {
  expect(EXPERIMENTS.flatMap((e) => validateExperiment(e).map((p) => `${e.name}: ${p}`))).toEqual([]);
  expect(new Set(EXPERIMENTS.map((e) => e.name)).size).toBe(EXPERIMENTS.length);
});

test('the experiments cover every fault of the plan, a zone cut and both partition directions', () => {
  const kinds: FaultKind[] = ['kill', 'pause', 'partition', 'network', 'disk-latency', 'disk-errors', 'clock-skew', 'cpu-stress', 'wipe', 'disk-fill', 'rolling-restart'];
  expect([...new Set(EXPERIMENTS.map((e) => e.fault.kind))].sort()).toEqual([...kinds].sort());
  expect(EXPERIMENTS.some((e) => e.fault.kind === 'partition' && e.target === 'one-zone')).toBe(true);
  expect(new Set(EXPERIMENTS.flatMap((e) => (e.fault.kind === 'partition' ? [e.fault.direction] : [])))).toEqual(new Set(['both', 'outbound']));
  const network = EXPERIMENTS.flatMap((e) => (e.fault.kind === 'network' ? [e.fault] : []));
  expect(network.some((f) => f.delayMs > 0) && network.some((f) => f.lossPercent > 0) && network.some((f) => f.duplicatePercent > 0)).toBe(true);
});

test('single-node kill, pause, partition and disk errors hold the 99.9 % availability target', () => {
  for (const name of ['node-kill', 'node-pause', 'partition-node', 'disk-errors']) expect(experimentsOf(name)[0]!.hypothesis.availabilityMin).toBeGreaterThanOrEqual(0.999);
});

test('suites name existing experiments; an unknown name is refused with the list', () => {
  expect(experimentsOf('short').map((e) => e.name)).toEqual(SUITES.short);
  expect(experimentsOf('full')).toHaveLength(EXPERIMENTS.length);
  expect(() => experimentsOf('node-explode')).toThrow(/no experiment "node-explode"; there are: node-kill, .*suites short, full/);
});

test('rejects a definition out of bounds, naming the field, the value and the limit', () => {
  const base: Experiment = { name: 'x', description: '', fault: { kind: 'kill' }, target: 'one-node', durationS: 10, hypothesis: { availabilityMin: 0.999, convergeWithinS: 60 } };
  expect(validateExperiment({ ...base, name: 'Bad Name' })).toEqual(['name: "Bad Name" must be kebab-case, 1..48 characters, starting with a letter']);
  expect(validateExperiment({ ...base, durationS: 0 })).toEqual(['durationS: 0 must be within 1..3600']);
  expect(validateExperiment({ ...base, hypothesis: { availabilityMin: 1.5, convergeWithinS: 60 } })).toEqual(['hypothesis.availabilityMin: 1.5 must be within 0..1']);
  expect(validateExperiment({ ...base, fault: { kind: 'network', delayMs: 0, jitterMs: 0, lossPercent: 0, duplicatePercent: 0 } })).toEqual(['fault: a network fault needs a delay, a loss or a duplication above 0']);
  expect(validateExperiment({ ...base, fault: { kind: 'network', delayMs: 10, jitterMs: 20, lossPercent: 0, duplicatePercent: 0 } })).toEqual(['fault.jitterMs: 20 must be within 0..10']);
  expect(validateExperiment({ ...base, fault: { kind: 'clock-skew', offsetS: 0 } })).toEqual(['fault.offsetS: 0 skews nothing']);
  expect(validateExperiment({ ...base, target: 'every-node' })).toEqual(['target: every-node would stop the whole cluster under a kill; choose one-node or one-zone']);
  expect(validateExperiment({ ...base, fault: { kind: 'rolling-restart' } })).toEqual(['target: a rolling restart targets every-node, not one-node']);
});

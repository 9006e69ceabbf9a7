/**
 * The chaos experiments, defined once: each names its fault, its target, how long the fault
 * lasts and the hypothesis it checks. The same definitions are synthesized into Chaos Mesh
 * resources for Kubernetes (chaos/chaos-mesh-chart.ts) and run on local node processes by
 * `kv chaos` (chaos/local/). Pure data and validation: nothing here starts or breaks anything.
 *
 * The hypothesis is the store's steady state, as the checker (chaos/checker/) measures it:
 * - no acknowledged write lost, no delete undone (always 0: a Dynamo store promises this under
 *   every fault here, and the checker counts both);
 * - the share of operations that succeed, for clients that retry with backoff, at least
 *   `availabilityMin` over the whole run (a zone cut is judged on the side that keeps a quorum);
 * - after the fault heals, every replica holds the same value within `convergeWithinS`.
 */

/** What breaks. Parameters are part of the definition, so a run is reproducible from its name. */
export type Fault =
  /** The node's process is killed (SIGKILL; on Kubernetes the pod is deleted) and comes back. */
  | { readonly kind: 'kill' }
  /** The process is frozen (SIGSTOP, then SIGCONT): its connections stay open and silent. */
  | { readonly kind: 'pause' }
  /**
   * The target is cut off from the other nodes: `both` directions, or one way (`outbound`: the
   * target's requests to the others are dropped; the others still reach it).
   */
  | { readonly kind: 'partition'; readonly direction: 'both' | 'outbound' }
  /** Peer traffic to and from the target is delayed, dropped or duplicated (netem). */
  | { readonly kind: 'network'; readonly delayMs: number; readonly jitterMs: number; readonly lossPercent: number; readonly duplicatePercent: number }
  /** Every read and write of the target's data volume waits this long. */
  | { readonly kind: 'disk-latency'; readonly delayMs: number }
  /** This share of the target's data volume I/O fails with EIO. */
  | { readonly kind: 'disk-errors'; readonly errorPercent: number }
  /** The target's clock is this far off (negative: behind). */
  | { readonly kind: 'clock-skew'; readonly offsetS: number }
  /** CPU hogs next to the target's process. */
  | { readonly kind: 'cpu-stress'; readonly workers: number; readonly loadPercent: number }
  /** The target is stopped, its data directory deleted, and it starts again empty. */
  | { readonly kind: 'wipe' }
  /** The target's data disk fills up to the node's free-space reserve. */
  | { readonly kind: 'disk-fill' }
  /** Every node in turn is stopped (SIGTERM) and started again, waiting for it to serve. */
  | { readonly kind: 'rolling-restart' };

export type FaultKind = Fault['kind'];

/** Who the fault hits: one node (chosen by the run), or every node of one zone. */
export type Target = 'one-node' | 'one-zone' | 'every-node';

export interface Hypothesis {
  /** Share of operations that must succeed (retrying clients), 0..1. */
  readonly availabilityMin: number;
  /** After the fault heals, replicas must agree within this many seconds. */
  readonly convergeWithinS: number;
}

export interface Experiment {
  /** kebab-case; the name `kv chaos <name>` and the Chaos Mesh objects take. */
  readonly name: string;
  /** One line: what breaks and what the store should do. */
  readonly description: string;
  readonly fault: Fault;
  readonly target: Target;
  /** How long the fault lasts, seconds (a rolling restart: the pause between nodes). */
  readonly durationS: number;
  readonly hypothesis: Hypothesis;
}

/** A single-node fault at N=3, R=2, W=2 with sloppy quorum: the availability target. */
const SINGLE_NODE: Hypothesis = { availabilityMin: 0.999, convergeWithinS: 60 };
/**
 * Faults that slow or corrupt what a node does rather than stop it, and a rolling restart:
 * operations routed to the sick node may time out before the client moves on, so the bar is
 * lower. The measured figures are in the README.
 */
const DEGRADED: Hypothesis = { availabilityMin: 0.99, convergeWithinS: 120 };

export const EXPERIMENTS: readonly Experiment[] = [
  { name: 'node-kill', description: 'One node is killed and restarted: its writes go to fallbacks as hints, delivered when it is back.', fault: { kind: 'kill' }, target: 'one-node', durationS: 20, hypothesis: SINGLE_NODE },
  { name: 'node-pause', description: 'One node is frozen with its connections open: the failure detector suspects it and writes go around it.', fault: { kind: 'pause' }, target: 'one-node', durationS: 20, hypothesis: SINGLE_NODE },
  { name: 'partition-node', description: 'One node is cut off from the others both ways: each side sees the other down.', fault: { kind: 'partition', direction: 'both' }, target: 'one-node', durationS: 20, hypothesis: SINGLE_NODE },
  { name: 'partition-node-outbound', description: 'One node cannot reach the others, but they reach it (a one-way cut).', fault: { kind: 'partition', direction: 'outbound' }, target: 'one-node', durationS: 20, hypothesis: SINGLE_NODE },
  { name: 'partition-zone', description: 'Every node of one zone is cut off from the other zones: with zone-aware placement the rest keeps a quorum of every key.', fault: { kind: 'partition', direction: 'both' }, target: 'one-zone', durationS: 20, hypothesis: SINGLE_NODE },
  { name: 'peer-delay', description: 'Peer traffic of one node is delayed by 100 ms (±20 ms).', fault: { kind: 'network', delayMs: 100, jitterMs: 20, lossPercent: 0, duplicatePercent: 0 }, target: 'one-node', durationS: 20, hypothesis: DEGRADED },
  { name: 'peer-loss', description: 'A tenth of one node\'s peer packets are dropped.', fault: { kind: 'network', delayMs: 0, jitterMs: 0, lossPercent: 10, duplicatePercent: 0 }, target: 'one-node', durationS: 20, hypothesis: DEGRADED },
  { name: 'peer-duplicate', description: 'A fifth of one node\'s peer packets are sent twice.', fault: { kind: 'network', delayMs: 0, jitterMs: 0, lossPercent: 0, duplicatePercent: 20 }, target: 'one-node', durationS: 20, hypothesis: SINGLE_NODE },
  { name: 'disk-latency', description: 'Every I/O of one node\'s data volume waits 50 ms.', fault: { kind: 'disk-latency', delayMs: 50 }, target: 'one-node', durationS: 20, hypothesis: DEGRADED },
  { name: 'disk-errors', description: 'Half the I/O of one node\'s data volume fails with EIO: the node refuses what it cannot store.', fault: { kind: 'disk-errors', errorPercent: 50 }, target: 'one-node', durationS: 20, hypothesis: SINGLE_NODE },
  { name: 'clock-skew', description: 'One node\'s clock is 5 minutes behind: dotted version vectors do not use wall time, so nothing changes.', fault: { kind: 'clock-skew', offsetS: -300 }, target: 'one-node', durationS: 20, hypothesis: SINGLE_NODE },
  { name: 'cpu-stress', description: 'Two busy workers next to one node.', fault: { kind: 'cpu-stress', workers: 2, loadPercent: 100 }, target: 'one-node', durationS: 20, hypothesis: DEGRADED },
  { name: 'wipe', description: 'One node loses its data and starts empty: it takes a new actor epoch, and read repair and anti-entropy refill it.', fault: { kind: 'wipe' }, target: 'one-node', durationS: 10, hypothesis: SINGLE_NODE },
  { name: 'disk-fill', description: 'One node\'s disk fills to its reserve: it refuses writes and the others take them.', fault: { kind: 'disk-fill' }, target: 'one-node', durationS: 20, hypothesis: SINGLE_NODE },
  { name: 'rolling-restart', description: 'Every node is stopped and started in turn, as a deploy does.', fault: { kind: 'rolling-restart' }, target: 'every-node', durationS: 5, hypothesis: DEGRADED },
];

/** Named sets of experiments: `short` runs in `npm test`, `full` is every experiment. */
export const SUITES: Readonly<Record<string, readonly string[]>> = {
  short: ['node-kill', 'node-pause', 'partition-node', 'wipe'],
  full: EXPERIMENTS.map((e) => e.name),
};

/** Bounds a definition must keep (checked by validateExperiment). */
export const DURATION_S_MAX = 3600;
export const NETWORK_DELAY_MS_MAX = 10_000;
export const DISK_DELAY_MS_MAX = 10_000;
export const CLOCK_OFFSET_S_MAX = 7 * 24 * 3600;
export const CPU_WORKERS_MAX = 64;

const NAME = /^[a-z][a-z0-9-]{0,47}$/;

function within(field: string, value: number, min: number, max: number): string[] {
  return Number.isFinite(value) && value >= min && value <= max ? [] : [`${field}: ${value} must be within ${min}..${max}`];
}

/** What is wrong with a definition: each problem names the field, the value and the limit. Empty: valid. */
export function validateExperiment(e: Experiment): string[] {
  const problems: string[] = [];
  if (!NAME.test(e.name)) problems.push(`name: "${e.name}" must be kebab-case, 1..48 characters, starting with a letter`);
  problems.push(...within('durationS', e.durationS, 1, DURATION_S_MAX));
  problems.push(...within('hypothesis.availabilityMin', e.hypothesis.availabilityMin, 0, 1));
  problems.push(...within('hypothesis.convergeWithinS', e.hypothesis.convergeWithinS, 1, DURATION_S_MAX));
  const f = e.fault;
  switch (f.kind) {
    case 'network':
      problems.push(...within('fault.delayMs', f.delayMs, 0, NETWORK_DELAY_MS_MAX), ...within('fault.jitterMs', f.jitterMs, 0, f.delayMs), ...within('fault.lossPercent', f.lossPercent, 0, 100), ...within('fault.duplicatePercent', f.duplicatePercent, 0, 100));
      if (f.delayMs === 0 && f.lossPercent === 0 && f.duplicatePercent === 0) problems.push('fault: a network fault needs a delay, a loss or a duplication above 0');
      break;
    case 'disk-latency':
      problems.push(...within('fault.delayMs', f.delayMs, 1, DISK_DELAY_MS_MAX));
      break;
    case 'disk-errors':
      problems.push(...within('fault.errorPercent', f.errorPercent, 1, 100));
      break;
    case 'clock-skew':
      problems.push(...within('fault.offsetS', f.offsetS, -CLOCK_OFFSET_S_MAX, CLOCK_OFFSET_S_MAX));
      if (f.offsetS === 0) problems.push('fault.offsetS: 0 skews nothing');
      break;
    case 'cpu-stress':
      problems.push(...within('fault.workers', f.workers, 1, CPU_WORKERS_MAX), ...within('fault.loadPercent', f.loadPercent, 1, 100));
      break;
    case 'rolling-restart':
      if (e.target !== 'every-node') problems.push(`target: a rolling restart targets every-node, not ${e.target}`);
      break;
    default:
      if (e.target === 'every-node') problems.push(`target: every-node would stop the whole cluster under a ${f.kind}; choose one-node or one-zone`);
  }
  return problems;
}

/** The experiment of that name, or a clear error listing the names there are. */
export function experimentNamed(name: string): Experiment {
  const e = EXPERIMENTS.find((x) => x.name === name);
  if (e === undefined) throw new Error(`no experiment "${name}"; there are: ${EXPERIMENTS.map((x) => x.name).join(', ')} (and the suites ${Object.keys(SUITES).join(', ')})`);
  return e;
}

/** The experiments a name stands for: a suite's, or the one experiment of that name. */
export function experimentsOf(nameOrSuite: string): readonly Experiment[] {
  const suite = SUITES[nameOrSuite];
  return suite === undefined ? [experimentNamed(nameOrSuite)] : suite.map(experimentNamed);
}

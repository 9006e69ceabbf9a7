/**
 * The deterministic simulator (./simulation.ts): many short seeded runs of the real replication
 * layer under message faults, partitions, crashes, graceful restarts, disk wipes and rollbacks,
 * each checked for lost acknowledged writes, resurrected deletes and convergence.
 *
 *   npx jest test/sim                          1000 seeds, the regression seeds, and the checks below
 *   KV_SIM_SEED=123 npx jest test/sim          replays seed 123 exactly (KV_SIM_TRACE=1: its trace)
 *   KV_SIM_SEEDS=20000 npx jest test/sim       a longer sweep (KV_SIM_FIRST_SEED: where it starts)
 *   KV_SIM_CORRUPTION=1                        runs may also rot a record on disk (fails today: see simulation.ts)
 *
 * Speed is printed (seeds a second), never asserted.
 */
import { systemClock } from '../../app/replication/clock';
import { VersionedObject } from '../../app/versioning/dvv';
import { checkFinalState, checkHintsLeft, checkPlacement, KeyState } from './checker';
import { runSeed, SimResult } from './simulation';
import { encodeSet, History, newHistory } from './workload';

/**
 * Seeds that found a bug, in app/ or in the simulator itself: they always run. A seed replays
 * the same run only while the simulator draws the same random numbers in the same order; after
 * a change to the simulator, find the failing seed again before trusting one here.
 */
const REGRESSIONS: ReadonlyArray<{ readonly seed: number; readonly corruption?: boolean; readonly found: string }> = [
  {
    seed: 183,
    corruption: true,
    found: 'a node restarted with a corrupt record: the tree rebuild rejected, unhandled, and anti-entropy stopped for every partition (fixed in anti-entropy.ts)',
  },
  { seed: 1345, found: 'the simulator took the cluster for converged while a slow hinted write was still on the wire, after its sender had timed out' },
  { seed: 2290, found: 'the same, with a rollback, pauses and a lossy network' },
  { seed: 4934, found: 'the same, with hints expiring and W=1' },
];

const SEEDS_DEFAULT = 1000;

function positiveInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: ${JSON.stringify(raw)} is not a whole number; set it to a seed or a count, e.g. ${name}=123`);
  return n;
}

function seedsToRun(): number[] {
  const one = positiveInt('KV_SIM_SEED');
  if (one !== undefined) return [one];
  const count = positiveInt('KV_SIM_SEEDS') ?? SEEDS_DEFAULT;
  const first = positiveInt('KV_SIM_FIRST_SEED') ?? 1;
  return Array.from({ length: count }, (_, i) => first + i);
}

/**
 * Calls from the code under test to real time or real randomness, which would make a seed's run
 * depend on the machine: each call made from app/ or test/sim/ while `run` runs is reported.
 */
async function withoutRealTime<T>(run: () => Promise<T>): Promise<{ value: T; calls: string[] }> {
  const calls: string[] = [];
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = { setTimeout: g.setTimeout, setInterval: g.setInterval, now: Date.now, random: Math.random };
  const fromOurCode = (what: string) => {
    const frames = (new Error().stack ?? '').split('\n').slice(3);
    const ours = frames.find((f) => /[/\\](app|test[/\\]sim)[/\\]/.test(f));
    if (ours !== undefined) calls.push(`${what} from ${ours.trim()}`);
  };
  const wrap = <F extends (...args: never[]) => unknown>(what: string, f: F): F =>
    function (this: unknown, ...args: Parameters<F>) {
      fromOurCode(what);
      return f.apply(this, args);
    } as F;
  g.setTimeout = wrap('setTimeout', saved.setTimeout as (...args: never[]) => unknown);
  g.setInterval = wrap('setInterval', saved.setInterval as (...args: never[]) => unknown);
  Date.now = wrap('Date.now', saved.now);
  Math.random = wrap('Math.random', saved.random);
  try {
    return { value: await run(), calls };
  } finally {
    g.setTimeout = saved.setTimeout;
    g.setInterval = saved.setInterval;
    Date.now = saved.now;
    Math.random = saved.random;
  }
}

interface Sweep {
  readonly results: SimResult[];
  readonly failures: string[];
  readonly seconds: number;
}

async function sweep(seeds: ReadonlyArray<number | { readonly seed: number; readonly corruption?: boolean }>, trace: boolean): Promise<Sweep> {
  const results: SimResult[] = [];
  const failures: string[] = [];
  let current = -1;
  const unhandled: string[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(`seed ${current}: unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`);
  process.on('unhandledRejection', onUnhandled);
  const started = process.hrtime.bigint();
  try {
    for (const run of seeds) {
      const { seed, corruption } = typeof run === 'number' ? { seed: run, corruption: process.env.KV_SIM_CORRUPTION === '1' } : run;
      current = seed;
      const lines: string[] = [];
      let r: SimResult;
      try {
        r = await runSeed({ seed, corruption, trace: trace ? (l) => lines.push(l) : undefined });
      } catch (e) {
        failures.push(`seed ${seed}: the simulation threw: ${(e as Error).stack ?? String(e)}\n  replay: KV_SIM_SEED=${seed} npx jest test/sim`);
        continue;
      }
      if (trace) console.log(`seed ${seed} trace:\n${lines.join('\n')}`);
      results.push(r);
      if (r.violations.length > 0) {
        failures.push(`seed ${seed}: ${r.violations.length} violation(s):\n  ${r.violations.slice(0, 8).join('\n  ')}\n  faults: ${r.faults.join('; ')}\n  replay: KV_SIM_SEED=${seed} npx jest test/sim`);
      }
    }
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { results, failures: [...failures, ...unhandled], seconds };
}

function summary(label: string, s: Sweep): string {
  const sum = (f: (r: SimResult) => number) => s.results.reduce((n, r) => n + f(r), 0);
  const converge = s.results.map((r) => r.convergedAfterMs ?? Number.POSITIVE_INFINITY);
  return [
    `${label}: ${s.results.length} seeds in ${s.seconds.toFixed(1)} s = ${(s.results.length / s.seconds).toFixed(1)} seeds/s`,
    `  ${sum((r) => r.events)} events, ${sum((r) => r.history.ops)} client operations (${sum((r) => r.history.acked)} acknowledged, ${sum((r) => r.history.gaveUp)} given up), ${sum((r) => r.history.calls)} calls (${sum((r) => r.history.failedCalls)} failed, ${sum((r) => r.history.mayHaveApplied)} may have applied)`,
    `  network: ${sum((r) => r.network.requests)} requests, ${sum((r) => r.network.dropped)} dropped, ${sum((r) => r.network.duplicated)} duplicated, ${sum((r) => r.network.timedOut)} timed out, ${sum((r) => r.network.resets)} resets, ${sum((r) => r.network.refused)} refused (suspected)`,
    `  replication: ${sum((r) => r.replication.hinted)} hinted writes, ${sum((r) => r.replication.handedOff)} hints handed off, ${sum((r) => r.replication.readRepairs)} read repairs, ${sum((r) => r.replication.forwarded)} forwards, ${sum((r) => r.replication.aeExchanges)} anti-entropy exchanges, ${sum((r) => r.replication.aeRepairedKeys)} keys repaired by anti-entropy`,
    `  convergence after the heal: max ${Math.max(...converge)} ms virtual; most siblings of a key at the end: ${Math.max(0, ...s.results.map((r) => r.siblingsMax))}`,
  ].join('\n');
}

const MINUTES = 60_000;

describe('deterministic simulation', () => {
  test('every seed keeps the invariants: no acknowledged write lost, no delete resurrected, primaries converge', async () => {
    const seeds = seedsToRun();
    const { value: s, calls } = await withoutRealTime(() => sweep(seeds, process.env.KV_SIM_TRACE === '1'));
    console.log(summary('simulation', s));
    expect(calls.slice(0, 10)).toEqual([]);
    if (s.failures.length > 0) throw new Error(`${s.failures.length} failing seed(s) of ${seeds.length}:\n${s.failures.slice(0, 10).join('\n')}`);
  }, 30 * MINUTES);

  test('the regression seeds keep the invariants', async () => {
    const s = await sweep(REGRESSIONS, false);
    expect(s.failures).toEqual([]);
  }, 5 * MINUTES);

  test('a seed replays exactly: two runs take the same events and end in the same state', async () => {
    const [a, b] = [await runSeed({ seed: 4242 }), await runSeed({ seed: 4242 })];
    expect(b.digest).toBe(a.digest);
    expect(b.events).toBe(a.events);
    expect(b.history).toEqual(a.history);
    expect(b.network).toEqual(a.network);
    expect(a.events).toBeGreaterThan(1000);
    // A different seed is a different run (the digest would not tell runs apart otherwise).
    expect((await runSeed({ seed: 4243 })).digest).not.toBe(a.digest);
  });
});

describe('the simulation catches the defects it is meant to catch', () => {
  test('the real-time guard reports a timer set from app code', async () => {
    const { calls } = await withoutRealTime(async () => systemClock.after(1, () => {})());
    expect(calls.join('\n')).toMatch(/^setTimeout from .*app[/\\]replication[/\\]clock\.ts/);
  });

  test('fails a run in which every disk is wiped at the heal: acknowledged writes are lost', async () => {
    const r = await runSeed({ seed: 1, sabotage: 'wipe-all-at-heal' });
    expect(r.violations.some((v) => v.startsWith('lost:'))).toBe(true);
  });

  test('fails a run in which a rolled-back node keeps its actor: a reused dot loses an acknowledged write (riak_kv 679)', async () => {
    // About 1 run in 60 with a rollback reuses a dot in a way that loses an element. Which seed
    // does depends on every event's order, so the test looks for one among the first seeds (and
    // checks the same seed keeps every write without the sabotage) rather than pinning one.
    let found: number | undefined;
    for (let seed = 1; seed <= SABOTAGE_SEEDS_MAX && found === undefined; seed++) {
      const r = await runSeed({ seed, sabotage: 'rollback-keeps-actor' });
      if (r.violations.some((v) => v.startsWith('lost:'))) found = seed;
    }
    expect(found).toBeDefined();
    expect((await runSeed({ seed: found! })).violations).toEqual([]);
  }, 5 * MINUTES);
});

/** Seeds searched for one in which the rollback sabotage loses a write. */
const SABOTAGE_SEEDS_MAX = 500;

describe('checker', () => {
  const obj = (siblings: Array<[string, number, string | null]>, vv: Array<[string, number]>): VersionedObject => ({
    vv: new Map(vv),
    siblings: siblings.map(([actor, counter, v]) => ({ dot: { actor, counter }, value: v === null ? null : encodeSet(JSON.parse(v) as string[]), writtenAtMs: 0 })),
  });
  const history = (f: (h: History) => void): History => {
    const h = newHistory();
    f(h);
    return h;
  };
  const setKey = (object: VersionedObject, read: string[]): KeyState => ({
    key: 's0',
    kind: 'set',
    primaries: ['n1', 'n2', 'n3'].map((node) => ({ node, object })),
    read: { ok: true, values: [encodeSet(read)] },
  });

  test('accepts a state that holds every acknowledged element', () => {
    const h = history((x) => {
      x.acked.set('s0', new Set(['a', 'b']));
      x.attempted.set('s0', new Set(['a', 'b', 'c']));
    });
    expect(checkFinalState(h, [setKey(obj([['n1.e1', 2, '["a","b"]']], [['n1.e1', 2]]), ['a', 'b'])], 100)).toEqual([]);
  });

  test('rejects a state that lacks an acknowledged element', () => {
    const h = history((x) => {
      x.acked.set('s0', new Set(['a', 'b']));
      x.attempted.set('s0', new Set(['a', 'b']));
    });
    const v = checkFinalState(h, [setKey(obj([['n1.e1', 1, '["a"]']], [['n1.e1', 1]]), ['a'])], 100);
    expect(v).toContain("lost: s0: a read at R=N lacks acknowledged b");
    expect(v).toContain("lost: s0: n2's store lacks acknowledged b");
  });

  test('rejects an element no client wrote', () => {
    const h = history((x) => x.attempted.set('s0', new Set(['a'])));
    expect(checkFinalState(h, [setKey(obj([['n1.e1', 1, '["a","z"]']], [['n1.e1', 1]]), ['a', 'z'])], 100).join('\n')).toMatch(/invented: s0: .* holds z/);
  });

  test('rejects primaries that hold different histories', () => {
    const h = history((x) => x.attempted.set('s0', new Set(['a'])));
    const state: KeyState = {
      key: 's0',
      kind: 'set',
      primaries: [
        { node: 'n1', object: obj([['n1.e1', 1, '["a"]']], [['n1.e1', 1]]) },
        { node: 'n2', object: obj([['n1.e1', 1, '["a"]']], [['n1.e1', 1]]) },
        { node: 'n3', object: undefined },
      ],
      read: { ok: true, values: [encodeSet(['a'])] },
    };
    expect(checkFinalState(h, [state], 100).join('\n')).toMatch(/^diverged: s0: .*n3 nothing/);
  });

  test('rejects a value that an acknowledged delete covered', () => {
    const h = history((x) => {
      x.attempted.set('d0', new Set(['x1', 'x2']));
      x.deletes.push({ key: 'd0', context: new Map([['n1.e1', 1]]), atMs: 50 });
    });
    const state = (object: VersionedObject): KeyState => ({ key: 'd0', kind: 'delete', primaries: ['n1', 'n2', 'n3'].map((node) => ({ node, object })), read: { ok: true, values: [] } });
    // x1 (n1.e1:1) was covered by the delete: it must not come back. x2 (n2.e1:1) was concurrent: it stays.
    expect(checkFinalState(h, [state(obj([['n2.e1', 1, '["x2"]']], [['n1.e1', 2], ['n2.e1', 1]]))], 100)).toEqual([]);
    expect(checkFinalState(h, [state(obj([['n1.e1', 1, '["x1"]']], [['n1.e1', 1]]))], 100).join('\n')).toMatch(/^resurrected: d0: n1 holds \["x1"\] \(dot n1\.e1:1\), deleted by the delete acknowledged at 50 ms/);
  });

  test('rejects data held by a node that is not a primary of its partition', () => {
    const isPrimary = (node: string, partition: number) => node !== 'n4' || partition !== 3;
    expect(checkPlacement([{ node: 'n4', partition: 2, keys: 1 }, { node: 'n4', partition: 3, keys: 0 }], isPrimary)).toEqual([]);
    expect(checkPlacement([{ node: 'n4', partition: 3, keys: 2 }], isPrimary)).toEqual(['misplaced: n4 holds 2 key(s) of partition 3 in its data, but is not a primary of it']);
  });

  test('rejects a hint record left on disk', () => {
    expect(checkHintsLeft([{ node: 'n2', partition: 5, keys: 0 }])).toEqual([]);
    expect(checkHintsLeft([{ node: 'n2', partition: 5, keys: 1 }])).toEqual(['hint left: n2 still holds 1 hint record(s) in partition 5 after convergence']);
  });

  test('rejects a key with more siblings than the bound', () => {
    const h = history((x) => x.attempted.set('s0', new Set(['a', 'b', 'c'])));
    const three = obj([['n1.e1', 1, '["a"]'], ['n2.e1', 1, '["b"]'], ['n3.e1', 1, '["c"]']], [['n1.e1', 1], ['n2.e1', 1], ['n3.e1', 1]]);
    expect(checkFinalState(h, [setKey(three, ['a', 'b', 'c'])], 3)).toEqual([]);
    expect(checkFinalState(h, [setKey(three, ['a', 'b', 'c'])], 2)).toContain('siblings: s0: n1 holds 3 siblings, above the bound of 2');
  });

  test('rejects a final read that failed', () => {
    const v = checkFinalState(newHistory(), [{ key: 's0', kind: 'set', primaries: [], read: { ok: false, error: 'InsufficientReplicas: 2 of 3' } }], 100);
    expect(v).toEqual(['final read of s0 at R=N failed: InsufficientReplicas: 2 of 3']);
  });
});

/**
 * The deterministic simulator (./simulation.ts): many short seeded runs of the real replication
 * layer and membership under message faults, partitions, crashes, graceful restarts, disk wipes
 * and rollbacks, with joins, leaves and removes in a share of them, each checked for lost
 * acknowledged writes, resurrected deletes, convergence and a settled membership.
 *
 *   npx jest test/sim                          1000 seeds, the regression seeds, and the checks below
 *   KV_SIM_SEED=123 npx jest test/sim          replays seed 123 exactly (KV_SIM_TRACE=1: its trace)
 *   KV_SIM_SEEDS=20000 npx jest test/sim       a longer sweep (KV_SIM_FIRST_SEED: where it starts)
 *   KV_SIM_CORRUPTION=1                        runs may also rot a record on disk (fails today: see simulation.ts)
 *   KV_SIM_RECEIVER_LOSS=0                     a member destroyed for good dies only before any change (default: at any time)
 *
 * Speed is printed (seeds a second), never asserted.
 */
import { systemClock } from '../../app/replication/clock';
import { VersionedObject } from '../../app/versioning/dvv';
import { initialState, commit } from '../../app/membership/cluster-state';
import { checkFinalState, checkHintsLeft, checkMembership, checkPlacement, KeyState } from './checker';
import { replaceMembers, runSeed, SimResult } from './simulation';
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
  { seed: 6, found: 'a put at W=3 on a partition a remove left with two primaries failed an assertion: INTERNAL and an error logged (fixed in coordinator.ts)' },
  { seed: 21, found: 'the same for a get at R=3' },
  { seed: 25, found: 'hints for a removed member stayed on their fallbacks forever (fixed in handoff.ts: they go to the current primaries)' },
  { seed: 87, found: 'the same for hints for a member that left and was shut down' },
  { seed: 272, found: 'a leaver shut down once it had left and held no hints took a hint along: a member that had not yet learned it left picked it as a fallback (the simulator shut leavers down then; the CleanupWorker does now)' },
  { seed: 176, found: 'a leaver that heard of its departure only from the next change took itself for removed, kept its data and never exited (fixed in cleanup.ts)' },
  { seed: 314, found: 'a paused leaver departed on resume and took hints naming it as a fallback while it stopped (fixed in replicas.ts: a node that is not a member takes no hints)' },
  { seed: 1520, found: 'a receiver reported a transfer without the leaver, which was behind a partition and held the only copy of two writes: lost once it stopped (fixed in transfers.ts)' },
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
      const receiverLoss = process.env.KV_SIM_RECEIVER_LOSS !== '0';
      current = seed;
      const lines: string[] = [];
      let r: SimResult;
      try {
        r = await runSeed({ seed, corruption, receiverLoss, trace: trace ? (l) => lines.push(l) : undefined });
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
  const changing = s.results.filter((r) => r.membership.steps > 0);
  const sumOf = (rs: SimResult[], f: (r: SimResult) => number) => rs.reduce((n, r) => n + f(r), 0);
  return [
    `${label}: ${s.results.length} seeds in ${s.seconds.toFixed(1)} s = ${(s.results.length / s.seconds).toFixed(1)} seeds/s`,
    `  ${sum((r) => r.events)} events, ${sum((r) => r.history.ops)} client operations (${sum((r) => r.history.acked)} acknowledged, ${sum((r) => r.history.gaveUp)} given up), ${sum((r) => r.history.calls)} calls (${sum((r) => r.history.failedCalls)} failed, ${sum((r) => r.history.mayHaveApplied)} may have applied)`,
    `  network: ${sum((r) => r.network.requests)} requests, ${sum((r) => r.network.dropped)} dropped, ${sum((r) => r.network.duplicated)} duplicated, ${sum((r) => r.network.timedOut)} timed out, ${sum((r) => r.network.resets)} resets, ${sum((r) => r.network.refused)} refused (suspected)`,
    `  replication: ${sum((r) => r.replication.hinted)} hinted writes, ${sum((r) => r.replication.handedOff)} hints handed off, ${sum((r) => r.replication.readRepairs)} read repairs, ${sum((r) => r.replication.forwarded)} forwards, ${sum((r) => r.replication.aeExchanges)} anti-entropy exchanges, ${sum((r) => r.replication.aeRepairedKeys)} keys repaired by anti-entropy, ${sum((r) => r.replication.crashesBeforeOwnCommit)} crashes between a coordinator's send and its own commit`,
    `  membership: ${changing.length} runs changed it (${sumOf(changing, (r) => r.membership.steps)} steps, ${sumOf(changing, (r) => r.membership.operator.commits)} commits, ${sumOf(changing, (r) => r.membership.operator.refusals)} refused, ${sumOf(changing, (r) => r.membership.operator.lostCalls)} admin or status calls lost), ${sum((r) => r.replication.transferPages)} fold pages, ${sum((r) => r.replication.transfersFinished)} transfers finished; convergence of those runs: max ${Math.max(0, ...changing.map((r) => r.convergedAfterMs ?? Number.POSITIVE_INFINITY))} ms virtual`,
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
    // Coordinators send a write before their own commit: the sweep must crash some in that window.
    if (seeds.length >= 200) expect(s.results.reduce((n, r) => n + r.replication.crashesBeforeOwnCommit, 0)).toBeGreaterThan(0);
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

  test('a seed that changes membership replays exactly', async () => {
    const [a, b] = [await runSeed({ seed: MEMBERSHIP_SEED }), await runSeed({ seed: MEMBERSHIP_SEED })];
    expect(a.membership.steps).toBeGreaterThan(0);
    expect(a.membership.finalVersion).toBeGreaterThan(2);
    expect(b.digest).toBe(a.digest);
    expect(b.events).toBe(a.events);
    expect(b.membership).toEqual(a.membership);
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

describe('the simulation catches a dot decided twice after a crash between send and commit', () => {
  test("fails a run in which a node that crashed between sending a write and committing it keeps its actor: the coordinator's put no longer waits for its own flush, so only the new epoch keeps dots unique", async () => {
    let found: number | undefined;
    let struck = 0;
    for (let seed = 1; seed <= SABOTAGE_SEEDS_MAX && found === undefined; seed++) {
      const r = await runSeed({ seed, sabotage: 'crash-at-send-keeps-actor' });
      struck += r.replication.crashesBeforeOwnCommit;
      if (r.violations.some((v) => v.startsWith('dot reused:'))) found = seed;
    }
    expect(struck).toBeGreaterThan(0);
    expect(found).toBeDefined();
    expect((await runSeed({ seed: found! })).violations).toEqual([]);
  }, 5 * MINUTES);
});

/** Seeds searched for one in which the rollback sabotage loses a write. */
const SABOTAGE_SEEDS_MAX = 500;
/** A seed whose profile changes membership (a join under faults). */
const MEMBERSHIP_SEED = 2;

describe('the simulation catches membership defects', () => {
  test('fails a run in which receivers report transfers done without copying: writes acknowledged before the change are lost', async () => {
    // Three nodes join and four of the five founders leave in one commit, so most partitions move
    // two or three replicas. Whether a set key's partition moves all of them depends on the run;
    // the test looks for such a seed among the first (as the rollback test does).
    let found: number | undefined;
    for (let seed = 1; seed <= MOVE_SEEDS_MAX && found === undefined; seed++) {
      const r = await runSeed({ seed, sabotage: 'transfer-without-copy' });
      if (r.violations.some((v) => v.startsWith('lost:'))) found = seed;
    }
    expect(found).toBeDefined();
    const clean = await runSeed({ seed: found!, plan: replaceMembers(['n1', 'n2', 'n3', 'n4', 'n5'], 1000) });
    expect(clean.violations).toEqual([]);
    expect(clean.membership.finalVersion).toBeGreaterThan(2);
  }, 5 * MINUTES);

  test('fails a run in which nodes never gossip: the change never completes and the members disagree', async () => {
    const r = await runSeed({ seed: MEMBERSHIP_SEED, sabotage: 'no-gossip' });
    const v = r.violations.join('\n');
    expect(v).toMatch(/^did not converge within \d+ ms of the heal .*transfers left/m);
    expect(v).toMatch(/^membership: the final state \(\d+ by n\d\) still has a change in progress/m);
    expect(v).toMatch(/^membership: n\d holds state \d+ by .*, not the final/m);
    expect(v).toMatch(/^membership: n\d routes partition \d+ to /m);
  });
});

/** Seeds searched for one in which the transfer sabotage loses a write. */
const MOVE_SEEDS_MAX = 50;

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

  test('accepts data a former owner kept only when the exemption says so', () => {
    const isPrimary = (node: string) => node !== 'n3';
    const held = [{ node: 'n3', partition: 1, keys: 4 }];
    expect(checkPlacement(held, isPrimary, (node, p) => node === 'n3' && p === 1)).toEqual([]);
    expect(checkPlacement(held, isPrimary, () => false)).toEqual(['misplaced: n3 holds 4 key(s) of partition 1 in its data, but is not a primary of it']);
  });

  describe('membership', () => {
    const members = (ids: string[]) => ids.map((id) => ({ id, address: `${id}.sim:7000`, zone: '' }));
    const first = initialState('sim', members(['n1', 'n2', 'n3', 'n4']), 8, 3);
    const joined = commit(first, [{ kind: 'join', id: 'n5', address: 'n5.sim:7000', zone: '' }], 'n1');
    const rows = (s: typeof first) => s.placement.primaries.map((primaries) => ({ primaries, fallbacks: [] }));
    const view = (node: string, s: typeof first) => ({ node, version: s.version, author: s.author, routing: rows(s) });

    test('accepts nodes that hold the final state and route by it', () => {
      expect(checkMembership(first, ['n1', 'n2', 'n3', 'n4'], ['n1', 'n2', 'n3', 'n4'].map((n) => view(n, first)))).toEqual([]);
    });

    test('rejects a change still in progress, and members other than the operator made', () => {
      const v = checkMembership(joined, ['n1', 'n2', 'n3', 'n4'], [view('n1', joined)]);
      expect(v[0]).toMatch(/^membership: the final state \(2 by n1\) still has a change in progress: \d+ transfer\(s\) left \(partition \d+ to n5/);
      expect(v).toContain("membership: the final state's members are n1, n2, n3, n4, n5; the operator's changes make n1, n2, n3, n4");
      expect(v).toContain('membership: n5 is still joining in the final state');
    });

    test('rejects a node that holds another state, routes otherwise, or is down', () => {
      const stale = view('n2', first);
      const v = checkMembership(first, ['n1', 'n2', 'n3', 'n4'], [{ ...stale, version: 1, author: 'n9' }, { node: 'n3' }]);
      expect(v).toEqual(['membership: n2 holds state 1 by n9, not the final 1 by (flags)', 'membership: n3 is down at the end']);
      const moved = rows(first).map((r, p) => (p === 2 ? { ...r, primaries: ['n9', ...r.primaries.slice(1)] } : r));
      expect(checkMembership(first, ['n1', 'n2', 'n3', 'n4'], [{ ...stale, routing: moved }]).join('\n')).toMatch(/^membership: n2 routes partition 2 to n9,.*, not /);
      const moving = rows(first).map((r, p) => (p === 0 ? { ...r, target: ['n5'] } : r));
      expect(checkMembership(first, ['n1', 'n2', 'n3', 'n4'], [{ ...stale, routing: moving }]).join('\n')).toMatch(/partition 0 to .* \(moving to n5\)/);
    });
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

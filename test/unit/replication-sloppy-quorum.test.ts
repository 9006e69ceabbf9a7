/**
 * The replication layer's behaviour under failure, on real coordinators, replicas and hint stores
 * over in-memory stores and an in-process transport (test/support/memory-cluster.ts).
 */
import { HintStore } from '../../app/replication/hints';
import { decodeObject } from '../../app/versioning/codec';
import { HINT_LIMITS, MemoryCluster } from '../support/memory-cluster';

jest.mock('../../app/versioning/codec', () => {
  const actual = jest.requireActual<typeof import('../../app/versioning/codec')>('../../app/versioning/codec');
  return { ...actual, decodeObject: jest.fn(actual.decodeObject) };
});
const decodeCalls = decodeObject as jest.MockedFunction<typeof decodeObject>;
const text = (v: Uint8Array) => Buffer.from(v).toString('utf8');

/** A cluster of 5 and a key with its placement: the coordinator is the first primary. */
async function setup(options: Parameters<typeof MemoryCluster.start>[1] = {}) {
  const c = await MemoryCluster.start(5, options);
  const key = 'k1';
  const { primaries, fallbacks } = c.placement(key);
  return { c, key, primaries, fallbacks, coordinator: primaries[0]!, third: primaries[2]! };
}

function expectError(r: { ok: boolean; error?: { condition: string; message: string } }, condition: string, ...parts: (string | RegExp)[]): void {
  expect(r.ok).toBe(false);
  expect(r.error!.condition).toBe(condition);
  for (const p of parts) expect(r.error!.message).toMatch(p);
}

describe('sloppy quorum', () => {
  test('a put at W=3 with a primary down succeeds through the first fallback, which holds a hint for it', async () => {
    const { c, key, fallbacks, coordinator, third } = await setup();
    c.down.add(third);
    const r = await c.put(coordinator, key, 'v1', { w: 3 });
    expect(r.ok).toBe(true);
    const holder = fallbacks[0]!;
    expect(c.node(holder).hints.backlog(third)).toMatchObject({ count: 1 });
    // A hint is not the fallback's own data.
    expect(await c.valuesAt(holder, key)).toBeUndefined();
    expect(await c.valuesAt(third, key)).toBeUndefined();
  });

  test('rejects a put at PW=3 with a primary down, naming the acknowledgements and the requirement', async () => {
    const { c, key, coordinator, third } = await setup();
    c.down.add(third);
    const r = await c.put(coordinator, key, 'v1', { w: 3, pw: 3 });
    // PW=3 is out of reach before anything is sent: refused before the coordinator writes, so the
    // write certainly did not apply and a client may send it to another node.
    expectError(r, 'InsufficientReplicas', /can reach 2 primaries and 1 fallback of 3 required \(W=3, 3 primaries required \(pw\), N=3\); nothing was written/);
    expect((r as { error: { writeMayHaveApplied: boolean } }).error.writeMayHaveApplied).toBe(false);
    expect(await c.valuesAt(coordinator, key)).toBeUndefined();
  });

  test('fails with two primaries down and no fallback left, saying which primary was not covered', async () => {
    const c = await MemoryCluster.start(3);
    const { primaries } = c.placement('k1');
    c.down.add(primaries[1]!);
    c.down.add(primaries[2]!);
    const r = await c.put(primaries[0]!, 'k1', 'v', { w: 2 });
    expectError(r, 'InsufficientReplicas', /can reach 1 primary of 2 required/, new RegExp(`${primaries[1]}: down, and no fallback left to stand in`), /nothing was written/);
    expect(await c.valuesAt(primaries[0]!, 'k1')).toBeUndefined();
  });

  test('a primary that fails during the write is replaced by a fallback', async () => {
    const { c, key, primaries, fallbacks, coordinator } = await setup();
    // Up for the failure detector, but every call to it fails: the core learns it from the answer.
    const failing = primaries[1]!;
    const original = c.node(failing).replicas.replicate.bind(c.node(failing).replicas);
    c.node(failing).replicas.replicate = async () => ({ ok: false, error: new (await import('../../app/errors')).KvError('StorageFull', 'disk full') });
    const r = await c.put(coordinator, key, 'v', { w: 3 });
    c.node(failing).replicas.replicate = original;
    expect(r.ok).toBe(true);
    expect(c.node(fallbacks[0]!).hints.backlog(failing).count).toBe(1);
  });

  test('a get with a primary down asks its fallback, which answers from the hint', async () => {
    const { c, key, primaries, coordinator, third } = await setup();
    c.down.add(third);
    expect((await c.put(coordinator, key, 'v1', { w: 3 })).ok).toBe(true);
    // Only the coordinator and the fallback answer with the value: R=3 needs the fallback's hint.
    c.down.add(primaries[1]!);
    const got = await c.get(coordinator, key, { r: 2 });
    expect(got.ok && got.value.kind === 'get' && got.value.values.map(text)).toEqual(['v1']);
    expectError(await c.get(coordinator, key, { r: 2, pr: 2 }), 'InsufficientReplicas', /[01] from primaries, pr=2 required/);
  });

  test('rejects a get at R=3 with a primary down and no hint, saying how many replies counted and why the others did not', async () => {
    const { c, key, coordinator, third } = await setup();
    expect((await c.put(coordinator, key, 'v1', { w: 3 })).ok).toBe(true);
    c.down.add(third);
    // The fallback asked for the down primary holds no hint: only the two up primaries count. (In
    // a real cluster the two failures often arrive first; the message then says that at most 2
    // could count while 2 are outstanding: see get-fsm.ts.)
    const r = await c.get(coordinator, key, { r: 3 });
    expectError(r, 'InsufficientReplicas', /^get: 2 of the 3 replies R=3 requires counted \(2 from primaries\)/, new RegExp(`${third}: peer ${third} is down`), /holds no hint for the key/);
  });
});

describe('hinted handoff', () => {
  test('delivers hints once the primary is back, with no read, and removes them', async () => {
    const { c, key, fallbacks, coordinator, third } = await setup();
    c.down.add(third);
    for (let i = 0; i < 10; i++) expect((await c.put(coordinator, `${key}-${i}`, `v${i}`, { w: 3 })).ok).toBe(true);
    const holders = [...c.nodes.values()].filter((n) => n.hints.backlog(third).count > 0);
    expect(holders.length).toBeGreaterThan(0);
    // While the target is down, a round delivers nothing and keeps everything.
    for (const h of holders) expect(await h.handoff.runRound()).toBe(0);
    c.down.delete(third);
    for (const h of holders) await h.handoff.runRound();
    for (const h of holders) expect(h.hints.backlog(third).count).toBe(0);
    for (let i = 0; i < 10; i++) {
      const { primaries } = c.placement(`${key}-${i}`);
      if (primaries.includes(third)) expect(await c.valuesAt(third, `${key}-${i}`)).toEqual([`v${i}`]);
    }
    expect(fallbacks.length).toBeGreaterThan(0);
  });

  test('two writes for the same primary merge into one hint, and handoff merges into what the primary holds (never overwrites)', async () => {
    const { c, key, fallbacks, coordinator, third } = await setup();
    c.down.add(third);
    expect((await c.put(coordinator, key, 'a', { w: 3 })).ok).toBe(true);
    expect((await c.put(coordinator, key, 'b', { w: 3 })).ok).toBe(true);
    const holder = c.node(fallbacks[0]!);
    expect(holder.hints.backlog(third).count).toBe(1);
    // Meanwhile the primary got a concurrent write of its own (it was down only to this coordinator).
    c.down.delete(third);
    expect((await c.put(third, key, 'c', { w: 1 })).ok).toBe(true);
    await holder.handoff.runRound();
    expect(await c.valuesAt(third, key)).toEqual(['a', 'b', 'c']);
  });

  test('a hint that changed after it was read for delivery stays for the next round', async () => {
    const { c, key, fallbacks, coordinator, third } = await setup();
    c.down.add(third);
    expect((await c.put(coordinator, key, 'a', { w: 3 })).ok).toBe(true);
    const holder = c.node(fallbacks[0]!);
    const [read] = await holder.hints.next(third, 10);
    expect((await c.put(coordinator, key, 'b', { w: 3 })).ok).toBe(true);
    expect(await holder.hints.remove(read!)).toBe(false);
    expect(holder.hints.backlog(third).count).toBe(1);
  });

  test('hints survive a reopen of the store: the backlog is rebuilt from disk', async () => {
    const { c, key, fallbacks, coordinator, third } = await setup();
    c.down.add(third);
    for (let i = 0; i < 5; i++) await c.put(coordinator, `${key}-${i}`, 'x'.repeat(100), { w: 3 });
    const holder = c.node(fallbacks[0]!);
    const before = holder.hints.backlog(third);
    const reopened = await HintStore.open(holder.store.hints, c.partitions, HINT_LIMITS);
    expect(reopened.backlog(third)).toEqual(before);
    expect(reopened.bytesHeld).toBe(holder.hints.bytesHeld);
  });

  test('rejects a write that needs a hint beyond hintsPerTargetMax with HintBacklogFull naming the bound, and stores nothing more', async () => {
    const { c, coordinator, third, fallbacks } = await setup({ hintLimits: { hintsPerTargetMax: 1 } });
    c.down.add(third);
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`).filter((k) => {
      const p = c.placement(k);
      return p.primaries[0] === coordinator && p.primaries[2] === third && p.fallbacks[0] === fallbacks[0];
    });
    expect(keys.length).toBeGreaterThanOrEqual(2);
    expect((await c.put(coordinator, keys[0]!, 'v', { w: 3 })).ok).toBe(true);
    const r = await c.put(coordinator, keys[1]!, 'v', { w: 3 });
    // The next fallback stands in when the first refuses: only when every fallback is full does the write fail.
    if (r.ok) {
      expect(c.node(fallbacks[1]!).hints.backlog(third).count).toBe(1);
    } else {
      expectError(r, 'HintBacklogFull', /hintsPerTargetMax/);
    }
    expect(c.node(fallbacks[0]!).hints.backlog(third).count).toBe(1);
  });

  test('rejects with HintBacklogFull when every fallback is at hintBytesMax', async () => {
    const { c, key, coordinator, third } = await setup({ hintLimits: { hintBytesMax: 10 } });
    c.down.add(third);
    const r = await c.put(coordinator, key, 'v', { w: 3 });
    expectError(r, 'HintBacklogFull', /hintBytesMax/);
    for (const n of c.nodes.values()) expect(n.hints.backlog(third).count).toBe(0);
  });

  test('expires hints older than hintAgeMaxMs, counting them', async () => {
    let now = 1_000;
    const c = await MemoryCluster.start(5);
    const { primaries, fallbacks } = c.placement('k');
    const holder = c.node(fallbacks[0]!);
    const aged = await HintStore.open(holder.store.hints, c.partitions, { ...HINT_LIMITS, hintAgeMaxMs: 500 }, () => now);
    const obj = (await import('../../app/versioning/codec')).encodeObject({ vv: new Map([['a', 1]]), siblings: [{ dot: { actor: 'a', counter: 1 }, value: Buffer.from('v'), writtenAtMs: 0 }] });
    expect((await aged.store(primaries[2]!, 0, Buffer.from('k'), obj)).ok).toBe(true);
    now += 400;
    expect(await aged.expire()).toHaveLength(0);
    now += 200;
    expect(await aged.expire()).toHaveLength(1);
    expect(aged.backlog(primaries[2]!).count).toBe(0);
  });
});

describe('failure detection and forwarding', () => {
  test('a frozen primary that is suspected is skipped: operations through a non-primary go to the next primary', async () => {
    const { c, key, primaries, fallbacks } = await setup();
    const frozen = primaries[0]!;
    c.frozen.add(frozen);
    c.suspected.add(frozen);
    const via = fallbacks[0]!;
    const put = await c.put(via, key, 'v', { w: 2 });
    expect(put.ok).toBe(true);
    const got = await c.get(via, key);
    expect(got.ok && got.value.kind === 'get' && got.value.values.map(text)).toEqual(['v']);
  });

  test('a draining primary refuses forwarded operations with ShuttingDown and the forwarding node tries the next primary', async () => {
    const { c, key, primaries, fallbacks } = await setup();
    await c.node(primaries[0]!).coordinator.drain();
    const put = await c.put(fallbacks[0]!, key, 'v', { w: 2 });
    expect(put.ok).toBe(true);
    expect(await c.valuesAt(primaries[0]!, key)).toBeDefined();
  });

  test('a draining primary passes a client operation on to another primary', async () => {
    const { c, key, primaries } = await setup();
    await c.node(primaries[0]!).coordinator.drain();
    const put = await c.put(primaries[0]!, key, 'v', { w: 2 });
    expect(put.ok).toBe(true);
    const got = await c.get(primaries[0]!, key);
    expect(got.ok && got.value.kind === 'get' && got.value.values.map(text)).toEqual(['v']);
  });

  test('rejects a forwarded write that may have run at the primary instead of sending it to a second one', async () => {
    const { c, key, primaries, fallbacks } = await setup({ config: { requestTimeoutMs: 100 } });
    c.frozen.add(primaries[0]!);
    // Not yet suspected: the forward is sent and never answered.
    const r = await c.put(fallbacks[0]!, key, 'v', { w: 2 });
    expect(r.ok).toBe(false);
    for (const p of primaries.slice(1)) expect(await c.valuesAt(p, key)).toBeUndefined();
  });
});

describe('decoding', () => {
  test('a put at N=3 decodes each object once per replica operation, a get of replicas in sync decodes once', async () => {
    const { c, key, coordinator } = await setup();
    expect((await c.put(coordinator, key, 'v0', { w: 3 })).ok).toBe(true);
    decodeCalls.mockClear();
    expect((await c.put(coordinator, key, 'v1', { w: 3 })).ok).toBe(true);
    // The coordinator decodes its stored object; each other replica decodes the incoming and its stored one.
    expect(decodeCalls).toHaveBeenCalledTimes(5);
    decodeCalls.mockClear();
    expect((await c.get(coordinator, key, { r: 3 })).ok).toBe(true);
    expect(decodeCalls).toHaveBeenCalledTimes(1);
  });
});

describe('sloppy quorum turned off', () => {
  test('with hintsPerTargetMax 0 a write goes to primaries only and fails naming the primary that was down', async () => {
    const c = await MemoryCluster.start(5, { config: { hintsPerTargetMax: 0 }, hintLimits: { hintsPerTargetMax: 0 } });
    const { primaries, fallbacks } = c.placement('k');
    c.down.add(primaries[2]!);
    const r = await c.put(primaries[0]!, 'k', 'v', { w: 3 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.condition).toBe('InsufficientReplicas');
    expect(!r.ok && r.error.message).toMatch(new RegExp(`${primaries[2]}: down, and no fallback left to stand in`));
    for (const f of fallbacks) expect(c.node(f).hints.targets()).toEqual([]);
  });

  test('rejects a hint with HintBacklogFull naming the bound when a node keeps none', async () => {
    const c = await MemoryCluster.start(5, { hintLimits: { hintsPerTargetMax: 0 } });
    const { primaries, fallbacks } = c.placement('k');
    const obj = (await import('../../app/versioning/codec')).encodeObject({ vv: new Map([['a', 1]]), siblings: [{ dot: { actor: 'a', counter: 1 }, value: Buffer.from('v'), writtenAtMs: 0 }] });
    const r = await c.node(fallbacks[0]!).hints.store(primaries[0]!, 0, Buffer.from('k'), obj);
    expect(!r.ok && r.error.message).toMatch(/0 held, the limit \(hintsPerTargetMax\) is 0/);
  });
});

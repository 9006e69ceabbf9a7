/** The giving side of a move: push each object of a partition given away to its owners, then drop it. */
import { err, KvError, ok } from '../../app/errors';
import { Claimant } from '../../app/membership/claimant';
import { Change, initialState } from '../../app/membership/cluster-state';
import { CleanupWorker, DEPARTURE_META_KEY, keeps } from '../../app/membership/cleanup';
import { Membership } from '../../app/membership/membership';
import { silentLogger } from '../../observability/log';
import { MetaMap } from '../support/meta-map';

const PARTITIONS = 8;
const KEYS_PER_PARTITION = 12;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** One node's data: partition -> key (hex) -> value. */
class Data {
  readonly parts = new Map<number, Map<string, Buffer>>();
  put(p: number, key: string, value: string): void {
    if (!this.parts.has(p)) this.parts.set(p, new Map());
    this.parts.get(p)!.set(Buffer.from(key).toString('hex'), Buffer.from(value));
  }
  count(p?: number): number {
    if (p !== undefined) return this.parts.get(p)?.size ?? 0;
    return [...this.parts.values()].reduce((n, m) => n + m.size, 0);
  }
  fold(p: number, after: Uint8Array | undefined, limit: number) {
    const keys = [...(this.parts.get(p)?.keys() ?? [])].sort().filter((k) => after === undefined || k > hex(after));
    return keys.slice(0, limit).map((k) => ({ key: Buffer.from(k, 'hex'), value: this.parts.get(p)!.get(k)! }));
  }
}

const GRACE_MS = 24 * 3600 * 1000;
const departure = (meta: MetaMap) => (JSON.parse(meta.values.get(DEPARTURE_META_KEY) ?? '{}') as { how?: string }).how;

/** kv-1..kv-3 hold every partition; `changes` are committed and every transfer recorded done. */
async function setup(self: string, changes: Change[], options: { meta?: MetaMap; nowMs?: () => number } = {}) {
  const members = ['kv-1', 'kv-2', 'kv-3'].map((id, i) => ({ id, address: `127.0.0.1:${7001 + i}`, zone: '' }));
  const meta = options.meta ?? new MetaMap();
  const view = await Membership.open(new MetaMap(), initialState('kv', members, PARTITIONS, 3), silentLogger);
  const data = new Data();
  for (let p = 0; p < PARTITIONS; p++) for (let i = 0; i < KEYS_PER_PARTITION; i++) data.put(p, `p${p}-k${String(i).padStart(2, '0')}`, `v${i}`);
  const pushed: string[] = [];
  const control = { spread: true, down: new Set<string>(), refuse: new Set<string>(), hints: 0, departed: 0, raceOnce: false };
  const worker = new CleanupWorker(
    {
      self,
      membership: view,
      fold: async (p, after, limit) => data.fold(p, after, limit),
      replicate: async (node, p, key) => {
        if (control.refuse.has(node)) return err(new KvError('StorageFull', `${node} refused`));
        pushed.push(`${node}:${p}:${Buffer.from(key).toString()}`);
        return ok(undefined);
      },
      isUp: (id) => !control.down.has(id),
      removeIfUnchanged: async (p, key, expected) => {
        const map = data.parts.get(p)!;
        // A write that lands between the push and the remove: the key now holds other bytes.
        if (control.raceOnce) {
          control.raceOnce = false;
          map.set(hex(key), Buffer.from('a late write'));
        }
        if (Buffer.compare(map.get(hex(key)) ?? Buffer.alloc(0), expected) !== 0) return false;
        map.delete(hex(key));
        return true;
      },
      spread: async () => control.spread,
      hintsHeld: () => control.hints,
      departed: () => void control.departed++,
    },
    { tombstoneGraceMs: GRACE_MS, transferIntervalMs: 10, transferBatchMax: 5, transferKeysPerSecondMax: 1e6, requestTimeoutMs: 100 },
    { dropped() {} },
    silentLogger,
    { now: options.nowMs ?? (() => 1_000_000), after: () => () => {} },
  );
  await worker.open(meta);
  const claimant = new Claimant('kv-1', view, () => true);
  for (const c of changes) claimant.stage(c);
  await claimant.commit();
  const complete = async () => {
    for (const t of view.state.transfers) await claimant.transferDone(t.partition, t.to);
  };
  const run = async (rounds = 200) => {
    for (let i = 0; i < rounds; i++) await worker.round();
  };
  return { view, data, pushed, control, worker, complete, run, meta };
}

const JOIN: Change = { kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: '' };

test('an old owner pushes each object of a partition it gave away to every new owner, then drops it; it keeps what it still owns', async () => {
  const { view, data, pushed, complete, run, worker } = await setup('kv-1', [JOIN]);
  // During the move nothing is dropped: kv-1 is still a primary of every partition.
  await run(20);
  expect(data.count()).toBe(PARTITIONS * KEYS_PER_PARTITION);
  await complete();
  const givenAway = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => !keeps(view.state, 'kv-1', p));
  expect(givenAway.length).toBeGreaterThan(0);
  await worker.round();
  expect(worker.partitionsHeld).toBeGreaterThan(0);
  await run();
  expect(worker.partitionsHeld).toBe(0);
  for (let p = 0; p < PARTITIONS; p++) expect(data.count(p)).toBe(givenAway.includes(p) ? 0 : KEYS_PER_PARTITION);
  // Every dropped object went to each of its partition's three owners first.
  expect(pushed.length).toBe(givenAway.length * KEYS_PER_PARTITION * 3);
  for (const p of givenAway) for (const owner of view.state.placement.primaries[p]!) expect(pushed).toContain(`${owner}:${p}:p${p}-k00`);
});

test('drops nothing while a member may still hold an older cluster state, or while an owner is down', async () => {
  const { view, data, control, complete, run } = await setup('kv-1', [JOIN]);
  await complete();
  control.spread = false;
  await run(30);
  expect(data.count()).toBe(PARTITIONS * KEYS_PER_PARTITION);
  control.spread = true;
  control.down.add('kv-4');
  await run(30);
  // Only partitions whose owners are all up were dropped: every given-away one has kv-4 as an owner.
  for (let p = 0; p < PARTITIONS; p++) if (!keeps(view.state, 'kv-1', p)) expect(data.count(p)).toBe(KEYS_PER_PARTITION);
  control.down.clear();
  await run();
  for (let p = 0; p < PARTITIONS; p++) if (!keeps(view.state, 'kv-1', p)) expect(data.count(p)).toBe(0);
});

test('keeps an object an owner refused, and one a late write changed after it was pushed; a later round pushes and drops them', async () => {
  const { view, data, control, pushed, complete, run } = await setup('kv-1', [JOIN]);
  await complete();
  control.refuse.add('kv-4');
  control.raceOnce = true;
  await run(30);
  const givenAway = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => !keeps(view.state, 'kv-1', p));
  for (const p of givenAway) expect(data.count(p)).toBe(KEYS_PER_PARTITION);
  control.refuse.clear();
  await run();
  for (const p of givenAway) expect(data.count(p)).toBe(0);
  // The late write's bytes were pushed too before they were dropped (it was not lost).
  expect(pushed.filter((e) => e.startsWith('kv-4:')).length).toBeGreaterThan(givenAway.length * KEYS_PER_PARTITION);
});

test('a node that left drops everything, hands off its hints, and only then departs (once)', async () => {
  const { view, data, control, complete, run, meta } = await setup('kv-3', [{ kind: 'leave', id: 'kv-3' }]);
  await complete();
  expect(view.state.members.map((m) => m.id)).not.toContain('kv-3');
  expect(departure(meta)).toBe('left');
  control.hints = 2;
  await run();
  expect(data.count()).toBe(0);
  expect(control.departed).toBe(0);
  control.hints = 0;
  await run(5);
  expect(control.departed).toBe(1);
});

test('a node removed while it was down keeps its data and never departs (its data is older than the cluster\'s)', async () => {
  const { view, data, control, complete, run, meta } = await setup('kv-3', [{ kind: 'remove', id: 'kv-3' }]);
  await complete();
  expect(view.state.members.map((m) => m.id)).not.toContain('kv-3');
  expect(departure(meta)).toBe('removed');
  await run(30);
  expect(data.count()).toBe(PARTITIONS * KEYS_PER_PARTITION);
  expect(control.departed).toBe(0);
});

test('a node that saw itself leaving left, even when the first state without it is a later change\'s (no departures listed for it)', async () => {
  const { view, data, control, complete, run, meta } = await setup('kv-3', [{ kind: 'leave', id: 'kv-3' }, { kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: '' }]);
  expect(view.state.members.find((m) => m.id === 'kv-3')?.status).toBe('leaving');
  await complete();
  // The next change replaces the departures list: kv-3 is not in it.
  const claimant = new Claimant('kv-1', view, () => true);
  claimant.stage({ kind: 'join', id: 'kv-5', address: '127.0.0.1:7005', zone: '' });
  await claimant.commit();
  expect(view.state.departures ?? []).toEqual([]);
  expect(departure(meta)).toBe('left');
  await run();
  expect(data.count()).toBe(0);
  expect(control.departed).toBe(1);
});

test('a node that left long ago (more than half the tombstone grace) pushes nothing: its data may hold values whose deletes were forgotten', async () => {
  let now = 1_000_000;
  const { data, control, pushed, complete, run, worker, meta } = await setup('kv-3', [{ kind: 'leave', id: 'kv-3' }], { nowMs: () => now });
  await complete();
  expect(departure(meta)).toBe('left');
  expect(worker.mayHandOff).toBe(true);
  // It stopped before it handed anything off, and comes back a day later (the same metadata).
  now += GRACE_MS;
  expect(worker.mayHandOff).toBe(false);
  await run(20);
  expect(pushed).toEqual([]);
  expect(data.count()).toBe(PARTITIONS * KEYS_PER_PARTITION);
  expect(control.departed).toBe(0);
});

test('one partition that cannot be read does not stop the others (a corrupt record)', async () => {
  const { view, data, complete, run, worker } = await setup('kv-1', [JOIN]);
  await complete();
  const givenAway = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => !keeps(view.state, 'kv-1', p));
  const broken = givenAway[0]!;
  const fold = data.fold.bind(data);
  data.fold = (p, after, limit) => {
    if (p === broken) throw new Error('corrupt record in partition');
    return fold(p, after, limit);
  };
  await run();
  for (const p of givenAway) expect(data.count(p)).toBe(p === broken ? KEYS_PER_PARTITION : 0);
  expect(worker.partitionsHeld).toBe(1);
});

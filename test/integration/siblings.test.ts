/**
 * Siblings and client-side resolution: concurrent writes with the same context are both kept;
 * `update` with a resolver collapses them; interleaved read-resolve-write cycles lose nothing and
 * never pile up siblings.
 */
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  f = await startCluster({ basePort: 17201 });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

const unionOfSets = (siblings: Buffer[]): Uint8Array => {
  const union = new Set<string>();
  for (const s of siblings) for (const e of JSON.parse(s.toString()) as string[]) union.add(e);
  return Buffer.from(JSON.stringify([...union].sort()));
};

test('two clients writing with the same context produce two siblings, and update with a resolver collapses them', async () => {
  const a = f.client({ endpoints: [f.cluster.nodes[0]!.endpoint] });
  const b = f.client({ endpoints: [f.cluster.nodes[3]!.endpoint] });
  await a.put('cart', JSON.stringify(['milk']));
  const seen = await a.get('cart');
  await a.put('cart', JSON.stringify(['milk', 'eggs']), { context: seen.context });
  await b.put('cart', JSON.stringify(['milk', 'bread']), { context: seen.context });
  const both = await a.get('cart');
  expect(both.values.map(String).sort()).toEqual(['["milk","bread"]', '["milk","eggs"]']);

  await a.update('cart', (current) => current!, { resolve: unionOfSets });
  const resolved = await b.get('cart');
  expect(resolved.values.map(String)).toEqual([JSON.stringify(['bread', 'eggs', 'milk'])]);
});

test('a put without context on an existing key adds a sibling instead of overwriting', async () => {
  const c = f.client();
  await c.put('blind', 'first');
  await c.put('blind', 'second');
  expect((await c.get('blind')).values.map(String).sort()).toEqual(['first', 'second']);
});

test('update without a resolver rejects a key with siblings and changes nothing', async () => {
  const c = f.client();
  await c.put('unresolved', 'x');
  await c.put('unresolved', 'y');
  await expect(c.update('unresolved', () => Buffer.from('z'))).rejects.toThrow(/2 siblings and no resolve function/);
  expect((await c.get('unresolved')).values.map(String).sort()).toEqual(['x', 'y']);
});

test('two clients interleaving read-resolve-write 100 times keep every element and at most 2 siblings', async () => {
  const a = f.client({ endpoints: [f.cluster.nodes[1]!.endpoint] });
  const b = f.client({ endpoints: [f.cluster.nodes[4]!.endpoint] });
  await a.put('set', JSON.stringify([]));
  let maxSiblings = 0;
  for (let round = 0; round < 100; round++) {
    // Lockstep: both read, then both write with what they read (the sibling-explosion pattern).
    const [ga, gb] = await Promise.all([a.get('set'), b.get('set')]);
    maxSiblings = Math.max(maxSiblings, ga.values.length, gb.values.length);
    const add = (g: typeof ga, element: string) => {
      const current = JSON.parse(unionOfSets(g.values).toString()) as string[];
      return Buffer.from(JSON.stringify([...current, element].sort()));
    };
    await Promise.all([a.put('set', add(ga, `a${round}`), { context: ga.context }), b.put('set', add(gb, `b${round}`), { context: gb.context })]);
  }
  const final = await a.get('set');
  maxSiblings = Math.max(maxSiblings, final.values.length);
  const elements = new Set(JSON.parse(unionOfSets(final.values).toString()) as string[]);
  for (let round = 0; round < 100; round++) {
    expect(elements.has(`a${round}`)).toBe(true);
    expect(elements.has(`b${round}`)).toBe(true);
  }
  expect(maxSiblings).toBeLessThanOrEqual(2);
}, 120_000);

test('a delete with the context leaves the key deleted; a later put with the context revives it', async () => {
  const c = f.client();
  await c.put('doomed', 'alive');
  const g = await c.get('doomed');
  await c.delete('doomed', { context: g.context });
  const gone = await c.get('doomed');
  expect(gone.found).toBe(false);
  expect(gone.deleted).toBe(true);
  expect(gone.context).not.toBe('');
  await c.put('doomed', 'again', { context: gone.context });
  expect((await c.get('doomed')).values.map(String)).toEqual(['again']);
});

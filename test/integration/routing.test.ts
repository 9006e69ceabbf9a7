/** The partition-aware client: sends each operation to a primary, and fails over among them. */
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

beforeAll(async () => {
  f = await startCluster({ basePort: 17601 });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

test('a primary-routing client learns the members from one endpoint and reads what a plain client wrote', async () => {
  const plain = f.client();
  const routed = f.client({ endpoints: [f.cluster.nodes[0]!.endpoint], routing: 'primary', batch: true });
  for (let i = 0; i < 30; i++) await plain.put(`routed-${i}`, `v${i}`);
  for (let i = 0; i < 30; i++) expect((await routed.get(`routed-${i}`)).values.map(String)).toEqual([`v${i}`]);
});

test('a primary-routing client fails over to the next primary when the first is killed', async () => {
  const key = 'routed-failover';
  const [first] = f.primariesOf(key);
  const routed = f.client({ endpoints: [f.cluster.nodes[4]!.endpoint], routing: 'primary' });
  await routed.put(key, 'before');
  await f.withDown([first!], async () => {
    const got = await routed.get(key);
    expect(got.values.map(String)).toEqual(['before']);
    await routed.put(key, 'after', { context: got.context });
    expect((await routed.get(key)).values.map(String)).toEqual(['after']);
  });
}, 60_000);

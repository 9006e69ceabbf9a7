/**
 * A forwarded operation at a node that is not a primary of its key in its own cluster state (the
 * forwarding node's state differs while a membership change spreads by gossip).
 */
import { MemoryCluster } from '../support/memory-cluster';

async function setup() {
  const cluster = await MemoryCluster.start(5);
  const key = 'k-forwarded';
  const { primaries } = cluster.placement(key);
  const outsider = [...cluster.nodes.keys()].find((id) => !primaries.includes(id))!;
  return { cluster, key, primaries, outsider };
}

test('a forwarded get is coordinated anyway: any node can coordinate a read', async () => {
  const { cluster, key, primaries, outsider } = await setup();
  const put = await cluster.node(primaries[0]!).coordinator.execute({ kind: 'put', key: Buffer.from(key), value: Buffer.from('v1'), context: new Uint8Array(0), w: 0, pw: 0 });
  expect(put.ok).toBe(true);
  const got = await cluster.node(outsider).coordinator.execute({ kind: 'get', key: Buffer.from(key), r: 0, pr: 0 }, { forwarded: true });
  expect(got.ok && got.value.kind === 'get' && got.value.values.map((v) => Buffer.from(v).toString())).toEqual(['v1']);
});

test('rejects a forwarded put with NotPrimary, before it runs, so the forwarding node tries another primary', async () => {
  const { cluster, key, primaries, outsider } = await setup();
  const put = await cluster.node(outsider).coordinator.execute({ kind: 'put', key: Buffer.from(key), value: Buffer.from('v1'), context: new Uint8Array(0), w: 0, pw: 0 }, { forwarded: true });
  expect(put.ok).toBe(false);
  if (!put.ok) {
    expect(put.error.condition).toBe('NotPrimary');
    expect(put.error.message).toMatch(/not one of its primaries .* a membership change is spreading/);
  }
  for (const p of primaries) expect(await cluster.valuesAt(p, key)).toBeUndefined();
});

/**
 * LocalCluster's addressing: every node on 127.0.0.1 by default, or each on a loopback address of
 * its own, which its flags and every node's peer list then name.
 */
import { LocalCluster, LocalClusterOptions } from '../../app/local/local-cluster';

const options: LocalClusterOptions = { nodes: 3, basePort: 17000, metricsBasePort: 0, dataDir: '/tmp/unused', n: 3, r: 2, w: 2, kvScript: 'kv.js', logs: 'file' };

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
}

test('by default every node listens on 127.0.0.1, port basePort+i-1, and runs with this process group', () => {
  const cluster = new LocalCluster(options);
  expect(cluster.endpoints).toEqual(['127.0.0.1:17000', '127.0.0.1:17001', '127.0.0.1:17002']);
  expect(flag(cluster.argsOf(cluster.node('kv-2')), 'host')).toBe('127.0.0.1');
  expect(cluster.nodes.map((n) => n.gid)).toEqual([undefined, undefined, undefined]);
});

test('with loopbackPerNode node kv-i listens on 127.0.0.(i+1), and the peer list names those addresses', () => {
  const cluster = new LocalCluster({ ...options, loopbackPerNode: true });
  expect(cluster.endpoints).toEqual(['127.0.0.2:17000', '127.0.0.3:17001', '127.0.0.4:17002']);
  const args = cluster.argsOf(cluster.node('kv-2'));
  expect(flag(args, 'host')).toBe('127.0.0.3');
  expect(flag(args, 'port')).toBe('17001');
  expect(flag(args, 'peers')).toBe('kv-1=127.0.0.2:17000,kv-2=127.0.0.3:17001,kv-3=127.0.0.4:17002');
});

test('rejects a gidBase that leaves no room for every node, naming the value', () => {
  expect(() => new LocalCluster({ ...options, gidBase: 4_294_967_293 })).toThrow(/gidBase: 4294967293 must be an integer within 1\.\.4294967292 for 3 nodes/);
  expect(() => new LocalCluster({ ...options, gidBase: 0 })).toThrow(/gidBase: 0 must be/);
});

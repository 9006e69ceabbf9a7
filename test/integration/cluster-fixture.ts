/**
 * Starts real node processes the way `kv cluster` does (LocalCluster), from the built entry
 * point dist/bin/kv.js (`npm test` builds first), with data in a fresh temp directory.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KvClient, KvClientOptions } from '../../app/client/client';
import { LocalCluster, LocalClusterOptions } from '../../app/local/local-cluster';
import { buildRing, partitionOf, preferenceList } from '../../app/ring/ring';
import { GrpcPeerTransport } from '../../app/rpc/peer-transport';
import { decodeObject } from '../../app/versioning/codec';

export const KV_SCRIPT = path.resolve(__dirname, '../../dist/bin/kv.js');

export interface Fixture {
  readonly cluster: LocalCluster;
  readonly dataDir: string;
  client(options?: Partial<KvClientOptions>): KvClient;
  /** The N primaries of a key, in preference order (node ids kv-1 ...). */
  primariesOf(key: string): string[];
  /**
   * What a node stores in its own data for some keys, read over the peer service (no coordinator,
   * no quorum): each key's live values, sorted ([] for a tombstone), or undefined when it holds
   * nothing. Retries a node that does not answer for up to 2 s.
   */
  storedAt(node: string, keys: readonly string[]): Promise<Map<string, string[] | undefined>>;
  /** Waits until every running node reports every other running node reachable. */
  waitConnected(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the data directory. */
  teardown(): Promise<void>;
}

export async function startCluster(options: Partial<LocalClusterOptions> & { basePort: number }): Promise<Fixture> {
  if (!fs.existsSync(KV_SCRIPT)) throw new Error(`${KV_SCRIPT} is missing: run npm run build first (npm test does)`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-it-'));
  const cluster = new LocalCluster({
    nodes: 5,
    metricsBasePort: 0,
    n: 3,
    r: 2,
    w: 2,
    partitions: 64,
    kvScript: KV_SCRIPT,
    logs: 'file',
    dataDir,
    ...options,
  });
  const clients: KvClient[] = [];
  const fixture: Fixture = {
    cluster,
    dataDir,
    client: (o = {}) => {
      const c = new KvClient({ endpoints: cluster.endpoints, timeoutMs: 5000, ...o });
      clients.push(c);
      return c;
    },
    primariesOf: (key) => {
      const ring = buildRing(cluster.nodes.map((n) => n.id), cluster.options.partitions ?? 64);
      return preferenceList(ring, partitionOf(Buffer.from(key), ring.partitions), cluster.options.n)
        .filter((e) => e.role === 'primary')
        .map((e) => e.node);
    },
    storedAt: async (node, keys) => {
      const peers = new Map(cluster.nodes.map((n) => [n.id, n.endpoint]));
      const probe = new GrpcPeerTransport({ self: 'probe', peers, windowMax: 1024, batchItemsMax: 256, messageBytesMax: 4 * 1024 * 1024 });
      const partitions = cluster.options.partitions ?? 64;
      try {
        const out = new Map<string, string[] | undefined>();
        for (const key of keys) {
          for (let attempt = 0; ; attempt++) {
            const r = await probe.fetch(node, partitionOf(Buffer.from(key), partitions), Buffer.from(key), 2000);
            if (r.ok) {
              out.set(key, r.value === undefined ? undefined : decodeObject(r.value).siblings.flatMap((s) => (s.value === null ? [] : [Buffer.from(s.value).toString()])).sort());
              break;
            }
            if (attempt >= 20) throw r.error;
            await new Promise((res) => setTimeout(res, 100));
          }
        }
        return out;
      } finally {
        probe.close();
      }
    },
    waitConnected: async (timeoutMs = 10_000) => {
      const running = cluster.nodes.filter((n) => n.process && n.process.exitCode === null && n.process.signalCode === null);
      const deadline = Date.now() + timeoutMs;
      for (const node of running) {
        const c = new KvClient({ endpoints: [node.endpoint], timeoutMs: 1000, attemptsMax: 1 });
        try {
          for (;;) {
            const s = await c.status().catch(() => undefined);
            if (s && running.every((r) => s.members.find((m) => m.id === r.id)?.reachable)) break;
            if (Date.now() > deadline) throw new Error(`${node.id} does not reach every running node within ${timeoutMs} ms`);
            await new Promise((r) => setTimeout(r, 50));
          }
        } finally {
          c.close();
        }
      }
    },
    teardown: async () => {
      for (const c of clients) c.close();
      await cluster.stop();
      // KV_KEEP_TEST_DATA=1 keeps the data and node logs of a failing run for inspection.
      if (!process.env.KV_KEEP_TEST_DATA) fs.rmSync(dataDir, { recursive: true, force: true });
      else process.stderr.write(`kept test data in ${dataDir}\n`);
    },
  };
  try {
    await cluster.start();
  } catch (e) {
    await fixture.teardown();
    throw e;
  }
  return fixture;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the kv CLI as a user would. */
export function kv(args: string[], input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [KV_SCRIPT, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

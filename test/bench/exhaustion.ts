/**
 * What each resource-exhaustion attack does to a real node's memory: the node's RSS before the
 * attack, the largest seen during it, and after it stopped (and the node had a few seconds), and
 * whether the node still serves. Each attack gets a fresh single node (test/support/exhaustion.ts
 * has the attacks). A program that prints figures, not a test (STYLE.md 8). Run it under the
 * machine-wide lock, on loopback ports 19430..19432:
 *
 *   npm run build && flock /tmp/kv-it.lock node dist/test/bench/exhaustion.js [kv-script] [seconds] [only]
 *
 * only: run just the attacks whose names contain it.
 * kv-script: the node to attack (default: this build's dist/bin/kv.js; give another build's to
 * measure it, e.g. one of an older commit in a separate worktree). A node that does not know the
 * keepalive settings is started without them.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { abandonedStreams, deafProxy, hugeMessage, mib, neverReadingBatch, NodeUnderAttack, rssBytes, sampleRss, slowLoris, startNode } from '../support/exhaustion';

const PORT = 19430;
const PROXY_PORT = 19432;
const SETTLE_MS = 5000;
const KEEPALIVE_MS = 2000;
/** Only the attacks whose names contain this (the third argument) run. */
const ONLY = process.argv[4] ?? '';

interface Row {
  readonly attack: string;
  readonly before: number;
  readonly peak: number;
  readonly after: number;
  readonly serves: boolean;
  readonly note: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(kvScript: string, args: string[], attack: string, body: (node: NodeUnderAttack) => Promise<string>): Promise<Row | undefined> {
  if (!attack.includes(ONLY)) return undefined;
  const node = await startNode(kvScript, PORT, args);
  try {
    await node.serves();
    await sleep(1000);
    const before = rssBytes(node.pid);
    const sampler = sampleRss(node.pid);
    let note: string;
    try {
      note = await body(node);
    } catch (e) {
      note = `attack failed: ${(e as Error).message}`;
    }
    await sleep(SETTLE_MS);
    const peak = sampler.stop();
    let after = 0;
    try {
      after = rssBytes(node.pid);
    } catch {
      note += ' (the node exited)';
    }
    return { attack, before, peak, after, serves: after > 0 && (await node.serves()), note };
  } finally {
    await node.stop().catch(() => {});
  }
}

async function main(): Promise<void> {
  const kvScript = path.resolve(process.argv[2] ?? path.join(__dirname, '../../bin/kv.js'));
  const seconds = Number(process.argv[3] ?? 15);
  const help = execFileSync(process.execPath, [kvScript, 'node', '--help'], { encoding: 'utf8' });
  const knowsKeepalive = help.includes('--keepalive-ms');
  const args = knowsKeepalive ? ['--keepalive-ms', String(KEEPALIVE_MS), '--keepalive-timeout-ms', String(KEEPALIVE_MS)] : [];
  console.log(`node: ${kvScript}${knowsKeepalive ? ` (keepalive ${KEEPALIVE_MS} ms + ${KEEPALIVE_MS} ms)` : ' (no byte bounds, no keepalive settings)'}; attacks of ${seconds} s, RSS after ${SETTLE_MS} ms of rest`);
  const rows: Row[] = [];
  const report = (r: Row | undefined) => {
    if (r === undefined) return;
    rows.push(r);
    console.log(`  ${r.attack}: ${mib(r.before)} -> ${mib(r.peak)} -> ${mib(r.after)} MiB, serves ${r.serves}; ${r.note}`);
  };
  for (const streams of [1, 4]) {
    report(
      await run(kvScript, args, `Batch never read by a grpc-js client, ${streams} stream(s), 512 KiB values`, async (node) => {
        const a = await neverReadingBatch(node.endpoint, { streams, valueBytes: 512 * 1024, seconds });
        a.close();
        return `${a.opsSent} operations written by the client (grpc-js still takes the answers off the socket)`;
      }),
    );
  }
  for (const streams of [1, 4]) {
    report(
      await run(kvScript, args, `Batch never read, socket unread, ${streams} stream(s), 512 KiB values`, async (node) => {
        const proxy = await deafProxy(node.port, PROXY_PORT, 64 * 1024);
        try {
          const a = await neverReadingBatch(node.endpoint, { streams, valueBytes: 512 * 1024, seconds, via: `127.0.0.1:${proxy.port}` });
          a.close();
          return `${a.opsSent} operations written by the client; the proxy passes the node's first 64 KiB of each connection`;
        } finally {
          await proxy.close();
        }
      }),
    );
  }
  for (const service of ['peer', 'batch'] as const) {
    report(
      await run(kvScript, args, `one ${service === 'peer' ? 'PeerRequests' : 'BatchRequest'} of 2,000,000 ${service === 'peer' ? 'fetches' : 'gets'}`, async (node) => {
        const r = await hugeMessage(node.endpoint, service, 2_000_000, seconds * 1000);
        return `${mib(r.bytes)} MiB message; stream ${r.code === 'open' ? `still open after ${seconds} s` : `ended with code ${r.code}: ${r.details.slice(0, 120)}`}`;
      }),
    );
  }
  report(
    await run(kvScript, args, '5,000 Batch streams opened and abandoned (10 connections)', async (node) => {
      const a = await abandonedStreams(node.endpoint, { connections: 10, streams: 5000, valueBytes: 512 * 1024 });
      await sleep(seconds * 1000);
      a.close();
      return 'each stream sent one get of a 512 KiB value, then was left';
    }),
  );
  report(
    await run(kvScript, args, '1,000 slow-loris connections', async (node) => {
      const loris = await slowLoris(node.port, { connections: 1000, byteEveryMs: 500 });
      await sleep(seconds * 1000);
      const closed = loris.closed();
      loris.close();
      return `${closed} of 1000 closed by the node within ${seconds} s`;
    }),
  );
  console.log('\n| attack | RSS before (MiB) | during, peak (MiB) | after (MiB) | serves after | note |\n|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.attack} | ${mib(r.before)} | ${mib(r.peak)} | ${mib(r.after)} | ${r.serves ? 'yes' : 'no'} | ${r.note} |`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

/**
 * A real S3-compatible server for backup tests: s3rver (npm), run as its own process on
 * loopback, with its data in a folder the test can reach into (to damage a stored object).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitFor } from './wait-for';

/** s3rver's fixed credentials. */
export const S3RVER_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' } as const;

export interface S3Server {
  readonly endpoint: string;
  readonly bucket: string;
  /** Where s3rver keeps its objects: <dir>/<bucket>/<key>._S3rver_object. */
  readonly dir: string;
  /** The environment a `kv backup` run needs to reach this server. */
  readonly env: Record<string, string>;
  /** The file holding an object's bytes. */
  objectFile(key: string): string;
  stop(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** A loopback port free right now, from the system (port 0), closed again for the server to take. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts s3rver on a port the system picks: a fixed port could be held by a server left from a
 * killed run, which would then answer in place of this one (its own bucket and folder) while
 * this one failed to bind.
 */
export async function startS3Server(bucket: string): Promise<S3Server> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-s3rver-'));
  const script = require.resolve('s3rver/bin/s3rver.js');
  const child: ChildProcess = spawn(process.execPath, [script, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', bucket], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(async () => (child.exitCode !== null ? Promise.reject(new Error(`s3rver exited ${child.exitCode}: ${stderr}`)) : answers(port)), { timeoutMs: 15_000, what: `s3rver answering on 127.0.0.1:${port}` });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    dir,
    env: { ...S3RVER_CREDENTIALS, KV_S3_ENDPOINT: endpoint, KV_BACKUP_BUCKET: bucket, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    objectFile: (key) => path.join(dir, bucket, `${key}._S3rver_object`),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

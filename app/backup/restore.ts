/**
 * `kv restore`: a backup back into a running cluster, of the same or another size.
 *
 * Every node's file is downloaded into the spool folder and checked against its manifest first:
 * a damaged backup is refused before anything is written. Then every object of every copy (its
 * own data and the hints it held) is sent in bounded requests to the cluster's Backup.Restore,
 * which merges it into the primaries of its key there (app/replication/restore.ts): merged, never
 * overwritten, so siblings, clocks and tombstones survive, keys are placed by the new ring, and a
 * restore can run again, or into a cluster that holds data, without losing anything.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { KvClient } from '../client/client';
import { BackupChannel, BackupRpcError } from '../rpc/backup-channel';
import type { ClientSecurity } from '../rpc/tls';
import { Bucket } from './bucket';
import { Layout } from './manifest';
import { ProgressOut, ProgressTask } from './progress';
import { CopiedObject, readCopy } from './snapshot-copy';
import { checkNodeFile, readClusterManifest, readNodeManifests, resolveBackupId } from './verify';

/** Objects per restore request at most (the node's bound is RESTORE_OBJECTS_MAX, 1,000). */
export const RESTORE_BATCH_OBJECTS = 500;
/** Bytes of objects per restore request, about (an object larger than this goes alone). */
export const RESTORE_BATCH_BYTES = 4 * 1024 * 1024;
/** Restore requests in flight at once (the nodes' bound is RESTORE_REQUESTS_IN_FLIGHT_MAX each). */
export const RESTORE_REQUESTS_IN_FLIGHT = 4;
/** Rounds of sending the objects that failed again, with a pause between them. */
export const RESTORE_RETRY_ROUNDS = 5;
const RETRY_PAUSE_MS = 1000;

/** Status codes after which a whole request is sent again, to another node. */
const RETRYABLE = new Set([4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */, 14 /* UNAVAILABLE */]);

export interface RestoreOptions {
  readonly bucket: Bucket;
  readonly layout: Layout;
  /** A backup id, or 'latest'. */
  readonly id: string;
  /** Members of the cluster to restore into. */
  readonly endpoints: readonly string[];
  /** TLS files and a bearer token for the cluster's nodes (needs role admin). @default - plaintext */
  readonly security?: ClientSecurity;
  readonly spoolDir: string;
  /** Primaries that must merge each object; 0: the cluster's W. */
  readonly w: number;
  readonly timeoutMs: number;
  readonly progress: ProgressOut;
  readonly say: (line: string) => void;
}

export interface RestoreSummary {
  readonly backupId: string;
  readonly objects: number;
  readonly hints: number;
  readonly merged: number;
}

export async function runRestore(options: RestoreOptions): Promise<RestoreSummary> {
  const { bucket, layout, say } = options;
  await bucket.check(layout.root);
  const backupId = await resolveBackupId(bucket, layout, options.id);
  const cluster = await readClusterManifest(bucket, layout, backupId);
  const nodes = await readNodeManifests(bucket, layout, cluster);
  const spool = path.join(options.spoolDir, layout.cluster, `restore-${backupId}`);
  await fs.rm(spool, { recursive: true, force: true });
  say(`restoring backup ${backupId} of cluster ${layout.cluster} (${nodes.length} node copies, ${cluster.totals.keys} objects, ${cluster.totals.hints} hints, ring of ${cluster.partitions} partitions)`);

  // Download and check everything before writing anything.
  const problems: string[] = [];
  for (const node of nodes) {
    const dir = path.join(spool, node.node);
    await fs.mkdir(dir, { recursive: true });
    problems.push(...(await checkNodeFile(bucket, node, options.progress, path.join(dir, 'data.mdb'))));
  }
  if (problems.length > 0) {
    await fs.rm(spool, { recursive: true, force: true });
    throw new Error(`backup ${backupId} is damaged; nothing was restored:\n  ${problems.join('\n  ')}`);
  }

  const members = await clusterMembers(options);
  const sender = new Sender(members, options);
  const task = new ProgressTask(options.progress, 'restoring', cluster.totals.keys + cluster.totals.hints, 'objects');
  let objects = 0;
  let hints = 0;
  try {
    for (const node of nodes) {
      const counts = await readCopy(path.join(spool, node.node), node.partitions, async (batch) => {
        await sender.add(batch);
        task.add(batch.length);
      });
      if (counts.corrupt > 0) say(`${node.node}: ${counts.corrupt} records of its copy failed their check and were skipped (the other replicas' copies hold those keys)`);
      objects += counts.keys;
      hints += counts.hints;
    }
    await sender.finish();
  } finally {
    sender.close();
    await fs.rm(spool, { recursive: true, force: true });
  }
  task.finish(`${sender.merged} merges`);
  say(`restored backup ${backupId}: ${objects} objects and ${hints} hints from ${nodes.length} node copies merged into a cluster of ${members.length} members (${sender.merged} merges: each key once per copy that holds it)`);
  return { backupId, objects, hints, merged: sender.merged };
}

async function clusterMembers(options: RestoreOptions): Promise<string[]> {
  const client = new KvClient({ endpoints: options.endpoints, timeoutMs: options.timeoutMs, routing: 'any', security: options.security });
  try {
    const status = await client.status();
    return status.members.filter((m) => m.status === 'valid').map((m) => m.address);
  } finally {
    client.close();
  }
}

/** Sends objects in bounded requests, RESTORE_REQUESTS_IN_FLIGHT at once, round robin over the members. */
class Sender {
  merged = 0;
  private batch: CopiedObject[] = [];
  private batchBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failed: Array<{ object: CopiedObject; reason: string }> = [];
  private readonly channels: BackupChannel[];
  private next = 0;
  /** The first request that failed for good: the restore stops with it. */
  private error: unknown;

  constructor(
    addresses: readonly string[],
    private readonly options: RestoreOptions,
  ) {
    if (addresses.length === 0) throw new Error('the cluster to restore into has no valid members');
    this.channels = addresses.map((a) => new BackupChannel(a, options.security));
  }

  async add(objects: readonly CopiedObject[]): Promise<void> {
    for (const o of objects) {
      if (this.batch.length >= RESTORE_BATCH_OBJECTS || (this.batch.length > 0 && this.batchBytes + o.object.length > RESTORE_BATCH_BYTES)) await this.flush();
      this.batch.push(o);
      this.batchBytes += o.key.length + o.object.length;
    }
  }

  /** Sends what is left, then the failed objects again, RESTORE_RETRY_ROUNDS times at most. */
  async finish(): Promise<void> {
    await this.flush();
    await this.drain();
    for (let round = 1; round <= RESTORE_RETRY_ROUNDS && this.failed.length > 0; round++) {
      const again = this.failed;
      this.failed = [];
      this.options.say(`sending ${again.length} objects again (round ${round} of ${RESTORE_RETRY_ROUNDS}): ${again[0]!.reason}`);
      await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS * round));
      await this.add(again.map((f) => f.object));
      await this.flush();
      await this.drain();
    }
    if (this.failed.length > 0) {
      const sample = this.failed.slice(0, 5).map((f) => `${Buffer.from(f.object.key).toString('hex')}: ${f.reason}`);
      throw new Error(`${this.failed.length} objects could not be merged after ${RESTORE_RETRY_ROUNDS} rounds; everything else is restored, and running kv restore again is safe (merges are idempotent). First ones (key in hex):\n  ${sample.join('\n  ')}`);
    }
  }

  close(): void {
    for (const c of this.channels) c.close();
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    while (this.inFlight.size >= RESTORE_REQUESTS_IN_FLIGHT) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const sent: Promise<void> = this.send(batch)
      .catch((e: unknown) => {
        this.error ??= e;
      })
      .finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }

  private async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.error !== undefined) throw this.error;
  }

  private async send(batch: CopiedObject[]): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < this.channels.length + 2; attempt++) {
      const channel = this.channels[this.next++ % this.channels.length]!;
      try {
        const answer = await channel.restore(batch.map((o) => ({ key: o.key, object: o.object })), this.options.w, this.options.timeoutMs);
        this.merged += answer.merged;
        const byKey = new Map(batch.map((o) => [Buffer.from(o.key).toString('hex'), o]));
        for (const f of answer.failed) {
          const object = byKey.get(Buffer.from(f.key).toString('hex'));
          if (object) this.failed.push({ object, reason: f.reason });
        }
        return;
      } catch (e) {
        lastError = e;
        if (!(e instanceof BackupRpcError) || !RETRYABLE.has(e.code)) throw e;
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
    throw lastError;
  }
}

/**
 * `kv backup`: a backup of the whole cluster into the bucket.
 *
 * 1. Copy: every member's snapshot is streamed at once into a local spool folder and checked
 *    against the SHA-256 the node sent. Each node copies its store inside one read transaction
 *    and serves meanwhile; the copies start within milliseconds of each other.
 * 2. Upload: node by node, the copy is counted (keys, hints, records that fail their check) and
 *    sent by multipart upload, each part with its SHA-256; a journal in the spool folder records
 *    every part S3 took, so an interrupted run resumes (`--resume <id>`) with the parts left.
 *    Then the node's manifest.
 * 3. The cluster manifest, last: a backup without one is incomplete, and restore refuses it.
 *
 * What a backup holds: every write acknowledged before it started (W replicas had it durably,
 * and every replica's copy is taken after that), except a write whose only durable copies moved
 * between nodes (a hint handed off, a partition transferred) in the moment between two nodes'
 * copies. Writes during the backup may or may not be in it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { KvClient } from '../client/client';
import { BackupChannel } from '../rpc/backup-channel';
import type { ClientSecurity } from '../rpc/tls';
import { Bucket, BucketError, UploadedPart } from './bucket';
import { backupIdAt, CLUSTER_MANIFEST_FORMAT, ClusterManifest, checkName, Layout, NODE_MANIFEST_FORMAT, NodeManifest, PartRecord, isBackupId, parseNodeManifest } from './manifest';
import { ProgressOut, ProgressTask, formatBytes } from './progress';
import { readCopy } from './snapshot-copy';
import { mapBounded } from '../parallel';

/** S3's bounds on multipart uploads: parts of 5 MiB to 5 GiB (the last may be smaller), at most 10,000. */
export const PART_BYTES_MIN = 5 * 1024 * 1024;
export const PART_BYTES_MAX = 5 * 1024 ** 3;
export const PARTS_MAX = 10_000;
/** @default part size: 16 MiB. */
export const PART_BYTES_DEFAULT = 16 * 1024 * 1024;
/** @default parts uploaded at once per file (each is held in memory while it is sent). */
export const UPLOAD_CONCURRENCY_DEFAULT = 4;
export const UPLOAD_CONCURRENCY_MAX = 16;

export interface BackupOptions {
  readonly bucket: Bucket;
  readonly layout: Layout;
  /** Any members of the cluster: the others are found through Status. */
  readonly endpoints: readonly string[];
  /** TLS files and a bearer token for the cluster's nodes (needs role admin). @default - plaintext */
  readonly security?: ClientSecurity;
  /** Where the copies wait for their upload (a backup needs room for every node's copy). */
  readonly spoolDir: string;
  readonly partBytes: number;
  readonly uploadConcurrency: number;
  /** The id of an interrupted backup to finish, with the spool folder it left. */
  readonly resume?: string;
  readonly timeoutMs: number;
  /**
   * Bytes per second the copies are read from the nodes at most, all nodes together (the node's
   * reading pauses with the stream: gRPC flow control). 0: as fast as they come.
   */
  readonly copyBytesPerSecond: number;
  /** Progress (a bar on a terminal, lines otherwise). */
  readonly progress: ProgressOut;
  /** Result lines. */
  readonly say: (line: string) => void;
}

export interface BackupResult {
  readonly manifest: ClusterManifest;
  /** Parts found uploaded already by an earlier run, and parts this run uploaded. */
  readonly partsResumed: number;
  readonly partsUploaded: number;
}

/** What the spool folder remembers of a backup in progress. */
interface SpoolState {
  readonly backupId: string;
  readonly cluster: string;
  readonly startedAtMs: number;
  readonly members: Array<{ readonly id: string; readonly address: string }>;
}

/** A node's copy in the spool, once checked. */
interface SpooledCopy {
  readonly header: {
    readonly nodeId: string;
    readonly actor: string;
    readonly partitions: number;
    readonly n: number;
    readonly stateVersion: number;
    readonly primaryPartitions: number[];
    readonly format: string;
    readonly takenAtMs: number;
  };
  readonly bytes: number;
  readonly sha256: string;
}

interface Journal {
  readonly key: string;
  readonly uploadId: string;
  readonly partBytes: number;
  readonly parts: Array<UploadedPart & PartRecord>;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file}: ${(e as Error).message}: the spool folder is damaged; remove it and take a new backup`, { cause: e });
  }
}

/** Writes a file whole or not at all (a crash leaves the old one). */
async function writeJson(file: string, value: unknown): Promise<void> {
  const partial = `${file}.partial`;
  await fs.writeFile(partial, JSON.stringify(value));
  await fs.rename(partial, file);
}

/** The part size: the one asked for, doubled until the file fits in PARTS_MAX parts. */
export function partBytesFor(fileBytes: number, asked: number): number {
  let size = asked;
  while (Math.ceil(fileBytes / size) > PARTS_MAX) size *= 2;
  if (size > PART_BYTES_MAX) throw new Error(`a file of ${fileBytes} bytes does not fit in ${PARTS_MAX} parts of at most ${PART_BYTES_MAX} bytes`);
  return size;
}

export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const { bucket, layout, say } = options;
  await bucket.check(layout.root);
  const state = await spoolState(options);
  const spool = path.join(options.spoolDir, layout.cluster, state.backupId);
  say(`backup ${state.backupId} of cluster ${layout.cluster} (${state.members.length} nodes) to ${bucket.url(layout.backup(state.backupId))}`);
  if (options.resume === undefined) await bucket.putBytes(layout.startMarker(state.backupId), Buffer.from(JSON.stringify(state, null, 2)), 'application/json');
  const done = await bucket.getBytes(layout.clusterManifest(state.backupId));
  if (done) throw new Error(`backup ${state.backupId} is complete already (${bucket.url(layout.clusterManifest(state.backupId))}); nothing to resume`);

  try {
    return await backupInto(options, state, spool);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nbackup ${state.backupId} is incomplete: kv backup --resume ${state.backupId} finishes it (same --spool-dir), or kv backup starts a new one`, { cause: e });
  }
}

async function backupInto(options: BackupOptions, state: SpoolState, spool: string): Promise<BackupResult> {
  const { bucket, layout, say } = options;
  // 1. Every node's copy, at once, into the spool.
  const copies = await copyAll(options, state, spool);

  // 2. Node by node: count, upload, manifest.
  let partsResumed = 0;
  let partsUploaded = 0;
  const nodes: ClusterManifest['nodes'] = [];
  for (const member of state.members) {
    const copy = copies.get(member.id)!;
    const manifestKey = layout.nodeManifest(state.backupId, member.id);
    const existing = await bucket.getBytes(manifestKey);
    let manifest: NodeManifest;
    if (existing) {
      manifest = parseNodeManifest(bucket.url(manifestKey), existing);
      say(`${member.id}: uploaded by an earlier run`);
    } else {
      const dir = path.join(spool, member.id);
      const contents = await readCopy(dir, copy.header.partitions, async () => {});
      if (contents.corrupt > 0) say(`${member.id}: WARNING: ${contents.corrupt} records of its copy failed their check and will not be restored from it (the other replicas' copies hold those keys)`);
      const upload = await uploadFile(options, member.id, path.join(dir, 'data.mdb'), layout.nodeFile(state.backupId, member.id), copy.bytes, path.join(dir, 'upload.json'));
      partsResumed += upload.resumed;
      partsUploaded += upload.uploaded;
      manifest = {
        format: NODE_MANIFEST_FORMAT,
        cluster: layout.cluster,
        backupId: state.backupId,
        node: member.id,
        actor: copy.header.actor,
        partitions: copy.header.partitions,
        n: copy.header.n,
        stateVersion: copy.header.stateVersion,
        primaryPartitions: copy.header.primaryPartitions,
        snapshotFormat: copy.header.format,
        takenAtMs: copy.header.takenAtMs,
        file: { key: layout.nodeFile(state.backupId, member.id), bytes: copy.bytes, sha256: copy.sha256, partBytes: upload.partBytes, parts: upload.parts },
        contents,
      };
      await bucket.putBytes(manifestKey, Buffer.from(JSON.stringify(manifest, null, 2)), 'application/json');
    }
    nodes.push({ node: member.id, manifest: manifestKey, bytes: manifest.file.bytes, keys: manifest.contents.keys, hints: manifest.contents.hints, sha256: manifest.file.sha256 });
  }

  // 3. The cluster manifest, last.
  const first = copies.get(state.members[0]!.id)!.header;
  const manifest: ClusterManifest = {
    format: CLUSTER_MANIFEST_FORMAT,
    cluster: layout.cluster,
    backupId: state.backupId,
    startedAtMs: state.startedAtMs,
    finishedAtMs: Date.now(),
    stateVersion: Math.max(...[...copies.values()].map((c) => c.header.stateVersion)),
    partitions: first.partitions,
    n: first.n,
    nodes,
    totals: { bytes: nodes.reduce((s, n) => s + n.bytes, 0), keys: nodes.reduce((s, n) => s + n.keys, 0), hints: nodes.reduce((s, n) => s + n.hints, 0) },
  };
  await bucket.putBytes(layout.clusterManifest(state.backupId), Buffer.from(JSON.stringify(manifest, null, 2)), 'application/json');
  await fs.rm(spool, { recursive: true, force: true });
  say(`backup ${state.backupId} complete: ${nodes.length} nodes, ${manifest.totals.keys} objects and ${manifest.totals.hints} hints, ${formatBytes(manifest.totals.bytes)}${partsResumed > 0 ? `; ${partsResumed} parts were uploaded by an earlier run, ${partsUploaded} by this one` : ''}`);
  return { manifest, partsResumed, partsUploaded };
}

/** A new backup's state (members from Status), or the spool's record of the one to resume. */
async function spoolState(options: BackupOptions): Promise<SpoolState> {
  const { layout } = options;
  if (options.resume !== undefined) {
    if (!isBackupId(options.resume)) throw new Error(`--resume: ${JSON.stringify(options.resume)} is not a backup id (20261130T142501Z)`);
    const file = path.join(options.spoolDir, layout.cluster, options.resume, 'backup.json');
    const state = await readJson<SpoolState>(file);
    if (!state) throw new Error(`--resume ${options.resume}: ${file} does not exist: resume runs where the interrupted backup ran, with the same --spool-dir`);
    return state;
  }
  const client = new KvClient({ endpoints: options.endpoints, timeoutMs: options.timeoutMs, routing: 'any', security: options.security });
  let members: SpoolState['members'];
  try {
    const status = await client.status();
    members = status.members.filter((m) => m.status !== 'leaving').map((m) => ({ id: checkName('node id', m.id), address: m.address }));
  } finally {
    client.close();
  }
  const startedAtMs = Date.now();
  const state: SpoolState = { backupId: backupIdAt(startedAtMs), cluster: layout.cluster, startedAtMs, members };
  const dir = path.join(options.spoolDir, layout.cluster, state.backupId);
  await fs.mkdir(dir, { recursive: true });
  await writeJson(path.join(dir, 'backup.json'), state);
  return state;
}

/** Every member's copy in the spool, streamed at once; one already there from an earlier run is kept. */
async function copyAll(options: BackupOptions, state: SpoolState, spool: string): Promise<Map<string, SpooledCopy>> {
  const copies = new Map<string, SpooledCopy>();
  const task = new ProgressTask(options.progress, 'copying snapshots', 0, 'bytes');
  const pace = pacer(options.copyBytesPerSecond);
  await Promise.all(
    state.members.map(async (member) => {
      const dir = path.join(spool, member.id);
      const kept = await readJson<SpooledCopy>(path.join(dir, 'copy.json'));
      if (kept) {
        copies.set(member.id, kept);
        return;
      }
      await fs.rm(dir, { recursive: true, force: true });
      await fs.mkdir(dir, { recursive: true });
      const copy = await streamCopy(member, path.join(dir, 'data.mdb'), (bytes) => task.grow(bytes), async (n) => {
        task.add(n);
        await pace(n);
      }, options.security);
      await writeJson(path.join(dir, 'copy.json'), copy);
      copies.set(member.id, copy);
    }),
  );
  task.finish(`${copies.size} nodes`);
  return copies;
}

/**
 * Waits as long as it takes to keep the bytes counted so far at `bytesPerSecond` at most, from
 * the first call (0: never waits).
 */
export function pacer(bytesPerSecond: number, nowMs: () => number = Date.now): (bytes: number) => Promise<void> {
  if (bytesPerSecond <= 0) return async () => {};
  let startMs: number | undefined;
  let total = 0;
  return async (bytes) => {
    startMs ??= nowMs();
    total += bytes;
    const dueMs = startMs + (total / bytesPerSecond) * 1000;
    const waitMs = dueMs - nowMs();
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
  };
}

/** One node's snapshot into `file`, checked against the node's trailer. */
async function streamCopy(member: { id: string; address: string }, file: string, announced: (bytes: number) => void, received: (bytes: number) => Promise<void>, security?: ClientSecurity): Promise<SpooledCopy> {
  const channel = new BackupChannel(member.address, security);
  const partial = `${file}.partial`;
  const out = await fs.open(partial, 'w');
  const hash = createHash('sha256');
  let header: SpooledCopy['header'] | undefined;
  let bytes = 0;
  let trailer: { bytes: number; sha256: string } | undefined;
  try {
    for await (const chunk of channel.snapshot()) {
      if (chunk.header) {
        const h = chunk.header;
        header = { nodeId: h.nodeId, actor: h.actor, partitions: h.partitions, n: h.n, stateVersion: Number(h.stateVersion), primaryPartitions: h.primaryPartitions, format: h.format, takenAtMs: Number(h.takenAtMs) };
        announced(Number(h.bytes));
      } else if (chunk.data) {
        if (!header) throw new Error(`${member.id} (${member.address}) sent snapshot data before its header`);
        hash.update(chunk.data);
        await out.write(chunk.data);
        bytes += chunk.data.length;
        await received(chunk.data.length);
      } else if (chunk.trailer) {
        trailer = { bytes: Number(chunk.trailer.bytes), sha256: chunk.trailer.sha256 };
      }
    }
    await out.sync();
  } catch (e) {
    throw new Error(`copying the snapshot of ${member.id} (${member.address}) failed: ${(e as Error).message}; a cluster backup needs every member: bring it back, or remove it from the cluster, and run kv backup again`, { cause: e });
  } finally {
    await out.close();
    channel.close();
  }
  const sha256 = hash.digest('hex');
  if (!header || !trailer) throw new Error(`the snapshot stream of ${member.id} (${member.address}) ended early (${header ? 'no trailer' : 'no header'}); run kv backup again`);
  if (header.nodeId !== member.id) throw new Error(`${member.address} answered as ${header.nodeId}, not ${member.id}: the cluster changed during the backup; run kv backup again`);
  if (trailer.bytes !== bytes || trailer.sha256 !== sha256) throw new Error(`the snapshot of ${member.id} arrived damaged: ${bytes} bytes with SHA-256 ${sha256}, the node sent ${trailer.bytes} with ${trailer.sha256}; run kv backup again`);
  await fs.rename(partial, file);
  return { header, bytes, sha256 };
}

/** Multipart upload of `file`, resuming from the journal; returns the parts' records. */
async function uploadFile(options: BackupOptions, node: string, file: string, key: string, bytes: number, journalFile: string): Promise<{ parts: PartRecord[]; partBytes: number; resumed: number; uploaded: number }> {
  const { bucket } = options;
  let journal = await readJson<Journal>(journalFile);
  if (journal && (journal.key !== key || journal.partBytes !== partBytesFor(bytes, journal.partBytes))) journal = undefined;
  const partBytes = journal?.partBytes ?? partBytesFor(bytes, options.partBytes);
  if (!journal) {
    journal = { key, uploadId: await bucket.createUpload(key), partBytes, parts: [] };
    await writeJson(journalFile, journal);
  }
  const count = Math.max(1, Math.ceil(bytes / partBytes));
  const have = new Map(journal.parts.map((p) => [p.number, p]));
  const resumed = have.size;
  const task = new ProgressTask(options.progress, `uploading ${node}`, bytes, 'bytes');
  if (resumed > 0) options.say(`${node}: resuming upload: ${resumed} of ${count} parts were uploaded by an earlier run`);
  for (const p of have.values()) task.add(p.bytes);
  const handle = await fs.open(file, 'r');
  let uploaded = 0;
  try {
    const todo = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !have.has(n));
    let failure: unknown;
    const current = journal;
    // Journal writes one at a time (parts finish concurrently), each with every part done so far.
    let saved: Promise<void> = Promise.resolve();
    const save = () => (saved = saved.then(() => writeJson(journalFile, { ...current, parts: [...have.values()] })));
    await mapBounded(todo, options.uploadConcurrency, async (number) => {
      // After a failure, the parts not started yet stay for a resume.
      if (failure !== undefined) return;
      const offset = (number - 1) * partBytes;
      const size = Math.min(partBytes, bytes - offset);
      const body = Buffer.alloc(size);
      await handle.read(body, 0, size, offset);
      const digest = createHash('sha256').update(body).digest();
      try {
        const part = await bucket.uploadPart(key, current.uploadId, number, body, digest.toString('base64'));
        have.set(number, { ...part, bytes: size, sha256: digest.toString('hex') });
        await save();
        uploaded++;
        task.add(size);
      } catch (e) {
        failure ??= e;
      }
    });
    if (failure !== undefined) {
      if (failure instanceof BucketError && failure.s3Name === 'NoSuchUpload') {
        await fs.rm(journalFile, { force: true });
        throw new Error(`${failure.message}: the parts uploaded so far are lost, and a resume uploads ${node}'s copy from the start`);
      }
      throw new Error(`${(failure as Error).message}; ${have.size} of ${count} parts of ${node}'s copy are uploaded`);
    }
    const parts = [...have.values()].sort((a, b) => a.number - b.number);
    await bucket.completeUpload(key, current.uploadId, parts);
    await fs.rm(journalFile, { force: true });
    task.finish(`${count} ${count === 1 ? 'part' : 'parts'}`);
    return { parts: parts.map(({ number, bytes: b, sha256 }) => ({ number, bytes: b, sha256 })), partBytes, resumed, uploaded };
  } finally {
    await handle.close();
  }
}

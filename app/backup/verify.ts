/**
 * `kv backup verify`, and the check restore makes before it writes anything: a backup's cluster
 * manifest, every node's manifest, and every byte of every node's file read back from the bucket
 * against the SHA-256 of each part and of the whole file.
 */
import { createHash, Hash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { Bucket } from './bucket';
import { ClusterManifest, Layout, NodeManifest, isBackupId, parseClusterManifest, parseNodeManifest } from './manifest';
import { ProgressOut, ProgressTask } from './progress';

/** The backup's id: the one given, or with 'latest' the newest complete backup. */
export async function resolveBackupId(bucket: Bucket, layout: Layout, id: string): Promise<string> {
  if (id !== 'latest') {
    if (!isBackupId(id)) throw new Error(`backup id: ${JSON.stringify(id)} is neither 'latest' nor an id like 20261130T142501Z (kv backup list shows them)`);
    return id;
  }
  const ids = (await bucket.listFolders(layout.root)).filter(isBackupId).sort().reverse();
  for (const candidate of ids) if (await bucket.getBytes(layout.clusterManifest(candidate))) return candidate;
  throw new Error(`no complete backup under ${bucket.url(layout.root)}${ids.length > 0 ? ` (${ids.length} incomplete ones)` : ''}`);
}

/** The cluster manifest of a complete backup; an incomplete one is refused, naming why. */
export async function readClusterManifest(bucket: Bucket, layout: Layout, id: string): Promise<ClusterManifest> {
  const key = layout.clusterManifest(id);
  const bytes = await bucket.getBytes(key);
  if (!bytes) {
    const started = (await bucket.listObjects(layout.backup(id))).length > 0;
    throw new Error(started ? `backup ${id} is incomplete: it has no ${bucket.url(key)} (the run was interrupted: kv backup --resume ${id} finishes it)` : `there is no backup ${id} under ${bucket.url(layout.root)} (kv backup list shows them)`);
  }
  const manifest = parseClusterManifest(bucket.url(key), bytes);
  if (manifest.backupId !== id || manifest.cluster !== layout.cluster) throw new Error(`${bucket.url(key)} describes backup ${manifest.backupId} of cluster ${manifest.cluster}, not ${id} of ${layout.cluster}: the manifest is damaged`);
  return manifest;
}

/**
 * Reads a node's file from the bucket, checking each part and the whole; with `toFile`, writes
 * it there too. Returns what is wrong (nothing when it checks out).
 */
export async function checkNodeFile(bucket: Bucket, manifest: NodeManifest, progress: ProgressOut, toFile?: string): Promise<string[]> {
  const problems: string[] = [];
  const where = bucket.url(manifest.file.key);
  const task = new ProgressTask(progress, `${toFile ? 'downloading' : 'checking'} ${manifest.node}`, manifest.file.bytes, 'bytes');
  const out = toFile ? await fs.open(toFile, 'w') : undefined;
  try {
    const stream = await bucket.getStream(manifest.file.key);
    const whole = createHash('sha256');
    let part = 0;
    let partHash: Hash = createHash('sha256');
    let partLeft = manifest.file.parts[0]?.bytes ?? 0;
    let bytes = 0;
    const endPart = () => {
      const expected = manifest.file.parts[part]!;
      const got = partHash.digest('hex');
      if (got !== expected.sha256) problems.push(`${where}: part ${expected.number} (bytes ${bytes - expected.bytes}..${bytes - 1}) has SHA-256 ${got}, the manifest says ${expected.sha256}`);
      part++;
      partHash = createHash('sha256');
      partLeft = manifest.file.parts[part]?.bytes ?? 0;
    };
    for await (const data of stream as AsyncIterable<Buffer>) {
      whole.update(data);
      if (out) await out.write(data);
      let offset = 0;
      while (offset < data.length) {
        if (part >= manifest.file.parts.length) {
          bytes += data.length - offset;
          break;
        }
        const take = Math.min(partLeft, data.length - offset);
        partHash.update(data.subarray(offset, offset + take));
        offset += take;
        bytes += take;
        partLeft -= take;
        if (partLeft === 0) endPart();
      }
      task.add(data.length);
    }
    if (bytes !== manifest.file.bytes) problems.push(`${where}: ${bytes} bytes, the manifest says ${manifest.file.bytes}`);
    const sha = whole.digest('hex');
    if (sha !== manifest.file.sha256) problems.push(`${where}: SHA-256 ${sha}, the manifest says ${manifest.file.sha256}`);
    if (out) await out.sync();
  } finally {
    await out?.close();
  }
  task.finish(problems.length === 0 ? 'checksums match' : `${problems.length} problems`);
  return problems;
}

/** Every node manifest of a backup, checked against the cluster manifest. */
export async function readNodeManifests(bucket: Bucket, layout: Layout, cluster: ClusterManifest): Promise<NodeManifest[]> {
  const out: NodeManifest[] = [];
  for (const entry of cluster.nodes) {
    const bytes = await bucket.getBytes(entry.manifest);
    if (!bytes) throw new Error(`${bucket.url(entry.manifest)} is missing: backup ${cluster.backupId} is damaged`);
    const m = parseNodeManifest(bucket.url(entry.manifest), bytes);
    if (m.node !== entry.node || m.file.sha256 !== entry.sha256 || m.file.bytes !== entry.bytes || m.file.key !== layout.nodeFile(cluster.backupId, entry.node)) {
      throw new Error(`${bucket.url(entry.manifest)} does not match the cluster manifest's entry for ${entry.node}: backup ${cluster.backupId} is damaged`);
    }
    out.push(m);
  }
  return out;
}

/** `kv backup verify`: every node's file against its checksums; the problems found. */
export async function verifyBackup(bucket: Bucket, layout: Layout, id: string, progress: ProgressOut, say: (line: string) => void): Promise<string[]> {
  await bucket.check(layout.root);
  const backupId = await resolveBackupId(bucket, layout, id);
  const cluster = await readClusterManifest(bucket, layout, backupId);
  const nodes = await readNodeManifests(bucket, layout, cluster);
  const problems: string[] = [];
  for (const node of nodes) problems.push(...(await checkNodeFile(bucket, node, progress)));
  say(problems.length === 0 ? `backup ${backupId}: OK: ${nodes.length} nodes, ${cluster.totals.keys} objects, ${cluster.totals.hints} hints, ${cluster.totals.bytes} bytes, every checksum matches` : `backup ${backupId}: DAMAGED: ${problems.length} problems:\n  ${problems.join('\n  ')}`);
  return problems;
}

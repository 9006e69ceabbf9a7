/**
 * `kv backup list` and `kv backup prune`: the backups of a cluster, and a retention policy.
 *
 * prune deletes a complete backup only when it is both older than `keepDays` and not among the
 * newest `keepLast` complete ones, and an incomplete one (no cluster manifest) once it is older
 * than `keepDays`, so that a running backup is never touched. The bucket is versioned: a pruned
 * backup's objects stay as noncurrent versions until the bucket's lifecycle rule expires them
 * (noncurrentExpireAfterDays, 90 days by default, 365 in prod), so a prune can be undone until
 * then; current objects move to Glacier Instant Retrieval after transitionAfterDays (30), which
 * restores read without a thaw step.
 */
import { Bucket } from './bucket';
import { backupIdTimeMs, isBackupId, Layout, parseClusterManifest } from './manifest';

/** @default keep the newest 7 complete backups, whatever their age. */
export const KEEP_LAST_DEFAULT = 7;
/** @default keep every backup younger than 30 days (the bucket's transitionAfterDays). */
export const KEEP_DAYS_DEFAULT = 30;

export interface BackupEntry {
  readonly id: string;
  readonly startedAtMs: number;
  readonly complete: boolean;
  readonly nodes: number;
  readonly keys: number;
  readonly bytes: number;
}

export async function listBackups(bucket: Bucket, layout: Layout): Promise<BackupEntry[]> {
  await bucket.check(layout.root);
  const ids = (await bucket.listFolders(layout.root)).filter(isBackupId).sort();
  const out: BackupEntry[] = [];
  for (const id of ids) {
    const key = layout.clusterManifest(id);
    const bytes = await bucket.getBytes(key);
    if (bytes) {
      const m = parseClusterManifest(bucket.url(key), bytes);
      out.push({ id, startedAtMs: m.startedAtMs, complete: true, nodes: m.nodes.length, keys: m.totals.keys, bytes: m.totals.bytes });
    } else {
      const objects = await bucket.listObjects(layout.backup(id));
      out.push({ id, startedAtMs: backupIdTimeMs(id), complete: false, nodes: 0, keys: 0, bytes: objects.reduce((s, o) => s + o.bytes, 0) });
    }
  }
  return out;
}

/** Which backups a policy deletes (pure: the tests check it directly). */
export function backupsToPrune(backups: readonly BackupEntry[], keepLast: number, keepDays: number, nowMs: number): BackupEntry[] {
  const cutoff = nowMs - keepDays * 24 * 3600 * 1000;
  const newestComplete = new Set(
    backups
      .filter((b) => b.complete)
      .sort((a, b) => b.startedAtMs - a.startedAtMs)
      .slice(0, keepLast)
      .map((b) => b.id),
  );
  return backups.filter((b) => b.startedAtMs < cutoff && !newestComplete.has(b.id));
}

export async function pruneBackups(bucket: Bucket, layout: Layout, keepLast: number, keepDays: number, dryRun: boolean, say: (line: string) => void): Promise<BackupEntry[]> {
  const backups = await listBackups(bucket, layout);
  const doomed = backupsToPrune(backups, keepLast, keepDays, Date.now());
  for (const b of doomed) {
    if (dryRun) {
      say(`would delete ${b.id} (${b.complete ? 'complete' : 'incomplete'})`);
      continue;
    }
    // The cluster manifest goes first: a half-deleted backup reads as incomplete, never as whole.
    const objects = (await bucket.listObjects(layout.backup(b.id))).map((o) => o.key);
    const manifest = layout.clusterManifest(b.id);
    if (objects.includes(manifest)) await bucket.deleteObjects([manifest]);
    await bucket.deleteObjects(objects.filter((k) => k !== manifest));
    say(`deleted ${b.id} (${b.complete ? 'complete' : 'incomplete'}, ${objects.length} objects)`);
  }
  say(`${doomed.length} of ${backups.length} backups ${dryRun ? 'would be ' : ''}deleted; kept the newest ${keepLast} complete ones and everything younger than ${keepDays} days`);
  return doomed;
}

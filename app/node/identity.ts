/**
 * The node's actor id, and the rule that keeps it from ever reusing a dot (riak_kv issue 679).
 *
 * Dots are per key: a write coordinated here takes (actor, max(object.vv[actor], ctx[actor]) + 1),
 * computed from this node's own copy of the key. If the data directory goes back in time (restored
 * from an older copy, a VM snapshot, a machine crash in relaxed durability), it has a lower counter
 * than the dots the actor already handed out, and the next write reuses one: the replicas that
 * hold the old value under that dot keep one of the two values and drop the other, for good.
 *
 * So the actor (`<node id>.<epoch>`) keeps its epoch only across a start that is provably clean:
 * the last stop closed the store and then wrote a marker, `clean-shutdown.json`, naming the actor
 * and the exact identity of the LMDB data file after the close (inode, size, mtime and ctime in
 * nanoseconds). A start reads the marker and deletes it durably before anything is served, so a
 * crash after this start leaves no marker; it keeps the actor only if the marker names it and the
 * file is still exactly as the marker says. Any other start takes a new epoch:
 * - a crash or SIGKILL: no marker;
 * - a directory put back from a copy: the copied file has a new ctime (user space cannot set a
 *   ctime), whatever the copy preserved (`cp -a`, tar, rsync -a keep mtime, not ctime);
 * - a marker that is garbled, or names another actor.
 *
 * What this cannot see: getting back the very file the marker describes, untouched. A block-level
 * snapshot (a disk or VM snapshot) of a cleanly stopped node restores the inode and its ctime too,
 * as does moving a cleanly stopped directory aside, running the node on a copy, and moving the
 * original back. Such a restore still reuses dots; restore those with the marker deleted (then
 * the start takes a new epoch), or wipe the node and let it refill from its replicas.
 *
 * The cost: every epoch that writes adds one entry to the version vector of each key it writes,
 * so a node that crashes often grows its keys' clocks. clockEntriesMax bounds them (a write beyond
 * it fails), and a clean stop, the common case, adds nothing.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Logger } from '../../observability/log';
import { LocalStore } from '../storage/local-store';
import { fsyncDirectory } from '../storage/write-ahead-log';

/** The marker a clean stop leaves next to the LMDB files. */
export const CLEAN_SHUTDOWN_MARKER = 'clean-shutdown.json';
const MARKER_VERSION = 1;

/** Store metadata keys. */
const META_NODE_ID = 'node-id';
const META_ACTOR = 'actor';
const META_PARTITIONS = 'partitions';
/** How many actor epochs this data directory has had (for status and metrics). */
export const META_EPOCHS = 'epochs';

/**
 * Random bytes of an epoch. Two epochs of one node must never be equal, and a node may take many
 * (one per crash): with 8 bytes, a collision among even a million epochs has odds below 1 in 10^7.
 */
const EPOCH_BYTES = 8;

/** What identifies a file's contents without reading them; bigints as decimal strings (JSON). */
export interface FileFingerprint {
  readonly ino: string;
  readonly size: string;
  readonly mtimeNs: string;
  readonly ctimeNs: string;
}

/** How the last stop ended, as the start can prove it. */
export type CleanStart = { readonly clean: true; readonly actor: string } | { readonly clean: false; readonly reason: string };

export interface IdentityOptions {
  readonly nodeId: string;
  readonly partitions: number;
  /** The data directory: where the marker lives. */
  readonly dataDir: string;
  /** The store's data files, fingerprinted (LMDB: data.mdb; see lmdbDataFiles). */
  readonly dataFiles: readonly string[];
  readonly log: Logger;
}

/** Fingerprints of `files`, by base name. Throws if one is missing. */
export function fingerprintOf(files: readonly string[]): Record<string, FileFingerprint> {
  const out: Record<string, FileFingerprint> = {};
  for (const file of files) {
    const s = fs.statSync(file, { bigint: true });
    out[path.basename(file)] = { ino: String(s.ino), size: String(s.size), mtimeNs: String(s.mtimeNs), ctimeNs: String(s.ctimeNs) };
  }
  return out;
}

/**
 * Records a clean stop. Call it only after the store is closed: the fingerprint must be of the
 * files as nothing will change them until the next start. Written atomically and durably (temp
 * file, fsync, rename, fsync of the directory), so a crash leaves either no marker or a whole one.
 */
export function writeCleanShutdownMarker(dataDir: string, dataFiles: readonly string[], actor: string): void {
  const file = path.join(dataDir, CLEAN_SHUTDOWN_MARKER);
  const tmp = `${file}.tmp`;
  const body = JSON.stringify({ version: MARKER_VERSION, actor, stoppedAt: new Date().toISOString(), files: fingerprintOf(dataFiles) });
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeFileSync(fd, body);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDirectory(dataDir);
}

/** Removes a file; false if it was not there. */
function removeIfPresent(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new Error(`cannot remove ${file}: ${(e as Error).message}; the node's data directory must be writable by the node`, { cause: e });
  }
}

/** Why a marker's text is not a marker, or undefined when it is one. */
function markerProblem(marker: unknown): string | undefined {
  if (typeof marker !== 'object' || marker === null) return 'not a JSON object';
  const m = marker as { version?: unknown; actor?: unknown; files?: unknown };
  if (m.version !== MARKER_VERSION) return `version ${JSON.stringify(m.version)}, expected ${MARKER_VERSION}`;
  if (typeof m.actor !== 'string') return 'no actor';
  if (typeof m.files !== 'object' || m.files === null) return 'no files';
  for (const [name, f] of Object.entries(m.files)) {
    const fp = f as Partial<Record<keyof FileFingerprint, unknown>> | null;
    for (const field of ['ino', 'size', 'mtimeNs', 'ctimeNs'] as const) {
      if (typeof fp?.[field] !== 'string' || !/^\d+$/.test(fp[field] as string)) return `${name}: ${field} is not a decimal string`;
    }
  }
  return undefined;
}

/**
 * Reads the marker of the last clean stop and removes it durably, whatever it says: from here on
 * the store may change, so until the next clean stop writes a new one, no marker may vouch for it.
 * Then says whether the stop was clean for `actor` (the store's actor; undefined in a new
 * directory, which has nothing to vouch for) and the files are exactly as it left them.
 * Throws only when the marker cannot be removed (the start must not go on with it in place).
 */
export function consumeCleanShutdownMarker(dataDir: string, dataFiles: readonly string[], actor: string | undefined): CleanStart {
  const file = path.join(dataDir, CLEAN_SHUTDOWN_MARKER);
  let text: string | undefined;
  let unreadable: string | undefined;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') unreadable = (e as Error).message;
  }
  // A temp file is a marker whose stop did not finish writing it: remove it too.
  const removed = [removeIfPresent(file), removeIfPresent(`${file}.tmp`)];
  if (removed.some(Boolean)) fsyncDirectory(dataDir);

  if (actor === undefined) return { clean: false, reason: 'new data directory' };
  if (unreadable !== undefined) return { clean: false, reason: `cannot read the clean-shutdown marker: ${unreadable}` };
  if (text === undefined) return { clean: false, reason: 'no clean-shutdown marker (the last stop was a crash or a kill, or the directory was restored without one)' };
  let marker: unknown;
  try {
    marker = JSON.parse(text);
  } catch (e) {
    return { clean: false, reason: `the clean-shutdown marker is not JSON: ${(e as Error).message}` };
  }
  const problem = markerProblem(marker);
  if (problem !== undefined) return { clean: false, reason: `the clean-shutdown marker is malformed: ${problem}` };
  const m = marker as { actor: string; files: Record<string, FileFingerprint> };
  if (m.actor !== actor) return { clean: false, reason: `the clean-shutdown marker names actor ${m.actor}, the store holds ${actor}` };
  let now: Record<string, FileFingerprint>;
  try {
    now = fingerprintOf(dataFiles);
  } catch (e) {
    return { clean: false, reason: `cannot fingerprint the data files: ${(e as Error).message}` };
  }
  const names = new Set([...Object.keys(now), ...Object.keys(m.files)]);
  for (const name of names) {
    const was = m.files[name];
    const is = now[name];
    if (was === undefined || is === undefined) return { clean: false, reason: `the clean-shutdown marker does not describe the same files (${name})` };
    const changed = (['ino', 'size', 'mtimeNs', 'ctimeNs'] as const).filter((k) => was[k] !== is[k]);
    if (changed.length > 0) return { clean: false, reason: `${name} is not the file the clean stop left (${changed.join(', ')} changed): restored from a copy?` };
  }
  return { clean: true, actor };
}

/**
 * The actor id this node writes with. Checks the directory belongs to this node and this ring
 * size, consumes the clean-shutdown marker, and keeps the stored actor only after a provably clean
 * stop; otherwise stores a new epoch before returning it (so no write can use an actor that a
 * crash would forget) and logs why.
 */
export async function establishIdentity(store: LocalStore, options: IdentityOptions): Promise<string> {
  const { nodeId, dataDir } = options;
  const owner = await store.getMeta(META_NODE_ID);
  if (owner !== undefined && owner !== nodeId) {
    throw new Error(`data directory ${dataDir} belongs to node ${owner}, not ${nodeId}: point --data-dir at this node's own directory`);
  }
  const partitions = await store.getMeta(META_PARTITIONS);
  if (partitions !== undefined && Number(partitions) !== options.partitions) {
    throw new Error(`data directory ${dataDir} was created with ${partitions} partitions, not ${options.partitions}: the partition count is fixed when the cluster is created`);
  }
  const stored = await store.getMeta(META_ACTOR);
  // Checked before this start changes the store (the meta writes below change the file), and
  // after the store opened: opening and reading LMDB leave data.mdb as it was (the unit test of a
  // clean start checks it; if that ever changed, every start would take a new epoch, never reuse one).
  const start = consumeCleanShutdownMarker(dataDir, options.dataFiles, stored);
  if (start.clean) return start.actor;

  const actor = `${nodeId}.${randomBytes(EPOCH_BYTES).toString('hex')}`;
  // A directory from before epochs were counted had one: the stored actor's.
  const epochs = Number((await store.getMeta(META_EPOCHS)) ?? (stored === undefined ? 0 : 1)) + 1;
  await store.setMeta(META_NODE_ID, nodeId);
  await store.setMeta(META_PARTITIONS, String(options.partitions));
  await store.setMeta(META_EPOCHS, String(epochs));
  await store.setMeta(META_ACTOR, actor);
  options.log.info(`new actor epoch: ${start.reason}`, { actor, previousActor: stored, epochs });
  return actor;
}

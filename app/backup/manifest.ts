/**
 * Where backups live in the bucket, and the manifests that describe them.
 *
 *   <prefix>/<cluster>/<backup id>/<node>/data.mdb        the node's snapshot (multipart upload)
 *   <prefix>/<cluster>/<backup id>/<node>/manifest.json   what it holds, with its checksums
 *   <prefix>/<cluster>/<backup id>/started.json           written first: the backup's members and
 *                                                         start (in-progress uploads are not listed
 *                                                         as objects, so this is how one shows)
 *   <prefix>/<cluster>/<backup id>/manifest.json          the cluster backup: written last, so a
 *                                                         backup without it is incomplete
 *
 * A backup id is the UTC time the backup started, 20261130T142501Z: ids sort by time.
 * Manifests read back from the bucket are checked field by field before they are used.
 */
export const NODE_MANIFEST_FORMAT = 'kv-backup-node/1';
export const CLUSTER_MANIFEST_FORMAT = 'kv-backup/1';

const BACKUP_ID = /^\d{8}T\d{6}Z$/;
/** Node ids and cluster names as they appear in object keys. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** The key prefix: S3 key characters without '//' or a leading or trailing '/'. */
const PREFIX = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export function backupIdAt(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

/** When the backup with this id started. */
export function backupIdTimeMs(id: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(id);
  if (!m) throw new Error(`backup id: ${JSON.stringify(id)} is not of the form 20261130T142501Z`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

export function isBackupId(id: string): boolean {
  return BACKUP_ID.test(id);
}

export function checkName(field: string, value: string): string {
  if (!NAME.test(value)) throw new Error(`${field}: ${JSON.stringify(value)} must be 1 to 63 of A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit`);
  return value;
}

export function checkPrefix(value: string): string {
  if (!PREFIX.test(value) || value.length > 512) throw new Error(`prefix: ${JSON.stringify(value)} must be up to 512 of A-Z, a-z, 0-9, '.', '_', '-' in '/'-separated parts, without a leading or trailing '/'`);
  return value;
}

export class Layout {
  constructor(
    readonly prefix: string,
    readonly cluster: string,
  ) {
    checkPrefix(prefix);
    checkName('cluster', cluster);
  }

  /** Where every backup of the cluster lives (ends with '/'). */
  get root(): string {
    return `${this.prefix}/${this.cluster}/`;
  }
  backup(id: string): string {
    return `${this.root}${id}/`;
  }
  startMarker(id: string): string {
    return `${this.backup(id)}started.json`;
  }
  clusterManifest(id: string): string {
    return `${this.backup(id)}manifest.json`;
  }
  nodeFile(id: string, node: string): string {
    return `${this.backup(id)}${node}/data.mdb`;
  }
  nodeManifest(id: string, node: string): string {
    return `${this.backup(id)}${node}/manifest.json`;
  }
}

export interface PartRecord {
  readonly number: number;
  readonly bytes: number;
  /** lowercase hex */
  readonly sha256: string;
}

export interface NodeManifest {
  readonly format: typeof NODE_MANIFEST_FORMAT;
  readonly cluster: string;
  readonly backupId: string;
  readonly node: string;
  /** The actor id (epoch) the node wrote with when the copy was taken. */
  readonly actor: string;
  readonly partitions: number;
  readonly n: number;
  /** The cluster state's version (ring version) when the copy was taken. */
  readonly stateVersion: number;
  readonly primaryPartitions: number[];
  /** The copy's format, as the node named it (lmdb-env-copy/1). */
  readonly snapshotFormat: string;
  readonly takenAtMs: number;
  readonly file: {
    readonly key: string;
    readonly bytes: number;
    readonly sha256: string;
    readonly partBytes: number;
    readonly parts: PartRecord[];
  };
  /** What the copy holds: objects of the node's own data, hints it held for others, records that failed their check. */
  readonly contents: { readonly keys: number; readonly hints: number; readonly corrupt: number };
}

export interface ClusterManifest {
  readonly format: typeof CLUSTER_MANIFEST_FORMAT;
  readonly cluster: string;
  readonly backupId: string;
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
  /** The highest cluster state version among the copies, and the ring they were taken under. */
  readonly stateVersion: number;
  readonly partitions: number;
  readonly n: number;
  readonly nodes: Array<{ readonly node: string; readonly manifest: string; readonly bytes: number; readonly keys: number; readonly hints: number; readonly sha256: string }>;
  readonly totals: { readonly bytes: number; readonly keys: number; readonly hints: number };
}

type Json = Record<string, unknown>;

function field<T>(where: string, o: Json, name: string, check: (v: unknown) => v is T, what: string): T {
  const v = o[name];
  if (!check(v)) throw new Error(`${where}: field ${name} is ${JSON.stringify(v)}, not ${what}: the manifest is damaged or not a kv backup's`);
  return v;
}
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1024;
const isSha = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);

function parseJson(where: string, bytes: Buffer): Json {
  let o: unknown;
  try {
    o = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message}): the manifest is damaged`, { cause: e });
  }
  if (!isObject(o)) throw new Error(`${where}: not a JSON object: the manifest is damaged`);
  return o;
}

export function parseNodeManifest(where: string, bytes: Buffer): NodeManifest {
  const o = parseJson(where, bytes);
  if (o.format !== NODE_MANIFEST_FORMAT) throw new Error(`${where}: format ${JSON.stringify(o.format)}; this kv reads ${NODE_MANIFEST_FORMAT}`);
  const file = field(where, o, 'file', isObject, 'an object');
  const contents = field(where, o, 'contents', isObject, 'an object');
  const parts = field(`${where} file`, file, 'parts', isArray, 'a list').map((p, i) => {
    if (!isObject(p)) throw new Error(`${where}: part ${i + 1} is not an object: the manifest is damaged`);
    const number = field(`${where} part ${i + 1}`, p, 'number', isCount, 'a count');
    if (number !== i + 1) throw new Error(`${where}: part ${i + 1} is numbered ${number}: the manifest is damaged`);
    return { number, bytes: field(`${where} part ${i + 1}`, p, 'bytes', isCount, 'a count'), sha256: field(`${where} part ${i + 1}`, p, 'sha256', isSha, 'a SHA-256 in hex') };
  });
  const m: NodeManifest = {
    format: NODE_MANIFEST_FORMAT,
    cluster: field(where, o, 'cluster', isText, 'a name'),
    backupId: field(where, o, 'backupId', isText, 'a backup id'),
    node: field(where, o, 'node', isText, 'a node id'),
    actor: field(where, o, 'actor', isText, 'an actor id'),
    partitions: field(where, o, 'partitions', isCount, 'a count'),
    n: field(where, o, 'n', isCount, 'a count'),
    stateVersion: field(where, o, 'stateVersion', isCount, 'a count'),
    primaryPartitions: field(where, o, 'primaryPartitions', (v): v is number[] => isArray(v) && v.every(isCount), 'a list of partitions'),
    snapshotFormat: field(where, o, 'snapshotFormat', isText, 'a format name'),
    takenAtMs: field(where, o, 'takenAtMs', isCount, 'a time'),
    file: {
      key: field(`${where} file`, file, 'key', isText, 'an object key'),
      bytes: field(`${where} file`, file, 'bytes', isCount, 'a count'),
      sha256: field(`${where} file`, file, 'sha256', isSha, 'a SHA-256 in hex'),
      partBytes: field(`${where} file`, file, 'partBytes', isCount, 'a count'),
      parts,
    },
    contents: { keys: field(where, contents, 'keys', isCount, 'a count'), hints: field(where, contents, 'hints', isCount, 'a count'), corrupt: field(where, contents, 'corrupt', isCount, 'a count') },
  };
  const total = parts.reduce((sum, p) => sum + p.bytes, 0);
  if (total !== m.file.bytes) throw new Error(`${where}: its parts add up to ${total} bytes, the file to ${m.file.bytes}: the manifest is damaged`);
  return m;
}

export function parseClusterManifest(where: string, bytes: Buffer): ClusterManifest {
  const o = parseJson(where, bytes);
  if (o.format !== CLUSTER_MANIFEST_FORMAT) throw new Error(`${where}: format ${JSON.stringify(o.format)}; this kv reads ${CLUSTER_MANIFEST_FORMAT}`);
  const totals = field(where, o, 'totals', isObject, 'an object');
  const nodes = field(where, o, 'nodes', isArray, 'a list').map((e, i) => {
    if (!isObject(e)) throw new Error(`${where}: node entry ${i + 1} is not an object: the manifest is damaged`);
    const w = `${where} node entry ${i + 1}`;
    return { node: field(w, e, 'node', isText, 'a node id'), manifest: field(w, e, 'manifest', isText, 'an object key'), bytes: field(w, e, 'bytes', isCount, 'a count'), keys: field(w, e, 'keys', isCount, 'a count'), hints: field(w, e, 'hints', isCount, 'a count'), sha256: field(w, e, 'sha256', isSha, 'a SHA-256 in hex') };
  });
  if (nodes.length === 0) throw new Error(`${where}: lists no nodes: the manifest is damaged`);
  return {
    format: CLUSTER_MANIFEST_FORMAT,
    cluster: field(where, o, 'cluster', isText, 'a name'),
    backupId: field(where, o, 'backupId', isText, 'a backup id'),
    startedAtMs: field(where, o, 'startedAtMs', isCount, 'a time'),
    finishedAtMs: field(where, o, 'finishedAtMs', isCount, 'a time'),
    stateVersion: field(where, o, 'stateVersion', isCount, 'a count'),
    partitions: field(where, o, 'partitions', isCount, 'a count'),
    n: field(where, o, 'n', isCount, 'a count'),
    nodes,
    totals: { bytes: field(where, totals, 'bytes', isCount, 'a count'), keys: field(where, totals, 'keys', isCount, 'a count'), hints: field(where, totals, 'hints', isCount, 'a count') },
  };
}

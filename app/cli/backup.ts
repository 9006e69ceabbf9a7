/**
 * `kv backup`, `kv backup verify|list|prune` and `kv restore`: flags, defaults from the
 * environment (the store's pods carry KV_BACKUP_BUCKET and KV_BACKUP_PREFIX), and one clear line
 * on failure. The work is in app/backup.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Bucket, BucketError } from '../backup/bucket';
import { PART_BYTES_DEFAULT, PART_BYTES_MAX, PART_BYTES_MIN, runBackup, UPLOAD_CONCURRENCY_DEFAULT, UPLOAD_CONCURRENCY_MAX } from '../backup/backup';
import { Layout } from '../backup/manifest';
import { formatBytes } from '../backup/progress';
import { runRestore } from '../backup/restore';
import { KEEP_DAYS_DEFAULT, KEEP_LAST_DEFAULT, listBackups, pruneBackups } from '../backup/retention';
import { verifyBackup } from '../backup/verify';
import { KvClientError } from '../client/client';
import { BackupRpcError } from '../rpc/backup-channel';
import { CliError } from './cli-error';
import { Flags, int, parse } from './commands';
import { resolveEndpoints } from './endpoints';
import { CLIENT_SECURITY_HELP, CLIENT_SECURITY_OPTIONS, clientSecurity } from './security';

/** The cluster name backups are filed under when --cluster is not given (the node's own). */
export const BACKUP_CLUSTER_DEFAULT = 'kv';
export const BACKUP_PREFIX_DEFAULT = 'kv-backups';
/** Where copies wait for their upload, and downloads for their restore. */
export const SPOOL_DIR_DEFAULT = path.join(os.tmpdir(), 'kv-backup-spool');

const BUCKET_HELP = `Bucket options:
  --bucket B             the backup bucket            (default $KV_BACKUP_BUCKET)
  --prefix P             key prefix                   (default $KV_BACKUP_PREFIX, else ${BACKUP_PREFIX_DEFAULT})
  --cluster C            the cluster's name in keys   (default ${BACKUP_CLUSTER_DEFAULT})
  --region R             (default $AWS_REGION, else us-east-1)
  --s3-endpoint URL      an S3-compatible server, path-style (default $KV_S3_ENDPOINT, else AWS)
  Credentials come from the AWS SDK's chain: AWS_PROFILE, AWS_ACCESS_KEY_ID and
  AWS_SECRET_ACCESS_KEY, or the pod's role (EKS Pod Identity).`;

export const BACKUP_USAGE = `kv backup [--resume ID] [options]
  Backs up every member of the cluster: each node copies its store inside one read
  transaction (it keeps serving), the copies are streamed here into --spool-dir, checked,
  and uploaded by multipart upload with a SHA-256 per part, under
  <prefix>/<cluster>/<backup id>/<node>/, with a manifest per node and one for the cluster,
  written last. Progress: a bar on a terminal, lines otherwise. An interrupted backup prints
  its id; --resume ID finishes it with the parts left (same --spool-dir).
  --endpoint H:P[,...]      members to ask for the others (default $KV_ENDPOINTS, else the local cluster)
  --spool-dir DIR           room for every node's copy    (default ${SPOOL_DIR_DEFAULT})
  --part-size-mib M         multipart part size, ${PART_BYTES_MIN / 1024 ** 2}..${PART_BYTES_MAX / 1024 ** 2} (default ${PART_BYTES_DEFAULT / 1024 ** 2}; raised to fit 10,000 parts)
  --upload-concurrency K    parts sent at once, 1..${UPLOAD_CONCURRENCY_MAX}      (default ${UPLOAD_CONCURRENCY_DEFAULT})
  --copy-rate-mib-s R       read the copies from the nodes at R MiB/s at most, all together,
                            to spare the nodes' disks and CPU; 0: as fast as they come (default 0)
  --timeout-ms MS           time budget of a Status call  (default 10000)
${CLIENT_SECURITY_HELP}
  (the nodes must let the client call kv.v1.Backup: role admin, README)
${BUCKET_HELP}

kv backup verify [ID|latest] [bucket options]
  Reads every node's file of a backup back from the bucket and checks each part's and the
  whole file's SHA-256 against the manifests. Exit 0 when all match, 1 when anything is damaged.

kv backup list [--json] [bucket options]
  The cluster's backups, oldest first: id, complete or not, nodes, objects, bytes.

kv backup prune [--keep-last K] [--keep-days D] [--dry-run] [bucket options]
  Deletes backups older than D days (default ${KEEP_DAYS_DEFAULT}) that are not among the newest K complete
  ones (default ${KEEP_LAST_DEFAULT}). The bucket is versioned: deleted backups stay recoverable as
  noncurrent versions until its lifecycle rule expires them (90 days; 365 in prod).`;

export const RESTORE_USAGE = `kv restore [ID|latest] [options]
  Restores a backup (default: $KV_RESTORE_BACKUP, else the latest complete one) into the running cluster at --endpoint, of the same or another size:
  every node's file is downloaded and checked first (a damaged backup writes nothing), then
  every object, and every hint the nodes held, is merged into the primaries of its key there.
  Merges never overwrite: siblings, clocks and tombstones survive, data written since stays,
  and running it twice changes nothing.
  --endpoint H:P[,...]      members of the cluster to restore into
  --w W                     primaries that must merge each object (default: the cluster's W)
  --spool-dir DIR           room for the backup's files   (default ${SPOOL_DIR_DEFAULT})
  --timeout-ms MS           time budget of one request    (default 30000)
${CLIENT_SECURITY_HELP}
${BUCKET_HELP}`;

const BUCKET_OPTIONS = {
  bucket: { type: 'string' },
  prefix: { type: 'string' },
  cluster: { type: 'string', default: BACKUP_CLUSTER_DEFAULT },
  region: { type: 'string' },
  's3-endpoint': { type: 'string' },
} as const;

function bucketOf(values: Flags, env: NodeJS.ProcessEnv): { bucket: Bucket; layout: Layout } {
  const name = (values.bucket as string | undefined) ?? env.KV_BACKUP_BUCKET;
  if (!name) throw new CliError('--bucket: not given, and KV_BACKUP_BUCKET is not set: name the backup bucket (the Backup stack prints it as BackupBucketName)');
  try {
    const layout = new Layout((values.prefix as string | undefined) ?? env.KV_BACKUP_PREFIX ?? BACKUP_PREFIX_DEFAULT, values.cluster as string);
    const endpoint = (values['s3-endpoint'] as string | undefined) ?? env.KV_S3_ENDPOINT;
    if (endpoint !== undefined && !/^https?:\/\/[^\s/]+(\/.*)?$/.test(endpoint)) throw new Error(`--s3-endpoint: ${JSON.stringify(endpoint)} is not an http:// or https:// URL`);
    return { bucket: new Bucket({ bucket: name, region: values.region as string | undefined, endpoint }), layout };
  } catch (e) {
    throw new CliError(`kv backup: ${(e as Error).message}`);
  }
}

/** Failures of the bucket, the cluster or the data become one line (exit 1); flag errors exit 2. */
async function running<T>(command: string, bucket: Bucket, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof CliError) throw e;
    if (e instanceof BucketError || e instanceof KvClientError || e instanceof BackupRpcError || e instanceof Error) throw new CliError(`kv ${command}: ${e.message}`, 1);
    throw e;
  } finally {
    bucket.close();
  }
}

const say = (line: string) => process.stdout.write(`${line}\n`);

export async function backupCommand(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'verify') return verifyCommand(rest, env);
  if (sub === 'list') return listCommand(rest, env);
  if (sub === 'prune') return pruneCommand(rest, env);
  const parsed = parse(
    argv,
    {
      ...BUCKET_OPTIONS,
      endpoint: { type: 'string' },
      'spool-dir': { type: 'string', default: SPOOL_DIR_DEFAULT },
      'part-size-mib': { type: 'string', default: String(PART_BYTES_DEFAULT / 1024 ** 2) },
      'upload-concurrency': { type: 'string', default: String(UPLOAD_CONCURRENCY_DEFAULT) },
      'copy-rate-mib-s': { type: 'string', default: '0' },
      resume: { type: 'string' },
      'timeout-ms': { type: 'string', default: '10000' },
      ...CLIENT_SECURITY_OPTIONS,
    },
    'backup',
    0,
    BACKUP_USAGE,
  );
  if (!parsed) return;
  const values = parsed.flags;
  const partBytes = int(values, 'part-size-mib', PART_BYTES_MIN / 1024 ** 2, PART_BYTES_MAX / 1024 ** 2) * 1024 ** 2;
  const uploadConcurrency = int(values, 'upload-concurrency', 1, UPLOAD_CONCURRENCY_MAX);
  const timeoutMs = int(values, 'timeout-ms', 1, 600_000);
  const copyBytesPerSecond = int(values, 'copy-rate-mib-s', 0, 100_000) * 1024 ** 2;
  const { endpoints, security: local } = resolveEndpoints(values.endpoint as string | undefined, env);
  const security = clientSecurity(values, env, local);
  const { bucket, layout } = bucketOf(values, env);
  await running('backup', bucket, () =>
    runBackup({ bucket, layout, endpoints, security, spoolDir: values['spool-dir'] as string, partBytes, uploadConcurrency, resume: values.resume as string | undefined, timeoutMs, copyBytesPerSecond, progress: process.stderr, say }),
  );
}

async function verifyCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const parsed = parse(argv, BUCKET_OPTIONS, 'backup verify', [0, 1], BACKUP_USAGE);
  if (!parsed) return;
  const { bucket, layout } = bucketOf(parsed.flags, env);
  const problems = await running('backup verify', bucket, () => verifyBackup(bucket, layout, parsed.args[0] ?? 'latest', process.stderr, say));
  if (problems.length > 0) throw new CliError(`kv backup verify: the backup is damaged (${problems.length} problems, above)`, 1);
}

async function listCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const parsed = parse(argv, { ...BUCKET_OPTIONS, json: { type: 'boolean', default: false } }, 'backup list', 0, BACKUP_USAGE);
  if (!parsed) return;
  const { bucket, layout } = bucketOf(parsed.flags, env);
  const backups = await running('backup list', bucket, () => listBackups(bucket, layout));
  if (parsed.flags.json) {
    say(JSON.stringify(backups));
    return;
  }
  if (backups.length === 0) {
    say(`no backups under ${bucket.url(layout.root)}`);
    return;
  }
  say(`${'backup'.padEnd(18)}${'state'.padEnd(12)}${'nodes'.padStart(6)}${'objects'.padStart(12)}${'size'.padStart(12)}`);
  for (const b of backups) say(`${b.id.padEnd(18)}${(b.complete ? 'complete' : 'INCOMPLETE').padEnd(12)}${String(b.nodes).padStart(6)}${String(b.keys).padStart(12)}${formatBytes(b.bytes).padStart(12)}`);
}

async function pruneCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const parsed = parse(
    argv,
    { ...BUCKET_OPTIONS, 'keep-last': { type: 'string', default: String(KEEP_LAST_DEFAULT) }, 'keep-days': { type: 'string', default: String(KEEP_DAYS_DEFAULT) }, 'dry-run': { type: 'boolean', default: false } },
    'backup prune',
    0,
    BACKUP_USAGE,
  );
  if (!parsed) return;
  const keepLast = int(parsed.flags, 'keep-last', 1, 10_000);
  const keepDays = int(parsed.flags, 'keep-days', 0, 36_500);
  const { bucket, layout } = bucketOf(parsed.flags, env);
  await running('backup prune', bucket, () => pruneBackups(bucket, layout, keepLast, keepDays, parsed.flags['dry-run'] === true, say));
}

export async function restoreCommand(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const parsed = parse(
    argv,
    { ...BUCKET_OPTIONS, endpoint: { type: 'string' }, w: { type: 'string', default: '0' }, 'spool-dir': { type: 'string', default: SPOOL_DIR_DEFAULT }, 'timeout-ms': { type: 'string', default: '30000' }, ...CLIENT_SECURITY_OPTIONS },
    'restore',
    [0, 1],
    RESTORE_USAGE,
  );
  if (!parsed) return;
  const values = parsed.flags;
  // 0: the cluster's W.
  const w = int(values, 'w', 0, 16);
  const timeoutMs = int(values, 'timeout-ms', 1, 600_000);
  const { endpoints, security: local } = resolveEndpoints(values.endpoint as string | undefined, env);
  const security = clientSecurity(values, env, local);
  const { bucket, layout } = bucketOf(values, env);
  await running('restore', bucket, () => runRestore({ bucket, layout, id: parsed.args[0] || env.KV_RESTORE_BACKUP || 'latest', endpoints, security, spoolDir: values['spool-dir'] as string, w, timeoutMs, progress: process.stderr, say }));
}

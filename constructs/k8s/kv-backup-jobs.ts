/**
 * The store's backup jobs (docs/backups.md has the runbooks):
 * - `<name>-backup`: a CronJob that runs `kv backup` against the client Service: every node's
 *   snapshot into a spool volume, then to S3 under the backup prefix;
 * - `<name>-backup-prune`: a CronJob that applies the retention policy (`kv backup prune`);
 * - `<name>-restore`: a suspended CronJob that is never scheduled, the template of a restore:
 *   `kubectl -n <ns> create job --from=cronjob/<name>-restore <job name>` runs `kv restore`
 *   of $KV_RESTORE_BACKUP (default: the latest complete backup) into the running cluster.
 *
 * Every pod runs as the store's ServiceAccount, whose EKS Pod Identity role may read and write
 * only `<prefix>/*` of the bucket (lib/backup-stack.ts), non-root, on a read-only root file
 * system, with no Kubernetes API token. The spool is a generic ephemeral volume (a fresh EBS
 * volume per run, deleted with the pod): a backup needs room for every node's copy.
 */
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { checkIntProp } from './int-prop';
import type { TlsPodParts } from './kv-tls';

const k8s = kplus.k8s;

/** The label that tells backup pods apart from the store's nodes (the NetworkPolicy admits them). */
export const BACKUP_COMPONENT = 'backup';

export interface KvBackupJobsProps {
  readonly name: string;
  readonly image: string;
  readonly serviceAccountName: string;
  /** host:port of the store's client Service. */
  readonly clientEndpoint: string;
  readonly bucketName: string;
  readonly prefix: string;
  /** Labels of the store's pods, to which the component label is added. */
  readonly podLabels: Readonly<Record<string, string>>;
  readonly storageClassName: string;
  readonly runAsId: number;
  /** @default '17 2 * * *' - every day at 02:17 UTC */
  readonly schedule?: string;
  /** @default '47 4 * * *' - every day at 04:47 UTC */
  readonly pruneSchedule?: string;
  /** @default 7 */
  readonly keepLast?: number;
  /** @default 30 - the bucket's transitionAfterDays */
  readonly keepDays?: number;
  /** Size of the spool volume: every node's copy must fit. */
  readonly spoolGiB: number;
  /** @default 6 hours */
  readonly activeDeadline?: Duration;
  /**
   * The client certificate the jobs present to a TLS store (constructs/k8s/kv-tls.ts clientTlsParts).
   * @default - plaintext
   */
  readonly tls?: TlsPodParts;
}

/** Environment variables the CLI reads (app/cli/backup.ts). */
const ENV = { bucket: 'KV_BACKUP_BUCKET', prefix: 'KV_BACKUP_PREFIX', restoreBackup: 'KV_RESTORE_BACKUP' } as const;

/** Five cron fields of digits, '*', ',', '-', '/'. */
const CRON = /^(\S+\s+){4}\S+$/;

export class KvBackupJobs extends Construct {
  public readonly backupJobName: string;
  public readonly pruneJobName: string;
  public readonly restoreJobName: string;

  constructor(scope: Construct, id: string, props: KvBackupJobsProps) {
    super(scope, id);
    const schedule = props.schedule ?? '17 2 * * *';
    const pruneSchedule = props.pruneSchedule ?? '47 4 * * *';
    const keepLast = props.keepLast ?? 7;
    const keepDays = props.keepDays ?? 30;
    const deadlineSeconds = (props.activeDeadline ?? Duration.hours(6)).toSeconds();
    for (const [prop, value] of [['backupSchedule', schedule], ['backupPruneSchedule', pruneSchedule]] as const) {
      if (!CRON.test(value)) throw new Error(`KvStoreChart: ${prop} is ${JSON.stringify(value)}; use five cron fields, e.g. '17 2 * * *'.`);
    }
    checkIntProp('KvStoreChart', 'backupKeepLast', keepLast, 1, 10_000);
    checkIntProp('KvStoreChart', 'backupKeepDays', keepDays, 0, 36_500);
    checkIntProp('KvStoreChart', 'backupSpoolGiB', props.spoolGiB, 1, 65_536);

    const labels = { ...props.podLabels, 'app.kubernetes.io/component': BACKUP_COMPONENT };
    const env = [
      { name: ENV.bucket, value: props.bucketName },
      { name: ENV.prefix, value: props.prefix },
    ];
    const spool = { name: 'spool', mountPath: '/spool' };
    const tmp = { name: 'tmp', mountPath: '/tmp' };
    const volumes = [
      {
        name: spool.name,
        ephemeral: {
          volumeClaimTemplate: {
            metadata: { labels },
            spec: { accessModes: ['ReadWriteOnce'], storageClassName: props.storageClassName, resources: { requests: { storage: k8s.Quantity.fromString(`${props.spoolGiB}Gi`) } } },
          },
        },
      },
      { name: tmp.name, emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } },
    ];
    const pod = (args: string[], withSpool: boolean, extraEnv: Array<{ name: string; value: string }> = []): kplus.k8s.PodSpec => ({
      serviceAccountName: props.serviceAccountName,
      automountServiceAccountToken: false,
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: props.runAsId, runAsGroup: props.runAsId, fsGroup: props.runAsId, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'kv',
          image: props.image,
          args,
          env: [...env, ...extraEnv, ...(props.tls?.env ?? [])],
          resources: { requests: { cpu: k8s.Quantity.fromString('250m'), memory: k8s.Quantity.fromString('256Mi') }, limits: { memory: k8s.Quantity.fromString('1Gi') } },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          volumeMounts: [...(withSpool ? [spool, tmp] : [tmp]), ...(props.tls?.volumeMounts ?? [])],
        },
      ],
      volumes: [...(withSpool ? volumes : volumes.filter((v) => v.name === tmp.name)), ...(props.tls?.volumes ?? [])],
    });
    const job = (args: string[], withSpool: boolean, extraEnv?: Array<{ name: string; value: string }>): kplus.k8s.JobTemplateSpec => ({
      metadata: { labels },
      spec: {
        // A failed backup is tried again by a new pod (with a new spool: it starts over).
        backoffLimit: 2,
        activeDeadlineSeconds: deadlineSeconds,
        ttlSecondsAfterFinished: 7 * 24 * 3600,
        template: { metadata: { labels }, spec: pod(args, withSpool, extraEnv) },
      },
    });
    const cronJob = (cid: string, name: string, cron: string, template: kplus.k8s.JobTemplateSpec, suspend = false) =>
      new k8s.KubeCronJob(this, cid, {
        metadata: { name, labels },
        spec: {
          schedule: cron,
          timeZone: 'Etc/UTC',
          suspend,
          // Never two backups at once: each node takes one snapshot at a time anyway.
          concurrencyPolicy: 'Forbid',
          startingDeadlineSeconds: 3600,
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          jobTemplate: template,
        },
      });

    this.backupJobName = `${props.name}-backup`;
    this.pruneJobName = `${props.name}-backup-prune`;
    this.restoreJobName = `${props.name}-restore`;
    const cluster = ['--cluster', props.name];
    cronJob('Backup', this.backupJobName, schedule, job(['backup', '--endpoint', props.clientEndpoint, '--spool-dir', spool.mountPath, ...cluster], true));
    cronJob('Prune', this.pruneJobName, pruneSchedule, job(['backup', 'prune', '--keep-last', String(keepLast), '--keep-days', String(keepDays), ...cluster], false));
    // Suspended, on a date that comes once a year: only `kubectl create job --from` runs it.
    cronJob('Restore', this.restoreJobName, '0 0 1 1 *', job(['restore', '--endpoint', props.clientEndpoint, '--spool-dir', spool.mountPath, ...cluster], true, [{ name: ENV.restoreBackup, value: 'latest' }]), true);
  }
}

/**
 * The store's backup bucket, and the one way to grant access to it: read and write under a single
 * key prefix. Retained on stack deletion: backups must outlive the cluster they came from.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface BackupBucketProps {
  /**
   * Days after which current objects move to S3 Glacier Instant Retrieval (cheaper storage,
   * millisecond reads, so a restore needs no thaw step).
   * @default 30
   */
  readonly transitionAfterDays?: number;
  /**
   * Days after which noncurrent versions (overwritten or deleted backups) expire.
   * @default 90
   */
  readonly noncurrentExpireAfterDays?: number;
}

export class BackupBucket extends Construct {
  public readonly bucket: s3.Bucket;
  /** Receives the backup bucket's S3 server access logs (cdk-nag AwsSolutions-S1). */
  public readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: BackupBucketProps = {}) {
    super(scope, id);
    const transitionAfterDays = props.transitionAfterDays ?? 30;
    const noncurrentExpireAfterDays = props.noncurrentExpireAfterDays ?? 90;
    if (!Number.isInteger(transitionAfterDays) || transitionAfterDays < 1) {
      throw new Error(`BackupBucket: transitionAfterDays is ${transitionAfterDays}; use a whole number of days >= 1.`);
    }
    if (!Number.isInteger(noncurrentExpireAfterDays) || noncurrentExpireAfterDays < 1) {
      throw new Error(`BackupBucket: noncurrentExpireAfterDays is ${noncurrentExpireAfterDays}; use a whole number of days >= 1.`);
    }

    // Common settings for both buckets. Encryption is S3-managed (SSE-S3), not KMS: access is already
    // limited by IAM to one role and one prefix, a customer key would add per-request KMS charges and
    // a key policy to keep in step with that role, and it would not stop anyone the IAM policy allows.
    const common: s3.BucketProps = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
    };

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      // Log delivery needs ACL-free bucket-owner-enforced buckets plus a bucket policy, which CDK adds.
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }],
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...common,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'backup-bucket/',
      lifecycleRules: [
        {
          id: 'tier-and-expire',
          transitions: [{ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(transitionAfterDays) }],
          noncurrentVersionExpiration: Duration.days(noncurrentExpireAfterDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
          expiredObjectDeleteMarker: true,
        },
      ],
    });
  }
}

/**
 * Allows `grantee` to list, read, write and delete objects under `<prefix>/` in `bucket`, and nothing
 * else in it. Returns the statements, so callers and tests can see exactly what was granted.
 */
export function grantBackupPrefix(bucket: s3.IBucket, prefix: string, grantee: iam.IGrantable): iam.PolicyStatement[] {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(prefix)) {
    throw new Error(`grantBackupPrefix: prefix is ${JSON.stringify(prefix)}; use [a-z0-9-] with no slashes or wildcards.`);
  }
  const statements = [
    new iam.PolicyStatement({
      sid: 'ListBackupPrefix',
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}/*`] } },
    }),
    new iam.PolicyStatement({
      sid: 'ReadWriteBackupPrefix',
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      resources: [bucket.arnForObjects(`${prefix}/*`)],
    }),
  ];
  for (const statement of statements) grantee.grantPrincipal.addToPrincipalPolicy(statement);
  return statements;
}

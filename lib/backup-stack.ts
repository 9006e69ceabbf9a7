/**
 * Backup: the S3 bucket the store's nodes write backups to, and the IAM role they write with. The role
 * lives here, beside the bucket, because its whole job is "this prefix of this bucket"; the cluster
 * stack binds it to the store's service account through an EKS Pod Identity association.
 */
import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BackupBucket, grantBackupPrefix } from '../constructs/aws/backup-bucket';

export interface BackupStackProps extends StackProps {
  /** Key prefix (no slashes) the store writes backups under; the store's role can touch nothing else. */
  readonly prefix: string;
  /**
   * Days after which current backup objects move to S3 Glacier Instant Retrieval.
   * @default - BackupBucket's default (30 days)
   */
  readonly transitionAfterDays?: number;
  /**
   * Days after which noncurrent (overwritten or deleted) versions expire.
   * @default - BackupBucket's default (90 days)
   */
  readonly noncurrentExpireAfterDays?: number;
}

export class BackupStack extends Stack {
  public readonly bucket: s3.Bucket;
  /** Key prefix the store writes under (no slashes). */
  public readonly prefix: string;
  /** Role for the store's pods (EKS Pod Identity): read and write `<prefix>/*` in the bucket, nothing else. */
  public readonly storeRole: iam.Role;

  constructor(scope: Construct, id: string, props: BackupStackProps) {
    super(scope, id, props);
    const backups = new BackupBucket(this, 'Backups', {
      transitionAfterDays: props.transitionAfterDays,
      noncurrentExpireAfterDays: props.noncurrentExpireAfterDays,
    });
    this.bucket = backups.bucket;
    this.prefix = props.prefix;

    this.storeRole = new iam.Role(this, 'StoreRole', {
      description: `Assumed by the store's pods through EKS Pod Identity: backups under ${this.prefix}/`,
      // Pod Identity needs sts:TagSession besides sts:AssumeRole.
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      maxSessionDuration: Duration.hours(1),
    });
    grantBackupPrefix(this.bucket, this.prefix, this.storeRole);

    new CfnOutput(this, 'BackupBucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'BackupPrefix', { value: this.prefix });
  }
}

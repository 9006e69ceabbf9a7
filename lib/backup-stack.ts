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
import type { DeploymentConfig } from './config';

export interface BackupStackProps extends StackProps {
  readonly config: DeploymentConfig;
}

export class BackupStack extends Stack {
  public readonly bucket: s3.Bucket;
  /** Key prefix the store writes under (no slashes). */
  public readonly prefix: string;
  /** Role for the store's pods (EKS Pod Identity): read and write `<prefix>/*` in the bucket, nothing else. */
  public readonly storeRole: iam.Role;

  constructor(scope: Construct, id: string, props: BackupStackProps) {
    super(scope, id, props);
    const { backup } = props.config;
    const backups = new BackupBucket(this, 'Backups', {
      transitionAfterDays: backup.transitionAfterDays,
      noncurrentExpireAfterDays: backup.noncurrentExpireAfterDays,
    });
    this.bucket = backups.bucket;
    this.prefix = backup.prefix;

    this.storeRole = new iam.Role(this, 'StoreRole', {
      description: `Assumed by the store's pods through EKS Pod Identity: backups under ${backup.prefix}/`,
      // Pod Identity needs sts:TagSession besides sts:AssumeRole.
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      maxSessionDuration: Duration.hours(1),
    });
    grantBackupPrefix(this.bucket, this.prefix, this.storeRole);

    new CfnOutput(this, 'BackupBucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'BackupPrefix', { value: this.prefix });
  }
}

/**
 * The backup bucket, as backups use it: the only file that imports @aws-sdk/client-s3. Every
 * failure becomes a BucketError whose message is one line naming the bucket, the object and
 * what to do (credentials, bucket name, region, endpoint).
 *
 * Checksums: every part is sent with its SHA-256 (S3 checks it on arrival), and the manifests
 * hold each part's and each file's SHA-256, which verify and restore check on what they read
 * back. The SDK's own default checksums (CRC32 in aws-chunked bodies) are turned off: the parts
 * carry SHA-256 already, and S3-compatible servers (s3rver in the tests) do not all take them.
 */
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

/**
 * The IAM actions these calls need: ListObjectsV2 (s3:ListBucket, under the prefix), GetObject,
 * PutObject (also CreateMultipartUpload, UploadPart, CompleteMultipartUpload), DeleteObjects
 * (s3:DeleteObject per key), AbortMultipartUpload. The store's role (constructs/aws/backup-bucket.ts)
 * grants exactly these on the backup prefix; a test checks the two agree.
 */
export const S3_ACTIONS_USED = ['s3:ListBucket', 's3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'] as const;

export interface BucketOptions {
  readonly bucket: string;
  /** @default - the SDK's: $AWS_REGION, the profile's, else us-east-1 */
  readonly region?: string;
  /** An S3-compatible endpoint (path-style addressing), for tests and other clouds. @default - AWS S3 */
  readonly endpoint?: string;
  /** Attempts of one request (the SDK retries throttling and network errors with backoff). @default 4 */
  readonly attemptsMax?: number;
}

/** S3 bucket names: 3 to 63 of [a-z0-9.-], starting and ending with a letter or digit. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export class BucketError extends Error {
  constructor(
    message: string,
    /** The S3 error's name (NoSuchKey, AccessDenied ...), for callers that handle one. */
    readonly s3Name: string,
  ) {
    super(message);
    this.name = 'BucketError';
  }
}

export interface UploadedPart {
  readonly number: number;
  readonly etag: string;
  /** base64, as S3 takes it. */
  readonly sha256Base64: string;
}

export class Bucket {
  private readonly s3: S3Client;
  readonly name: string;
  private readonly where: string;

  constructor(options: BucketOptions) {
    if (!BUCKET_NAME.test(options.bucket)) throw new BucketError(`bucket: ${JSON.stringify(options.bucket)} is not an S3 bucket name (3 to 63 of a-z, 0-9, '.', '-')`, 'InvalidBucketName');
    this.name = options.bucket;
    this.where = options.endpoint ? ` at ${options.endpoint}` : '';
    this.s3 = new S3Client({
      region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      maxAttempts: options.attemptsMax ?? 4,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /**
   * Fails with one clear line unless the bucket exists and these credentials may list `prefix` in
   * it. A listing, not HeadBucket: the store's role may list only under its prefix (an s3:prefix
   * condition), which HeadBucket, asking without a prefix, would be refused.
   */
  async check(prefix: string): Promise<void> {
    await this.send(`bucket s3://${this.name}`, () => this.s3.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, Delimiter: '/' })));
  }

  async putBytes(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.send(this.url(key), () => this.s3.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body, ContentType: contentType })));
  }

  /** The object's bytes, or undefined when there is no such object. */
  async getBytes(key: string): Promise<Buffer | undefined> {
    try {
      const r = await this.send(this.url(key), () => this.s3.send(new GetObjectCommand({ Bucket: this.name, Key: key })));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      if (e instanceof BucketError && e.s3Name === 'NoSuchKey') return undefined;
      throw e;
    }
  }

  /** The object's bytes as a stream (read it to the end or destroy it). */
  async getStream(key: string): Promise<Readable> {
    const r = await this.send(this.url(key), () => this.s3.send(new GetObjectCommand({ Bucket: this.name, Key: key })));
    return r.Body as Readable;
  }

  /** The "folders" right under `prefix` (which ends with '/'), without it and without their '/'. */
  async listFolders(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.send(this.url(prefix), () => this.s3.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, Delimiter: '/', ContinuationToken: token })));
      for (const p of r.CommonPrefixes ?? []) if (p.Prefix) out.push(p.Prefix.slice(prefix.length, -1));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Every object under `prefix`. */
  async listObjects(prefix: string): Promise<Array<{ key: string; bytes: number }>> {
    const out: Array<{ key: string; bytes: number }> = [];
    let token: string | undefined;
    do {
      const r = await this.send(this.url(prefix), () => this.s3.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token })));
      for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key, bytes: o.Size ?? 0 });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Deletes objects, 1,000 per request (S3's bound). */
  async deleteObjects(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const r = await this.send(this.url(batch[0]!), () => this.s3.send(new DeleteObjectsCommand({ Bucket: this.name, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })));
      const failed = r.Errors ?? [];
      if (failed.length > 0) throw new BucketError(`deleting ${this.url(failed[0]!.Key ?? '')} failed: ${failed[0]!.Code}: ${failed[0]!.Message} (${failed.length} of ${batch.length} objects not deleted)`, failed[0]!.Code ?? 'DeleteFailed');
    }
  }

  async createUpload(key: string): Promise<string> {
    const r = await this.send(this.url(key), () => this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.name, Key: key, ChecksumAlgorithm: 'SHA256', ContentType: 'application/octet-stream' })));
    return r.UploadId!;
  }

  async uploadPart(key: string, uploadId: string, number: number, body: Buffer, sha256Base64: string): Promise<UploadedPart> {
    const r = await this.send(`${this.url(key)} part ${number}`, () => this.s3.send(new UploadPartCommand({ Bucket: this.name, Key: key, UploadId: uploadId, PartNumber: number, Body: body, ChecksumSHA256: sha256Base64 })));
    return { number, etag: r.ETag!, sha256Base64 };
  }

  async completeUpload(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<void> {
    const sorted = [...parts].sort((a, b) => a.number - b.number);
    await this.send(this.url(key), () => this.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId, MultipartUpload: { Parts: sorted.map((p) => ({ PartNumber: p.number, ETag: p.etag, ChecksumSHA256: p.sha256Base64 })) } })));
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    await this.send(this.url(key), () => this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId })));
  }

  close(): void {
    this.s3.destroy();
  }

  url(key: string): string {
    return `s3://${this.name}/${key}`;
  }

  private async send<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (e) {
      throw this.explain(what, e);
    }
  }

  /** One line: what failed, the S3 error, and what to do about it. */
  private explain(what: string, e: unknown): BucketError {
    const error = e as { name?: string; Code?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
    const name = error.Code ?? error.name ?? 'Error';
    const status = error.$metadata?.httpStatusCode;
    const detail = (error.message ?? String(e)).split('\n')[0];
    if (name === 'NoSuchBucket' || (status === 404 && what.startsWith('bucket '))) {
      return new BucketError(`${what}${this.where}: the bucket does not exist (or is in another region): check --bucket and --region`, 'NoSuchBucket');
    }
    if (name === 'NoSuchKey') return new BucketError(`${what}${this.where}: no such object`, name);
    if (name === 'NoSuchUpload') return new BucketError(`${what}${this.where}: the multipart upload is gone (aborted, completed, or expired by the bucket's lifecycle)`, name);
    if (['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'Forbidden'].includes(name) || status === 403) {
      return new BucketError(`${what}${this.where}: access denied (${name}: ${detail}): check the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, the pod's role) and that they may use this bucket and prefix`, name);
    }
    if (name === 'CredentialsProviderError' || /credential/i.test(detail)) {
      return new BucketError(`${what}: no AWS credentials found (${detail}): set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is attached`, name);
    }
    if (['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'TimeoutError'].includes(error.code ?? name)) {
      return new BucketError(`${what}: cannot reach S3${this.where} (${error.code ?? name}): check --s3-endpoint, the network, and the proxy settings`, error.code ?? name);
    }
    return new BucketError(`${what}${this.where}: ${name}${status ? ` (HTTP ${status})` : ''}: ${detail}`, name);
  }
}

/**
 * Architecture rules, checked in `npm test` (`npm run cycles`):
 * no import cycles, and the arrows of STYLE.md point one way.
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'A cycle between modules is a bug.', from: {}, to: { circular: true } },
    {
      name: 'app-is-not-infrastructure',
      severity: 'error',
      comment: 'The node, and the metrics and logging it runs with, import nothing from aws-cdk-lib, cdk8s or constructs.',
      from: { path: '^(app|observability/(metrics|log))' },
      to: { path: '(^|/)node_modules/(aws-cdk-lib|cdk8s|cdk8s-plus-[0-9]+|constructs)/' },
    },
    {
      name: 'pure-core-has-no-io',
      severity: 'error',
      comment: 'ring/ and versioning/ are pure: no gRPC, LMDB, or node I/O modules.',
      from: { path: '^app/(ring|versioning)/' },
      to: { path: '(^|/)node_modules/(@grpc|lmdb)|^(fs|net|http|child_process)$' },
    },
    {
      name: 'replication-sees-interfaces',
      severity: 'error',
      comment: 'replication/ talks to peers and storage through interfaces, never gRPC or LMDB.',
      from: { path: '^app/replication/' },
      to: { path: '(^|/)node_modules/(@grpc|lmdb)/|^app/(rpc|storage/lmdb)' },
    },
    {
      name: 'only-storage-imports-lmdb',
      severity: 'error',
      from: { pathNot: '^app/storage/lmdb-store\\.ts$' },
      to: { path: '(^|/)node_modules/lmdb/' },
    },
    {
      name: 'only-tracing-imports-opentelemetry',
      severity: 'error',
      comment: 'observability/tracing.ts owns OpenTelemetry; the rest of the node sees the Tracer of app/replication/trace.ts.',
      from: { pathNot: '^observability/tracing\\.ts$' },
      to: { path: '(^|/)node_modules/@opentelemetry/' },
    },
    {
      name: 'only-the-bucket-imports-the-s3-sdk',
      severity: 'error',
      comment: 'app/backup/bucket.ts owns @aws-sdk/client-s3 (its errors become one-line BucketErrors there); the node itself never talks to S3.',
      from: { pathNot: '^app/backup/bucket\\.ts$' },
      to: { path: '(^|/)node_modules/@aws-sdk/' },
    },
    {
      name: 'the-node-does-not-import-backup',
      severity: 'error',
      comment: 'Backups run in the kv CLI (a job); the node serves snapshots and restores through kv.v1.Backup only.',
      from: { path: '^app/(node|replication|rpc|storage)/' },
      to: { path: '^app/backup/' },
    },
    {
      name: 'only-rpc-imports-grpc',
      severity: 'error',
      from: { pathNot: '^(app/rpc/|test/)' },
      to: { path: '(^|/)node_modules/@grpc/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|cdk.out|node_modules)/' },
  },
};

#!/usr/bin/env node
/**
 * cdk8s app: renders every chart to dist/k8s/ for review and for `kubectl apply` outside CDK.
 * The image defaults to a placeholder registry path; pass KV_IMAGE to render a real one. The cluster
 * stack applies the same chart classes with the ECR image and the backup bucket filled in.
 */
import { App } from 'cdk8s';
import { KvStoreChart } from '../constructs/k8s/kv-store-chart';
import { StorageClassChart } from '../constructs/k8s/storage-class-chart';

/** Where `npm run synth` writes manifests (relative to the working directory, the repository root). */
const K8S_OUTDIR = 'dist/k8s';
const PLACEHOLDER_IMAGE = 'kv-node:latest';

const app = new App({ outdir: process.env.KV_K8S_OUTDIR ?? K8S_OUTDIR });
const storage = new StorageClassChart(app, 'storage');
new KvStoreChart(app, 'kv', { image: process.env.KV_IMAGE ?? PLACEHOLDER_IMAGE, storageClassName: storage.storageClassName });
app.synth();

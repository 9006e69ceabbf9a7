#!/usr/bin/env node
/**
 * cdk8s app: renders every chart to dist/k8s/ for review and for `kubectl apply` outside CDK.
 * The image defaults to a placeholder registry path; pass KV_IMAGE to render a real one. The cluster
 * stack applies the same chart classes with the ECR image and the backup bucket filled in.
 * KV_PROFILE (dev or prod, default dev) picks the monitoring chart's profile (lib/config.ts).
 */
import { App } from 'cdk8s';
import { KvStoreChart } from '../constructs/k8s/kv-store-chart';
import { StorageClassChart } from '../constructs/k8s/storage-class-chart';
import { loadConfig } from '../lib/config';
import { KvMonitoringChart } from '../observability/monitoring-chart';

/** Where `npm run synth` writes manifests (relative to the working directory, the repository root). */
const K8S_OUTDIR = 'dist/k8s';
const PLACEHOLDER_IMAGE = 'kv-node:latest';

const config = loadConfig({ context: (key) => (key === 'profile' ? process.env.KV_PROFILE : undefined), env: {} });
const app = new App({ outdir: process.env.KV_K8S_OUTDIR ?? K8S_OUTDIR });
const storage = new StorageClassChart(app, 'storage');
const store = new KvStoreChart(app, 'kv', { image: process.env.KV_IMAGE ?? PLACEHOLDER_IMAGE, storageClassName: storage.storageClassName });
new KvMonitoringChart(app, 'monitoring', { store, ...config.monitoring });
app.synth();

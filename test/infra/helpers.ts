/** Shared test setup: config from a context map, and stacks built with stubbed kubectl layers. */
import { App, Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createStacks, KvStacks } from '../../lib/app';
import type { KubectlLayers } from '../../lib/cluster-stack';
import { DeploymentConfig, KUBERNETES_VERSION, loadConfig } from '../../lib/config';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const TEST_ACCOUNT = '111122223333';
export const TEST_REGION = 'eu-west-1';
/** The image tag tests deploy (with a real account, `imageTag` is required): a git SHA's shape. */
export const TEST_IMAGE_TAG = '0123456789abcdef0123456789abcdef01234567';

/** Config as `cdk synth -c key=value ...` would give it, with a fixed account, region and image tag. */
export function configFrom(context: Record<string, unknown> = {}): DeploymentConfig {
  const ctx: Record<string, unknown> = { account: TEST_ACCOUNT, region: TEST_REGION, imageTag: TEST_IMAGE_TAG, ...context };
  return loadConfig({ context: (key) => ctx[key], env: {} });
}

/**
 * Layer stubs: imported by ARN, so synth copies no 36 MB kubectl asset. The real layer is exercised
 * by the synth test, which runs the compiled app through the CDK CLI.
 */
export function stubKubectlLayers(scope: Construct): KubectlLayers {
  return {
    kubectlLayer: lambda.LayerVersion.fromLayerVersionArn(scope, 'StubKubectlLayer', `arn:aws:lambda:${TEST_REGION}:${TEST_ACCOUNT}:layer:kubectl:1`),
    awscliLayer: lambda.LayerVersion.fromLayerVersionArn(scope, 'StubAwsCliLayer', `arn:aws:lambda:${TEST_REGION}:${TEST_ACCOUNT}:layer:awscli:1`),
  };
}

/**
 * Where the Apps of this test file write their cloud assemblies: one directory, removed after the
 * file's tests. (An App without an outdir writes each synth to a new cdk.out* directory in the
 * system's temporary directory and never removes it: about 30 of them a test run.)
 */
let assemblies: string | undefined;
afterAll(() => {
  if (assemblies !== undefined) fs.rmSync(assemblies, { recursive: true, force: true });
  assemblies = undefined;
});

/** An App with the feature flags of cdk.json, so that tests see what `cdk synth` produces. */
export function newApp(): App {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cdkJson = require(path.join(REPO_ROOT, 'cdk.json')) as { context: Record<string, unknown> };
  assemblies ??= fs.mkdtempSync(path.join(os.tmpdir(), 'kv-infra-test-'));
  return new App({ context: cdkJson.context, outdir: fs.mkdtempSync(path.join(assemblies, 'cdk.out-')) });
}

export function buildStacks(context: Record<string, unknown> = {}): { app: App; config: DeploymentConfig; stacks: KvStacks } {
  const app = newApp();
  const config = configFrom(context);
  const stacks = createStacks(app, config, { kubectlLayers: stubKubectlLayers });
  return { app, config, stacks };
}

/** An EKS cluster without node groups, on stub kubectl layers: what construct tests install onto. */
export function bareCluster(stack: Stack): eks.Cluster {
  const layers = stubKubectlLayers(stack);
  return new eks.Cluster(stack, 'Cluster', {
    version: eks.KubernetesVersion.of(KUBERNETES_VERSION),
    defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
    defaultCapacity: 0,
    kubectlProviderOptions: { kubectlLayer: layers.kubectlLayer, awscliLayer: layers.awscliLayer },
  });
}

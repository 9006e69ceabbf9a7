/**
 * End to end: the compiled entry points through the real CDK CLI and the cdk8s app, offline and with
 * no AWS credentials, as `npm run synth` and CI run them. The entry points are compiled on their own
 * (into a temporary directory) so this test does not depend on the rest of the tree compiling.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from './helpers';

const SYNTH_TIMEOUT_MS = 120_000;
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-synth-'));
// No credentials and no account: synth must work with the documented placeholder.
const env: NodeJS.ProcessEnv = { ...process.env, NODE_PATH: path.join(REPO_ROOT, 'node_modules'), KV_K8S_OUTDIR: path.join(out, 'k8s') };
for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'CDK_DEFAULT_ACCOUNT', 'CDK_DEFAULT_REGION', 'KV_AWS_ACCOUNT']) delete env[key];

function cdk(args: string[]) {
  return spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk'), ...args], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: SYNTH_TIMEOUT_MS });
}

beforeAll(() => {
  // The two entry points only, with the project's compiler options (its module paths included).
  const config = path.join(out, 'tsconfig.json');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(
    config,
    JSON.stringify({ extends: path.join(REPO_ROOT, 'tsconfig.json'), compilerOptions: { outDir: out, rootDir: REPO_ROOT, incremental: false, sourceMap: false, types: ['node'], typeRoots: [path.join(REPO_ROOT, 'node_modules', '@types')] }, files: [path.join(REPO_ROOT, 'bin/infra.ts'), path.join(REPO_ROOT, 'bin/k8s.ts')], include: [] }),
  );
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], { cwd: REPO_ROOT, stdio: 'pipe', timeout: SYNTH_TIMEOUT_MS });
}, SYNTH_TIMEOUT_MS);

afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

describe('synth of the whole app', () => {
  test(
    'cdk synth writes a template for each of the four stacks, with cdk-nag passing',
    () => {
      const result = cdk(['synth', '--quiet', '--app', `node ${path.join(out, 'bin', 'infra.js')}`, '--output', path.join(out, 'cdk.out'), '-c', 'profile=dev']);
      expect(result.stderr).not.toMatch(/ERROR/);
      expect(result.status).toBe(0);
      const files = fs.readdirSync(path.join(out, 'cdk.out'));
      for (const stack of ['KvDevNetwork', 'KvDevBackup', 'KvDevRegistry', 'KvDevCluster']) expect(files).toContain(`${stack}.template.json`);
      // No lookups were needed (nothing missing from the context).
      const manifest = JSON.parse(fs.readFileSync(path.join(out, 'cdk.out', 'manifest.json'), 'utf8'));
      expect(manifest.missing).toBeUndefined();
      // The real kubectl layer (not a stub) is packaged for the cluster stack.
      const cluster = JSON.parse(fs.readFileSync(path.join(out, 'cdk.out', 'KvDevCluster.template.json'), 'utf8'));
      expect(JSON.stringify(cluster)).toContain('kubectl');
    },
    SYNTH_TIMEOUT_MS,
  );

  test(
    'rejects a bad profile: synth fails with the key, the value and the allowed values',
    () => {
      const result = cdk(['synth', '--quiet', '--app', `node ${path.join(out, 'bin', 'infra.js')}`, '--output', path.join(out, 'cdk.bad'), '-c', 'profile=staging']);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain('Invalid deployment config: "profile" is "staging"; allowed: dev, prod');
    },
    SYNTH_TIMEOUT_MS,
  );

  test(
    'the cdk8s app writes the store (with its gateways), storage, monitoring, telemetry, chaos and load-test manifests',
    () => {
      execFileSync(process.execPath, [path.join(out, 'bin', 'k8s.js')], { cwd: REPO_ROOT, env, stdio: 'pipe', timeout: SYNTH_TIMEOUT_MS });
      const files = fs.readdirSync(path.join(out, 'k8s')).sort();
      expect(files).toEqual(['bench.k8s.yaml', 'chaos.k8s.yaml', 'kv.k8s.yaml', 'monitoring-namespace.k8s.yaml', 'monitoring.k8s.yaml', 'storage.k8s.yaml', 'telemetry.k8s.yaml']);
      const bench = fs.readFileSync(path.join(out, 'k8s', 'bench.k8s.yaml'), 'utf8');
      expect(bench).toContain('kv-gateway.kv.svc.cluster.local:7001');
      expect(bench).toMatch(/kind: PrometheusRule/);
      expect(fs.readFileSync(path.join(out, 'k8s', 'monitoring.k8s.yaml'), 'utf8')).toMatch(/kind: PrometheusRule/);
      const telemetry = fs.readFileSync(path.join(out, 'k8s', 'telemetry.k8s.yaml'), 'utf8');
      for (const kind of ['OpenTelemetryCollector', 'Elasticsearch', 'Kibana', 'Beat']) expect(telemetry).toContain(`kind: ${kind}`);
      const store = fs.readFileSync(path.join(out, 'k8s', 'kv.k8s.yaml'), 'utf8');
      expect(store).toMatch(/kind: StatefulSet/);
      expect(store).toMatch(/kind: NetworkPolicy/);
      expect(store).toMatch(/kind: HorizontalPodAutoscaler/);
      // The nodes send their spans to the telemetry chart's collector.
      expect(store).toContain('http://kv-otel-collector.monitoring.svc.cluster.local:4318');
      // The short suite by default, with its checker.
      const chaos = fs.readFileSync(path.join(out, 'k8s', 'chaos.k8s.yaml'), 'utf8');
      for (const kind of ['Workflow', 'Job']) expect(chaos).toContain(`kind: ${kind}`);
      expect(chaos).toContain('name: kv-chaos-short');
    },
    SYNTH_TIMEOUT_MS,
  );
});

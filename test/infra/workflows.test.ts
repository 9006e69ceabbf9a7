/**
 * The workflows cannot run here, so their structure is checked: triggers, jobs, the OIDC permission,
 * Node 24, and the steps the delivery process relies on.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { RUN_AS_ID } from '../../constructs/k8s/kv-store-chart';
import { REPO_ROOT } from './helpers';

/** The artifact the ci workflow keeps the tested image in, and the deploy workflow pushes. */
const IMAGE_ARTIFACT = 'node-image-${{ github.sha }}';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Yaml = Record<string, any>;
interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Yaml;
  env?: Yaml;
}

function load(file: string): Yaml {
  return parse(fs.readFileSync(path.join(REPO_ROOT, '.github', 'workflows', file), 'utf8')) as Yaml;
}

function stepUsing(steps: Step[], action: string): Step {
  const step = steps.find((s) => s.uses?.startsWith(`${action}@`));
  if (step === undefined) throw new Error(`no step uses ${action}`);
  return step;
}

function indexOfRun(steps: Step[], pattern: RegExp): number {
  const i = steps.findIndex((s) => s.run !== undefined && pattern.test(s.run));
  if (i < 0) throw new Error(`no step runs ${pattern}`);
  return i;
}

/** Every *.test.ts file under `dir`. */
function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return testFiles(full);
    return e.name.endsWith('.test.ts') ? [full] : [];
  });
}

describe('ci workflow', () => {
  const ci = load('ci.yml');
  const steps = ci.jobs['build-test-synth'].steps as Step[];

  test('runs on pull requests and on pushes to main', () => {
    expect(ci.on).toHaveProperty('pull_request');
    expect(ci.on.push.branches).toEqual(['main']);
  });

  test('has read-only permissions and no AWS credentials', () => {
    expect(ci.permissions).toEqual({ contents: 'read' });
    expect(JSON.stringify(ci)).not.toMatch(/configure-aws-credentials|id-token/);
  });

  test('has two jobs: build, test and synthesize; and the node image', () => {
    expect(Object.keys(ci.jobs).sort()).toEqual(['build-test-synth', 'image']);
  });

  test('uses Node 24 and installs with npm ci', () => {
    expect(stepUsing(steps, 'actions/setup-node').with?.['node-version']).toBe(24);
    expect(indexOfRun(steps, /^npm ci$/)).toBeGreaterThanOrEqual(0);
  });

  test('typechecks, lints, tests and synthesizes, in that order, after installing', () => {
    const order = [/^npm ci$/, /npm run typecheck/, /npm run lint/, /^npm test$/, /npm run synth/].map((p) => indexOfRun(steps, p));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  test('runs every root-only test file again under sudo after npm test, failing rather than skipping should it not be root', () => {
    const rootOnly = testFiles(path.join(REPO_ROOT, 'test')).filter((f) => /\b(describeAsRoot|testAsRoot|testOnTmpfs)\(/.test(fs.readFileSync(f, 'utf8')));
    expect(rootOnly.length).toBeGreaterThan(0);
    const step = indexOfRun(steps, /KV_ROOT_TESTS=require/);
    expect(step).toBeGreaterThan(indexOfRun(steps, /^npm test$/));
    const run = steps[step]!.run!;
    expect(run).toMatch(/^sudo -E env "PATH=\$PATH" KV_ROOT_TESTS=require npx jest /);
    for (const file of rootOnly) expect(run).toContain(path.relative(REPO_ROOT, file));
  });

  test('uploads the CloudFormation templates and the Kubernetes manifests', () => {
    const upload = stepUsing(steps, 'actions/upload-artifact');
    expect(upload.with?.path).toMatch(/cdk\.out/);
    expect(upload.with?.path).toMatch(/dist\/k8s/);
    expect(steps.indexOf(upload)).toBeGreaterThan(indexOfRun(steps, /npm run synth/));
  });
});

describe('ci workflow: the node image', () => {
  const ci = load('ci.yml');
  const job = ci.jobs.image as Yaml;
  const steps = job.steps as Step[];
  const named = (pattern: RegExp): number => {
    const i = steps.findIndex((s) => s.name !== undefined && pattern.test(s.name));
    if (i < 0) throw new Error(`no step named ${pattern}`);
    return i;
  };

  test('builds the image with Buildx into the local Docker, pushing nothing', () => {
    const build = stepUsing(steps, 'docker/build-push-action');
    expect(build.with).toMatchObject({ context: '.', load: true, push: false, tags: '${{ env.IMAGE }}' });
    expect(job.env.IMAGE).toBe('kv-node:${{ github.sha }}');
    expect(steps.indexOf(stepUsing(steps, 'docker/setup-buildx-action'))).toBeLessThan(steps.indexOf(build));
    // Nothing here can reach a registry or AWS.
    expect(JSON.stringify(job)).not.toMatch(/docker push|docker\/login-action|amazon-ecr-login|configure-aws-credentials/);
  });

  test('checks that the image\'s own user is not root', () => {
    const run = steps[named(/non-root/)]!.run!;
    expect(run).toContain("docker image inspect --format '{{.Config.User}}'");
    expect(run).toMatch(/''\|0\|0:\*\|root\|root:\*\).*exit 1/);
  });

  test('runs the node as the chart does: read-only root, the chart\'s user and group, no capabilities, no privilege escalation', () => {
    const run = steps[named(/^Start a node/)]!.run!;
    expect(run).toMatch(/^docker run --detach --name "\$CONTAINER"/);
    for (const flag of ['--read-only', '--tmpfs /tmp:', `--user ${RUN_AS_ID}:${RUN_AS_ID}`, '--cap-drop ALL', '--security-opt no-new-privileges', '--env KV_NODE_ID=kv-0']) expect(run).toContain(flag);
    // Its own image, with the image's default command (`kv node`).
    expect(run.trim().endsWith('"$IMAGE"')).toBe(true);
  });

  test('waits, bounded, for gRPC health SERVING of the store\'s service, asked with the image\'s own gRPC libraries', () => {
    const run = steps[named(/gRPC health SERVING/)]!.run!;
    expect(run).toContain('docker exec -i "$CONTAINER" node - 127.0.0.1:7001 kv.v1.KV < .github/scripts/grpc-health.cjs');
    expect(run).toMatch(/for attempt in \$\(seq 1 \d+\)/);
    expect(run).toMatch(/exit 1\s*$/);
    const script = fs.readFileSync(path.join(REPO_ROOT, '.github', 'scripts', 'grpc-health.cjs'), 'utf8');
    expect(script).toContain("require('grpc-health-check')");
    expect(script).toMatch(/response\.status === 'SERVING' \? 0 : 1/);
  });

  test('puts a value and gets the same value back through the kv CLI in the image, then checks metrics and a clean stop', () => {
    const run = steps[named(/^Put a value/)]!.run!;
    expect(run).toContain('--network "container:$CONTAINER"');
    expect(run).toContain(`--read-only --user ${RUN_AS_ID}:${RUN_AS_ID}`);
    expect(run).toMatch(/kv put image-test-key "\$value" --endpoint 127\.0\.0\.1:7001/);
    expect(run).toMatch(/got=\$\(kv get image-test-key --endpoint 127\.0\.0\.1:7001 \| head -n 1\)/);
    expect(run).toMatch(/if \[ "\$got" != "\$value" \]; then .*exit 1; fi/);
    expect(steps[named(/metrics/)]!.run).toMatch(/curl --fail .*9464\/metrics \| grep --quiet '\^kv_'/);
    const stop = steps[named(/SIGTERM/)]!.run!;
    expect(stop).toContain('docker stop');
    expect(stop).toMatch(/if \[ "\$code" != 0 \]; then .*exit 1; fi/);
    const order = [/^Build the node image/, /non-root/, /^Start a node/, /gRPC health SERVING/, /^Put a value/, /metrics/, /SIGTERM/].map(named);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(steps[named(/node's log/)]!.if).toBe('always()');
  });

  test('produces an SBOM of the image as an artifact', () => {
    const sbom = stepUsing(steps, 'anchore/sbom-action');
    expect(sbom.with).toMatchObject({ image: '${{ env.IMAGE }}', format: 'spdx-json', 'artifact-name': 'sbom-${{ github.sha }}.spdx.json' });
    expect(steps.indexOf(sbom)).toBeGreaterThan(steps.indexOf(stepUsing(steps, 'docker/build-push-action')));
  });

  test('keeps the tested image, on pushes to main only, as the artifact the deploy workflow pushes', () => {
    const save = steps[named(/^Save the tested image/)]!;
    const upload = stepUsing(steps, 'actions/upload-artifact');
    expect(save.if).toBe("github.event_name == 'push'");
    expect(upload.if).toBe("github.event_name == 'push'");
    expect(save.run).toContain('docker save "$IMAGE"');
    expect(upload.with).toMatchObject({ name: IMAGE_ARTIFACT, path: '${{ runner.temp }}/node-image.tar.gz', 'if-no-files-found': 'error' });
    // After every test of the image.
    expect(steps.indexOf(save)).toBeGreaterThan(named(/SIGTERM/));
  });
});

describe('deploy workflow', () => {
  const deploy = load('deploy.yml');
  const job = deploy.jobs.deploy as Yaml;
  const steps = job.steps as Step[];

  test('runs on manual dispatch (choosing dev or prod) and on pushes to main', () => {
    expect(deploy.on.push.branches).toEqual(['main']);
    expect(deploy.on.workflow_dispatch.inputs.profile.options).toEqual(['dev', 'prod']);
  });

  test('may request an OIDC token, and nothing more than read access to the code', () => {
    expect(job.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(deploy.permissions).toEqual({ contents: 'read' });
  });

  test('runs in the GitHub environment named after the profile, so prod is the protected environment', () => {
    expect(job.environment).toBe("${{ inputs.profile || 'dev' }}");
  });

  test('never runs two deployments of a profile at once, and never cancels one', () => {
    expect(deploy.concurrency['cancel-in-progress']).toBe(false);
  });

  test('assumes the deploy role through OIDC, with no stored keys', () => {
    const creds = stepUsing(steps, 'aws-actions/configure-aws-credentials');
    expect(creds.with?.['role-to-assume']).toBeDefined();
    expect(JSON.stringify(deploy)).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET/);
  });

  test('deploys the registry, pushes the image tagged with the commit, then deploys the other stacks in order', () => {
    const creds = steps.indexOf(stepUsing(steps, 'aws-actions/configure-aws-credentials'));
    const registry = indexOfRun(steps, /Registry"[\s\S]*cdk deploy --require-approval never --exclusively/);
    const push = steps.indexOf(stepUsing(steps, 'docker/build-push-action'));
    const rest = indexOfRun(steps, /for stack in Network Backup Cluster/);
    expect(creds).toBeLessThan(registry);
    expect(registry).toBeLessThan(push);
    expect(push).toBeLessThan(rest);
    expect(steps[push].with?.push).toBe(true);
    expect(steps[push].with?.tags).toMatch(/:\$\{\{ github\.sha \}\}$/);
    expect(steps[rest].run).toMatch(/-c imageTag=\$\{\{ github\.sha \}\}/);
    expect(steps[rest].run).toMatch(/-c profile=\$PROFILE/);
  });

  test('uses Node 24', () => {
    expect(stepUsing(steps, 'actions/setup-node').with?.['node-version']).toBe(24);
  });
});

/**
 * The workflows cannot run here, so their structure is checked: triggers, jobs, the OIDC permission,
 * Node 24, and the steps the delivery process relies on.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { REPO_ROOT } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Yaml = Record<string, any>;
interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Yaml;
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
  const jobs = Object.values(ci.jobs) as Yaml[];
  const steps = jobs[0].steps as Step[];

  test('runs on pull requests and on pushes to main', () => {
    expect(ci.on).toHaveProperty('pull_request');
    expect(ci.on.push.branches).toEqual(['main']);
  });

  test('has read-only permissions and no AWS credentials', () => {
    expect(ci.permissions).toEqual({ contents: 'read' });
    expect(JSON.stringify(ci)).not.toMatch(/configure-aws-credentials|id-token/);
  });

  test('uses Node 24 and installs with npm ci', () => {
    expect(jobs).toHaveLength(1);
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

/**
 * The workflows cannot run here, so their structure is checked: triggers, jobs, the OIDC permission,
 * Node 24, and the steps the delivery process relies on.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { RUN_AS_ID } from '../../constructs/k8s/kv-store-chart';
import { KUBERNETES_VERSION } from '../../lib/config';
import { configFrom, REPO_ROOT } from './helpers';

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

  test('audits the production dependencies after installing, failing on a high or critical finding', () => {
    const audit = indexOfRun(steps, /npm audit --omit=dev --audit-level=high/);
    expect(audit).toBeGreaterThan(indexOfRun(steps, /^npm ci$/));
    // The failing audit is not masked: only the informational one over the whole tree may fail.
    expect(steps[audit]!.run!).toMatch(/^npm audit --omit=dev --audit-level=high$/m);
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
  const jobs = deploy.jobs as Record<string, Yaml>;
  const stepsOf = (job: string): Step[] => jobs[job]!.steps as Step[];
  const named = (job: string, pattern: RegExp): Step => {
    const step = stepsOf(job).find((s) => s.name !== undefined && pattern.test(s.name));
    if (step === undefined) throw new Error(`no step of ${job} named ${pattern}`);
    return step;
  };
  const index = (job: string, step: Step): number => stepsOf(job).indexOf(step);
  const needs = (job: string): string[] => [jobs[job]!.needs ?? []].flat();

  test('runs after the ci workflow completes on main, and on manual dispatch (dev or prod, optionally a commit) — never on a bare push', () => {
    expect(deploy.on.workflow_run).toEqual({ workflows: [load('ci.yml').name], types: ['completed'], branches: ['main'] });
    expect(deploy.on.workflow_dispatch.inputs.profile.options).toEqual(['dev', 'prod']);
    expect(deploy.on.workflow_dispatch.inputs.sha).toMatchObject({ type: 'string', required: false });
    expect(deploy.on.push).toBeUndefined();
    expect(deploy.on.pull_request).toBeUndefined();
  });

  test('has four jobs in a line: gate, diff, deploy (after the diff), rollout (after the deploy)', () => {
    expect(Object.keys(jobs).sort()).toEqual(['deploy', 'diff', 'gate', 'rollout']);
    expect(needs('gate')).toEqual([]);
    expect(needs('diff')).toEqual(['gate']);
    expect(needs('deploy').sort()).toEqual(['diff', 'gate']);
    expect(needs('rollout').sort()).toEqual(['deploy', 'gate']);
  });

  test('the gate lets through only a successful ci run of a push to main of this repository, or a dispatch', () => {
    const condition = String(jobs.gate!.if).replace(/\s+/g, ' ');
    for (const clause of [
      "github.event_name == 'workflow_dispatch' ||",
      "github.event.workflow_run.conclusion == 'success'",
      "github.event.workflow_run.event == 'push'",
      "github.event.workflow_run.head_branch == 'main'",
      'github.event.workflow_run.head_repository.full_name == github.repository',
    ]) {
      expect(condition).toContain(clause);
    }
    // The ci run's own commit, not the head of main when this workflow started.
    const run = named('gate', /^Resolve/);
    expect(run.env).toMatchObject({ RUN_SHA: '${{ github.event.workflow_run.head_sha }}', RUN_ID: '${{ github.event.workflow_run.id }}' });
  });

  test('a dispatch must name a commit of main on which a ci run of a push to main succeeded, checked through the GitHub API', () => {
    const step = named('gate', /^Resolve/);
    const run = step.run!;
    expect(step.env?.GH_TOKEN).toBe('${{ github.token }}');
    expect(run).toMatch(/set -euo pipefail/);
    expect(run).toContain('[[ "$sha" =~ ^[0-9a-f]{40}$ ]]');
    expect(run).toContain('gh api "repos/$GITHUB_REPOSITORY/compare/$sha...main" --jq .status');
    expect(run).toMatch(/identical\|ahead\) ;;\s*\*\) echo "::error::commit \$sha is not on main.*exit 1/);
    expect(run).toContain('gh api "repos/$GITHUB_REPOSITORY/actions/workflows/ci.yml/runs?head_sha=$sha&event=push&status=success&per_page=1"');
    expect(run).toMatch(/if \[ -z "\$run_id" \]; then\s*echo "::error::no successful ci run .*exit 1/);
    expect(jobs.gate!.permissions).toEqual({ contents: 'read', actions: 'read' });
    expect(Object.keys(jobs.gate!.outputs).sort()).toEqual(['ci-run-id', 'profile', 'sha']);
  });

  test('no job without an environment can get an OIDC token; each AWS job runs in the environment its role trusts', () => {
    expect(deploy.permissions).toEqual({ contents: 'read' });
    const roleOf: Record<string, string> = {};
    for (const [name, job] of Object.entries(jobs)) {
      const creds = (job.steps as Step[]).filter((st) => st.uses?.startsWith('aws-actions/configure-aws-credentials@'));
      if (job.permissions?.['id-token'] !== 'write') {
        expect(creds).toEqual([]);
        continue;
      }
      // id-token only with an environment: the subject is then repo:<repo>:environment:<env>, never the branch.
      expect(job.environment).toBeDefined();
      expect(creds).toHaveLength(1);
      roleOf[name] = creds[0]!.with!['role-to-assume'];
    }
    expect(roleOf).toEqual({ diff: '${{ vars.READ_ROLE_ARN }}', deploy: '${{ vars.DEPLOY_ROLE_ARN }}', rollout: '${{ vars.READ_ROLE_ARN }}' });
    expect(jobs.gate!.environment).toBeUndefined();
    // The deploy role only in the profile's own environment (prod is the protected one); the
    // read-only role only in <profile>-read (lib/config.ts: githubReadEnvironment).
    expect(jobs.deploy!.environment).toBe('${{ needs.gate.outputs.profile }}');
    expect(jobs.diff!.environment).toBe('${{ needs.gate.outputs.profile }}-read');
    expect(jobs.rollout!.environment).toBe('${{ needs.gate.outputs.profile }}-read');
    for (const profile of ['dev', 'prod'] as const) {
      const config = configFrom({ profile });
      expect([config.githubEnvironment, config.githubReadEnvironment]).toEqual([profile, `${profile}-read`]);
    }
    expect(JSON.stringify(deploy)).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET/);
  });

  test('the diff job puts a template cdk diff of every stack of the commit into its summary, with the read-only role', () => {
    const diff = named('diff', /^cdk diff/);
    expect(diff.run).toMatch(/npx cdk diff --method template --no-color/);
    expect(diff.run).toMatch(/-c profile=\$PROFILE/);
    expect(diff.run).toMatch(/-c imageTag=\$SHA/);
    for (const stack of ['Registry', 'Network', 'Backup', 'Cluster']) expect(diff.run).toContain(`"Kv\${PROFILE^}${stack}"`);
    expect(diff.run).toMatch(/tee cdk-diff\.txt/);
    expect(diff.run).toMatch(/>> "\$GITHUB_STEP_SUMMARY"/);
    expect(diff.run).toMatch(/set -o pipefail/);
    expect(stepUsing(stepsOf('diff'), 'actions/checkout').with?.ref).toBe('${{ needs.gate.outputs.sha }}');
    expect(index('diff', stepUsing(stepsOf('diff'), 'aws-actions/configure-aws-credentials'))).toBeLessThan(index('diff', diff));
    // It never deploys, pushes or logs in to the registry.
    expect(JSON.stringify(jobs.diff)).not.toMatch(/cdk deploy|docker push|amazon-ecr-login/);
  });

  test('deploys the commit the gate resolved: its checkout, and its SHA as the image tag of every cdk command', () => {
    expect(stepUsing(stepsOf('deploy'), 'actions/checkout').with?.ref).toBe('${{ needs.gate.outputs.sha }}');
    expect(jobs.deploy!.env).toMatchObject({ PROFILE: '${{ needs.gate.outputs.profile }}', SHA: '${{ needs.gate.outputs.sha }}' });
    const cdkRuns = stepsOf('deploy').filter((st) => /npx cdk /.test(st.run ?? ''));
    expect(cdkRuns).toHaveLength(2);
    for (const st of cdkRuns) {
      expect(st.run).toMatch(/-c imageTag=\$SHA/);
      expect(st.run).toMatch(/-c profile=\$PROFILE/);
    }
    // github.sha is the head of main when a ci run triggers this workflow, not necessarily the commit ci tested.
    expect(JSON.stringify(jobs.deploy)).not.toContain('github.sha');
  });

  test('pushes the image ci tested only when the registry lacks the tag, so a re-run never fails on the immutable repository', () => {
    const steps = stepsOf('deploy');
    const registry = named('deploy', /^Deploy the registry/);
    const check = named('deploy', /^Is the image in the registry/);
    const download = stepUsing(steps, 'actions/download-artifact');
    const login = stepUsing(steps, 'aws-actions/amazon-ecr-login');
    const push = named('deploy', /^Push the tested image/);
    const rest = named('deploy', /^Deploy the stacks in order/);
    expect(check.run).toContain('aws ecr describe-images --repository-name "${REPOSITORY_URI#*/}" --image-ids imageTag="$SHA"');
    expect(check.run).toContain('echo "exists=true" >> "$GITHUB_OUTPUT"');
    // Not found is "push it"; any other failure (no permission, no repository) fails the job.
    expect(check.run).toMatch(/elif grep --quiet ImageNotFoundException [^\n]*\n\s*echo "exists=false"[\s\S]*else\s*cat [^\n]*; exit 1/);
    for (const st of [download, login, push]) expect(st.if).toBe("steps.image.outputs.exists == 'false'");
    expect(download.with).toMatchObject({ name: IMAGE_ARTIFACT.replace('github.sha', 'needs.gate.outputs.sha'), 'run-id': '${{ needs.gate.outputs.ci-run-id }}', 'github-token': '${{ github.token }}' });
    expect(push.run).toContain('docker load');
    expect(push.run).toMatch(/if \[ "\$loaded" != "kv-node:\$SHA" \]; then .*exit 1; fi/);
    expect(push.run).toContain('docker push "$REPOSITORY_URI:$SHA"');
    // No rebuild: what is pushed is what ci tested.
    expect(JSON.stringify(jobs.deploy)).not.toMatch(/build-push-action|docker build/);
    expect(jobs.deploy!.permissions).toEqual({ contents: 'read', 'id-token': 'write', actions: 'read' });
    const order = [stepUsing(steps, 'aws-actions/configure-aws-credentials'), registry, check, download, login, push, rest].map((st) => index('deploy', st));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(rest.run).toMatch(/for stack in Network Backup Cluster/);
    expect(rest.run).toMatch(/cdk deploy --require-approval never --exclusively/);
  });

  test('after the deploy, waits for the store\'s rollout and checks it runs the deployed tag, with the read-only role', () => {
    const steps = stepsOf('rollout');
    const kubeconfig = named('rollout', /^Kubeconfig/);
    const reach = named('rollout', /^Reach the cluster/);
    const rollout = named('rollout', /^Wait for the store's rollout/);
    const image = named('rollout', /deployed image/);
    expect(kubeconfig.run).toMatch(/aws eks update-kubeconfig --name "kv-\$PROFILE"/);
    expect(reach.run).toMatch(/if ! kubectl version --request-timeout=\d+s; then[\s\S]*CLUSTER_RUNNER[\s\S]*exit 1/);
    const namespace = configFrom().store.namespace;
    expect(rollout.run).toMatch(new RegExp(`^kubectl --namespace ${namespace} rollout status statefulset/kv --timeout=\\d+m$`));
    expect(image.run).toMatch(/if \[ "\$\{image##\*:\}" != "\$SHA" \]; then .*exit 1; fi/);
    expect(stepUsing(steps, 'azure/setup-kubectl').with?.version).toMatch(new RegExp(`^v${KUBERNETES_VERSION.replace('.', '\\.')}\\.\\d+$`));
    const order = [stepUsing(steps, 'aws-actions/configure-aws-credentials'), kubeconfig, reach, rollout, image].map((st) => steps.indexOf(st));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(jobs.rollout!['runs-on']).toBe("${{ vars.CLUSTER_RUNNER || 'ubuntu-latest' }}");
    expect(jobs.rollout!['timeout-minutes']).toBeGreaterThan(30);
  });

  test('never runs two deployments of a profile at once, and never cancels one', () => {
    expect(deploy.concurrency).toEqual({ group: "deploy-${{ inputs.profile || 'dev' }}", 'cancel-in-progress': false });
  });

  test('uses Node 24 wherever it builds', () => {
    for (const job of ['diff', 'deploy']) expect(stepUsing(stepsOf(job), 'actions/setup-node').with?.['node-version']).toBe(24);
  });
});

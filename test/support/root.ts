/**
 * Tests that need root: cutting loopback traffic with iptables (./partition.ts), running nodes
 * with groups of their own (LocalCluster's gidBase), mounting a small tmpfs (./disk.ts).
 *
 * How they run:
 * - CI here (.ci/run) runs `npm test` as root: they run with everything else.
 * - GitHub Actions runners run as a user that is not root but has passwordless sudo. There
 *   `npm test` skips them, and the ci workflow's "Root-only tests" step runs their files again:
 *     sudo -E env "PATH=$PATH" KV_ROOT_TESTS=require npx jest <files>
 *   (sudo resets PATH, and setup-node put node and npx on the runner's). Every file that uses
 *   these helpers must be named in that step; test/infra/workflows.test.ts checks.
 * - Anywhere else without root, they are skipped, and a line on stderr says what they need and
 *   the command that runs them.
 * With KV_ROOT_TESTS=require a process that is not root fails them instead of skipping them, so
 * the workflow step cannot pass without running them.
 */
import * as path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '../..');
const skipsReported = new Set<string>();

/**
 * undefined when this process is root; otherwise why the caller's test file cannot run (and it
 * is reported once per file); throws when KV_ROOT_TESTS=require.
 */
function notRoot(needs: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === 0) return undefined;
  const testPath = expect.getState().testPath;
  const file = testPath === undefined ? 'this test file' : path.relative(REPO_ROOT, testPath);
  const why = `needs root (${needs}), and this process runs as uid ${uid}`;
  if (process.env.KV_ROOT_TESTS === 'require') throw new Error(`${file} ${why}; KV_ROOT_TESTS=require says this run must run it: run it under sudo -E env "PATH=$PATH"`);
  if (!skipsReported.has(file)) {
    skipsReported.add(file);
    process.stderr.write(`${file}: skipped: it ${why}. Run it as root: sudo -E env "PATH=$PATH" npx jest ${file} (the ci workflow's "Root-only tests" step does)\n`);
  }
  return why;
}

/** `describe` when this process is root; otherwise `describe.skip`, saying why (see above). */
export function describeAsRoot(needs: string): jest.Describe {
  return notRoot(needs) === undefined ? describe : describe.skip;
}

/** `test` when this process is root; otherwise `test.skip`, saying why (see above). */
export function testAsRoot(needs: string): jest.It {
  return notRoot(needs) === undefined ? test : test.skip;
}

/**
 * The rules file, checked and unit-tested by Prometheus's own promtool (Debian's `prometheus`
 * package; .ci/run installs it when missing): `promtool check rules` on the rendered file, and
 * `promtool test rules` on the cases of ./alert-rule-cases.ts, which fire and do not fire every alert.
 * Without promtool the tests are skipped with a line saying so; in CI (CI=true) they fail.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { alertNamed, ALERTS, RUNBOOK_URL, runbookAnchor, rulesYaml } from '../../observability/rules';
import { toYaml, YamlValue } from '../../observability/yaml-text';
import { parse } from 'yaml';
import { ALERT_CASES, AlertCase } from './alert-rule-cases';
import { REPO_ROOT } from './helpers';

function promtoolPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

function describeWithPromtool(): jest.Describe {
  if (promtoolPath() !== undefined) return describe;
  const why = 'promtool is not installed: apt-get install -y prometheus (Debian), or put promtool on PATH';
  if (process.env.CI === 'true') throw new Error(`CI=true and ${why}`);
  process.stderr.write(`${path.relative(REPO_ROOT, __filename)}: promtool tests skipped: ${why}\n`);
  return describe.skip;
}

/** An annotation as Prometheus expands it for these cases: `{{ $labels.x }}` and `{{ $value ... }}`. */
function expand(template: string, labels: Readonly<Record<string, string>>, value: string): string {
  return template.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => labels[name] ?? '').replace(/\{\{ \$value[^}]*\}\}/g, value);
}

function unitTest(c: AlertCase): YamlValue {
  const rule = alertNamed(c.alert);
  return {
    interval: '1m',
    input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
    alert_rule_test: [
      {
        eval_time: `${c.evalMinutes}m`,
        alertname: c.alert,
        exp_alerts: c.expected.map((e) => {
          const labels = { ...e.labels, severity: rule.severity };
          return {
            exp_labels: labels,
            exp_annotations: {
              summary: expand(rule.summary, labels, e.value),
              description: expand(rule.description, labels, e.value),
              runbook_url: `${RUNBOOK_URL}#${runbookAnchor(c.alert)}`,
            },
          };
        }),
      },
    ],
  };
}

function promtool(args: string[], cwd: string): { status: number | null; output: string } {
  const run = spawnSync(promtoolPath()!, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('alert cases', () => {
  test('fire and do not fire every alert', () => {
    for (const a of ALERTS) {
      const cases = ALERT_CASES.filter((c) => c.alert === a.alert);
      expect({ alert: a.alert, fired: cases.some((c) => c.expected.length > 0) }).toEqual({ alert: a.alert, fired: true });
      expect({ alert: a.alert, notFired: cases.some((c) => c.expected.length === 0) }).toEqual({ alert: a.alert, notFired: true });
    }
    for (const c of ALERT_CASES) expect(() => alertNamed(c.alert)).not.toThrow();
  });

  test('the rules file reads back as the rules (the YAML writer)', () => {
    const groups = parse(rulesYaml()).groups as { rules: { alert?: string; expr: string }[] }[];
    expect(groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined).map((r) => [r.alert, r.expr])).toEqual(ALERTS.map((a) => [a.alert, a.expr]));
    expect(toYaml({ a: ['x', "it's"], b: {}, c: [], d: 'two\nlines', e: 5 })).toBe("a:\n  - 'x'\n  - 'it''s'\nb: {}\nc: []\nd: \"two\\nlines\"\ne: 5\n");
  });
});

describeWithPromtool()('promtool', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-rules-'));
  fs.writeFileSync(path.join(dir, 'rules.yml'), rulesYaml());
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('check rules accepts the rules file', () => {
    const run = promtool(['check', 'rules', 'rules.yml'], dir);
    expect(run.output).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });

  // One file per case, so that a failure names the case.
  test.each(ALERT_CASES.map((c) => [c.alert, c.expected.length > 0 ? 'fires' : 'does not fire', c.what, c] as const))('%s %s: %s', (_alert, _fires, _what, c) => {
    const file = `${c.alert}-${ALERT_CASES.indexOf(c)}.test.yml`;
    fs.writeFileSync(path.join(dir, file), toYaml({ rule_files: ['rules.yml'], evaluation_interval: '1m', tests: [unitTest(c)] }));
    const run = promtool(['test', 'rules', file], dir);
    if (run.status !== 0) throw new Error(`promtool test rules ${file} failed:\n${run.output}\n${fs.readFileSync(path.join(dir, file), 'utf8')}`);
  });
});

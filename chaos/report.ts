/**
 * The chaos run's report: one self-contained HTML page (and the JSON beside it) with, per
 * experiment, its verdict, its figures and a timeline of operations a second, errors a second
 * and p99 latency with the fault's window shaded. Charts are SVG (app/cli/svg-chart.ts), so the
 * page needs no script to show them.
 */
import { svgChart } from '../app/cli/svg-chart';
import type { CheckResult } from './checker';
import type { Experiment } from './experiments';

/** One experiment of the run: what it was, and what came of it. */
export interface ExperimentOutcome {
  readonly experiment: Experiment;
  /** The nodes the fault hit. */
  readonly targets: readonly string[];
  /** Set when it did not run, with the reason (not root, a tool or kernel feature missing). */
  readonly skipped?: string;
  /** Set when the run itself failed (the cluster did not start, a fault could not be injected). */
  readonly error?: string;
  readonly result?: CheckResult;
  /** What happened beside the fault that a reader should know (a node that exited and was restarted). */
  readonly notes?: readonly string[];
  /** Whether the hypothesis held: the checker's verdict with the experiment's availability bound. */
  readonly passed: boolean;
}

export interface ChaosReport {
  readonly startedAt: string;
  readonly machine: string;
  readonly outcomes: readonly ExperimentOutcome[];
}

/** The chart's size in the page, px. */
export const CHART_WIDTH_PX = 960;
export const CHART_HEIGHT_PX = 300;

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (share: number | null | undefined) => (share === null || share === undefined ? 'n/a' : `${(Math.floor(share * 100_000) / 1000).toString()} %`);
const ms = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${v < 10 ? v.toFixed(2) : Math.round(v)} ms`);

function statusOf(o: ExperimentOutcome): { word: string; cls: string } {
  if (o.skipped !== undefined) return { word: 'skipped', cls: 'skip' };
  if (o.error !== undefined) return { word: 'error', cls: 'fail' };
  return o.passed ? { word: 'holds', cls: 'pass' } : { word: 'does not hold', cls: 'fail' };
}

/** The timeline of one run as an SVG string: ok/s and errors/s on the left axis, p99 on the right, faults shaded. */
export function timelineSvg(result: CheckResult): string {
  const t = result.timeline;
  const okPerS = t.map((s) => [s.t, s.ops - s.errors - s.indeterminate]);
  const errorsPerS = t.map((s) => [s.t, s.errors + s.indeterminate]);
  const p99 = t.map((s) => [s.t, s.p99Ms]);
  const shaded = result.availability.windows.map((w): [{ name: string; xAxis: number }, { xAxis: number }] => [{ name: w.label, xAxis: w.startS }, { xAxis: w.endS }]);
  return svgChart(
    {
      grid: { left: 60, right: 70, top: 40, bottom: 40 },
      legend: { top: 5, data: ['ok ops/s', 'failed ops/s', 'p99 latency'] },
      xAxis: { type: 'value', name: 's', nameLocation: 'end', min: 0, max: Math.max(1, Math.ceil(result.run.durationS)) },
      yAxis: [
        { type: 'value', name: 'ops/s', min: 0 },
        { type: 'value', name: 'p99 ms', min: 0, splitLine: { show: false } },
      ],
      series: [
        { name: 'ok ops/s', type: 'line', showSymbol: false, data: okPerS, lineStyle: { width: 1.5 }, color: '#3b7d3b', markArea: { itemStyle: { color: 'rgba(214, 39, 40, 0.12)' }, label: { color: '#a00' }, data: shaded } },
        { name: 'failed ops/s', type: 'line', showSymbol: false, data: errorsPerS, lineStyle: { width: 1.5 }, color: '#d62728' },
        { name: 'p99 latency', type: 'line', showSymbol: false, yAxisIndex: 1, data: p99, connectNulls: false, lineStyle: { width: 1, type: 'dashed' }, color: '#1f5fbf' },
      ],
    },
    CHART_WIDTH_PX,
    CHART_HEIGHT_PX,
  );
}

function figuresTable(o: ExperimentOutcome): string {
  const r = o.result;
  if (r === undefined) return '';
  const w = r.availability.windows[0];
  const row = (name: string, value: string, cls = '') => `<tr><th>${escape(name)}</th><td class="${cls}">${escape(value)}</td></tr>`;
  const c = r.correctness;
  const b = r.availability.overall.readBack;
  return `<table class="figures">
${row('operations', String(r.availability.overall.ops))}
${row('availability (retrying clients)', `${pct(r.availability.overall.availability)} (at least ${pct(o.experiment.hypothesis.availabilityMin)})`, (r.availability.overall.availability ?? 0) >= o.experiment.hypothesis.availabilityMin ? 'pass' : 'fail')}
${row('writes in doubt, read back', `${b.indeterminateWrites}: ${b.applied} found applied, ${b.redone} not found and written again, ${b.unresolved} unresolved (without read-back ${pct(r.availability.overall.availabilityWithoutReadBack)} available)`)}
${w ? row('during the fault', `${pct(w.during.availability)} of ${w.during.ops}, p99 ${ms(w.during.p99Ms)}`) : ''}
${w ? row('after the fault', `${pct(w.after.availability)} of ${w.after.ops}, p99 ${ms(w.after.p99Ms)}`) : ''}
${w ? row('time to recover', w.recoverS === null ? 'not before the end' : `${w.recoverS} s`) : ''}
${row('acknowledged writes lost', String(c.lostWrites), c.lostWrites === 0 ? 'pass' : 'fail')}
${row('deletes resurrected', String(c.resurrectedDeletes), c.resurrectedDeletes === 0 ? 'pass' : 'fail')}
${row('siblings at most', `${c.siblingsMaxSeen} (bound ${r.hypothesis.siblingsMax})`)}
${row('replicas converged', r.convergence.converged ? `after ${r.convergence.afterS} s (within ${r.convergence.withinS} s)` : `not within ${r.convergence.withinS} s (${r.convergence.keysDiverged} keys)`, r.convergence.converged ? 'pass' : 'fail')}
</table>`;
}

function section(o: ExperimentOutcome): string {
  const s = statusOf(o);
  const e = o.experiment;
  const why = [o.skipped, o.error, ...(o.result?.reasons ?? [])].filter((x): x is string => x !== undefined);
  return `<section id="${escape(e.name)}">
<h2>${escape(e.name)} <span class="badge ${s.cls}">${s.word}</span></h2>
<p>${escape(e.description)} Fault: <code>${escape(JSON.stringify(e.fault))}</code> on ${escape(o.targets.join(', ') || e.target)} for ${e.durationS} s.</p>
${why.length ? `<ul class="why">${why.map((x) => `<li>${escape(x)}</li>`).join('')}</ul>` : ''}
${o.notes?.length ? `<ul class="notes">${o.notes.map((x) => `<li>${escape(x)}</li>`).join('')}</ul>` : ''}
${figuresTable(o)}
${o.result ? `<figure>${timelineSvg(o.result)}<figcaption>Operations a second (ok, failed) and p99 latency per second; the fault's window is shaded.</figcaption></figure>` : ''}
</section>`;
}

/** The whole page. */
export function reportHtml(report: ChaosReport): string {
  const rows = report.outcomes
    .map((o) => {
      const s = statusOf(o);
      const r = o.result;
      return `<tr><td><a href="#${escape(o.experiment.name)}">${escape(o.experiment.name)}</a></td><td class="${s.cls}">${s.word}</td><td>${pct(r?.availability.overall.availability)}</td><td>${r ? r.correctness.lostWrites : ''}</td><td>${r ? r.correctness.resurrectedDeletes : ''}</td><td>${ms(r?.availability.windows[0]?.during.p99Ms)}</td><td>${r?.availability.windows[0]?.recoverS ?? ''}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kv chaos report ${escape(report.startedAt)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1000px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
.pass { color: #176317; } .fail { color: #b00; font-weight: bold; } .skip { color: #777; }
.badge { font-size: 13px; padding: 2px 6px; border-radius: 4px; border: 1px solid currentColor; }
section { border-top: 1px solid #ddd; margin-top: 24px; } figure { margin: 8px 0; } figcaption { color: #555; font-size: 12px; }
</style></head><body>
<h1>kv chaos report</h1>
<p>Started ${escape(report.startedAt)} on ${escape(report.machine)}. ${report.outcomes.filter((o) => o.passed).length} of ${report.outcomes.length} experiments held; ${report.outcomes.filter((o) => o.skipped !== undefined).length} skipped.</p>
<table class="summary"><tr><th>experiment</th><th>hypothesis</th><th>availability</th><th>lost</th><th>resurrected</th><th>p99 during</th><th>recovered after s</th></tr>
${rows}
</table>
${report.outcomes.map(section).join('\n')}
</body></html>
`;
}

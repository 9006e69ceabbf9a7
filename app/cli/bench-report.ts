/**
 * The HTML report of `kv bench compare`: one self-contained page with, per workload, latency
 * against throughput for every target (p50 and p99 against the ops/s each achieved, one point per
 * open-loop rate and one for the closed loop), drawn server side as SVG (./svg-chart.ts), and the
 * same table the command prints.
 */
import { CompareReport, CompareRow, describeSettings, loadLabel, TABLE_HEADER, tableCells } from './compare-figures';
import { svgChart } from './svg-chart';
import type { WorkloadName } from './workload';

export const CURVE_WIDTH_PX = 960;
export const CURVE_HEIGHT_PX = 360;
/** Each target's colour: the store's APIs in blues and greens, etcd in orange. */
const COLOURS: Readonly<Record<string, string>> = { 'kv batch': '#1f5fbf', 'kv unary': '#3b9d3b', etcd: '#e07b00' };
const COLOUR_OTHER = '#777777';

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Latency (log scale) against achieved ops/s for one workload: p50 solid, p99 dashed, one colour per target. */
export function latencyCurveSvg(rows: readonly CompareRow[], workload: WorkloadName): string {
  const mine = rows.filter((r) => r.workload === workload);
  const targets = [...new Set(mine.map((r) => r.target))];
  const series = targets.flatMap((target) => {
    const points = mine.filter((r) => r.target === target).sort((a, b) => a.opsPerSecond - b.opsPerSecond);
    const colour = COLOURS[target] ?? COLOUR_OTHER;
    const line = (name: string, pick: (r: CompareRow) => number, type: 'solid' | 'dashed') => ({
      name,
      type: 'line' as const,
      color: colour,
      symbol: type === 'solid' ? 'circle' : 'triangle',
      symbolSize: 7,
      lineStyle: { width: 2, type },
      data: points.map((r) => ({ value: [r.opsPerSecond, Math.max(pick(r), 0.001)], name: loadLabel(r.rate, r.concurrency) })),
      label: { show: type === 'solid', position: 'top' as const, fontSize: 10, color: '#555', formatter: '{b}' },
    });
    return [line(`${target} p50`, (r) => r.p50Ms, 'solid'), line(`${target} p99`, (r) => r.p99Ms, 'dashed')];
  });
  return svgChart(
    {
      title: { text: `workload ${workload}`, left: 'center', top: 0, textStyle: { fontSize: 14 } },
      grid: { left: 70, right: 30, top: 60, bottom: 50 },
      legend: { top: 24, data: series.map((s) => s.name) },
      xAxis: { type: 'value', name: 'ops/s achieved', nameLocation: 'middle', nameGap: 30, min: 0 },
      yAxis: { type: 'log', name: 'latency ms', logBase: 10 },
      series,
    },
    CURVE_WIDTH_PX,
    CURVE_HEIGHT_PX,
  );
}

function tableHtml(rows: readonly CompareRow[]): string {
  const head = `<tr>${TABLE_HEADER.map((h) => `<th>${escape(h)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr class="${r.target === 'etcd' ? 'etcd' : 'kv'}">${tableCells(r).map((c, i) => `<td${i >= 3 ? ' class="n"' : ''}>${escape(c)}</td>`).join('')}</tr>`);
  return `<table class="figures">\n${head}\n${body.join('\n')}\n</table>`;
}

/** The whole page. */
export function compareReportHtml(report: CompareReport): string {
  const workloads = [...new Set(report.rows.map((r) => r.workload))];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kv bench compare ${escape(report.startedAt)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; } th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } tr.etcd { background: #fff6ea; }
figure { margin: 16px 0; } figcaption { color: #555; font-size: 12px; }
</style></head><body>
<h1>kv bench compare</h1>
<p>Started ${escape(report.startedAt)}. ${escape(describeSettings(report))}.</p>
<p>Each point is the median over the rounds of one load: an open loop at a fixed rate (latency counted from each operation's intended start), or the closed loop at concurrency ${report.settings.concurrency}; each p50 point is labelled with its load. Ratios are the store's median over etcd's under the same workload and load. Server CPU counts the store's node processes or etcd's member processes (from /proc); bench CPU is the load generator's own, on the same machine.</p>
${workloads.map((w) => `<figure class="curve" id="curve-${escape(w)}">${latencyCurveSvg(report.rows, w)}<figcaption>Workload ${escape(w)}: p50 (solid) and p99 (dashed) latency against the ops/s achieved.</figcaption></figure>`).join('\n')}
<h2>Figures</h2>
${tableHtml(report.rows)}
</body></html>
`;
}

/** The dashboards drawn without Grafana: units as Grafana writes them, axes, legends, "No data", the grid. */
import { DASHBOARDS, DashboardSpec } from '../../observability/dashboards';
import { formatValue, legendName, PanelData, renderDashboardHtml, seriesFromMatrix, Series, timeTicks, valueAxis } from '../../observability/dashboard-render';
import { queryIntervals } from '../../observability/dashboard-pictures';

const range = { fromS: 1_700_000_000, toS: 1_700_000_600, stepS: 10 };
const flat = (name: string, value: number): Series => ({ name, points: Array.from({ length: 61 }, (_, i) => [range.fromS + i * 10, value] as const) });
const one = (kind: 'timeseries' | 'stat', unit = 'short'): DashboardSpec => ({ uid: 'test', title: 'KV store / Test', panels: [{ title: 'The panel', kind, unit, queries: [{ expr: 'x', legend: '{{node}}' }] }] });
/** The one panel's SVG of a page. */
const panelOf = (html: string) => /<svg[^>]*data-panel="The panel"[\s\S]*?<\/svg>/.exec(html)![0];

describe('formatValue', () => {
  test.each([
    [0.25, 's', '250 ms'],
    [0.0012, 's', '1.2 ms'],
    [0.0000005, 's', '500 ns'],
    [2.5, 's', '2.5 s'],
    [90, 's', '1.5 min'],
    [0, 's', '0 s'],
    [1536, 'bytes', '1.5 KiB'],
    [3 * 1024 ** 3, 'bytes', '3 GiB'],
    [512, 'bytes', '512 B'],
    [1234, 'ops', '1.23 K ops/s'],
    [12.5, 'ops', '12.5 ops/s'],
    [42, 'percent', '42%'],
    [0.42, 'percentunit', '42%'],
    [1500, 'short', '1.5 K'],
    [2_000_000, 'short', '2 Mil'],
    [5, 'short', '5'],
    [0.0034, 'short', '0.0034'],
  ])('%p in %s is %p', (value, unit, text) => {
    expect(formatValue(value, unit)).toBe(text);
  });

  test('rejects a unit it does not know, naming the ones it does', () => {
    expect(() => formatValue(1, 'decbytes')).toThrow(/"decbytes" is not one this renderer formats \(none, short, ops, bytes, s/);
  });

  test('rejects NaN: a missing value is drawn as a gap', () => {
    expect(() => formatValue(NaN, 's')).toThrow(/cannot format NaN/);
  });

  test('every unit the dashboards use is one it formats', () => {
    for (const d of DASHBOARDS) for (const p of d.panels) expect(() => formatValue(1, p.unit)).not.toThrow();
  });
});

describe('axes', () => {
  test('value ticks are a round step apart, each in its own scale of the unit, from 0 when the data is near it', () => {
    const axis = valueAxis(0.0001, 0.0009, 's', 4);
    expect(axis.ticks.map((t) => t.label)).toEqual(['0 s', '250 µs', '500 µs', '750 µs', '1 ms']);
    expect(axis.min).toBe(0);
    expect(axis.max).toBeCloseTo(0.001);
  });

  test('a range far from 0 keeps its floor; bytes scale by 1024 and step in the scale of the top', () => {
    const axis = valueAxis(90 * 1024 ** 2, 140 * 1024 ** 2, 'bytes', 5);
    expect(axis.ticks.map((t) => t.label)).toEqual(['90 MiB', '100 MiB', '110 MiB', '120 MiB', '130 MiB', '140 MiB']);
    expect(valueAxis(0, 1000, 'ops', 5).ticks.map((t) => t.label)).toEqual(['0 ops/s', '200 ops/s', '400 ops/s', '600 ops/s', '800 ops/s', '1 K ops/s']);
    expect(valueAxis(36, 96, 's', 5).ticks.map((t) => t.label)).toEqual(['36 s', '48 s', '1 min', '1.2 min', '1.4 min', '1.6 min']);
  });

  test('a flat line at 0 gets an axis up to 1, one above 0 an axis from 0 with room above', () => {
    expect(valueAxis(0, 0, 'ops', 4).max).toBe(1);
    const five = valueAxis(5, 5, 'short', 4);
    expect(five.min).toBe(0);
    expect(five.max).toBeGreaterThan(5);
  });

  test('time ticks fall on round UTC minutes', () => {
    // 1_700_000_000 is 2023-11-14T22:13:20Z.
    expect(timeTicks(range.fromS, range.toS, 6).map((t) => t.label)).toEqual(['22:14', '22:16', '22:18', '22:20', '22:22']);
    expect(timeTicks(range.fromS, range.fromS + 60, 6).map((t) => t.label)).toEqual(['22:13:20', '22:13:30', '22:13:40', '22:13:50', '22:14:00', '22:14:10', '22:14:20']);
  });
});

describe('legends', () => {
  test('a legend template takes the series labels; a blank one falls back to the label set', () => {
    expect(legendName('{{node}} {{op}}', { node: 'kv-1', op: 'get' })).toBe('kv-1 get');
    expect(legendName('{{node}} free', { node: 'kv-2' })).toBe('kv-2 free');
    expect(legendName('{{outcome}}', {})).toBe('{}');
    expect(legendName('', { __name__: 'up', node: 'kv-3' })).toBe('up{node="kv-3"}');
  });

  test('series from a Prometheus matrix are named by the legend and ordered as a person counts (kv-2 before kv-10); NaN stays NaN', () => {
    const series = seriesFromMatrix(
      [
        { metric: { node: 'kv-10' }, values: [[1, '2']] },
        { metric: { node: 'kv-2' }, values: [[1, 'NaN']] },
      ],
      '{{node}}',
    );
    expect(series.map((s) => s.name)).toEqual(['kv-2', 'kv-10']);
    expect(series[0]!.points[0]![1]).toBeNaN();
    expect(series[1]!.points[0]).toEqual([1, 2]);
  });
});

describe('a timeseries panel', () => {
  test('draws a line per series with its legend name, escaped, and value labels in the unit', () => {
    const html = renderDashboardHtml(one('timeseries', 'bytes'), [{ series: [flat('kv-1', 2048), flat('<kv-2>', 4096)] }], range).html;
    const panel = panelOf(html);
    expect(panel.match(/<path d="M/g)).toHaveLength(2);
    expect(panel).toContain('>kv-1</text>');
    expect(panel).toContain('>&lt;kv-2&gt;</text>');
    expect(panel).not.toContain('<kv-2>');
    expect(panel).toMatch(/>4 KiB<\/text>/);
    expect(panel).not.toContain('No data');
  });

  test('says "No data" when there is no series, or only NaN', () => {
    for (const data of [{ series: [] }, { series: [flat('kv-1', NaN)] }, { series: [{ name: 'kv-1', points: [] }] }] as PanelData[]) {
      const panel = panelOf(renderDashboardHtml(one('timeseries'), [data], range).html);
      expect(panel).toContain('>No data</text>');
      expect(panel).not.toContain('<path');
    }
  });

  test('breaks a line where the series was absent or NaN, and shows a lone point as a dot', () => {
    const points = flat('kv-3', 1).points.filter(([t]) => t < range.fromS + 200 || t > range.fromS + 400);
    const withNaN = flat('kv-4', 1).points.map(([t, v]) => (t === range.fromS + 100 ? ([t, NaN] as const) : ([t, v] as const)));
    const lone: Series = { name: 'kv-5', points: [[range.fromS + 300, 1]] };
    const panel = panelOf(renderDashboardHtml(one('timeseries'), [{ series: [{ name: 'kv-3', points }, { name: 'kv-4', points: withNaN }, lone] }], range).html);
    expect(panel.match(/<path d="M/g)).toHaveLength(4);
    expect(panel.match(/<circle /g)).toHaveLength(1);
  });

  test('shows why a query failed', () => {
    const panel = panelOf(renderDashboardHtml(one('timeseries'), [{ series: [], error: 'parse error: unexpected <' }], range).html);
    expect(panel).toContain('Query failed: parse error: unexpected &lt;');
  });

  test('counts the legend entries that do not fit as "+N more"', () => {
    const many = Array.from({ length: 200 }, (_, i) => flat(`a-rather-long-series-name-${i}`, i));
    const panel = panelOf(renderDashboardHtml(one('timeseries'), [{ series: many }], range).html);
    expect(panel).toMatch(/>\+\d+ more<\/text>/);
  });
});

describe('a stat panel', () => {
  test('shows the last value that is a number, in the unit, green under 80 and red from it', () => {
    const points = [...flat('up', 3).points.slice(0, -2), [range.toS - 10, 5] as const, [range.toS, NaN] as const];
    const green = panelOf(renderDashboardHtml(one('stat'), [{ series: [{ name: 'up', points }] }], range).html);
    expect(green).toMatch(/class="stat" fill="#73BF69"[^>]*>5<\/text>/);
    const red = panelOf(renderDashboardHtml(one('stat', 'bytes'), [{ series: [flat('used', 2048)] }], range).html);
    expect(red).toMatch(/class="stat" fill="#F2495C"[^>]*>2 KiB<\/text>/);
  });

  test('says "No data" when its series is NaN', () => {
    expect(panelOf(renderDashboardHtml(one('stat'), [{ series: [flat('corrupt', NaN)] }], range).html)).toContain('>No data</text>');
  });
});

describe('the page', () => {
  test('every dashboard draws each of its panels, titled, two a row, and says how tall it is', () => {
    for (const d of DASHBOARDS) {
      const page = renderDashboardHtml(d, d.panels.map(() => ({ series: [flat('kv-1', 1)] })), range, { note: 'drawn in a test' });
      for (const p of d.panels) expect(page.html).toContain(`data-panel="${p.title}"`);
      expect(page.html.match(/<svg /g)).toHaveLength(d.panels.length);
      expect(page.html).toContain('drawn in a test');
      // A header, then rows of 8 grid units (8 * 30 px + 7 * 8 px) 8 px apart, then the padding.
      expect(page.heightPx).toBe(64 + Math.ceil(d.panels.length / 2) * (296 + 8) - 8 + 16);
      const lefts = [...page.html.matchAll(/class="panel-box" style="left:(\d+)px/g)].map((m) => Number(m[1]));
      expect(new Set(lefts).size).toBe(Math.min(2, d.panels.length));
    }
  });

  test('rejects results that do not match the panels, and an empty range', () => {
    expect(() => renderDashboardHtml(one('stat'), [], range)).toThrow(/1 panels but 0 results/);
    expect(() => renderDashboardHtml(one('stat'), [{ series: [] }], { ...range, toS: range.fromS })).toThrow(/is empty/);
  });
});

test('queries run at the step and $__rate_interval Grafana would use', () => {
  expect(queryIntervals(900, 2)).toEqual({ stepS: 2, rateInterval: '8s' });
  expect(queryIntervals(6 * 3600, 15)).toEqual({ stepS: 33, rateInterval: '60s' });
});

/**
 * A picture of a dashboard without Grafana: a pure function from a dashboard's spec
 * (observability/dashboards.ts) and what its panels' queries returned to one self-contained HTML
 * page, laid out on the same grid the dashboard JSON gives Grafana, in Grafana's dark theme: an
 * SVG line chart per timeseries panel (a time axis, a value axis in the panel's unit, a legend),
 * a big number per stat panel. The docs' pictures are screenshots of it (bin/render-dashboards.ts);
 * it is a likeness of Grafana drawn from the same queries, not Grafana.
 */
import { DashboardSpec, GRID_COLUMNS, PanelSpec, panelGridPos } from './dashboards';

/** One line of a panel: points in time order as Prometheus returns them (NaN where it answered NaN). */
export interface Series {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [timeS: number, value: number]>;
}

/** What one panel's queries returned, series of every query in order; or why they failed. */
export interface PanelData {
  readonly series: readonly Series[];
  readonly error?: string;
}

/** The time range the queries ran over, and their step (the spacing of the points). */
export interface TimeRange {
  readonly fromS: number;
  readonly toS: number;
  readonly stepS: number;
}

export interface RenderOptions {
  /** The page's width in CSS pixels. @default 1400 */
  readonly widthPx?: number;
  /** A line under the dashboard's title, e.g. where the data came from. @default - none */
  readonly note?: string;
}

export interface RenderedPage {
  readonly html: string;
  readonly widthPx: number;
  /** The height the page needs to show every panel (for the screenshot's window). */
  readonly heightPx: number;
}

const PAGE_WIDTH_PX_DEFAULT = 1400;
const PAGE_PADDING_PX = 16;
const HEADER_HEIGHT_PX = 64;
// Grafana's grid: a row unit is 30 px high; 8 px between panels either way.
const GRID_ROW_PX = 30;
const GRID_GAP_PX = 8;
const PANEL_PADDING_PX = 8;
const PANEL_TITLE_HEIGHT_PX = 32;
const AXIS_FONT_PX = 12;
const X_AXIS_HEIGHT_PX = 18;
const Y_TICK_SPACING_PX_MIN = 30;
const X_TICK_SPACING_PX_MIN = 90;
const LEGEND_ROW_PX = 20;
const LEGEND_ROWS_MAX = 4;
const LEGEND_SWATCH_PX = 14;
/** A point further than this many steps from the one before starts a new line (the series was absent). */
const GAP_STEPS = 1.5;
/** Grafana's default thresholds for a stat: green, red from 80. */
const STAT_RED_FROM = 80;

// Grafana's dark theme, and its classic palette for series.
const THEME = {
  canvas: '#111217',
  panel: '#181b1f',
  border: 'rgba(204, 204, 220, 0.12)',
  text: '#ccccdc',
  textWeak: 'rgba(204, 204, 220, 0.65)',
  grid: 'rgba(204, 204, 220, 0.10)',
  green: '#73BF69',
  red: '#F2495C',
} as const;
const PALETTE = ['#73BF69', '#F2CC0C', '#8AB8FF', '#FF780A', '#F2495C', '#5794F2', '#B877D9', '#705DA0', '#37872D', '#FADE2A', '#447EBC', '#C15C17', '#890F02', '#0A437C', '#6D1F62', '#584477'];
const FONT = "Inter, 'Helvetica Neue', 'Liberation Sans', Arial, sans-serif";

// ---------------------------------------------------------------------------------------------
// Units

interface Scale {
  /** A value is shown as value / factor, followed by the suffix. */
  readonly factor: number;
  readonly suffix: string;
}

/** The Grafana units the dashboards use, each a ladder of scales, smallest first. */
const UNIT_SCALES: Readonly<Record<string, readonly Scale[]>> = {
  none: [{ factor: 1, suffix: '' }],
  short: [
    { factor: 1, suffix: '' },
    { factor: 1e3, suffix: ' K' },
    { factor: 1e6, suffix: ' Mil' },
    { factor: 1e9, suffix: ' Bil' },
    { factor: 1e12, suffix: ' Tri' },
  ],
  ops: [
    { factor: 1, suffix: ' ops/s' },
    { factor: 1e3, suffix: ' K ops/s' },
    { factor: 1e6, suffix: ' Mil ops/s' },
    { factor: 1e9, suffix: ' Bil ops/s' },
  ],
  bytes: [
    { factor: 1, suffix: ' B' },
    { factor: 1024, suffix: ' KiB' },
    { factor: 1024 ** 2, suffix: ' MiB' },
    { factor: 1024 ** 3, suffix: ' GiB' },
    { factor: 1024 ** 4, suffix: ' TiB' },
    { factor: 1024 ** 5, suffix: ' PiB' },
  ],
  s: [
    { factor: 1e-9, suffix: ' ns' },
    { factor: 1e-6, suffix: ' µs' },
    { factor: 1e-3, suffix: ' ms' },
    { factor: 1, suffix: ' s' },
    { factor: 60, suffix: ' min' },
    { factor: 3600, suffix: ' hour' },
    { factor: 86400, suffix: ' day' },
  ],
  percent: [{ factor: 1, suffix: '%' }],
  percentunit: [{ factor: 0.01, suffix: '%' }],
};

/** The units this renderer formats (a dashboard with another one is refused, not drawn wrong). */
export const UNITS: readonly string[] = Object.keys(UNIT_SCALES);

/** The largest scale of the unit that the magnitude reaches (0 is shown in the unit itself: 0 s, 0 B). */
function scaleFor(unit: string, magnitude: number): Scale {
  const scales = UNIT_SCALES[unit];
  if (scales === undefined) throw new Error(`dashboard render: unit ${JSON.stringify(unit)} is not one this renderer formats (${UNITS.join(', ')}); add it to UNIT_SCALES`);
  if (magnitude === 0) return scales.find((s) => s.factor === 1) ?? scales[0]!;
  let chosen = scales[0]!;
  for (const s of scales) if (s.factor <= magnitude) chosen = s;
  return chosen;
}

/** About three significant digits, trailing zeros dropped: 1.23, 12.3, 123; 0.0034. */
function shortNumber(x: number): string {
  const a = Math.abs(x);
  const decimals = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 || a === 0 ? 2 : Math.min(6, 1 - Math.floor(Math.log10(a)));
  const text = x.toFixed(decimals);
  const trimmed = text.includes('.') ? text.replace(/\.?0+$/, '') : text;
  return trimmed === '-0' ? '0' : trimmed;
}

/** A value in a Grafana unit as Grafana writes it: `1.5 KiB`, `250 ms`, `1.2 K ops/s`, `42%`, `3 Mil`. */
export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) throw new Error(`dashboard render: cannot format ${value} (a missing value is drawn as a gap or "No data")`);
  const scale = scaleFor(unit, Math.abs(value));
  return `${shortNumber(value / scale.factor)}${scale.suffix}`;
}

// ---------------------------------------------------------------------------------------------
// Axes

export interface Tick {
  readonly value: number;
  readonly label: string;
}

export interface ValueAxis {
  readonly min: number;
  readonly max: number;
  readonly ticks: readonly Tick[];
}

/** 1, 2, 2.5 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const n = raw / magnitude;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * magnitude;
}

/** The decimals a multiple of `step` needs. */
function decimalsOf(step: number): number {
  for (let d = 0; d < 12; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-6) return d;
  return 12;
}

/** A tick in its own scale, as Grafana labels them (0 s, 250 µs, 500 µs, 750 µs, 1 ms), with the decimals the step needs. */
function tickLabel(value: number, step: number, unit: string): string {
  if (value === 0) return formatValue(0, unit);
  const scale = scaleFor(unit, Math.abs(value));
  const text = (value / scale.factor).toFixed(Math.min(6, decimalsOf(step / scale.factor)));
  return `${text.includes('.') ? text.replace(/\.?0+$/, '') : text}${scale.suffix}`;
}

/**
 * A value axis over [dataMin, dataMax]: ticks a round step apart in the unit's scale at the top of
 * the axis (2 MiB apart, not 2,000,000 B), `ticksMax` intervals or about that. The range starts at
 * 0 when the data is near it; a flat line gets room above it.
 */
export function valueAxis(dataMin: number, dataMax: number, unit: string, ticksMax: number): ValueAxis {
  if (!(Number.isFinite(dataMin) && Number.isFinite(dataMax) && dataMin <= dataMax)) throw new Error(`dashboard render: value range [${dataMin}, ${dataMax}] is not a finite range`);
  let lo = dataMin;
  let hi = dataMax;
  if (lo === hi) {
    if (lo === 0) hi = 1;
    else if (lo > 0) [lo, hi] = [0, hi * 1.2];
    else [lo, hi] = [lo * 1.2, 0];
  }
  if (lo > 0 && lo <= hi * 0.25) lo = 0;
  if (hi < 0 && hi >= lo * 0.25) hi = 0;
  // The step is round in the scale of the axis' round top (or bottom): MiB, not bytes.
  const rawStep = niceStep((hi - lo) / Math.max(1, ticksMax));
  const scale = scaleFor(unit, Math.max(Math.abs(Math.floor(lo / rawStep) * rawStep), Math.abs(Math.ceil(hi / rawStep) * rawStep)));
  const step = niceStep((hi - lo) / scale.factor / Math.max(1, ticksMax));
  // (The epsilon keeps 0.6 / 0.2 = 2.9999999999999996 from adding a tick below the data.)
  const first = Math.floor(lo / scale.factor / step + 1e-9);
  const last = Math.ceil(hi / scale.factor / step - 1e-9);
  const ticks: Tick[] = [];
  for (let i = first; i <= last; i++) {
    const value = Number((i * step).toFixed(decimalsOf(step))) * scale.factor;
    ticks.push({ value, label: tickLabel(value, step * scale.factor, unit) });
  }
  return { min: ticks[0]!.value, max: ticks[ticks.length - 1]!.value, ticks };
}

const TIME_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** Time ticks at round UTC times (every 1, 2, 5 ... minutes), `ticksMax` intervals or fewer; HH:MM, or HH:MM:SS under a minute apart. */
export function timeTicks(fromS: number, toS: number, ticksMax: number): Tick[] {
  const span = toS - fromS;
  const step = TIME_STEPS_S.find((s) => span / s <= Math.max(1, ticksMax)) ?? TIME_STEPS_S[TIME_STEPS_S.length - 1]!;
  const ticks: Tick[] = [];
  for (let t = Math.ceil(fromS / step) * step; t <= toS; t += step) {
    const iso = new Date(t * 1000).toISOString();
    ticks.push({ value: t, label: step >= 86400 ? iso.slice(5, 10) : step >= 60 ? iso.slice(11, 16) : iso.slice(11, 19) });
  }
  return ticks;
}

// ---------------------------------------------------------------------------------------------
// Series from Prometheus

/** A series' name from a Grafana legend template: `{{node}} {{op}}` with the series' labels; blank is its label set. */
export function legendName(template: string, labels: Readonly<Record<string, string>>): string {
  const name = template.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, label: string) => labels[label] ?? '').trim();
  if (name !== '') return name;
  const { __name__: metric = '', ...rest } = labels;
  return `${metric}{${Object.keys(rest)
    .sort()
    .map((k) => `${k}="${rest[k]}"`)
    .join(', ')}}`;
}

/** A Prometheus range query's result (`resultType: matrix`) as named series, ordered by name (kv-2 before kv-10). */
export function seriesFromMatrix(result: ReadonlyArray<{ readonly metric: Readonly<Record<string, string>>; readonly values: ReadonlyArray<readonly [number, string]> }>, legend: string): Series[] {
  return result
    .map((r) => ({ name: legendName(legend, r.metric), points: r.values.map(([t, v]) => [t, Number(v)] as const) }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

// ---------------------------------------------------------------------------------------------
// Drawing

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A rough width of text in the sans-serif fonts used (no font metrics in a pure function). */
function textWidthPx(text: string, fontPx: number): number {
  return text.length * fontPx * 0.56;
}

function truncated(text: string, widthPx: number, fontPx: number): string {
  if (textWidthPx(text, fontPx) <= widthPx) return text;
  const chars = Math.max(1, Math.floor(widthPx / (fontPx * 0.56)) - 1);
  return `${text.slice(0, chars)}…`;
}

const px = (n: number) => Math.round(n * 10) / 10;

/** The finite points of a series split where it was absent (a gap of more than GAP_STEPS steps) or not a number. */
function segments(points: Series['points'], stepS: number): Array<Array<readonly [number, number]>> {
  const out: Array<Array<readonly [number, number]>> = [];
  let current: Array<readonly [number, number]> = [];
  let lastT = -Infinity;
  for (const [t, v] of points) {
    if (!Number.isFinite(v) || t - lastT > GAP_STEPS * stepS) {
      if (current.length > 0) out.push(current);
      current = [];
    }
    if (Number.isFinite(v)) current.push([t, v]);
    lastT = t;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function hasData(s: Series): boolean {
  return s.points.some(([, v]) => Number.isFinite(v));
}

function centredText(w: number, top: number, bottom: number, text: string, cls: string): string {
  return `<text x="${px(w / 2)}" y="${px((top + bottom) / 2)}" class="${cls}" text-anchor="middle" dominant-baseline="middle">${esc(text)}</text>`;
}

interface LegendItem {
  readonly name: string;
  readonly color: string;
}

/** Legend items flowed into rows across the panel, at most LEGEND_ROWS_MAX rows (the rest counted as "+N more"). */
function legendRows(items: readonly LegendItem[], widthPx: number): LegendItem[][] {
  const rows: LegendItem[][] = [[]];
  let x = 0;
  const itemWidth = (i: LegendItem) => LEGEND_SWATCH_PX + 6 + textWidthPx(i.name, AXIS_FONT_PX) + 16;
  for (let k = 0; k < items.length; k++) {
    const item = items[k]!;
    const w = itemWidth(item);
    if (x > 0 && x + w > widthPx) {
      if (rows.length === LEGEND_ROWS_MAX) {
        rows[rows.length - 1]!.push({ name: `+${items.length - k} more`, color: '' });
        return rows;
      }
      rows.push([]);
      x = 0;
    }
    rows[rows.length - 1]!.push(item);
    x += w;
  }
  return rows;
}

function timeseriesBody(panel: PanelSpec, series: readonly Series[], range: TimeRange, w: number, h: number, id: string): string {
  const items = series.map((s, i) => ({ name: s.name, color: PALETTE[i % PALETTE.length]! }));
  const rows = legendRows(items, w - 2 * PANEL_PADDING_PX);
  const legendTop = h - PANEL_PADDING_PX - rows.length * LEGEND_ROW_PX;
  const top = PANEL_TITLE_HEIGHT_PX + 6;
  const bottom = legendTop - X_AXIS_HEIGHT_PX - 4;
  let min = Infinity;
  let max = -Infinity;
  for (const s of series) for (const [, v] of s.points) if (Number.isFinite(v)) [min, max] = [Math.min(min, v), Math.max(max, v)];
  const axis = valueAxis(min, max, panel.unit, Math.floor((bottom - top) / Y_TICK_SPACING_PX_MIN));
  const labelWidth = Math.max(...axis.ticks.map((t) => textWidthPx(t.label, AXIS_FONT_PX)));
  const left = PANEL_PADDING_PX + labelWidth + 8;
  const right = w - PANEL_PADDING_PX - 4;
  const x = (t: number) => px(left + ((t - range.fromS) / (range.toS - range.fromS)) * (right - left));
  const y = (v: number) => px(bottom - ((v - axis.min) / (axis.max - axis.min)) * (bottom - top));
  const out: string[] = [];
  out.push(`<clipPath id="${id}-plot"><rect x="${px(left)}" y="${px(top - 1)}" width="${px(right - left)}" height="${px(bottom - top + 2)}"/></clipPath>`);
  for (const t of axis.ticks) {
    out.push(`<line x1="${px(left)}" x2="${px(right)}" y1="${y(t.value)}" y2="${y(t.value)}" class="grid"/>`);
    out.push(`<text x="${px(left - 8)}" y="${y(t.value)}" class="axis" text-anchor="end" dominant-baseline="middle">${esc(t.label)}</text>`);
  }
  for (const t of timeTicks(range.fromS, range.toS, Math.floor((right - left) / X_TICK_SPACING_PX_MIN))) {
    out.push(`<line x1="${x(t.value)}" x2="${x(t.value)}" y1="${px(top)}" y2="${px(bottom)}" class="grid"/>`);
    out.push(`<text x="${x(t.value)}" y="${px(bottom + 15)}" class="axis" text-anchor="middle">${esc(t.label)}</text>`);
  }
  out.push(`<g clip-path="url(#${id}-plot)">`);
  series.forEach((s, i) => {
    const color = items[i]!.color;
    for (const seg of segments(s.points, range.stepS)) {
      if (seg.length === 1) out.push(`<circle cx="${x(seg[0]![0])}" cy="${y(seg[0]![1])}" r="1.5" fill="${color}"/>`);
      else out.push(`<path d="M${seg.map(([t, v]) => `${x(t)},${y(v)}`).join('L')}" class="line" stroke="${color}"/>`);
    }
  });
  out.push('</g>');
  rows.forEach((row, r) => {
    let lx = PANEL_PADDING_PX;
    const ly = legendTop + r * LEGEND_ROW_PX + LEGEND_ROW_PX / 2;
    for (const item of row) {
      if (item.color !== '') {
        out.push(`<rect x="${px(lx)}" y="${px(ly - 2)}" width="${LEGEND_SWATCH_PX}" height="4" rx="2" fill="${item.color}"/>`);
        lx += LEGEND_SWATCH_PX + 6;
      }
      out.push(`<text x="${px(lx)}" y="${px(ly)}" class="legend" dominant-baseline="middle">${esc(item.name)}</text>`);
      lx += textWidthPx(item.name, AXIS_FONT_PX) + 16;
    }
  });
  return out.join('');
}

/** The last value that is a number (Grafana's default reduction for a stat, "last *"). */
function lastValue(s: Series): number {
  for (let i = s.points.length - 1; i >= 0; i--) if (Number.isFinite(s.points[i]![1])) return s.points[i]![1];
  throw new Error('dashboard render: a series without data reached the stat');
}

function statBody(panel: PanelSpec, series: readonly Series[], range: TimeRange, w: number, h: number, id: string): string {
  const out: string[] = [];
  const top = PANEL_TITLE_HEIGHT_PX;
  const bottom = h - PANEL_PADDING_PX;
  const cellWidth = (w - 2 * PANEL_PADDING_PX) / series.length;
  series.forEach((s, i) => {
    const value = lastValue(s);
    const color = value >= STAT_RED_FROM ? THEME.red : THEME.green;
    const left = PANEL_PADDING_PX + i * cellWidth;
    const right = left + cellWidth;
    // The sparkline under the number (Grafana's graph mode "area"), over the lower half of the cell.
    let min = Infinity;
    let max = -Infinity;
    for (const [, v] of s.points) if (Number.isFinite(v)) [min, max] = [Math.min(min, v), Math.max(max, v)];
    const sparkTop = (top + bottom) / 2 + 20;
    const x = (t: number) => px(left + ((t - range.fromS) / (range.toS - range.fromS)) * (right - left));
    const y = (v: number) => px(max === min ? bottom - (bottom - sparkTop) / 3 : bottom - ((v - min) / (max - min)) * (bottom - sparkTop));
    out.push(`<clipPath id="${id}-s${i}"><rect x="${px(left)}" y="${px(top)}" width="${px(cellWidth)}" height="${px(bottom - top)}"/></clipPath><g clip-path="url(#${id}-s${i})">`);
    for (const seg of segments(s.points, range.stepS)) {
      if (seg.length < 2) continue;
      const line = seg.map(([t, v]) => `${x(t)},${y(v)}`).join('L');
      out.push(`<path d="M${x(seg[0]![0])},${px(bottom)}L${line}L${x(seg[seg.length - 1]![0])},${px(bottom)}Z" fill="${color}" fill-opacity="0.12"/>`);
      out.push(`<path d="M${line}" class="line" stroke="${color}" stroke-opacity="0.6"/>`);
    }
    out.push('</g>');
    const text = formatValue(value, panel.unit);
    const fontPx = Math.min((bottom - top) * 0.4, (cellWidth * 0.8) / (text.length * 0.6), 96);
    const middle = series.length > 1 ? (top + bottom) / 2 : (top + sparkTop) / 2 + 10;
    if (series.length > 1) out.push(`<text x="${px(left + cellWidth / 2)}" y="${px(middle - fontPx * 0.6 - 8)}" class="legend" text-anchor="middle">${esc(truncated(s.name, cellWidth - 8, AXIS_FONT_PX))}</text>`);
    out.push(`<text x="${px(left + cellWidth / 2)}" y="${px(middle)}" class="stat" fill="${color}" font-size="${px(fontPx)}" text-anchor="middle" dominant-baseline="middle">${esc(text)}</text>`);
  });
  return out.join('');
}

function panelSvg(panel: PanelSpec, data: PanelData, range: TimeRange, w: number, h: number, id: string): string {
  const head = `<rect x="0.5" y="0.5" width="${w - 1}" height="${h - 1}" rx="2" class="panel"/><text x="${PANEL_PADDING_PX}" y="21" class="title">${esc(truncated(panel.title, w - 2 * PANEL_PADDING_PX, 14))}</text>`;
  let body: string;
  const series = data.series.filter(hasData);
  if (data.error !== undefined) body = centredText(w, PANEL_TITLE_HEIGHT_PX, h, truncated(`Query failed: ${data.error}`, w - 32, 14), 'error');
  else if (series.length === 0) body = centredText(w, PANEL_TITLE_HEIGHT_PX, h, 'No data', 'nodata');
  else if (panel.kind === 'stat') body = statBody(panel, series, range, w, h, id);
  else body = timeseriesBody(panel, series, range, w, h, id);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="panel-svg" data-panel="${esc(panel.title)}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${head}${body}</svg>`;
}

function utc(timeS: number): string {
  return new Date(timeS * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * The dashboard as one HTML page: a header (title, the time range in UTC, the note), then every
 * panel where its grid position puts it. `data` holds one entry per panel, in the spec's order.
 */
export function renderDashboardHtml(spec: DashboardSpec, data: readonly PanelData[], range: TimeRange, options: RenderOptions = {}): RenderedPage {
  if (data.length !== spec.panels.length) throw new Error(`dashboard render: ${spec.uid} has ${spec.panels.length} panels but ${data.length} results were given`);
  if (!(range.toS > range.fromS && range.stepS > 0)) throw new Error(`dashboard render: time range ${JSON.stringify(range)} is empty or has no step`);
  const widthPx = options.widthPx ?? PAGE_WIDTH_PX_DEFAULT;
  const columnPx = (widthPx - 2 * PAGE_PADDING_PX - (GRID_COLUMNS - 1) * GRID_GAP_PX) / GRID_COLUMNS;
  let heightPx = HEADER_HEIGHT_PX;
  const panels = spec.panels.map((panel, i) => {
    const g = panelGridPos(i);
    const left = Math.round(PAGE_PADDING_PX + g.x * (columnPx + GRID_GAP_PX));
    const top = HEADER_HEIGHT_PX + g.y * (GRID_ROW_PX + GRID_GAP_PX);
    const w = Math.round(g.w * columnPx + (g.w - 1) * GRID_GAP_PX);
    const h = g.h * GRID_ROW_PX + (g.h - 1) * GRID_GAP_PX;
    heightPx = Math.max(heightPx, top + h + PAGE_PADDING_PX);
    return `<div class="panel-box" style="left:${left}px;top:${top}px">${panelSvg(panel, data[i]!, range, w, h, `p${i}`)}</div>`;
  });
  const [section, ...rest] = spec.title.split(' / ');
  const title = rest.length > 0 ? `<span class="weak">Dashboards › ${esc(section!)} › </span>${esc(rest.join(' / '))}` : `<span class="weak">Dashboards › </span>${esc(spec.title)}`;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(spec.title)}</title>
<style>
html, body { margin: 0; background: ${THEME.canvas}; }
body { position: relative; width: ${widthPx}px; height: ${heightPx}px; overflow: hidden; color: ${THEME.text}; font-family: ${FONT}; }
.header { position: absolute; left: ${PAGE_PADDING_PX}px; right: ${PAGE_PADDING_PX}px; top: 0; height: ${HEADER_HEIGHT_PX - GRID_GAP_PX}px; display: flex; align-items: center; justify-content: space-between; }
.crumbs { font-size: 16px; }
.weak { color: ${THEME.textWeak}; }
.note { font-size: 12px; color: ${THEME.textWeak}; margin-top: 4px; }
.range { font-size: 12px; padding: 6px 10px; border: 1px solid ${THEME.border}; border-radius: 2px; background: ${THEME.panel}; white-space: nowrap; }
.panel-box { position: absolute; }
.panel-svg { display: block; }
.panel-svg text { font-family: ${FONT}; }
.panel { fill: ${THEME.panel}; stroke: ${THEME.border}; }
.title { font-size: 14px; font-weight: 500; fill: ${THEME.text}; }
.axis { font-size: ${AXIS_FONT_PX}px; fill: ${THEME.textWeak}; }
.legend { font-size: ${AXIS_FONT_PX}px; fill: ${THEME.text}; }
.grid { stroke: ${THEME.grid}; stroke-width: 1; }
.line { fill: none; stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; }
.nodata { font-size: 16px; fill: ${THEME.textWeak}; }
.error { font-size: 14px; fill: ${THEME.red}; }
.stat { font-weight: 500; }
</style>
</head>
<body>
<div class="header"><div><div class="crumbs">${title}</div>${options.note !== undefined ? `<div class="note">${esc(options.note)}</div>` : ''}</div><div class="range">${utc(range.fromS)} to ${utc(range.toS)} UTC</div></div>
${panels.join('\n')}
</body>
</html>
`;
  return { html, widthPx, heightPx };
}

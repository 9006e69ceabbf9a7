/**
 * Pictures of the dashboards without Grafana (`npm run dashboards:render`): runs every panel's
 * queries against a Prometheus over a time range (query_range, `$__rate_interval` set as Grafana
 * sets it), draws each dashboard with observability/dashboard-render.ts into `<html>/<uid>.html`,
 * and screenshots that page with headless Chromium into `<img>/<uid>.png`. A missing Chromium or an
 * unreachable Prometheus is an error that says what to do.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DASHBOARDS, DashboardSpec, withRateInterval } from './dashboards';
import { PanelData, renderDashboardHtml, seriesFromMatrix, Series, TimeRange } from './dashboard-render';

const QUERY_TIMEOUT_MS = 10_000;
const SCREENSHOT_TIMEOUT_MS = 60_000;
/** Grafana asks for about one point per pixel of a panel's width; the panels are about this wide. */
export const MAX_DATA_POINTS = 660;

export interface PictureOptions {
  /** e.g. http://127.0.0.1:9090 */
  readonly prometheusUrl: string;
  readonly fromS: number;
  readonly toS: number;
  /** Seconds between points. @default - as Grafana: the scrape interval, or more so that a panel gets at most MAX_DATA_POINTS */
  readonly stepS?: number;
  /** `$__rate_interval`. @default - as Grafana: the larger of four scrape intervals and step plus one scrape interval */
  readonly rateInterval?: string;
  /** The Prometheus' scrape interval, which Grafana's intervals start from. */
  readonly scrapeIntervalS: number;
  /** Where the HTML pages go. */
  readonly htmlDir: string;
  /** Where the screenshots go; no screenshots when undefined. */
  readonly imgDir?: string;
  /** The Chromium binary. @default - `chromium` on PATH */
  readonly chromium?: string;
  /** The pages' width in pixels. @default 1400 */
  readonly widthPx?: number;
  /** The dashboards to draw, by uid. @default - all of them */
  readonly uids?: readonly string[];
}

export interface Picture {
  readonly uid: string;
  readonly html: string;
  readonly png?: string;
  readonly pngBytes?: number;
  /** Panels whose queries found nothing in the range (drawn as "No data"), or failed. */
  readonly empty: readonly string[];
}

/** The step and `$__rate_interval` Grafana would use for a range (its interval rules, without its rounding). */
export function queryIntervals(rangeS: number, scrapeIntervalS: number, maxDataPoints = MAX_DATA_POINTS): { stepS: number; rateInterval: string } {
  const stepS = Math.max(scrapeIntervalS, Math.ceil(rangeS / maxDataPoints));
  return { stepS, rateInterval: `${Math.max(4 * scrapeIntervalS, stepS + scrapeIntervalS)}s` };
}

interface Matrix {
  readonly status: string;
  readonly error?: string;
  readonly data?: { readonly resultType: string; readonly result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
}

async function queryRange(prometheusUrl: string, expr: string, range: TimeRange): Promise<{ ok: true; value: Matrix['data'] & object } | { ok: false; error: string }> {
  const params = new URLSearchParams({ query: expr, start: String(range.fromS), end: String(range.toS), step: String(range.stepS) });
  let body: Matrix;
  try {
    const res = await fetch(`${prometheusUrl}/api/v1/query_range?${params}`, { signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
    body = (await res.json()) as Matrix;
  } catch (e) {
    return { ok: false, error: `${prometheusUrl}: ${(e as Error).message}` };
  }
  if (body.status !== 'success' || body.data === undefined) return { ok: false, error: body.error ?? `status ${body.status}` };
  if (body.data.resultType !== 'matrix') return { ok: false, error: `result type ${body.data.resultType}, not a matrix` };
  return { ok: true, value: body.data };
}

async function panelsData(prometheusUrl: string, spec: DashboardSpec, range: TimeRange, rateInterval: string): Promise<PanelData[]> {
  return Promise.all(
    spec.panels.map(async (panel) => {
      const series: Series[] = [];
      for (const q of panel.queries) {
        const answer = await queryRange(prometheusUrl, withRateInterval(q.expr, rateInterval), range);
        if (!answer.ok) return { series, error: answer.error };
        series.push(...seriesFromMatrix(answer.value.result, q.legend));
      }
      return { series };
    }),
  );
}

function findChromium(name: string): string {
  if (name.includes('/')) {
    if (fs.existsSync(name)) return name;
  } else if (spawnSync('sh', ['-c', `command -v ${name}`]).status === 0) return name;
  throw new Error(`dashboard pictures: ${name} is not installed: apt-get install -y chromium (Debian), or pass --chromium <path>, or --no-png for the HTML pages only`);
}

async function checkPrometheus(url: string): Promise<void> {
  const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) }).then(
    (r) => (r.ok ? undefined : `HTTP ${r.status}`),
    (e: Error) => e.message,
  );
  if (ready !== undefined) throw new Error(`dashboard pictures: no Prometheus is ready at ${url} (${ready}): start one (kv cluster --monitor, whose Prometheus keeps its data in <data>/monitor) or pass --prometheus <url>`);
}

function screenshot(chromium: string, htmlFile: string, pngFile: string, widthPx: number, heightPx: number): Promise<void> {
  // A profile of its own, so a Chromium already running (or a previous screenshot) does not hold the lock.
  const profile = fs.mkdtempSync(path.join(path.dirname(htmlFile), '.chromium-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1', '--no-first-run', `--user-data-dir=${profile}`, `--screenshot=${pngFile}`, `--window-size=${widthPx},${heightPx}`, pathToFileURL(htmlFile).href];
  return new Promise<void>((resolve, reject) => {
    execFile(chromium, args, { timeout: SCREENSHOT_TIMEOUT_MS }, (error, _stdout, stderr) => {
      fs.rmSync(profile, { recursive: true, force: true });
      if (error || !fs.existsSync(pngFile)) reject(new Error(`dashboard pictures: ${chromium} did not write ${pngFile}: ${error?.message ?? ''}\n${stderr.slice(-2000)}`));
      else resolve();
    });
  });
}

/** Draws each dashboard from Prometheus over the range, then screenshots it; returns what it wrote. */
export async function renderDashboardPictures(o: PictureOptions): Promise<Picture[]> {
  if (!(o.toS > o.fromS)) throw new Error(`dashboard pictures: the range ends (${o.toS}) before it starts (${o.fromS})`);
  const dashboards = o.uids === undefined ? DASHBOARDS : o.uids.map((uid) => DASHBOARDS.find((d) => d.uid === uid) ?? fail(`dashboard pictures: no dashboard ${JSON.stringify(uid)}; there are ${DASHBOARDS.map((d) => d.uid).join(', ')}`));
  const chromium = o.imgDir === undefined ? undefined : findChromium(o.chromium ?? 'chromium');
  await checkPrometheus(o.prometheusUrl);
  const grafana = queryIntervals(o.toS - o.fromS, o.scrapeIntervalS);
  const range: TimeRange = { fromS: o.fromS, toS: o.toS, stepS: o.stepS ?? grafana.stepS };
  const rateInterval = o.rateInterval ?? grafana.rateInterval;
  fs.mkdirSync(o.htmlDir, { recursive: true });
  if (o.imgDir !== undefined) fs.mkdirSync(o.imgDir, { recursive: true });
  const pictures: Picture[] = [];
  for (const spec of dashboards) {
    const data = await panelsData(o.prometheusUrl, spec, range, rateInterval);
    const note = `Drawn by observability/dashboard-render.ts (not Grafana) from Prometheus query_range: step ${range.stepS}s, $__rate_interval ${rateInterval}`;
    const page = renderDashboardHtml(spec, data, range, { widthPx: o.widthPx, note });
    const html = path.join(o.htmlDir, `${spec.uid}.html`);
    fs.writeFileSync(html, page.html);
    const empty = spec.panels.filter((_, i) => data[i]!.error !== undefined || !data[i]!.series.some((s) => s.points.some(([, v]) => Number.isFinite(v)))).map((p) => p.title);
    if (chromium === undefined || o.imgDir === undefined) {
      pictures.push({ uid: spec.uid, html, empty });
      continue;
    }
    const png = path.join(o.imgDir, `${spec.uid}.png`);
    await screenshot(chromium, path.resolve(html), png, page.widthPx, page.heightPx);
    pictures.push({ uid: spec.uid, html, png, pngBytes: fs.statSync(png).size, empty });
  }
  return pictures;
}

function fail(message: string): never {
  throw new Error(message);
}

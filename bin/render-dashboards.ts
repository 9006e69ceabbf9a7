#!/usr/bin/env node
/**
 * Pictures of the Grafana dashboards drawn without Grafana, from a Prometheus' data:
 * `npm run dashboards:render -- --prometheus http://127.0.0.1:9090 --last 15m`.
 * See observability/dashboard-pictures.ts and docs/dashboards.md.
 */
import { parseArgs } from 'node:util';
import { SCRAPE_INTERVAL_S } from '../app/local/monitor';
import { renderDashboardPictures } from '../observability/dashboard-pictures';

const USAGE = `render-dashboards [options]
  Runs every dashboard panel's queries (observability/dashboards.ts) against a Prometheus over a
  time range, draws each dashboard as <html-dir>/<uid>.html and screenshots it with headless
  Chromium into <img-dir>/<uid>.png.
  --prometheus URL          the Prometheus                        (default http://127.0.0.1:9090)
  --last D                  the range ends now and lasts D, e.g. 15m, 1h    (default 15m)
  --from T --to T           the range instead: Unix seconds or an ISO 8601 time
  --scrape-interval-s S     the Prometheus' scrape interval       (default ${SCRAPE_INTERVAL_S}, kv cluster --monitor's)
  --step-s S                seconds between points                (default: as Grafana, from the range)
  --rate-interval D         $__rate_interval, e.g. 30s            (default: as Grafana, 4 scrape intervals or more)
  --dashboard UID           only this dashboard; repeatable       (default: all)
  --html-dir DIR                                                  (default dist/dashboards)
  --img-dir DIR                                                   (default docs/img/dashboards)
  --no-png                  the HTML pages only, no Chromium
  --chromium PATH           the Chromium binary                   (default chromium on PATH)
  --width PX                the pages' width                      (default 1400)`;

function seconds(text: string, flag: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`render-dashboards: ${flag} ${JSON.stringify(text)} is not a duration such as 90s, 15m or 1h`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function time(text: string, flag: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Error(`render-dashboards: ${flag} ${JSON.stringify(text)} is neither Unix seconds nor an ISO 8601 time such as 2025-01-31T10:00:00Z`);
  return ms / 1000;
}

function positive(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`render-dashboards: ${flag} ${JSON.stringify(text)} is not a positive number`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  const { values: flags } = parseArgs({
    args: argv,
    options: {
      prometheus: { type: 'string', default: 'http://127.0.0.1:9090' },
      last: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'scrape-interval-s': { type: 'string' },
      'step-s': { type: 'string' },
      'rate-interval': { type: 'string' },
      dashboard: { type: 'string', multiple: true },
      'html-dir': { type: 'string', default: 'dist/dashboards' },
      'img-dir': { type: 'string', default: 'docs/img/dashboards' },
      'no-png': { type: 'boolean', default: false },
      chromium: { type: 'string' },
      width: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (flags.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if ((flags.from === undefined) !== (flags.to === undefined)) throw new Error('render-dashboards: --from and --to go together');
  if (flags.from !== undefined && flags.last !== undefined) throw new Error('render-dashboards: give --last or --from/--to, not both');
  if (flags['rate-interval'] !== undefined) seconds(flags['rate-interval'], '--rate-interval');
  const toS = flags.to !== undefined ? time(flags.to, '--to') : Math.floor(Date.now() / 1000);
  const fromS = flags.from !== undefined ? time(flags.from, '--from') : toS - seconds(flags.last ?? '15m', '--last');
  const pictures = await renderDashboardPictures({
    prometheusUrl: flags.prometheus.replace(/\/+$/, ''),
    fromS,
    toS,
    scrapeIntervalS: positive(flags['scrape-interval-s'], '--scrape-interval-s') ?? SCRAPE_INTERVAL_S,
    stepS: positive(flags['step-s'], '--step-s'),
    rateInterval: flags['rate-interval'],
    uids: flags.dashboard,
    htmlDir: flags['html-dir'],
    imgDir: flags['no-png'] ? undefined : flags['img-dir'],
    chromium: flags.chromium,
    widthPx: positive(flags.width, '--width'),
  });
  for (const p of pictures) {
    const where = p.png !== undefined ? `${p.png} (${Math.round((p.pngBytes ?? 0) / 1024)} KiB)` : p.html;
    process.stdout.write(`${p.uid}: ${where}${p.empty.length > 0 ? `; no data: ${p.empty.join('; ')}` : ''}\n`);
  }
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});

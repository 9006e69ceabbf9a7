/**
 * Charts as SVG strings, drawn by Apache ECharts' server-side renderer (no browser, no DOM), for
 * the HTML reports of `kv chaos` (chaos/report.ts) and `kv bench compare` (./bench-report.ts).
 *
 * The one file that imports echarts, a development dependency: the reports are made from a
 * checkout, not from the node image, so the image does not carry it. It is loaded on first use,
 * so that only drawing needs it.
 */
import type { EChartsOption } from 'echarts';

export type ChartOption = EChartsOption;

/** One chart, widthPx by heightPx, on a white background, without animation. */
export function svgChart(option: ChartOption, widthPx: number, heightPx: number): string {
  let echarts: typeof import('echarts');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    echarts = require('echarts') as typeof import('echarts');
  } catch (e) {
    throw new Error(`drawing a chart needs the development dependency echarts, which is not installed (${(e as Error).message.split('\n')[0]}): run npm ci in a checkout`, { cause: e });
  }
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: widthPx, height: heightPx });
  try {
    chart.setOption({ animation: false, backgroundColor: '#ffffff', ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/**
 * The checker's HTTP endpoint, on the metrics port:
 *   GET  /metrics                   Prometheus metrics (observability/checker-metrics.ts)
 *   GET  /healthz                   200 while the steady state holds, 503 with the reason when not
 *                                   (what a Chaos Mesh Workflow StatusCheck polls)
 *   POST /faults/start?label=L      a fault began now (a runner that cannot call the checker
 *   POST /faults/end?label=L        directly tells it this way); 409 when that makes no sense
 */
import * as http from 'node:http';
import type { CheckerMetrics } from '../../observability/checker-metrics';
import type { Checker } from './checker';

/** Carries out POST /faults/start|end: the status and the answer's text. */
function markFault(checker: Checker, edge: 'start' | 'end', label: string | null): [number, string] {
  if (!label) return [400, 'give the fault a label: ?label=...\n'];
  try {
    if (edge === 'start') checker.faultStarted(label);
    else checker.faultEnded(label);
  } catch (e) {
    return [409, `${(e as Error).message}\n`];
  }
  return [200, `fault ${label} ${edge === 'start' ? 'started' : 'ended'}\n`];
}

export async function serveChecker(checker: Checker, metrics: CheckerMetrics, host: string, port: number): Promise<http.Server> {
  metrics.steadyStateSource = () => checker.health();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://checker');
    const answer = (status: number, text: string, contentType = 'text/plain; charset=utf-8') => res.writeHead(status, { 'Content-Type': contentType }).end(text);
    if (req.method === 'GET' && url.pathname === '/metrics') {
      metrics.exposition().then(
        (m) => answer(200, m.text, m.contentType),
        (e) => answer(500, `${String(e)}\n`),
      );
      return;
    }
    if (req.method === 'GET' && url.pathname === '/healthz') {
      const h = checker.health();
      answer(h.healthy ? 200 : 503, `${h.healthy ? 'ok' : 'unhealthy'}: ${h.reason}\n`);
      return;
    }
    const fault = /^\/faults\/(start|end)$/.exec(url.pathname);
    if (req.method === 'POST' && fault) {
      answer(...markFault(checker, fault[1] as 'start' | 'end', url.searchParams.get('label')));
      return;
    }
    answer(404, 'not found: GET /metrics, GET /healthz, POST /faults/start?label=L, POST /faults/end?label=L\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`cannot serve the checker's metrics on ${host}:${port}: ${e.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}

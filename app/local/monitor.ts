/**
 * A real Prometheus and Alertmanager for a local cluster (`kv cluster --monitor`): Debian's
 * `prometheus` and `prometheus-alertmanager` binaries, started on 127.0.0.1, scraping every node's
 * metrics port with the same recording rules and alerts the Kubernetes chart ships
 * (observability/rules.ts), and sending alerts to the Alertmanager. Their configuration and data
 * live in `<data>/monitor/`. Nothing is downloaded: a missing binary is an error that says which
 * package to install.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { rulesYaml, SCRAPE_JOB } from '../../observability/rules';
import { toYaml } from '../../observability/yaml-text';
import { portProblem, terminate } from './local-cluster';

export const PROMETHEUS_PORT_DEFAULT = 9090;
export const ALERTMANAGER_PORT_DEFAULT = 9093;
/** How often the local Prometheus scrapes and evaluates its rules. */
export const SCRAPE_INTERVAL_S = 2;
/** How long Prometheus and Alertmanager may take to answer their readiness endpoints. */
export const MONITOR_READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface MonitorTarget {
  readonly node: string;
  readonly metricsPort: number;
}

export interface MonitorOptions {
  /** The cluster's data directory: configuration and data go to its `monitor/` folder. */
  readonly dataDir: string;
  readonly targets: readonly MonitorTarget[];
  readonly prometheusPort?: number;
  readonly alertmanagerPort?: number;
  /**
   * Every alert's `for` duration replaced by this one (e.g. '10s'), for a demonstration or a test
   * that cannot wait minutes. @default - the durations of the rules as shipped
   */
  readonly alertFor?: string;
  /** Where the binaries are looked up. @default - PATH */
  readonly prometheusBinary?: string;
  readonly alertmanagerBinary?: string;
}

export class LocalMonitor {
  private constructor(
    private readonly processes: ChildProcess[],
    readonly prometheusUrl: string,
    readonly alertmanagerUrl: string,
    readonly directory: string,
  ) {}

  static async start(o: MonitorOptions): Promise<LocalMonitor> {
    const prometheusPort = o.prometheusPort ?? PROMETHEUS_PORT_DEFAULT;
    const alertmanagerPort = o.alertmanagerPort ?? ALERTMANAGER_PORT_DEFAULT;
    if (o.targets.length === 0) throw new Error('monitor: no node has a metrics port to scrape (metrics are off: --metrics-base-port 0)');
    if (o.alertFor !== undefined && !/^\d{1,5}(ms|s|m|h)$/.test(o.alertFor)) throw new Error(`monitor: alert for ${JSON.stringify(o.alertFor)} is not a duration such as 10s or 1m`);
    const prometheus = findBinary(o.prometheusBinary ?? 'prometheus', 'prometheus');
    const alertmanager = findBinary(o.alertmanagerBinary ?? 'prometheus-alertmanager', 'prometheus-alertmanager');
    for (const [port, what] of [
      [prometheusPort, 'Prometheus (--prometheus-port)'],
      [alertmanagerPort, 'Alertmanager (--alertmanager-port)'],
    ] as const) {
      const problem = await portProblem('127.0.0.1', port);
      if (problem) throw new Error(`monitor: 127.0.0.1:${port} for ${what} ${problem.replace(/--base-port \/ --metrics-base-port/, '--prometheus-port / --alertmanager-port')}`);
    }
    const dir = path.join(o.dataDir, 'monitor');
    fs.mkdirSync(dir, { recursive: true });
    let rules = rulesYaml();
    if (o.alertFor !== undefined) rules = rules.replace(/^(\s+for: )(['"])[^'"]+\2$/gm, `$1'${o.alertFor}'`);
    // The rules file's format is ours (observability/yaml-text.ts): a change to it must not silently keep the long durations.
    if (o.alertFor !== undefined && rules.match(/^\s+for: /gm)?.length !== rules.match(new RegExp(`^\\s+for: '${o.alertFor}'$`, 'gm'))?.length) throw new Error('monitor: could not set the alerts\' for durations in the rules file');
    fs.writeFileSync(path.join(dir, 'kv-rules.yml'), rules);
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), prometheusConfig(o.targets, alertmanagerPort));
    fs.writeFileSync(path.join(dir, 'alertmanager.yml'), alertmanagerConfig());
    const log = (name: string) => fs.openSync(path.join(dir, `${name}.log`), 'a');
    const processes: ChildProcess[] = [];
    const started = (bin: string, args: string[], name: string) => {
      const out = log(name);
      const child = spawn(bin, args, { stdio: ['ignore', out, out] });
      fs.closeSync(out);
      processes.push(child);
      return child;
    };
    started(
      alertmanager,
      [`--config.file=${path.join(dir, 'alertmanager.yml')}`, `--storage.path=${path.join(dir, 'alertmanager-data')}`, `--web.listen-address=127.0.0.1:${alertmanagerPort}`, '--cluster.listen-address='],
      'alertmanager',
    );
    started(
      prometheus,
      [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'prometheus-data')}`, `--web.listen-address=127.0.0.1:${prometheusPort}`, '--storage.tsdb.retention.time=2d'],
      'prometheus',
    );
    const monitor = new LocalMonitor(processes, `http://127.0.0.1:${prometheusPort}`, `http://127.0.0.1:${alertmanagerPort}`, dir);
    try {
      await Promise.all([waitReady(`${monitor.prometheusUrl}/-/ready`, processes[1]!, 'Prometheus', dir), waitReady(`${monitor.alertmanagerUrl}/-/ready`, processes[0]!, 'Alertmanager', dir)]);
    } catch (e) {
      await monitor.stop();
      throw e;
    }
    return monitor;
  }

  /** Stops both (SIGTERM, then SIGKILL after a while). */
  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => terminate(p, STOP_TIMEOUT_MS)));
  }
}

function findBinary(name: string, debianPackage: string): string {
  if (name.includes('/')) {
    if (fs.existsSync(name)) return name;
  } else if (spawnSync('sh', ['-c', `command -v ${name}`]).status === 0) return name;
  throw new Error(`monitor: ${name} is not installed: apt-get install ${debianPackage} (Debian), or run without --monitor`);
}

/** The scrape of every node (job and `node` label as the chart's PodMonitor sets them), the rules, the Alertmanager. */
export function prometheusConfig(targets: readonly MonitorTarget[], alertmanagerPort: number): string {
  return toYaml({
    global: { scrape_interval: `${SCRAPE_INTERVAL_S}s`, evaluation_interval: `${SCRAPE_INTERVAL_S}s`, external_labels: { cluster: 'local' } },
    rule_files: ['kv-rules.yml'],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${alertmanagerPort}`] }] }] },
    scrape_configs: [
      {
        job_name: SCRAPE_JOB,
        honor_labels: true,
        static_configs: targets.map((t) => ({ targets: [`127.0.0.1:${t.metricsPort}`], labels: { node: t.node } })),
      },
    ],
  });
}

/** Alerts grouped as the chart's AlertmanagerConfig groups them; locally they go nowhere but its UI and API. */
export function alertmanagerConfig(): string {
  return toYaml({
    route: { receiver: 'local', group_by: ['alertname', 'cluster'], group_wait: '5s', group_interval: '30s', repeat_interval: '4h' },
    receivers: [{ name: 'local' }],
    inhibit_rules: [{ source_matchers: ['alertname="KvNodeDown"'], target_matchers: ['alertname!="KvNodeDown"'], equal: ['cluster', 'node'] }],
  });
}

async function waitReady(url: string, child: ChildProcess, what: string, dir: string): Promise<void> {
  const deadline = Date.now() + MONITOR_READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`monitor: ${what} exited (${child.exitCode ?? child.signalCode}); see ${dir}/${what.toLowerCase()}.log`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`monitor: ${what} was not ready at ${url} within ${MONITOR_READY_TIMEOUT_MS} ms; see ${dir}/${what.toLowerCase()}.log`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

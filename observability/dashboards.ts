/**
 * The store's Grafana dashboards as code (the Grafana Foundation SDK): cluster overview, per node,
 * replication and repair, storage. One source: each panel's queries are listed here, built into
 * dashboard JSON for the monitoring chart (a ConfigMap per dashboard, which Grafana's dashboard
 * sidecar in kube-prometheus-stack provisions), and run by the monitor integration test against a
 * real Prometheus, which must find data for every one of them.
 *
 * Queries use `$__rate_interval` as Grafana does; where a counter has no series until its first
 * event (read repairs, quorum failures), the query falls back to 0 so the panel shows a line.
 */
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { SCRAPE_JOB } from './rules';

export interface PanelSpec {
  readonly title: string;
  readonly kind: 'timeseries' | 'stat';
  /** Grafana unit id (s, bytes, ops, short ...). */
  readonly unit: string;
  readonly queries: ReadonlyArray<{ readonly expr: string; readonly legend: string }>;
}

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

const job = `job="${SCRAPE_JOB}"`;
const q = (expr: string, legend: string) => ({ expr, legend });

export const DASHBOARDS: readonly DashboardSpec[] = [
  {
    uid: 'kv-cluster',
    title: 'KV store / Cluster overview',
    panels: [
      { title: 'Nodes up', kind: 'stat', unit: 'short', queries: [q(`sum(up{${job}})`, 'up')] },
      { title: 'Operations per second', kind: 'timeseries', unit: 'ops', queries: [q('sum by (op) (rate(kv_operations_total[$__rate_interval]))', '{{op}}')] },
      { title: 'Failed operations per second', kind: 'timeseries', unit: 'ops', queries: [q('sum by (outcome) (rate(kv_operations_total{outcome!="ok"}[$__rate_interval])) or vector(0)', '{{outcome}}')] },
      { title: 'p99 latency by op', kind: 'timeseries', unit: 's', queries: [q('namespace_op:kv_operation_duration_seconds:p99_5m', '{{op}}')] },
      { title: 'Quorum failures per second', kind: 'timeseries', unit: 'ops', queries: [q('sum by (op, reason) (rate(kv_quorum_failures_total[$__rate_interval])) or vector(0)', '{{op}} {{reason}}')] },
      { title: 'Cluster state version by node (members agree when equal)', kind: 'timeseries', unit: 'short', queries: [q('kv_cluster_state_version', '{{node}}')] },
    ],
  },
  {
    uid: 'kv-node',
    title: 'KV store / Nodes',
    panels: [
      { title: 'Operations per second by node', kind: 'timeseries', unit: 'ops', queries: [q('sum by (node) (rate(kv_operations_total[$__rate_interval]))', '{{node}}')] },
      { title: 'p99 latency by node and op', kind: 'timeseries', unit: 's', queries: [q('namespace_node_op:kv_operation_duration_seconds:p99_5m', '{{node}} {{op}}')] },
      { title: 'Operations in flight', kind: 'timeseries', unit: 'short', queries: [q('kv_operations_in_flight', '{{node}}')] },
      { title: 'Event-loop lag', kind: 'timeseries', unit: 's', queries: [q('nodejs_eventloop_lag_seconds', '{{node}}')] },
      { title: 'Peers connected (as each node sees them)', kind: 'timeseries', unit: 'short', queries: [q('sum by (node) (kv_peer_up)', '{{node}}')] },
      { title: 'Resident memory', kind: 'timeseries', unit: 'bytes', queries: [q('process_resident_memory_bytes', '{{node}}')] },
    ],
  },
  {
    uid: 'kv-replication',
    title: 'KV store / Replication and repair',
    panels: [
      { title: 'Replica request p99 by peer', kind: 'timeseries', unit: 's', queries: [q('namespace_peer_kind:kv_replica_request_duration_seconds:p99_5m', '{{peer}} {{kind}}')] },
      { title: 'Hints pending by target', kind: 'timeseries', unit: 'short', queries: [q('namespace_target:kv_hints_pending:sum', '{{target}}')] },
      { title: 'Oldest hint by target', kind: 'timeseries', unit: 's', queries: [q('namespace_target:kv_hint_oldest_age_seconds:max', '{{target}}')] },
      { title: 'Read repairs per second', kind: 'timeseries', unit: 'ops', queries: [q('sum(rate(kv_read_repairs_total[$__rate_interval])) or vector(0)', 'repairs')] },
      { title: 'Anti-entropy exchanges per second by outcome', kind: 'timeseries', unit: 'ops', queries: [q('sum by (outcome) (rate(kv_anti_entropy_exchanges_total[$__rate_interval]))', '{{outcome}}')] },
      { title: 'Oldest anti-entropy exchange by node', kind: 'timeseries', unit: 's', queries: [q('namespace_node:kv_anti_entropy_exchange_age_seconds:max', '{{node}}')] },
      { title: 'Siblings per read, p99', kind: 'timeseries', unit: 'short', queries: [q('namespace:kv_siblings_per_read:p99_15m', 'p99')] },
      { title: 'Partitions under-replicated, and transfers pending', kind: 'timeseries', unit: 'short', queries: [q('sum(kv_partitions_under_replicated)', 'under-replicated'), q('max(kv_transfers_pending{direction="all"})', 'transfers pending')] },
    ],
  },
  {
    uid: 'kv-storage',
    title: 'KV store / Storage',
    panels: [
      { title: 'Data on disk (LMDB pages)', kind: 'timeseries', unit: 'bytes', queries: [q('kv_store_used_bytes', '{{node}}')] },
      { title: 'Free disk and the reserve', kind: 'timeseries', unit: 'bytes', queries: [q('kv_disk_free_bytes', '{{node}} free'), q('kv_disk_free_bytes_min', '{{node}} reserve')] },
      { title: 'Commit time p99 (fsync included)', kind: 'timeseries', unit: 's', queries: [q('histogram_quantile(0.99, sum by (node, le) (rate(kv_store_commit_duration_seconds_bucket[$__rate_interval])))', '{{node}}')] },
      { title: 'Updates per commit, median (group commit)', kind: 'timeseries', unit: 'short', queries: [q('histogram_quantile(0.5, sum by (node, le) (rate(kv_store_commit_updates_bucket[$__rate_interval])))', '{{node}}')] },
      { title: 'Write-ahead log: writes not yet checkpointed', kind: 'timeseries', unit: 'bytes', queries: [q('kv_store_log_backlog_bytes', '{{node}}')] },
      { title: 'Checkpoint time p99', kind: 'timeseries', unit: 's', queries: [q('histogram_quantile(0.99, sum by (node, le) (rate(kv_store_checkpoint_duration_seconds_bucket[$__rate_interval])))', '{{node}}')] },
      { title: 'Corrupt records found', kind: 'stat', unit: 'short', queries: [q('sum(kv_store_corrupt_records_total)', 'corrupt')] },
    ],
  },
];

/** Grafana's grid: 24 columns; a row unit is 30 px high, with 8 px between panels. */
export const GRID_COLUMNS = 24;

/** Where the i-th panel sits on Grafana's grid: two panels a row, each half the width. */
export function panelGridPos(i: number): { readonly x: number; readonly y: number; readonly w: number; readonly h: number } {
  return { x: (i % 2) * 12, y: Math.floor(i / 2) * 8, w: 12, h: 8 };
}

/** A dashboard as Grafana's JSON model. */
export function dashboardJson(spec: DashboardSpec): Dashboard {
  let builder = new DashboardBuilder(spec.title).uid(spec.uid).tags(['kv', 'generated']).refresh('30s').time({ from: 'now-1h', to: 'now' }).timezone('browser');
  spec.panels.forEach((p, i) => {
    const targets = p.queries.map((query, j) => new DataqueryBuilder().expr(query.expr).legendFormat(query.legend).refId(String.fromCharCode(65 + j)));
    const gridPos = panelGridPos(i);
    if (p.kind === 'stat') {
      let panel = new StatPanelBuilder().title(p.title).unit(p.unit).gridPos(gridPos);
      for (const t of targets) panel = panel.withTarget(t);
      builder = builder.withPanel(panel);
    } else {
      let panel = new TimeseriesPanelBuilder().title(p.title).unit(p.unit).gridPos(gridPos);
      for (const t of targets) panel = panel.withTarget(t);
      builder = builder.withPanel(panel);
    }
  });
  return builder.build();
}

/** A panel's query as Prometheus itself takes it: Grafana's `$__rate_interval` set to `rateInterval` (e.g. '1m'). */
export function withRateInterval(expr: string, rateInterval: string): string {
  return expr.replace(/\$__rate_interval/g, rateInterval);
}

/** Every panel's queries, with `$__rate_interval` set to `rateInterval` (for a query against Prometheus itself). */
export function panelQueries(rateInterval = '1m'): Array<{ dashboard: string; panel: string; expr: string }> {
  return DASHBOARDS.flatMap((d) => d.panels.flatMap((p) => p.queries.map((query) => ({ dashboard: d.uid, panel: p.title, expr: withRateInterval(query.expr, rateInterval) }))));
}

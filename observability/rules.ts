/**
 * The store's recording rules and alerts, as data: one source for the PrometheusRule the monitoring
 * chart deploys (observability/monitoring-chart.ts) and for the plain rules file a local Prometheus
 * reads (`rulesYaml`). Modelled on the etcd mixin: recording rules name what the alerts and
 * dashboards share, every alert says what it is about, how bad it is and where its runbook is.
 *
 * Labels. The node sets `node` on every sample it exposes (its node id, the pod name in Kubernetes);
 * the scrape sets `job` (SCRAPE_JOB) and, for `up`, `node` as a target label (so the scrape must
 * honour the node's own labels: the monitoring chart's PodMonitor does). Every alert carries the
 * `node` it is about: for an alert about a peer (hints for it, its reachability) that is the peer,
 * not the node that reports it, so that KvNodeDown can inhibit the symptoms of its own node
 * (the AlertmanagerConfig's inhibit rules). Aggregations keep `namespace`: the prometheus-operator
 * routes an AlertmanagerConfig's alerts by the namespace label. `cluster` comes from Prometheus's
 * external labels.
 *
 * Every threshold is a named constant with its unit; docs/runbooks.md has one section per alert,
 * and the promtool tests (test/infra/alert-rules.test.ts) fire and do not fire each one.
 */
import { intDefault } from '../app/node/config';
import { toYaml, YamlValue } from './yaml-text';

/** The `job` label of the store's scrape (the PodMonitor sets it; a local scrape config names its job so). */
export const SCRAPE_JOB = 'kv';

/** Where the runbooks are read; each alert's `runbook_url` is this plus `#<alert name in lower case>`. */
export const RUNBOOK_URL = 'https://github.com/example-org/dynamo-kv/blob/main/docs/runbooks.md';

/** Rate windows of the recording rules. */
export const RATE_WINDOW = '5m';
/** Sibling and object-limit warnings are rare events: a longer window. */
export const LIMIT_WARNING_WINDOW = '15m';

/** A node nobody reaches (no peer connected to it, or its scrape failing) for this long is down. */
export const NODE_DOWN_FOR_MINUTES = 2;
/** Share of client operations that may fail for want of a quorum (InsufficientReplicas, DeadlineExceeded ...). */
export const QUORUM_FAILURE_RATIO_MAX = 0.01;
export const QUORUM_FAILURES_FOR_MINUTES = 5;
/**
 * The latency objective: p99 of client operations, by op, over RATE_WINDOW. A bucket boundary of
 * kv_operation_duration_seconds, so the quantile at the objective is exact.
 */
export const OPERATION_P99_SLO_SECONDS = 0.25;
export const LATENCY_FOR_MINUTES = 10;
/**
 * Hints held for one node (by all fallbacks together) above which a growing backlog is worth a
 * look: a tenth of what one fallback may hold for it (the node's hints-per-target-max default).
 */
export const HINTS_PENDING_WARN = intDefault('hintsPerTargetMax') / 10;
/** How long the hint backlog must have grown, and the window its growth is measured over. */
export const HINTS_GROWING_FOR_MINUTES = 15;
/** Age of the oldest hint for a node above which hinted handoff is not keeping up. */
export const HINT_AGE_WARN_SECONDS = 3600;
/**
 * Seconds since a partition's last completed anti-entropy exchange above which anti-entropy is
 * stalled on that node: at the default pace (one exchange a second, 64 partitions) each partition
 * exchanges every few minutes.
 */
export const ANTI_ENTROPY_EXCHANGE_AGE_MAX_SECONDS = 3600;
export const ANTI_ENTROPY_STALLED_FOR_MINUTES = 15;
/** Writes a second leaving an object above the sibling or clock warning level, above which clients are not resolving siblings. */
export const LIMIT_WARNINGS_PER_SECOND_MAX = 0;
export const SIBLINGS_FOR_MINUTES = 15;
/** Free disk below this many times the node's reserve (kv_disk_free_bytes_min) is near the reserve. */
export const DISK_RESERVE_NEAR_FACTOR = 2;
/** The disk trend is read over this window, and projected this far ahead. */
export const DISK_TREND_WINDOW_HOURS = 6;
export const DISK_FORECAST_HOURS = 24;
export const DISK_RESERVE_NEAR_FOR_MINUTES = 15;
/** At the reserve the node refuses writes: almost at once. */
export const DISK_RESERVE_REACHED_FOR_MINUTES = 1;
export const UNDER_REPLICATED_FOR_MINUTES = 10;
/** Members reporting different cluster-state versions for this long: gossip converges in seconds. */
export const RING_DISAGREEMENT_FOR_MINUTES = 5;

export type Severity = 'critical' | 'warning';

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export interface AlertRule {
  /** CamelCase, starting with Kv; also the runbook's heading. */
  readonly alert: string;
  readonly expr: string;
  readonly forMinutes: number;
  readonly severity: Severity;
  /** One line, with the labels it is about ({{ $labels.node }}). */
  readonly summary: string;
  /** What is wrong and what it costs, with the value ({{ $value }}). */
  readonly description: string;
}

const job = `job="${SCRAPE_JOB}"`;
/** Renames a peer or target label to `node`, the label every alert is about. */
const asNode = (expr: string, label: string): string => `label_replace(${expr}, "node", "$1", "${label}", "(.+)")`;

export const RECORDING_RULES: readonly RecordingRule[] = [
  { record: 'namespace_op:kv_operations:rate5m', expr: `sum by (namespace, op) (rate(kv_operations_total[${RATE_WINDOW}]))` },
  { record: 'namespace_op_outcome:kv_operations:rate5m', expr: `sum by (namespace, op, outcome) (rate(kv_operations_total[${RATE_WINDOW}]))` },
  { record: 'namespace_op_reason:kv_quorum_failures:rate5m', expr: `sum by (namespace, op, reason) (rate(kv_quorum_failures_total[${RATE_WINDOW}]))` },
  {
    record: 'namespace_op:kv_quorum_failures:ratio_rate5m',
    expr: `sum by (namespace, op) (rate(kv_quorum_failures_total[${RATE_WINDOW}])) / sum by (namespace, op) (rate(kv_operations_total[${RATE_WINDOW}]))`,
  },
  {
    record: 'namespace_op:kv_operation_duration_seconds:p99_5m',
    expr: `histogram_quantile(0.99, sum by (namespace, op, le) (rate(kv_operation_duration_seconds_bucket[${RATE_WINDOW}])))`,
  },
  {
    record: 'namespace_node_op:kv_operation_duration_seconds:p99_5m',
    expr: `histogram_quantile(0.99, sum by (namespace, node, op, le) (rate(kv_operation_duration_seconds_bucket[${RATE_WINDOW}])))`,
  },
  {
    record: 'namespace_peer_kind:kv_replica_request_duration_seconds:p99_5m',
    expr: `histogram_quantile(0.99, sum by (namespace, peer, kind, le) (rate(kv_replica_request_duration_seconds_bucket[${RATE_WINDOW}])))`,
  },
  {
    record: 'namespace:kv_siblings_per_read:p99_15m',
    expr: `histogram_quantile(0.99, sum by (namespace, le) (rate(kv_siblings_per_read_bucket[${LIMIT_WARNING_WINDOW}])))`,
  },
  // Hints for a node, held by all its fallbacks together; the oldest of them.
  { record: 'namespace_target:kv_hints_pending:sum', expr: 'sum by (namespace, target) (kv_hints_pending)' },
  { record: 'namespace_target:kv_hint_oldest_age_seconds:max', expr: 'max by (namespace, target) (kv_hint_oldest_age_seconds)' },
  // 1 when some live member's peer stream to the node is connected; 0 when every member that reports it sees it down.
  // (Aggregated by peer first: two members' series about one peer differ only in `node`, which the rename overwrites.)
  { record: 'namespace_node:kv_peer_up:max', expr: `max by (namespace, node) (${asNode('max by (namespace, peer) (kv_peer_up)', 'peer')})` },
  { record: 'namespace_node:kv_anti_entropy_exchange_age_seconds:max', expr: 'max by (namespace, node) (kv_anti_entropy_exchange_age_seconds)' },
  { record: 'namespace:kv_cluster_state_version:spread', expr: 'max by (namespace) (kv_cluster_state_version) - min by (namespace) (kv_cluster_state_version)' },
];

const rule = (name: string): string => {
  const found = RECORDING_RULES.find((r) => r.record === name);
  if (found === undefined) throw new Error(`no recording rule ${name}`);
  return found.record;
};

export const ALERTS: readonly AlertRule[] = [
  {
    alert: 'KvNodeDown',
    // Either view suffices: the members' (no peer stream to it connected) or the scrape's.
    expr: `${rule('namespace_node:kv_peer_up:max')} == 0 or max by (namespace, node) (up{${job}}) == 0`,
    forMinutes: NODE_DOWN_FOR_MINUTES,
    severity: 'critical',
    summary: 'Store node {{ $labels.node }} is down',
    description:
      'No member has a connected peer stream to {{ $labels.node }}, or Prometheus cannot scrape it, for ' +
      `${NODE_DOWN_FOR_MINUTES} minutes. Its partitions run on N-1 replicas: writes go to fallbacks as hints, and a second failure among its partitions' primaries costs quorums.`,
  },
  {
    alert: 'KvQuorumFailures',
    expr: `${rule('namespace_op:kv_quorum_failures:ratio_rate5m')} > ${QUORUM_FAILURE_RATIO_MAX}`,
    forMinutes: QUORUM_FAILURES_FOR_MINUTES,
    severity: 'critical',
    summary: '{{ $labels.op }} operations fail for want of a quorum',
    description: `{{ $value | humanizePercentage }} of {{ $labels.op }} operations failed for want of R or W replies over ${RATE_WINDOW} (objective: at most ${QUORUM_FAILURE_RATIO_MAX * 100}%). Clients see InsufficientReplicas or DeadlineExceeded.`,
  },
  {
    alert: 'KvLatencyP99AboveSlo',
    expr: `${rule('namespace_op:kv_operation_duration_seconds:p99_5m')} > ${OPERATION_P99_SLO_SECONDS}`,
    forMinutes: LATENCY_FOR_MINUTES,
    severity: 'warning',
    summary: 'p99 latency of {{ $labels.op }} is above its objective',
    description: `The 99th percentile of {{ $labels.op }} over ${RATE_WINDOW} is {{ $value | humanizeDuration }}, above the objective of ${OPERATION_P99_SLO_SECONDS * 1000} ms, for ${LATENCY_FOR_MINUTES} minutes.`,
  },
  {
    alert: 'KvHintsBacklogGrowing',
    expr:
      // The backlog is the value (the left side); its growth only filters.
      `${asNode(rule('namespace_target:kv_hints_pending:sum'), 'target')} > ${HINTS_PENDING_WARN} ` +
      `and ${asNode(`deriv(${rule('namespace_target:kv_hints_pending:sum')}[${HINTS_GROWING_FOR_MINUTES}m])`, 'target')} > 0`,
    forMinutes: HINTS_GROWING_FOR_MINUTES,
    severity: 'warning',
    summary: 'Hints for {{ $labels.node }} keep growing',
    description: `Fallbacks hold {{ $value | humanize }} hints for {{ $labels.node }} (warning above ${HINTS_PENDING_WARN}) and the backlog has grown for ${HINTS_GROWING_FOR_MINUTES} minutes: hinted handoff is not delivering them. At hints-per-target-max a fallback refuses writes that need it to stand in.`,
  },
  {
    alert: 'KvHintsOld',
    expr: `${asNode(rule('namespace_target:kv_hint_oldest_age_seconds:max'), 'target')} > ${HINT_AGE_WARN_SECONDS}`,
    forMinutes: 0,
    severity: 'warning',
    summary: 'Hints for {{ $labels.node }} are old',
    description: `The oldest hint held for {{ $labels.node }} is {{ $value | humanizeDuration }} old (warning above ${HINT_AGE_WARN_SECONDS / 3600} h): until it is delivered, {{ $labels.node }} misses that write and reads lean on read repair.`,
  },
  {
    alert: 'KvAntiEntropyStalled',
    expr: `${rule('namespace_node:kv_anti_entropy_exchange_age_seconds:max')} > ${ANTI_ENTROPY_EXCHANGE_AGE_MAX_SECONDS}`,
    forMinutes: ANTI_ENTROPY_STALLED_FOR_MINUTES,
    severity: 'warning',
    summary: 'Anti-entropy is stalled on {{ $labels.node }}',
    description: `A partition {{ $labels.node }} is a primary of has had no completed anti-entropy exchange for {{ $value | humanizeDuration }} (warning above ${ANTI_ENTROPY_EXCHANGE_AGE_MAX_SECONDS / 3600} h): replicas that missed writes are not being repaired in the background.`,
  },
  {
    alert: 'KvSiblingsAboveWarning',
    expr: `sum by (namespace, node) (rate(kv_object_limit_warnings_total[${LIMIT_WARNING_WINDOW}])) > ${LIMIT_WARNINGS_PER_SECOND_MAX}`,
    forMinutes: SIBLINGS_FOR_MINUTES,
    severity: 'warning',
    summary: 'Writes on {{ $labels.node }} leave objects above the sibling or clock warning level',
    description: `{{ $value | humanize }} writes a second on {{ $labels.node }} left an object with more siblings than siblings-warn or more clock entries than clock-entries-warn, for ${SIBLINGS_FOR_MINUTES} minutes. At siblings-max or clock-entries-max writes to those keys fail.`,
  },
  {
    alert: 'KvDiskReserveNear',
    expr:
      `(kv_disk_free_bytes{${job}} < ${DISK_RESERVE_NEAR_FACTOR} * kv_disk_free_bytes_min{${job}} ` +
      `or predict_linear(kv_disk_free_bytes{${job}}[${DISK_TREND_WINDOW_HOURS}h], ${DISK_FORECAST_HOURS * 3600}) < kv_disk_free_bytes_min{${job}}) ` +
      `and kv_disk_free_bytes_min{${job}} > 0`,
    forMinutes: DISK_RESERVE_NEAR_FOR_MINUTES,
    severity: 'warning',
    summary: 'Disk of {{ $labels.node }} is near its reserve',
    description: `Free disk of {{ $labels.node }}, now or as forecast ${DISK_FORECAST_HOURS} h ahead from the trend of the last ${DISK_TREND_WINDOW_HOURS} h, is {{ $value | humanize1024 }}B: under ${DISK_RESERVE_NEAR_FACTOR} times its reserve now, or under the reserve then. Below the reserve (disk-free-bytes-min) it refuses writes.`,
  },
  {
    alert: 'KvDiskReserveReached',
    expr: `kv_disk_free_bytes{${job}} <= kv_disk_free_bytes_min{${job}} and kv_disk_free_bytes_min{${job}} > 0`,
    forMinutes: DISK_RESERVE_REACHED_FOR_MINUTES,
    severity: 'critical',
    summary: 'Disk of {{ $labels.node }} is at its reserve: it refuses writes',
    description: '{{ $labels.node }} has {{ $value | humanize1024 }}B free, at or below its reserve (disk-free-bytes-min): it refuses writes with RESOURCE_EXHAUSTED, so its partitions take writes on the other replicas only.',
  },
  {
    alert: 'KvPartitionsUnderReplicated',
    expr: `max by (namespace, node) (kv_partitions_under_replicated{${job}}) > 0`,
    forMinutes: UNDER_REPLICATED_FOR_MINUTES,
    severity: 'warning',
    summary: '{{ $labels.node }} sees partitions with primaries down',
    description: `{{ $value }} partitions {{ $labels.node }} is a primary of have a primary that is not up in its view, for ${UNDER_REPLICATED_FOR_MINUTES} minutes: they run on fewer than N replicas.`,
  },
  {
    alert: 'KvRingDisagreement',
    expr: `${rule('namespace:kv_cluster_state_version:spread')} > 0`,
    forMinutes: RING_DISAGREEMENT_FOR_MINUTES,
    severity: 'warning',
    summary: 'Members disagree on the cluster state',
    description: `Members report cluster-state versions {{ $value }} apart for ${RING_DISAGREEMENT_FOR_MINUTES} minutes: gossip is not spreading the latest state, so members may route keys to different primaries.`,
  },
];

/** The alert each alert name stands for, checked: a typo in an inhibit rule or a test is an error. */
export function alertNamed(name: string): AlertRule {
  const found = ALERTS.find((a) => a.alert === name);
  if (found === undefined) throw new Error(`no alert ${name}: the alerts are ${ALERTS.map((a) => a.alert).join(', ')}`);
  return found;
}

/** The anchor of an alert's runbook section: GitHub's id of the heading `## <alert>`. */
export function runbookAnchor(alert: string): string {
  return alert.toLowerCase();
}

export interface RuleGroupsOptions {
  /** @default RUNBOOK_URL */
  readonly runbookUrl?: string;
}

/** A Prometheus rule group, as both the PrometheusRule spec and a rules file hold them. */
export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Record<string, YamlValue>[];
}

/** The rule groups: recording rules first (the alerts read them), then the alerts. */
export function ruleGroups(options: RuleGroupsOptions = {}): RuleGroup[] {
  const runbookUrl = options.runbookUrl ?? RUNBOOK_URL;
  return [
    { name: 'kv.rules', rules: RECORDING_RULES.map((r) => ({ record: r.record, expr: r.expr })) },
    {
      name: 'kv.alerts',
      rules: ALERTS.map((a) => ({
        alert: a.alert,
        expr: a.expr,
        ...(a.forMinutes > 0 ? { for: `${a.forMinutes}m` } : {}),
        labels: { severity: a.severity },
        annotations: { summary: a.summary, description: a.description, runbook_url: `${runbookUrl}#${runbookAnchor(a.alert)}` },
      })),
    },
  ];
}

/** The rules as a Prometheus rules file (`rule_files:`), for a local Prometheus and promtool. */
export function rulesYaml(options: RuleGroupsOptions = {}): string {
  return `# Generated from observability/rules.ts; do not edit.\n${toYaml({ groups: ruleGroups(options) as unknown as YamlValue })}`;
}

/**
 * promtool unit-test cases of every alert of observability/rules.ts: input series (promtool's
 * expanding notation: `a+bxn` is a, a+b, ... n more steps, one a minute) and, at one evaluation
 * time, the alerts expected (none for a case that must not fire). Where an alert reads a
 * recording rule, the input holds still for the last minutes before the evaluation: promtool, like
 * Prometheus, may evaluate the alert on the recording rule's previous value. alert-rules.test.ts renders
 * them, with the rules, into the files `promtool test rules` reads.
 */
const Mi = 1024 * 1024;

export interface ExpectedAlert {
  /** The alert's labels but alertname and severity (those come from the rule). */
  readonly labels: Readonly<Record<string, string>>;
  /** `{{ $value ... }}` as the annotations print it. */
  readonly value: string;
}

export interface AlertCase {
  readonly alert: string;
  /** What the case shows, for the failure message. */
  readonly what: string;
  readonly series: Readonly<Record<string, string>>;
  readonly evalMinutes: number;
  /** Empty: the alert must not fire. */
  readonly expected: readonly ExpectedAlert[];
}

export const ALERT_CASES: readonly AlertCase[] = [
  {
    alert: 'KvNodeDown',
    what: 'no member reaches kv-2, and kv-4 cannot be scraped',
    series: {
      'kv_peer_up{job="kv",node="kv-1",peer="kv-2"}': '0x10',
      'kv_peer_up{job="kv",node="kv-3",peer="kv-2"}': '0x10',
      'kv_peer_up{job="kv",node="kv-1",peer="kv-3"}': '1x10',
      'up{job="kv",node="kv-4",instance="10.0.0.4:9464"}': '0x10',
      'up{job="kv",node="kv-1",instance="10.0.0.1:9464"}': '1x10',
    },
    evalMinutes: 5,
    expected: [
      { labels: { node: 'kv-2' }, value: '0' },
      { labels: { node: 'kv-4' }, value: '0' },
    ],
  },
  {
    alert: 'KvNodeDown',
    what: 'one member still reaches kv-2; kv-4 was down for a minute only',
    series: {
      'kv_peer_up{job="kv",node="kv-1",peer="kv-2"}': '0x10',
      'kv_peer_up{job="kv",node="kv-3",peer="kv-2"}': '1x10',
      'up{job="kv",node="kv-4",instance="10.0.0.4:9464"}': '1 1 1 0 1x6',
    },
    evalMinutes: 5,
    expected: [],
  },
  {
    alert: 'KvQuorumFailures',
    what: '2% of puts fail with InsufficientReplicas',
    series: {
      'kv_operations_total{job="kv",node="kv-1",op="put",outcome="ok"}': '0+294x20',
      'kv_operations_total{job="kv",node="kv-1",op="put",outcome="InsufficientReplicas"}': '0+6x20',
      'kv_quorum_failures_total{job="kv",node="kv-1",op="put",reason="InsufficientReplicas"}': '0+6x20',
    },
    evalMinutes: 15,
    expected: [{ labels: { op: 'put' }, value: '2%' }],
  },
  {
    alert: 'KvQuorumFailures',
    what: 'fewer than 1% of puts fail',
    series: {
      'kv_operations_total{job="kv",node="kv-1",op="put",outcome="ok"}': '0+299x20',
      'kv_operations_total{job="kv",node="kv-1",op="put",outcome="InsufficientReplicas"}': '0+1x20',
      'kv_quorum_failures_total{job="kv",node="kv-1",op="put",reason="InsufficientReplicas"}': '0+1x20',
    },
    evalMinutes: 15,
    expected: [],
  },
  {
    alert: 'KvLatencyP99AboveSlo',
    what: 'every get takes 250 to 500 ms',
    series: {
      'kv_operation_duration_seconds_bucket{job="kv",node="kv-1",op="get",outcome="ok",le="0.1"}': '0x30',
      'kv_operation_duration_seconds_bucket{job="kv",node="kv-1",op="get",outcome="ok",le="0.25"}': '0x30',
      'kv_operation_duration_seconds_bucket{job="kv",node="kv-1",op="get",outcome="ok",le="0.5"}': '0+60x30',
      'kv_operation_duration_seconds_bucket{job="kv",node="kv-1",op="get",outcome="ok",le="+Inf"}': '0+60x30',
    },
    evalMinutes: 20,
    expected: [{ labels: { op: 'get' }, value: '497.5ms' }],
  },
  {
    alert: 'KvLatencyP99AboveSlo',
    what: 'every get takes under 100 ms',
    series: {
      'kv_operation_duration_seconds_bucket{job="kv",node="kv-1",op="get",outcome="ok",le="0.1"}': '0+60x30',
      'kv_operation_duration_seconds_bucket{job="kv",node="kv-1",op="get",outcome="ok",le="0.25"}': '0+60x30',
      'kv_operation_duration_seconds_bucket{job="kv",node="kv-1",op="get",outcome="ok",le="+Inf"}': '0+60x30',
    },
    evalMinutes: 20,
    expected: [],
  },
  {
    alert: 'KvHintsBacklogGrowing',
    what: 'hints for kv-2 above the warning level, growing',
    series: { 'kv_hints_pending{job="kv",node="kv-1",target="kv-2"}': '20000+100x35 23500x10' },
    evalMinutes: 37,
    expected: [{ labels: { node: 'kv-2', target: 'kv-2' }, value: '23.5k' }],
  },
  {
    alert: 'KvHintsBacklogGrowing',
    what: 'a large backlog that does not grow, and a small one that does',
    series: {
      'kv_hints_pending{job="kv",node="kv-1",target="kv-2"}': '20000x40',
      'kv_hints_pending{job="kv",node="kv-1",target="kv-3"}': '100+10x40',
    },
    evalMinutes: 35,
    expected: [],
  },
  {
    alert: 'KvHintsOld',
    what: 'the oldest hint for kv-3 is past an hour',
    series: { 'kv_hint_oldest_age_seconds{job="kv",node="kv-1",target="kv-3"}': '3000+60x15 3900x10' },
    evalMinutes: 17,
    expected: [{ labels: { node: 'kv-3', target: 'kv-3' }, value: '1h 5m 0s' }],
  },
  {
    alert: 'KvHintsOld',
    what: 'the oldest hint for kv-3 is under an hour',
    series: { 'kv_hint_oldest_age_seconds{job="kv",node="kv-1",target="kv-3"}': '3000+60x20' },
    evalMinutes: 5,
    expected: [],
  },
  {
    alert: 'KvAntiEntropyStalled',
    what: 'one partition of kv-1 has not exchanged for over an hour',
    series: {
      'kv_anti_entropy_exchange_age_seconds{job="kv",node="kv-1",partition="3"}': '4000+60x20 5200x10',
      'kv_anti_entropy_exchange_age_seconds{job="kv",node="kv-1",partition="4"}': '10x30',
    },
    evalMinutes: 22,
    expected: [{ labels: { node: 'kv-1' }, value: '1h 26m 40s' }],
  },
  {
    alert: 'KvAntiEntropyStalled',
    what: 'every partition exchanged within minutes',
    series: {
      'kv_anti_entropy_exchange_age_seconds{job="kv",node="kv-1",partition="3"}': '30x30',
      'kv_anti_entropy_exchange_age_seconds{job="kv",node="kv-1",partition="4"}': '90x30',
    },
    evalMinutes: 20,
    expected: [],
  },
  {
    alert: 'KvSiblingsAboveWarning',
    what: 'a write a second leaves an object above the warning level',
    series: { 'kv_object_limit_warnings_total{job="kv",node="kv-1"}': '0+60x40' },
    evalMinutes: 35,
    expected: [{ labels: { node: 'kv-1' }, value: '1' }],
  },
  {
    alert: 'KvSiblingsAboveWarning',
    what: 'warnings long ago, none since',
    series: { 'kv_object_limit_warnings_total{job="kv",node="kv-1"}': '5x40' },
    evalMinutes: 35,
    expected: [],
  },
  {
    alert: 'KvDiskReserveNear',
    what: 'free disk under twice the reserve',
    series: {
      'kv_disk_free_bytes{job="kv",node="kv-1"}': `${200 * Mi}x30`,
      'kv_disk_free_bytes_min{job="kv",node="kv-1"}': `${128 * Mi}x30`,
    },
    evalMinutes: 20,
    expected: [{ labels: { job: 'kv', node: 'kv-1' }, value: '200Mi' }],
  },
  {
    alert: 'KvDiskReserveNear',
    what: 'free disk falling 1 MiB a minute reaches the reserve within a day',
    series: {
      'kv_disk_free_bytes{job="kv",node="kv-1"}': `${1500 * Mi}-${Mi}x500`,
      'kv_disk_free_bytes_min{job="kv",node="kv-1"}': `${128 * Mi}x500`,
    },
    evalMinutes: 400,
    expected: [{ labels: { job: 'kv', node: 'kv-1' }, value: '-340Mi' }],
  },
  {
    alert: 'KvDiskReserveNear',
    what: 'plenty of steady free disk; and a low disk with the reserve turned off',
    series: {
      'kv_disk_free_bytes{job="kv",node="kv-1"}': `${10240 * Mi}x30`,
      'kv_disk_free_bytes_min{job="kv",node="kv-1"}': `${128 * Mi}x30`,
      'kv_disk_free_bytes{job="kv",node="kv-2"}': `${100 * Mi}x30`,
      'kv_disk_free_bytes_min{job="kv",node="kv-2"}': '0x30',
    },
    evalMinutes: 20,
    expected: [],
  },
  {
    alert: 'KvDiskReserveReached',
    what: 'free disk below the reserve',
    series: {
      'kv_disk_free_bytes{job="kv",node="kv-1"}': `${100 * Mi}x10`,
      'kv_disk_free_bytes_min{job="kv",node="kv-1"}': `${128 * Mi}x10`,
    },
    evalMinutes: 5,
    expected: [{ labels: { job: 'kv', node: 'kv-1' }, value: '100Mi' }],
  },
  {
    alert: 'KvDiskReserveReached',
    what: 'free disk above the reserve; and a full disk with the reserve turned off',
    series: {
      'kv_disk_free_bytes{job="kv",node="kv-1"}': `${200 * Mi}x10`,
      'kv_disk_free_bytes_min{job="kv",node="kv-1"}': `${128 * Mi}x10`,
      'kv_disk_free_bytes{job="kv",node="kv-2"}': '0x10',
      'kv_disk_free_bytes_min{job="kv",node="kv-2"}': '0x10',
    },
    evalMinutes: 5,
    expected: [],
  },
  {
    alert: 'KvPartitionsUnderReplicated',
    what: 'kv-1 sees 12 partitions with a primary down',
    series: { 'kv_partitions_under_replicated{job="kv",node="kv-1"}': '12x20' },
    evalMinutes: 15,
    expected: [{ labels: { node: 'kv-1' }, value: '12' }],
  },
  {
    alert: 'KvPartitionsUnderReplicated',
    what: 'a primary down for five minutes, then back',
    series: { 'kv_partitions_under_replicated{job="kv",node="kv-1"}': '12x5 0x15' },
    evalMinutes: 15,
    expected: [],
  },
  {
    alert: 'KvRingDisagreement',
    what: 'kv-2 keeps an older cluster state',
    series: {
      'kv_cluster_state_version{job="kv",node="kv-1"}': '7x20',
      'kv_cluster_state_version{job="kv",node="kv-2"}': '6x20',
    },
    evalMinutes: 10,
    expected: [{ labels: {}, value: '1' }],
  },
  {
    alert: 'KvRingDisagreement',
    what: 'kv-2 catches up within two minutes',
    series: {
      'kv_cluster_state_version{job="kv",node="kv-1"}': '7x20',
      'kv_cluster_state_version{job="kv",node="kv-2"}': '6 6 7x18',
    },
    evalMinutes: 10,
    expected: [],
  },
];

/**
 * The HTTP paths of the probes a node and a gateway serve on their metrics port
 * (observability/metrics.ts), which the charts point the kubelet at.
 */
/** 200 while the process answers. */
export const LIVE_PATH = '/livez';
/** 200 while the node serves clients, 503 otherwise. */
export const READY_PATH = '/readyz';

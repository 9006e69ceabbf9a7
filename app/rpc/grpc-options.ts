/**
 * gRPC options every server and channel of the project takes.
 *
 * Channelz off: grpc-js keeps channelz's per-call and per-message trackers (call counters,
 * timestamps, socket statistics, a callback object per server call) unless told not to, and
 * nothing here serves or reads channelz (the node's own metrics and traces cover it). The
 * transport floor (./transport-floor.ts) and the etcd client of the benchmark take the same
 * options, so their figures stay comparable with the store's.
 */
export const GRPC_COMMON_OPTIONS = { 'grpc.enable_channelz': 0 } as const;

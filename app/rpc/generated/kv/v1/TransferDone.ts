// Original file: app/rpc/proto/kv/v1/peer.proto

import type { Long } from '@grpc/proto-loader';

export interface TransferDone {
  'partition'?: (number);
  /**
   * The member that received it.
   */
  'to'?: (string);
  /**
   * The version that committed the change the transfer belongs to (0: not known, from an older
   * node): a report for another change is not recorded.
   */
  'change'?: (number | string | Long);
}

export interface TransferDone__Output {
  'partition': (number);
  /**
   * The member that received it.
   */
  'to': (string);
  /**
   * The version that committed the change the transfer belongs to (0: not known, from an older
   * node): a report for another change is not recorded.
   */
  'change': (number);
}

// Original file: app/rpc/proto/kv/v1/kv.proto

import type { SiblingState as _kv_v1_SiblingState, SiblingState__Output as _kv_v1_SiblingState__Output } from '../../kv/v1/SiblingState';
import type { ClockEntry as _kv_v1_ClockEntry, ClockEntry__Output as _kv_v1_ClockEntry__Output } from '../../kv/v1/ClockEntry';

export interface ReplicaState {
  'node'?: (string);
  /**
   * "primary" or "fallback".
   */
  'role'?: (string);
  /**
   * False when the node did not answer; `error` says why.
   */
  'answered'?: (boolean);
  'error'?: (string);
  /**
   * Whether the node holds an object for the key: its data for a primary, hints for a fallback.
   */
  'found'?: (boolean);
  /**
   * What it holds is hints (writes it accepted while a primary was down).
   */
  'hint'?: (boolean);
  'siblings'?: (_kv_v1_SiblingState)[];
  'clock'?: (_kv_v1_ClockEntry)[];
  /**
   * Size of the stored object, in bytes.
   */
  'objectBytes'?: (number);
}

export interface ReplicaState__Output {
  'node': (string);
  /**
   * "primary" or "fallback".
   */
  'role': (string);
  /**
   * False when the node did not answer; `error` says why.
   */
  'answered': (boolean);
  'error': (string);
  /**
   * Whether the node holds an object for the key: its data for a primary, hints for a fallback.
   */
  'found': (boolean);
  /**
   * What it holds is hints (writes it accepted while a primary was down).
   */
  'hint': (boolean);
  'siblings': (_kv_v1_SiblingState__Output)[];
  'clock': (_kv_v1_ClockEntry__Output)[];
  /**
   * Size of the stored object, in bytes.
   */
  'objectBytes': (number);
}

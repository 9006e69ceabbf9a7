// Original file: app/rpc/proto/kv/v1/kv.proto

import type { AdminJoin as _kv_v1_AdminJoin, AdminJoin__Output as _kv_v1_AdminJoin__Output } from '../../kv/v1/AdminJoin';
import type { AdminShow as _kv_v1_AdminShow, AdminShow__Output as _kv_v1_AdminShow__Output } from '../../kv/v1/AdminShow';

export interface AdminRequest {
  /**
   * Stage: add a member (it must be running, started with --join).
   */
  'join'?: (_kv_v1_AdminJoin | null);
  /**
   * Stage: a member hands off its partitions, then leaves.
   */
  'leave'?: (string);
  /**
   * Stage: a member that is gone for good; its partitions are filled from the other replicas.
   */
  'remove'?: (string);
  /**
   * Show the staged changes and what committing them would move.
   */
  'plan'?: (_kv_v1_AdminShow | null);
  /**
   * Commit the staged changes.
   */
  'commit'?: (_kv_v1_AdminShow | null);
  /**
   * Forget the staged changes.
   */
  'clear'?: (_kv_v1_AdminShow | null);
  'action'?: "join"|"leave"|"remove"|"plan"|"commit"|"clear";
}

export interface AdminRequest__Output {
  /**
   * Stage: add a member (it must be running, started with --join).
   */
  'join'?: (_kv_v1_AdminJoin__Output | null);
  /**
   * Stage: a member hands off its partitions, then leaves.
   */
  'leave'?: (string);
  /**
   * Stage: a member that is gone for good; its partitions are filled from the other replicas.
   */
  'remove'?: (string);
  /**
   * Show the staged changes and what committing them would move.
   */
  'plan'?: (_kv_v1_AdminShow__Output | null);
  /**
   * Commit the staged changes.
   */
  'commit'?: (_kv_v1_AdminShow__Output | null);
  /**
   * Forget the staged changes.
   */
  'clear'?: (_kv_v1_AdminShow__Output | null);
  'action'?: "join"|"leave"|"remove"|"plan"|"commit"|"clear";
}

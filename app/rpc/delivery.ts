/**
 * Whether a call that grpc-js failed by itself (no status from the node) may have reached the
 * node. gRPC reports a connection that broke after the request was written with the same codes
 * (UNAVAILABLE, CANCELLED, INTERNAL, DEADLINE_EXCEEDED) as a connection that was never made, so a
 * client cannot resend a write on the code alone: a coordinator that stored the write and died
 * before answering would see it stored twice, as two siblings with the same value.
 *
 * grpc-js (1.14) already resends on its own what provably never left the client or was refused
 * unprocessed (transparent retry of NOT_STARTED and REFUSED_STREAM attempts, retrying-call.ts).
 * What is left that provably never reached a node is a pick that failed: no subchannel was ready,
 * so no HTTP/2 stream was opened. grpc-js says so only in the status details, in two forms, which
 * are matched here; anything else is taken as "may have been delivered", the safe side for a write.
 */
import { status } from '@grpc/grpc-js';

export type Delivery = 'not-sent' | 'maybe-sent';

/**
 * The picker's status when no connection is up and the call does not wait for one
 * (picker.ts UnavailablePicker, load-balancer-pick-first.ts: "No connection established. Last
 * error: connect ECONNREFUSED ..."; round_robin prefixes its name).
 */
const PICK_FAILED = /^((weighted_)?round_robin: )?No connection established/;

/**
 * The deadline passed while the call still waited for a pick, before any stream was opened
 * (load-balancing-call.ts getDeadlineInfo; the details read "Deadline exceeded after 5.001s,LB
 * pick: ...,Waiting for LB pick").
 */
const DEADLINE_BEFORE_PICK = /Waiting for LB pick/;

/** Codes grpc-js gives a call whose connection failed, as opposed to codes only a node chooses. */
const CONNECTION_CODES: ReadonlySet<number> = new Set([status.UNAVAILABLE, status.CANCELLED, status.INTERNAL, status.UNKNOWN]);

/** For a status grpc-js produced itself (the node sent none): did the request possibly leave? */
export function deliveryOf(code: number, details: string): Delivery {
  if (code === status.UNAVAILABLE && PICK_FAILED.test(details)) return 'not-sent';
  if (code === status.DEADLINE_EXCEEDED && DEADLINE_BEFORE_PICK.test(details)) return 'not-sent';
  return 'maybe-sent';
}

/**
 * For a status grpc-js produced itself: the call failed for want of a working connection (none
 * could be made, it dropped, the stream was cut), so another node may well serve the operation.
 * A deadline is not one of these: it spent the attempt's whole time budget.
 */
export function isConnectionFailure(code: number): boolean {
  return CONNECTION_CODES.has(code);
}

/**
 * Codes whose meaning is clear whoever produced them (INVALID_ARGUMENT, RESOURCE_EXHAUSTED ...):
 * the write was refused, not cut off. Only the ambiguous ones need deliveryOf.
 */
export function isAmbiguousForWrites(code: number): boolean {
  return CONNECTION_CODES.has(code) || code === status.DEADLINE_EXCEEDED;
}

/**
 * A failed connection in words a user can act on, from grpc-js's details ("No connection
 * established. Last error: Error: connect ECONNREFUSED 127.0.0.1:7001. Resolution note: "): what
 * happened at the address, without grpc-js's empty trailing note.
 */
export function explainConnectionFailure(details: string): string {
  if (DEADLINE_BEFORE_PICK.test(details)) return 'no connection came up within the time budget (something accepts connections there but does not answer: a frozen or overloaded node?)';
  const last = /Last error: (?:Error: )?(.*?)\.?(?: \(\d{4}-[^)]*\))?\.?(?: Resolution note: .*)?$/s.exec(details)?.[1] ?? details.replace(/\.? ?Resolution note: .*$/s, '');
  if (/ECONNREFUSED/.test(last)) return 'nothing listens there (connection refused)';
  if (/^Protocol error/i.test(last)) return 'something answered that does not speak gRPC (an HTTP/1 server such as the metrics port?)';
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo/.test(last)) return `the host name does not resolve (${last})`;
  if (/EHOSTUNREACH|ENETUNREACH/.test(last)) return `the host is unreachable (${last})`;
  if (/ETIMEDOUT|timed out/i.test(last)) return `the connection timed out (${last})`;
  if (/ECONNRESET|EPIPE/.test(last)) return `the connection was closed by the other side (${last})`;
  return last;
}

/**
 * Client operations as the coordinator sees them (independent of the wire format), their results,
 * and the checks every operation passes before it touches anything.
 */
import { invalidArgument, Result, ok, err } from '../errors';
import { ContextSeal } from '../versioning/context-seal';
import { VersionVector } from '../versioning/dvv';

/**
 * `r`/`w` of 0 mean the cluster default. `pr`/`pw` (absent or 0: none) say how many of the R
 * replies or W acknowledgements must come from primaries rather than fallbacks.
 */
export type ClientOp =
  | { readonly kind: 'get'; readonly key: Uint8Array; readonly r: number; readonly pr?: number }
  | { readonly kind: 'put'; readonly key: Uint8Array; readonly value: Uint8Array; readonly context: Uint8Array; readonly w: number; readonly pw?: number }
  | { readonly kind: 'delete'; readonly key: Uint8Array; readonly context: Uint8Array; readonly w: number; readonly pw?: number };

export interface GetResult {
  readonly kind: 'get';
  readonly found: boolean;
  readonly values: Uint8Array[];
  readonly context: Uint8Array;
  readonly deleted: boolean;
}

export interface WriteResult {
  readonly kind: 'put' | 'delete';
  readonly context: Uint8Array;
  readonly siblings: number;
}

export type OpResult = GetResult | WriteResult;

/**
 * The longest timeout_ms a request may ask for: 2^31-1 ms (about 24.8 days), the longest delay
 * Node's timers take. A longer one would not wait longer: Node fires such a timer at once, so a
 * put asked for 2^31 ms answered DEADLINE_EXCEEDED at once while its write went on and was stored.
 * Longer timeouts are refused (INVALID_ARGUMENT) rather than shortened, so that a client never
 * waits less than it asked without being told.
 */
export const TIMEOUT_MS_MAX = 2 ** 31 - 1;

/** A request's timeout_ms: 0 (the node's request timeout) to TIMEOUT_MS_MAX. */
export function checkTimeoutMs(timeoutMs: number, field = 'timeout_ms'): Result<number> {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > TIMEOUT_MS_MAX) {
    return err(invalidArgument(field, timeoutMs, `is out of range: ${field} must be within 0..${TIMEOUT_MS_MAX} ms (TIMEOUT_MS_MAX, the longest timer Node keeps), or 0 for the node's request timeout`));
  }
  return ok(timeoutMs);
}

/** What bounds a request: the cluster's quorum settings and size limits. */
export interface RequestLimits {
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
}

/** A request after its checks: quorum resolved (0 = the cluster default) and context opened (its seal checked) and decoded. */
export type CheckedOp =
  | { readonly kind: 'get'; readonly key: Uint8Array; readonly r: number; readonly pr: number }
  | { readonly kind: 'put' | 'delete'; readonly key: Uint8Array; readonly value: Uint8Array | null; readonly context: VersionVector; readonly w: number; readonly pw: number };

/** `contexts` opens the context of a put or delete: only one this cluster handed out for this key passes. */
export function checkOp(op: ClientOp, limits: RequestLimits, contexts: ContextSeal): Result<CheckedOp> {
  if (op.key.length === 0) return err(invalidArgument('key', op.key, 'is empty; a key has 1 to ' + `${limits.keyBytesMax} bytes`));
  if (op.key.length > limits.keyBytesMax) return err(invalidArgument('key', op.key, `exceeds the limit of ${limits.keyBytesMax} bytes`));
  if (op.kind === 'get') {
    const r = checkQuorum('r', op.r, limits.r, limits.n);
    if (!r.ok) return r;
    const pr = checkPrimaryQuorum('pr', op.pr ?? 0, 'r', r.value);
    return pr.ok ? ok({ kind: 'get', key: op.key, r: r.value, pr: pr.value }) : pr;
  }
  if (op.kind === 'put' && op.value.length > limits.valueBytesMax) {
    return err(invalidArgument('value', op.value, `exceeds the limit of ${limits.valueBytesMax} bytes`));
  }
  const w = checkQuorum('w', op.w, limits.w, limits.n);
  if (!w.ok) return w;
  const pw = checkPrimaryQuorum('pw', op.pw ?? 0, 'w', w.value);
  if (!pw.ok) return pw;
  const context = contexts.open(op.key, op.context);
  if (!context.ok) return context;
  return ok({ kind: op.kind, key: op.key, value: op.kind === 'put' ? op.value : null, context: context.value, w: w.value, pw: pw.value });
}

/** pr/pw: 0..R or 0..W (the replies or acknowledgements that must come from primaries). */
function checkPrimaryQuorum(field: 'pr' | 'pw', requested: number, of: 'r' | 'w', quorum: number): Result<number> {
  if (!Number.isInteger(requested) || requested < 0 || requested > quorum) {
    return err(invalidArgument(field, requested, `is out of range: ${field} must be within 0..${of.toUpperCase()} (${of.toUpperCase()}=${quorum} for this request)`));
  }
  return ok(requested);
}

function checkQuorum(field: 'r' | 'w', requested: number, fallback: number, n: number): Result<number> {
  if (requested === 0) return ok(fallback);
  if (!Number.isInteger(requested) || requested < 1 || requested > n) {
    return err(invalidArgument(field, requested, `is out of range: ${field} must be within 1..N (N=${n}), or 0 for the cluster default`));
  }
  return ok(requested);
}

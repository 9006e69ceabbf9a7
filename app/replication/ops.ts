/**
 * Client operations as the coordinator sees them (independent of the wire format), their results,
 * and the checks every operation passes before it touches anything.
 */
import { invalidArgument, KvError, Result, ok, err } from '../errors';
import { CodecError, decodeContext } from '../versioning/codec';
import { VersionVector } from '../versioning/dvv';

export type ClientOp =
  | { readonly kind: 'get'; readonly key: Uint8Array; readonly r: number }
  | { readonly kind: 'put'; readonly key: Uint8Array; readonly value: Uint8Array; readonly context: Uint8Array; readonly w: number }
  | { readonly kind: 'delete'; readonly key: Uint8Array; readonly context: Uint8Array; readonly w: number };

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

/** What bounds a request: the cluster's quorum settings and size limits. */
export interface RequestLimits {
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
}

/** A request after its checks: quorum resolved (0 = the cluster default) and context decoded. */
export type CheckedOp =
  | { readonly kind: 'get'; readonly key: Uint8Array; readonly r: number }
  | { readonly kind: 'put' | 'delete'; readonly key: Uint8Array; readonly value: Uint8Array | null; readonly context: VersionVector; readonly w: number };

export function checkOp(op: ClientOp, limits: RequestLimits): Result<CheckedOp> {
  if (op.key.length === 0) return err(invalidArgument('key', op.key, 'is empty; a key has 1 to ' + `${limits.keyBytesMax} bytes`));
  if (op.key.length > limits.keyBytesMax) return err(invalidArgument('key', op.key, `exceeds the limit of ${limits.keyBytesMax} bytes`));
  if (op.kind === 'get') {
    const r = checkQuorum('r', op.r, limits.r, limits.n);
    return r.ok ? ok({ kind: 'get', key: op.key, r: r.value }) : r;
  }
  if (op.kind === 'put' && op.value.length > limits.valueBytesMax) {
    return err(invalidArgument('value', op.value, `exceeds the limit of ${limits.valueBytesMax} bytes`));
  }
  const w = checkQuorum('w', op.w, limits.w, limits.n);
  if (!w.ok) return w;
  let context: VersionVector;
  try {
    context = decodeContext(op.context);
  } catch (e) {
    const why = e instanceof CodecError ? e.message : String(e);
    return err(new KvError('InvalidArgument', `context: ${op.context.length} bytes is not a context returned by a get (${why}); pass it back unchanged`));
  }
  return ok({ kind: op.kind, key: op.key, value: op.kind === 'put' ? op.value : null, context, w: w.value });
}

function checkQuorum(field: 'r' | 'w', requested: number, fallback: number, n: number): Result<number> {
  if (requested === 0) return ok(fallback);
  if (!Number.isInteger(requested) || requested < 1 || requested > n) {
    return err(invalidArgument(field, requested, `is out of range: ${field} must be within 1..N (N=${n}), or 0 for the cluster default`));
  }
  return ok(requested);
}

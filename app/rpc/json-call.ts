/**
 * One unary call of kv.v1.KV with a JSON request, answered as JSON: what `kv call` runs, so the
 * raw API can be tried where grpcurl is not installed (it is not in Debian 12). The JSON is
 * protobuf's JSON form, as grpcurl speaks it: field names in lowerCamelCase or as in the proto,
 * `bytes` fields (keys, values, contexts) in base64.
 */
import * as grpc from '@grpc/grpc-js';
import { protos } from './proto-definition';
import { channelSecurity, ClientSecurity } from './tls';

/** The unary methods of kv.v1.KV (Batch is a stream). */
export const UNARY_METHODS = ['Get', 'Put', 'Delete', 'Status', 'Inspect'] as const;
export type UnaryMethod = (typeof UNARY_METHODS)[number];

export type JsonCallResult = { readonly ok: true; readonly json: string } | { readonly ok: false; readonly code: number; readonly codeName: string; readonly message: string };

function isMethod(name: string): name is UnaryMethod {
  return (UNARY_METHODS as readonly string[]).includes(name);
}

/** Buffers become base64 (protobuf's JSON form of bytes); everything else stays as it is. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return Buffer.from((v as { data: number[] }).data).toString('base64');
    return v;
  });
}

export function jsonCall(address: string, method: string, request: unknown, timeoutMs: number, security?: ClientSecurity): Promise<JsonCallResult> {
  if (!isMethod(method)) throw new Error(`method: ${JSON.stringify(method)} is not a unary method of kv.v1.KV (${UNARY_METHODS.join(', ')})`);
  const { credentials, clientOptions } = channelSecurity(security, { address });
  const client = new (protos().kv.KV)(address, credentials, clientOptions);
  const call = client[method].bind(client) as unknown as (req: unknown, options: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void;
  return new Promise((resolve) => {
    call(request, { deadline: Date.now() + timeoutMs }, (e, response) => {
      client.close();
      if (e) resolve({ ok: false, code: e.code, codeName: grpc.status[e.code] ?? String(e.code), message: e.details });
      else resolve({ ok: true, json: toJson(response) });
    });
  });
}

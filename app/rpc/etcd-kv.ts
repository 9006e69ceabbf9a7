/**
 * A minimal client of etcd's v3 KV service (Range and Put, see proto/etcd/kv.proto), for
 * `kv bench --target etcd`: one gRPC channel per member's client endpoint, calls spread round
 * robin, the same grpc-js stack and channel settings as the store's client (./kv-channel.ts).
 * Reads are etcd's default, linearizable; writes are plain puts. No retries: a failure is a value
 * with its gRPC status, which the benchmark counts.
 */
import * as grpc from '@grpc/grpc-js';
import { GRPC_COMMON_OPTIONS } from './grpc-options';
import { err, ok, Result } from '../errors';
import { etcdKvService } from './proto-definition';
import { statusName } from './status-map';

/** A failed call: the gRPC status, its name and etcd's message. */
export interface EtcdFailure {
  readonly code: number;
  readonly codeName: string;
  readonly message: string;
}

/** The fields of RangeResponse that a get reads (the rest is decoded and dropped). */
interface RangeResponse {
  readonly kvs: ReadonlyArray<{ readonly value: Buffer; readonly modRevision: number }>;
}

/** What a get returns: the value, undefined when etcd holds no such key. */
export interface EtcdValue {
  readonly value: Buffer | undefined;
  /** The key's last modification revision (0 when absent). */
  readonly modRevision: number;
}

type Call<Req, Res> = (request: Req, options: grpc.CallOptions, callback: grpc.requestCallback<Res>) => void;

interface EtcdKvStub extends grpc.Client {
  Range: Call<{ key: Uint8Array }, RangeResponse>;
  Put: Call<{ key: Uint8Array; value: Uint8Array }, unknown>;
}

/** etcd's own default request size limit (--max-request-bytes) is 1.5 MiB; answers can carry more. */
const MESSAGE_BYTES_MAX = 64 * 1024 * 1024;

export class EtcdKvClient {
  private readonly stubs: EtcdKvStub[];
  private next = 0;

  /** `endpoints`: host:port of each member's client URL (plain HTTP/2, no TLS). */
  constructor(
    readonly endpoints: readonly string[],
    private readonly timeoutMs: number,
  ) {
    if (endpoints.length === 0) throw new Error('EtcdKvClient: no endpoint');
    const Service = etcdKvService();
    this.stubs = endpoints.map(
      (address) =>
        new Service(address, grpc.credentials.createInsecure(), {
          ...GRPC_COMMON_OPTIONS,
          'grpc.max_send_message_length': MESSAGE_BYTES_MAX,
          'grpc.max_receive_message_length': MESSAGE_BYTES_MAX,
          'grpc.initial_reconnect_backoff_ms': 100,
          'grpc.max_reconnect_backoff_ms': 2000,
        }) as unknown as EtcdKvStub,
    );
  }

  private stub(): EtcdKvStub {
    const s = this.stubs[this.next];
    this.next = (this.next + 1) % this.stubs.length;
    return s!;
  }

  private call<Req, Res>(invoke: (stub: EtcdKvStub) => Call<Req, Res>, request: Req): Promise<Result<Res, EtcdFailure>> {
    const stub = this.stub();
    return new Promise((resolve) => {
      invoke(stub).call(stub, request, { deadline: Date.now() + this.timeoutMs }, (e, res) => {
        if (e) resolve(err({ code: e.code, codeName: statusName(e.code), message: e.details || e.message }));
        else resolve(ok(res!));
      });
    });
  }

  /** A linearizable read of one key. */
  async get(key: Uint8Array): Promise<Result<EtcdValue, EtcdFailure>> {
    const r = await this.call((s) => s.Range, { key });
    if (!r.ok) return r;
    const kv = r.value.kvs[0];
    return ok({ value: kv?.value, modRevision: kv?.modRevision ?? 0 });
  }

  /** A plain put (no lease, no compare). */
  put(key: Uint8Array, value: Uint8Array): Promise<Result<unknown, EtcdFailure>> {
    return this.call((s) => s.Put, { key, value });
  }

  close(): void {
    for (const s of this.stubs) s.close();
  }
}

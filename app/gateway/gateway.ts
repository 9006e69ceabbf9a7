/**
 * A gateway (`kv node --role gateway`): the same binary, holding no data and taking no part in
 * the cluster. It serves the client API and sends each operation to a primary of its key, the
 * placement read from the store (`--upstream`) and read again as it changes, over the Batch
 * stream of each storage node (the client library with partition-aware routing does this: a
 * gateway is that library behind a gRPC port). A write is coordinated by a replica, as always:
 * dots need a replica's actor and clock, so a gateway forwards, it never coordinates.
 *
 * A gateway is stateless: a Deployment of them scales with the client load (an HPA on CPU and on
 * operations in flight) while the data stays on the storage nodes, which scale only through
 * membership. Its Status lists the gateway as the only member and the only primary of every
 * partition, so a partition-aware client that reached it keeps sending everything to it.
 *
 * Bounds: operations in flight (inFlightMax, beyond it RESOURCE_EXHAUSTED), the client library's
 * per-stream window to each storage node, and the request timeout (requestTimeoutMs) for each.
 */
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { ClientOp, OpResult } from '../api/ops';
import { KvClient, KvClientError } from '../client/client';
import { nodeSecurity } from '../node/security';
import { err, KvError, ok, Result } from '../errors';
import { Logger } from '../../observability/log';
import { NodeMetrics } from '../../observability/metrics';
import type { StatusResponse } from '../rpc/generated/kv/v1/StatusResponse';
import { KvServer } from '../rpc/server';
import { errorFromCode } from '../rpc/status-map';
import { NodeConfig, resourceLimits } from '../node/config';

/** How often a gateway reads the store's Status (the placement it shows, its readiness). */
export const UPSTREAM_STATUS_INTERVAL_MS = 5000;
/** Reads of the store's Status that fail in a row before the gateway reports itself not ready. */
export const UPSTREAM_FAILURES_NOT_READY = 3;

/** The store's error, as the gateway answers it: the same status code, message and may-have-applied flag. */
function upstreamError(e: unknown): KvError {
  if (e instanceof KvClientError) return errorFromCode(e.code, e.message.replace(/^[A-Z_]+: /, ''), e.writeMayHaveApplied);
  return new KvError('Internal', `gateway: ${String(e)}`);
}

export class KvGateway {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly config: NodeConfig,
    private readonly log: Logger,
    private readonly client: KvClient,
    private readonly server: KvServer,
    private readonly metricsServer: http.Server | undefined,
    private readonly timer: NodeJS.Timeout,
    private readonly drained: () => Promise<void>,
  ) {}

  get port(): number {
    return this.server.port;
  }

  static async start(config: NodeConfig, log: Logger): Promise<KvGateway> {
    const security = nodeSecurity(config, log);
    const client = new KvClient({ endpoints: config.upstream, timeoutMs: config.requestTimeoutMs, batch: true, routing: 'primary', security: security.outbound });
    const metrics = new NodeMetrics(config.nodeId);
    let inFlight = 0;
    let idle: (() => void) | undefined;
    metrics.inFlightSource = () => inFlight;
    let upstream: StatusResponse | undefined;

    const status = (): StatusResponse => {
      const s = upstream;
      const self = { id: config.nodeId, address: config.advertise, status: 'valid', zone: config.zone, self: true, reachable: true, partitionsOwned: s?.partitions ?? 0, partitionsReplicated: s?.partitions ?? 0, suspected: false, hintsPending: 0, hintBytes: 0, oldestHintAgeMs: 0 };
      return {
        role: 'gateway',
        nodeId: config.nodeId,
        actor: '',
        partitions: s?.partitions ?? 0,
        n: s?.n ?? 0,
        r: s?.r ?? 0,
        w: s?.w ?? 0,
        members: [self],
        syncState: 'synced',
        partitionsSyncing: 0,
        pid: process.pid,
        placement: Array.from({ length: s?.partitions ?? 0 }, () => ({ members: [config.nodeId] })),
        stateVersion: s?.stateVersion ?? 0,
        claimant: s?.claimant ?? '',
        transfersLeft: s?.transfersLeft ?? 0,
      };
    };
    const noData = () => err(new KvError('NotMember', `${config.nodeId} is a gateway: it holds no data and takes no peer traffic`));
    const forward = async <T>(fn: () => Promise<T>): Promise<Result<T, KvError>> => {
      try {
        return ok(await fn());
      } catch (e) {
        return err(upstreamError(e));
      }
    };

    let server: KvServer | undefined;
    const metricsServer = config.metricsPort === 0 ? undefined : await metrics.serve(config.host, config.metricsPort, () => server?.isServing ?? false);
    try {
      server = await KvServer.start(
        {
          execute: async (op: ClientOp): Promise<Result<OpResult, KvError>> => {
            if (upstream === undefined) return err(new KvError('ShuttingDown', `${config.nodeId} is a gateway that has not reached the store yet (--upstream ${config.upstream.join(',')}); try another node`));
            if (inFlight >= config.inFlightMax) return err(new KvError('Overloaded', `${config.nodeId} has ${inFlight} operations in flight (in-flight-max ${config.inFlightMax}); retry with backoff`));
            inFlight++;
            const started = performance.now();
            try {
              const r = await forward(() => client.execute(op));
              metrics.operationDone(op, r, started);
              return r;
            } finally {
              inFlight--;
              if (inFlight === 0) idle?.();
            }
          },
          fetch: async () => noData(),
          replicate: async () => noData(),
          status,
          inspect: (key) => forward(() => client.inspect(key)),
          admin: (request) => forward(() => client.admin(request)),
        },
        { host: config.host, port: config.port, messageBytesMax: config.messageBytesMax, batchOpsMax: config.batchOpsMax, streamInFlightMax: config.streamInFlightMax, peerStreamInFlightMax: config.peerStreamInFlightMax, limits: resourceLimits(config), log, onStatus: (method, code) => metrics.grpcHandled.inc({ method, code }), servePeer: false, tls: security.tls, access: security.access },
      );
    } catch (e) {
      metricsServer?.close();
      client.close();
      throw e;
    }

    // Ready once the store answered. Not ready after UPSTREAM_FAILURES_NOT_READY reads in a row
    // fail; operations still go through meanwhile (the client fails over between store nodes).
    let failures = 0;
    const readUpstream = async () => {
      try {
        const s = await client.status();
        if (s.role === 'gateway') throw new Error(`${s.nodeId} is a gateway too: --upstream must name store nodes`);
        if (upstream === undefined || failures >= UPSTREAM_FAILURES_NOT_READY) log.info('gateway serving', { port: server.port, upstream: config.upstream, members: s.members.length, partitions: s.partitions });
        upstream = s;
        failures = 0;
        server.setServing(true);
      } catch (e) {
        failures++;
        if (failures === 1 || failures === UPSTREAM_FAILURES_NOT_READY) log.warn('the store does not answer the gateway', { upstream: config.upstream, failures, error: (e as Error).message });
        if (failures >= UPSTREAM_FAILURES_NOT_READY) server.setServing(false);
      }
    };
    await readUpstream();
    const timer = setInterval(() => void readUpstream(), UPSTREAM_STATUS_INTERVAL_MS);
    const drained = () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (idle = resolve)));
    return new KvGateway(config, log, client, server, metricsServer, timer, drained);
  }

  /** Stops taking operations, lets those in flight finish (shutdownGraceMs at most), then closes. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      this.server.setServing(false);
      const grace = new Promise<void>((resolve) => setTimeout(resolve, this.config.shutdownGraceMs).unref());
      await Promise.race([this.drained(), grace]);
      await this.server.shutdown(Math.min(this.config.shutdownGraceMs, 2000));
      this.client.close();
      await new Promise<void>((resolve) => {
        if (!this.metricsServer) return resolve();
        this.metricsServer.close(() => resolve());
        this.metricsServer.closeAllConnections();
      });
      this.log.info('stopped');
    })();
    return this.stopping;
  }
}

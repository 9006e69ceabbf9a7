/**
 * Server reflection lists what a client may call, and nothing more: kv.v1.KV, kv.v1.Backup when
 * served, the health service and reflection itself; never the peer service. Asked with a real
 * ServerReflectionInfo stream. Ports: 19401, 19402.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as path from 'node:path';
import { ok } from '../../app/errors';
import { KvServer, NodeHandlers } from '../../app/rpc/server';
import type { StatusResponse } from '../../app/rpc/generated/kv/v1/StatusResponse';

type ReflectionReply = { list_services_response?: { service: { name: string }[] }; file_descriptor_response?: { file_descriptor_proto: Buffer[] }; error_response?: { error_code: number } };

function reflectionClient(address: string): grpc.Client & { ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, ReflectionReply> } {
  const dir = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  const def = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [dir], keepCase: true, defaults: true, oneofs: true });
  const ctor = (grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: typeof grpc.Client } } } }).grpc.reflection.v1.ServerReflection;
  return new ctor(address, grpc.credentials.createInsecure()) as never;
}

/** One reflection request, one answer. */
async function ask(address: string, request: unknown): Promise<ReflectionReply> {
  const client = reflectionClient(address);
  try {
    return await new Promise<ReflectionReply>((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      call.on('data', (reply: ReflectionReply) => {
        resolve(reply);
        call.end();
      });
      call.on('error', reject);
      call.write(request);
    });
  } finally {
    client.close();
  }
}

const base: NodeHandlers = {
  execute: async () => ok({ kind: 'put', context: Buffer.alloc(0), siblings: 1 }),
  fetch: async () => ok(undefined),
  replicate: async () => ok(undefined),
  status: () => ({}) as StatusResponse,
};
const backup = { snapshot: async () => ok({ header: {}, path: '/nonexistent', release: async () => {} }), restore: async () => ok({ merged: 0, failed: [] }) };

const servers: KvServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.shutdown(0);
});

async function serve(port: number, handlers: NodeHandlers): Promise<string> {
  const server = await KvServer.start(handlers, { host: '127.0.0.1', port, messageBytesMax: 1 << 20, batchOpsMax: 64, streamInFlightMax: 64, peerStreamInFlightMax: 16 });
  servers.push(server);
  return `127.0.0.1:${port}`;
}

test('reflection lists the client services, health and reflection, and not the peer service', async () => {
  const address = await serve(19401, { ...base, backup });
  const reply = await ask(address, { list_services: '' });
  expect(reply.list_services_response!.service.map((s) => s.name).sort()).toEqual(['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'kv.v1.Backup', 'kv.v1.KV']);
});

test('reflection leaves out kv.v1.Backup on a node that does not serve it', async () => {
  const address = await serve(19402, base);
  const reply = await ask(address, { list_services: '' });
  expect(reply.list_services_response!.service.map((s) => s.name).sort()).toEqual(['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'kv.v1.KV']);
});

test('reflection describes kv.v1.KV in full and knows no kv.v1.Peer symbol', async () => {
  const address = `127.0.0.1:19401`;
  const kv = await ask(address, { file_containing_symbol: 'kv.v1.KV' });
  expect(kv.file_descriptor_response!.file_descriptor_proto.length).toBeGreaterThanOrEqual(1);
  const peer = await ask(address, { file_containing_symbol: 'kv.v1.Peer' });
  expect(peer.error_response?.error_code).toBe(grpc.status.NOT_FOUND);
});

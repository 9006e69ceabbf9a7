/**
 * Loads the kv.v1 protos once (and, for `kv bench --target etcd`, the part of etcd's API it calls). The .proto files are read at run time (no generated JS), from
 * app/rpc/proto whether this module runs from source (tests) or from dist/ (the CLI, the image).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import type { ProtoGrpcType as KvProto } from './generated/kv';
import type { ProtoGrpcType as PeerProto } from './generated/peer';
import type { ProtoGrpcType as BackupProto } from './generated/backup';

/** Loader options that the generated types in ./generated match (see the proto:gen script). */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

function findProtoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'app', 'rpc', 'proto');
    if (fs.existsSync(path.join(candidate, 'kv', 'v1', 'kv.proto'))) return candidate;
    const sibling = path.join(dir, 'proto');
    if (fs.existsSync(path.join(sibling, 'kv', 'v1', 'kv.proto'))) return sibling;
    if (path.dirname(dir) === dir) throw new Error(`kv.proto not found above ${__dirname}: the app/rpc/proto folder must ship with the build`);
  }
}

export interface LoadedProtos {
  readonly packageDefinition: protoLoader.PackageDefinition;
  readonly kv: KvProto['kv']['v1'];
  readonly peer: PeerProto['kv']['v1'];
  readonly backup: BackupProto['kv']['v1'];
}

let loaded: LoadedProtos | undefined;

export function protos(): LoadedProtos {
  if (loaded) return loaded;
  const root = findProtoRoot();
  const packageDefinition = protoLoader.loadSync(['kv/v1/kv.proto', 'kv/v1/peer.proto', 'kv/v1/backup.proto'], { ...LOADER_OPTIONS, includeDirs: [root] });
  const pkg = grpc.loadPackageDefinition(packageDefinition) as unknown as KvProto & PeerProto & BackupProto;
  loaded = { packageDefinition, kv: pkg.kv.v1, peer: pkg.kv.v1, backup: pkg.kv.v1 };
  return loaded;
}

let etcdKv: grpc.ServiceClientConstructor | undefined;

/** The client constructor of etcd's KV service, Range and Put only (proto/etcd/kv.proto). */
export function etcdKvService(): grpc.ServiceClientConstructor {
  if (etcdKv) return etcdKv;
  const definition = protoLoader.loadSync(['etcd/kv.proto'], { ...LOADER_OPTIONS, includeDirs: [findProtoRoot()] });
  const pkg = grpc.loadPackageDefinition(definition) as { etcdserverpb: { KV: grpc.ServiceClientConstructor } };
  etcdKv = pkg.etcdserverpb.KV;
  return etcdKv;
}

/** The reflection service's own proto (grpc.reflection.v1), as the @grpc/reflection package ships it. */
function reflectionProtoDir(): string {
  return path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
}

/**
 * What server reflection lists: the client services (kv.v1.KV, and kv.v1.Backup when the node
 * serves it: `kv backup` and `kv restore` call it), the standard health service (grpc.health.v1),
 * so a generic client (grpcurl) can call Health/Check without a local copy of health.proto, and
 * reflection itself. Never the peer service (kv.v1.Peer): it is for other nodes, and listing it
 * invites clients to call it. kv.proto and backup.proto import nothing from peer.proto.
 */
export function reflectionDefinition(served: { readonly backup: boolean }): protoLoader.PackageDefinition {
  const files = ['kv/v1/kv.proto', ...(served.backup ? ['kv/v1/backup.proto'] : []), healthProtoPath, 'grpc/reflection/v1/reflection.proto'];
  return protoLoader.loadSync(files, { ...LOADER_OPTIONS, includeDirs: [findProtoRoot(), path.dirname(healthProtoPath), reflectionProtoDir()] });
}

/**
 * The Backup service's snapshot stream over real gRPC on loopback, against a copy file on disk:
 * a caller that stops reading is cut off after the stall bound and the copy is released; a caller
 * that cancels releases it at once; one that reads gets every byte and the matching SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ok } from '../../app/errors';
import { BackupChannel, BackupRpcError } from '../../app/rpc/backup-channel';
import { backupService, BackupNodeHandlers } from '../../app/rpc/backup-service';
import { protos } from '../../app/rpc/proto-definition';
import { waitFor } from '../support/wait-for';

const STALL_MS = 300;
/**
 * The bound of the server the reading and cancelling callers use: far beyond any pause of this
 * (shared, busy) process, so that only the stall test can hit a stall bound. The reader shares the
 * process with the server, and a pause of the whole process longer than STALL_MS would otherwise
 * cut off a caller that reads.
 */
const PATIENT_STALL_MS = 60_000;
/** More than the server buffers (16 chunks of 1 MiB, and HTTP/2's windows), so a caller that stops reading stalls it. */
const COPY_BYTES = 64 * 1024 * 1024;

let dir: string;
let copy: string;
let servers: grpc.Server[] = [];
/** Of the server with the short bound (STALL_MS), and of the one with PATIENT_STALL_MS. */
let stallAddress: string;
let address: string;
let released = 0;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-backup-service-'));
  copy = path.join(dir, 'data.mdb');
  fs.writeFileSync(copy, randomBytes(COPY_BYTES));
  const node: BackupNodeHandlers = {
    snapshot: async () =>
      ok({
        header: { nodeId: 'kv-1', actor: 'kv-1.a', partitions: 64, n: 3, stateVersion: 1, primaryPartitions: [], format: 'lmdb-env-copy/1', takenAtMs: 1, bytes: COPY_BYTES },
        path: copy,
        release: async () => {
          released++;
        },
      }),
    restore: async () => ok({ merged: 0, failed: [] }),
  };
  const serve = async (stallMs: number): Promise<string> => {
    const server = new grpc.Server();
    servers.push(server);
    server.addService(protos().backup.Backup.service, backupService(node, stallMs));
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    return `127.0.0.1:${port}`;
  };
  stallAddress = await serve(STALL_MS);
  address = await serve(PATIENT_STALL_MS);
});

afterAll(() => {
  for (const server of servers) server.forceShutdown();
  servers = [];
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a caller that reads gets the header, every byte in order, and the SHA-256 of them', async () => {
  const before = released;
  const channel = new BackupChannel(address);
  try {
    const hash = createHash('sha256');
    let bytes = 0;
    let trailer: { bytes: number; sha256: string } | undefined;
    for await (const chunk of channel.snapshot()) {
      if (chunk.data) {
        hash.update(chunk.data);
        bytes += chunk.data.length;
      }
      if (chunk.trailer) trailer = { bytes: Number(chunk.trailer.bytes), sha256: chunk.trailer.sha256 };
    }
    const expected = createHash('sha256').update(fs.readFileSync(copy)).digest('hex');
    expect({ bytes, sha256: hash.digest('hex') }).toEqual({ bytes: COPY_BYTES, sha256: expected });
    expect(trailer).toEqual({ bytes: COPY_BYTES, sha256: expected });
    await waitFor(() => released === before + 1, { timeoutMs: 5000, what: 'the copy released once' });
  } finally {
    channel.close();
  }
});

test('a caller that stops reading is cut off after the stall bound, and the copy is released', async () => {
  const before = released;
  const channel = new BackupChannel(stallAddress);
  try {
    const stream = channel.snapshot();
    expect((await stream.next()).value?.header?.nodeId).toBe('kv-1');
    // Read nothing more: the server's buffers fill, then it waits STALL_MS for the caller.
    await waitFor(() => released === before + 1, { timeoutMs: 10_000, what: 'the stalled stream released' });
    const seen = await (async () => {
      try {
        for (;;) if ((await stream.next()).done) return 'ended';
      } catch (e) {
        return e;
      }
    })();
    expect(seen).toBeInstanceOf(BackupRpcError);
    expect(seen).toMatchObject({ codeName: 'DEADLINE_EXCEEDED', message: expect.stringContaining(`took nothing of the snapshot for ${STALL_MS} ms (SNAPSHOT_STALL_MS)`) });
  } finally {
    channel.close();
  }
});

test('a caller that cancels releases the copy at once', async () => {
  const before = released;
  const channel = new BackupChannel(address);
  try {
    const stream = channel.snapshot();
    await stream.next();
    await stream.return(undefined);
    await waitFor(() => released === before + 1, { timeoutMs: 10_000, what: 'the cancelled stream released, long before its stall bound' });
  } finally {
    channel.close();
  }
});

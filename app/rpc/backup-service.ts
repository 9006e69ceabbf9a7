/**
 * The kv.v1.Backup service (backup.proto): a node's snapshot streamed to `kv backup`, and restored
 * objects merged into the cluster for `kv restore`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { KvError, Result } from '../errors';
import type { BackupHandlers } from './generated/kv/v1/Backup';
import type { RestoreRequest__Output } from './generated/kv/v1/RestoreRequest';
import type { RestoreResponse } from './generated/kv/v1/RestoreResponse';
import type { SnapshotChunk } from './generated/kv/v1/SnapshotChunk';
import type { SnapshotHeader } from './generated/kv/v1/SnapshotHeader';
import type { SnapshotRequest__Output } from './generated/kv/v1/SnapshotRequest';
import { codeOf } from './status-map';

/** Bytes of the copy in one SnapshotChunk. */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/**
 * A snapshot stream whose caller takes nothing for this long is ended (DEADLINE_EXCEEDED) and its
 * copy removed: a caller that stops reading must not hold the node's one snapshot and its disk.
 */
export const SNAPSHOT_STALL_MS = 120_000;

/** A copy of the node's store, ready to stream; `release` removes it. */
export interface SnapshotToStream {
  readonly header: SnapshotHeader;
  readonly path: string;
  release(): Promise<void>;
}

export interface BackupNodeHandlers {
  snapshot(): Promise<Result<SnapshotToStream, KvError>>;
  restore(objects: ReadonlyArray<{ key: Uint8Array; object: Uint8Array }>, w: number): Promise<Result<RestoreResponse, KvError>>;
}

function statusOf(e: KvError): Partial<grpc.StatusObject> {
  return { code: codeOf(e), details: e.message };
}

/**
 * Streams the copy: header, the file in SNAPSHOT_CHUNK_BYTES chunks (reading pauses while the
 * caller is slow: the stream's buffer, 16 chunks, is the bound), trailer with the SHA-256 of what
 * was sent.
 * The copy is removed however the call ends (done, cancelled, failed).
 */
function serveSnapshot(call: grpc.ServerWritableStream<SnapshotRequest__Output, SnapshotChunk>, node: BackupNodeHandlers, stallMs: number): void {
  const fail = (status: Partial<grpc.StatusObject>) => call.emit('error', status);
  node.snapshot().then(
    (r) => {
      if (!r.ok) {
        fail(statusOf(r.error));
        return;
      }
      const copy = r.value;
      const file = createReadStream(copy.path, { highWaterMark: SNAPSHOT_CHUNK_BYTES });
      let stall: NodeJS.Timeout | undefined;
      let finished = false;
      // Once, however many ways the call ends (the caller cancels after the last chunk, too).
      const done = () => {
        clearTimeout(stall);
        if (finished) return;
        finished = true;
        void copy.release();
      };
      // Restarted whenever the caller takes more.
      const watch = () => {
        clearTimeout(stall);
        stall = setTimeout(() => {
          file.destroy();
          done();
          fail({ code: grpc.status.DEADLINE_EXCEEDED, details: `the caller took nothing of the snapshot for ${stallMs} ms (SNAPSHOT_STALL_MS); the copy is removed: ask again` });
        }, stallMs);
      };
      watch();
      call.once('cancelled', () => {
        file.destroy();
        done();
      });
      const hash = createHash('sha256');
      let bytes = 0;
      call.write({ header: copy.header });
      file.on('data', (chunk: string | Buffer) => {
        const data = Buffer.from(chunk);
        hash.update(data);
        bytes += data.length;
        if (call.write({ data })) watch();
        else {
          file.pause();
          call.once('drain', () => {
            watch();
            file.resume();
          });
        }
      });
      file.once('error', (e) => {
        done();
        fail({ code: grpc.status.INTERNAL, details: `reading the snapshot copy failed: ${e.message}` });
      });
      file.once('end', () => {
        call.write({ trailer: { bytes, sha256: hash.digest('hex') } });
        call.end();
        done();
      });
    },
    (e: unknown) => fail({ code: grpc.status.INTERNAL, details: `snapshot failed: ${String(e)}` }),
  );
}

export function backupService(node: BackupNodeHandlers, stallMs = SNAPSHOT_STALL_MS): BackupHandlers {
  return {
    Snapshot: (call) => serveSnapshot(call, node, stallMs),
    Restore: (call: grpc.ServerUnaryCall<RestoreRequest__Output, RestoreResponse>, callback: grpc.sendUnaryData<RestoreResponse>) => {
      node.restore(call.request.objects, call.request.w).then(
        (r) => (r.ok ? callback(null, r.value) : callback(statusOf(r.error))),
        (e: unknown) => callback({ code: grpc.status.INTERNAL, details: String(e) }),
      );
    },
  };
}

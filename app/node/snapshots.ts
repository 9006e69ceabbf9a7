/**
 * The node's side of `kv backup`: a consistent copy of its store, taken into a scratch folder in
 * its data directory, streamed to the caller, then removed. One copy at a time (a second caller
 * is told to wait); a copy left by a node that died while streaming is removed at the next start.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { err, KvError, ok, Result, storeFailureCondition } from '../errors';
import { LocalStore, SnapshotFile } from '../storage/local-store';

/** The scratch folder, inside the data directory, that holds a copy while it streams. */
export const SNAPSHOT_SCRATCH_DIR = 'snapshot-scratch';

/** Copies being taken or streamed at once, per node: one (each is up to the size of the store). */
export const SNAPSHOTS_IN_FLIGHT_MAX = 1;

/** The format of a snapshot's file, recorded in every manifest. */
export const SNAPSHOT_FORMAT = 'lmdb-env-copy/1';

export interface TakenSnapshot extends SnapshotFile {
  readonly takenAtMs: number;
  /** Removes the copy; call it once the stream ends, however it ends. */
  release(): Promise<void>;
}

export class Snapshots {
  private inFlight = 0;
  private readonly scratch: string;

  constructor(
    private readonly store: LocalStore,
    dataDir: string,
    private readonly nodeId: string,
  ) {
    this.scratch = path.join(dataDir, SNAPSHOT_SCRATCH_DIR);
  }

  /** Removes copies a previous run left behind (it stopped while streaming one). */
  async clearScratch(): Promise<void> {
    await fs.rm(this.scratch, { recursive: true, force: true });
  }

  async take(): Promise<Result<TakenSnapshot, KvError>> {
    if (!this.store.snapshot) return err(new KvError('BackupRefused', `${this.nodeId} keeps its data in the ${this.store.engine} engine, which has no files to copy; backups need the lmdb engine`));
    if (this.inFlight >= SNAPSHOTS_IN_FLIGHT_MAX) return err(new KvError('Overloaded', `a snapshot of ${this.nodeId} is being taken already (SNAPSHOTS_IN_FLIGHT_MAX ${SNAPSHOTS_IN_FLIGHT_MAX}); wait for it to finish, then try again`));
    this.inFlight++;
    const takenAtMs = Date.now();
    const dir = path.join(this.scratch, String(takenAtMs));
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      this.inFlight--;
      await fs.rm(dir, { recursive: true, force: true });
    };
    try {
      const file = await this.store.snapshot(dir);
      return ok({ ...file, takenAtMs, release });
    } catch (e) {
      await release();
      const condition = storeFailureCondition(e);
      if (condition !== undefined) return err(new KvError(condition, `snapshot of ${this.nodeId}: ${(e as Error).message}`));
      throw e;
    }
  }
}

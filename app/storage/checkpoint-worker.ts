/**
 * Checkpoints off the event loop: a worker thread that commits batches of writes into the
 * store's LMDB environment, in one synchronous, synced LMDB transaction each, while the node's
 * main thread goes on serving. A checkpoint's commit took 10 to 250 ms on this project's machine
 * (mostly the sync); on the main thread, the node answered nothing meanwhile.
 *
 * lmdb-js shares one environment between the threads of a process that open the same path, so
 * the worker's commit is visible to the main thread's next read transaction (after
 * resetReadTxn). Main-thread reads never wait for it; a main-thread write transaction (setMeta)
 * waits for LMDB's writer lock while a checkpoint holds it.
 *
 * Exiting safely. lmdb-js's synchronous transaction holds a per-thread mutex from its start to
 * its commit, and the thread's cleanup at exit takes the same mutex: a worker stopped by the
 * process's exit in the middle of a transaction deadlocks on itself, and the process never exits
 * (21 of 40 tries, measured with process.exit at random moments; the node's fail-stop on a failed
 * disk is a process.exit). So the worker and the main thread share a state word: the worker
 * starts a transaction only by moving it from IDLE to BUSY, and the process's 'exit' handler
 * (which runs on the main thread before Node stops its workers, for process.exit, an uncaught
 * exception and a normal end alike) moves it to CLOSED, waiting while it is BUSY. A worker
 * stopped at exit is then never inside a transaction: 0 hangs in 40 tries.
 */
import { Worker } from 'node:worker_threads';
import { encodeWrites, LogWrite, REMOVE_FRAME_LENGTH, writesByteLength } from './write-ahead-log';

/** The state word's values. */
const IDLE = 0;
const BUSY = 1;
const CLOSED = 2;

/**
 * How long the process's exit waits for a checkpoint's commit to end, at most. A disk that holds
 * a sync longer than this makes the exit hang on the worker as described above; nothing else can
 * be done for it from JavaScript.
 */
export const EXIT_WAIT_MS = 60_000;

/** A failed commit, with LMDB's or the system's error code when there was one (ENOSPC, EIO ...). */
export class CheckpointCommitError extends Error {
  constructor(
    message: string,
    readonly code: unknown,
  ) {
    super(message);
    this.name = 'CheckpointCommitError';
  }
}

/**
 * The worker's code, as text: it runs the same whether this module runs from source (tests) or
 * from dist/, and needs nothing but lmdb-js. The batch arrives as one transferred buffer of
 * writes in the write-ahead log's layout (encodeWrites: `[u8 space][u16 key length][key][u32
 * frame length, or 0xffffffff to remove][frame]`, big-endian); the space numbers the
 * sub-databases `names` lists.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { open } = require(workerData.lmdb);
const state = new Int32Array(workerData.state);
let root;
let dbs;
try {
  // Opening may take LMDB's writer lock too: the state word is BUSY until it is done.
  root = open(workerData.options);
  dbs = workerData.names.map((name) => root.openDB({ name, encoding: 'binary', keyEncoding: 'binary' }));
} finally {
  Atomics.store(state, 0, ${IDLE});
  Atomics.notify(state, 0);
}
parentPort.postMessage({ ready: true });
parentPort.on('message', (m) => {
  if (Atomics.compareExchange(state, 0, ${IDLE}, ${BUSY}) !== ${IDLE}) {
    parentPort.postMessage({ id: m.id, error: 'the process is exiting', code: 'EXITING' });
    return;
  }
  let answer;
  try {
    const b = Buffer.from(m.buffer);
    root.transactionSync(() => {
      let at = 0;
      while (at < b.length) {
        const db = dbs[b[at]];
        const keyLength = b.readUInt16BE(at + 1);
        at += 3;
        const key = b.subarray(at, at + keyLength);
        at += keyLength;
        const frameLength = b.readUInt32BE(at);
        at += 4;
        if (frameLength === ${REMOVE_FRAME_LENGTH}) {
          db.removeSync(key);
        } else {
          db.putSync(key, b.subarray(at, at + frameLength));
          at += frameLength;
        }
      }
    });
    answer = { id: m.id };
  } catch (e) {
    answer = { id: m.id, error: e instanceof Error ? e.message : String(e), code: e && e.code };
  } finally {
    Atomics.store(state, 0, ${IDLE});
    Atomics.notify(state, 0);
  }
  parentPort.postMessage(answer);
});
`;

/** The writes, packed for the worker into one buffer of its own (transferred, not copied). */
function packWrites(writes: readonly LogWrite[]): ArrayBuffer {
  const buffer = new ArrayBuffer(writesByteLength(writes));
  encodeWrites(writes, Buffer.from(buffer), 0);
  return buffer;
}

interface Answer {
  readonly ready?: true;
  readonly id: number;
  readonly error?: string;
  readonly code?: unknown;
}

export class CheckpointWorker {
  /** BUSY from the start: the worker sets it IDLE once it has opened the environment. */
  private readonly state = new Int32Array(new SharedArrayBuffer(4)).fill(BUSY);
  /** Resolves once the worker has opened the environment, or has exited. */
  private readonly ready: Promise<void>;
  private markReady: () => void = () => {};
  /** Set once the worker thread has ended: then it holds no transaction, whatever the state word says. */
  private exited = false;
  private readonly worker: Worker;
  /** The commits sent and not answered yet, by id. */
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void; committed: Promise<void> }>();
  private nextId = 0;
  private failure: Error | undefined;
  private stopped: Promise<void> | undefined;
  private readonly onExit = () => this.closeForExit();

  /**
   * `options` are the environment's open options, exactly as the main thread opened it; `names`
   * the sub-databases a write's `db` number picks, in order.
   */
  constructor(options: object, names: readonly string[]) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { lmdb: require.resolve('lmdb'), state: this.state.buffer, options, names },
      // A checkpoint never logs; its errors come back as answers.
      stdout: false,
      stderr: false,
    });
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.worker.on('message', (a: Answer) => (a.ready ? this.markReady() : this.answered(a)));
    this.worker.on('error', (e) => this.fail(e instanceof Error ? e : new Error(String(e))));
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.markReady();
      this.fail(new Error(`the checkpoint worker exited (code ${code})`));
    });
    // Not to keep the process alive by itself: the store's close stops it.
    this.worker.unref();
    process.on('exit', this.onExit);
  }

  /** Resolves once the writes are committed and synced in LMDB; rejects with the commit's error. */
  commit(writes: readonly LogWrite[]): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.stopped !== undefined) return Promise.reject(new Error('the checkpoint worker is stopped'));
    const id = ++this.nextId;
    const buffer = packWrites(writes);
    let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
    const committed = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.waiting.set(id, { ...settle!, committed });
    this.worker.ref();
    this.worker.postMessage({ id, buffer }, [buffer]);
    return committed;
  }

  private answered(a: Answer): void {
    const w = this.waiting.get(a.id);
    if (w === undefined) return;
    this.waiting.delete(a.id);
    if (this.waiting.size === 0) this.worker.unref();
    if (a.error === undefined) w.resolve();
    else w.reject(new CheckpointCommitError(a.error, a.code));
  }

  private fail(error: Error): void {
    // The worker's end after stop() is no failure (nothing waits by then).
    if (this.stopped === undefined) this.failure ??= error;
    for (const w of this.waiting.values()) w.reject(error);
    this.waiting.clear();
  }

  /** Stops the worker once its commits in progress have ended. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      // Waiting for the worker must keep the process alive (it is unref'd while idle): a store
      // closed at once after its open, as a node that fails to start does, would otherwise end
      // the process here, with status 0 and its error unsaid.
      this.worker.ref();
      // Not while it opens the environment (that may hold the writer lock), nor while it commits.
      await this.ready;
      await Promise.allSettled([...this.waiting.values()].map((w) => w.committed));
      process.removeListener('exit', this.onExit);
      this.closeForExit();
      await this.worker.terminate();
    })();
    return this.stopped;
  }

  /** Marks the worker closed, waiting (the thread blocked) while it is inside a transaction. */
  private closeForExit(): void {
    const deadline = Date.now() + EXIT_WAIT_MS;
    while (!this.exited && Atomics.compareExchange(this.state, 0, IDLE, CLOSED) === BUSY) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      Atomics.wait(this.state, 0, BUSY, left);
    }
  }
}

/**
 * The control socket of a running `kv cluster`: a Unix socket in its data directory through which
 * another `kv` command asks it to stop or restart one of its nodes (`kv cluster restart kv-3`).
 * The cluster process owns its nodes' processes (Ctrl-C stops them all), so restarts go through it
 * rather than starting a node that nothing would stop.
 *
 * Protocol: one JSON request line, one JSON answer line, then the connection closes.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export const CONTROL_SOCKET_NAME = 'cluster.sock';
/** The longest Unix socket path Linux accepts (sun_path is 108 bytes with its terminating NUL). */
const SOCKET_PATH_BYTES_MAX = 107;
/** A request line longer than this is not one of ours. */
const REQUEST_BYTES_MAX = 4096;
/** How long a client waits for the cluster to carry out a request (a restart waits for the node to serve). */
export const CONTROL_TIMEOUT_MS = 60_000;

export type ControlRequest = { readonly op: 'restart' | 'stop'; readonly node: string };
export type ControlAnswer = { readonly ok: true; readonly message: string } | { readonly ok: false; readonly error: string };

export function controlSocketPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), CONTROL_SOCKET_NAME);
}

function checkPathLength(socketPath: string): void {
  if (Buffer.byteLength(socketPath) > SOCKET_PATH_BYTES_MAX) {
    throw new Error(`control socket ${socketPath} is ${Buffer.byteLength(socketPath)} bytes, longer than the ${SOCKET_PATH_BYTES_MAX} a Unix socket path may have: use a shorter --data path`);
  }
}

/**
 * Serves control requests on the socket. A socket file left by a cluster that died is replaced;
 * one that a running cluster answers on is not (that cluster owns this data directory).
 */
export async function serveControl(socketPath: string, handle: (request: ControlRequest) => Promise<ControlAnswer>): Promise<net.Server> {
  checkPathLength(socketPath);
  fs.mkdirSync(path.dirname(socketPath), { recursive: true });
  if (fs.existsSync(socketPath)) {
    const alive = await new Promise<boolean>((resolve) => {
      const probe = net.connect(socketPath, () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (alive) throw new Error(`another kv cluster is running with this data directory (it answers on ${socketPath}): stop it first, or use another --data`);
    fs.rmSync(socketPath, { force: true });
  }
  const server = net.createServer((socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > REQUEST_BYTES_MAX) return void socket.end(`${JSON.stringify({ ok: false, error: `request longer than ${REQUEST_BYTES_MAX} bytes` })}\n`);
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      socket.pause();
      const request = parseRequest(buffered.slice(0, newline));
      const answered = typeof request === 'string' ? Promise.resolve<ControlAnswer>({ ok: false, error: request }) : handle(request).catch((e: unknown): ControlAnswer => ({ ok: false, error: (e as Error).message }));
      void answered.then((answer) => socket.end(`${JSON.stringify(answer)}\n`));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

function parseRequest(line: string): ControlRequest | string {
  try {
    const r = JSON.parse(line) as Partial<ControlRequest>;
    if ((r.op === 'restart' || r.op === 'stop') && typeof r.node === 'string') return { op: r.op, node: r.node };
  } catch {
    // Falls through to the error below.
  }
  return `not a control request: ${JSON.stringify(line.slice(0, 80))}`;
}

/** Sends one request to the cluster that serves the socket. */
export function sendControl(socketPath: string, request: ControlRequest, timeoutMs = CONTROL_TIMEOUT_MS): Promise<ControlAnswer> {
  checkPathLength(socketPath);
  return new Promise((resolve) => {
    let answer = '';
    const socket = net.connect(socketPath, () => socket.write(`${JSON.stringify(request)}\n`));
    socket.setEncoding('utf8');
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, error: `the cluster did not answer within ${timeoutMs} ms` });
    }, timeoutMs);
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no kv cluster is running with this data directory (nothing answers on ${socketPath}); start one with npm start, or give its --data` : e.message;
      resolve({ ok: false, error: why });
    });
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(answer) as ControlAnswer);
      } catch {
        resolve({ ok: false, error: `unexpected answer from ${socketPath}: ${JSON.stringify(answer.slice(0, 80))}` });
      }
    });
  });
}

/**
 * KvServer.shutdown closes every connection, including one from a peer that stopped reading and
 * never closes its side (a frozen process): such a connection must not outlive the server, or it
 * keeps the node's process alive (issue 8).
 */
import * as net from 'node:net';
import { KvServer, NodeHandlers } from '../../app/rpc/server';
import { unreadAt } from '../support/sockets';
import { waitFor } from '../support/wait-for';

const handlers: NodeHandlers = {
  execute: () => new Promise(() => {}),
  fetch: async () => ({ ok: true, value: undefined }),
  replicate: async () => ({ ok: true, value: undefined }),
  status: () => ({ nodeId: 'kv-1', actor: 'kv-1.0', partitions: 1, n: 1, r: 1, w: 1, members: [] }),
};

/** The HTTP/2 client preface and an empty SETTINGS frame: enough for the server to open a session. */
const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

/** A peer that connects, says hello, then neither reads nor closes: what a SIGSTOPped node does. */
async function frozenPeer(port: number): Promise<net.Socket> {
  // allowHalfOpen: a frozen process does not answer the server's FIN with its own.
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(PREFACE);
  socket.pause();
  socket.on('error', () => {});
  return socket;
}

test('shutdown closes a connection whose peer never closes its side, within the grace', async () => {
  const server = await KvServer.start(handlers, { host: '127.0.0.1', port: 0, messageBytesMax: 1 << 20, batchOpsMax: 10, streamInFlightMax: 10, peerStreamInFlightMax: 10 });
  const peer = await frozenPeer(server.port);
  // The server has the connection in an HTTP/2 session once it has read the preface.
  await waitFor(() => unreadAt(`127.0.0.1:${server.port}`) === 0, { timeoutMs: 2000, intervalMs: 5, what: 'the server reading the peer\'s preface' });
  const started = Date.now();
  await server.shutdown(300);
  expect(Date.now() - started).toBeLessThan(2000);

  // The server's socket is gone, not half-closed: the peer's next write is refused (RST), where a
  // half-closed socket would still accept it.
  const reset = new Promise<string>((resolve) => {
    peer.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    peer.once('close', () => resolve('closed'));
  });
  peer.resume();
  const writeAgain = setInterval(() => peer.writable && peer.write(Buffer.alloc(64)), 50);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([reset, new Promise<string>((r) => (timer = setTimeout(() => r('still open'), 2000)))]);
  clearTimeout(timer);
  clearInterval(writeAgain);
  peer.destroy();
  expect(outcome).not.toBe('still open');
});

test('rejects a port already in use, naming the address', async () => {
  const first = await KvServer.start(handlers, { host: '127.0.0.1', port: 0, messageBytesMax: 1 << 20, batchOpsMax: 10, streamInFlightMax: 10, peerStreamInFlightMax: 10 });
  try {
    await expect(KvServer.start(handlers, { host: '127.0.0.1', port: first.port, messageBytesMax: 1 << 20, batchOpsMax: 10, streamInFlightMax: 10, peerStreamInFlightMax: 10 })).rejects.toThrow(
      `cannot listen on 127.0.0.1:${first.port}`,
    );
  } finally {
    await first.shutdown(0);
  }
});

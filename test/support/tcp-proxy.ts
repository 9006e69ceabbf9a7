/** A TCP proxy on loopback for transport tests: its connections can freeze or be cut. */
import * as net from 'node:net';

/**
 * A TCP proxy to `target` whose connections can freeze (bytes stop, the connection stays open) or
 * be cut (reset: the node behind it "dies"). Listens on `listenPort` (0: one the system picks).
 */
export async function startProxy(target: number, listenPort = 0) {
  const sockets = new Set<net.Socket>();
  const pairs: Array<[net.Socket, net.Socket]> = [];
  const server = net.createServer((downstream) => {
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    downstream.pipe(upstream).pipe(downstream);
    pairs.push([downstream, upstream]);
  });
  const port = await new Promise<number>((resolve) => server.listen(listenPort, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  return {
    port,
    freeze: () => {
      for (const [down, up] of pairs) {
        down.unpipe(up);
        up.unpipe(down);
      }
    },
    thaw: () => {
      for (const [down, up] of pairs) {
        down.pipe(up);
        up.pipe(down);
      }
    },
    cut: () => {
      for (const s of sockets) s.resetAndDestroy();
    },
    /** Stops listening and cuts what is open (a frozen connection would keep close waiting). */
    close: () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.resetAndDestroy();
      return closed;
    },
  };
}

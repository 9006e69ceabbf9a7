/**
 * What the kernel knows about a process's TCP connections, read from Linux's /proc, for tests
 * that wait on a connection event no API reports: a request sitting unread in a frozen node's
 * socket (SIGSTOP stops the reading, not the kernel's receiving), or a client having closed its
 * connection to a node that died. IPv4 only: every endpoint in the tests is on 127.0.0.0/8.
 */
import * as fs from 'node:fs';

interface TcpSocket {
  readonly local: string;
  readonly remote: string;
  readonly state: number;
  /** Bytes received and not yet read by the process that owns the socket. */
  readonly unreadBytes: number;
  readonly inode: number;
}

/** /proc/net/tcp's state numbers (include/net/tcp_states.h). */
const TCP_ESTABLISHED = 0x01;
const TCP_CLOSE_WAIT = 0x08;

/** "0100007F:1F90" (address in host byte order, little-endian here; port big-endian) to "127.0.0.1:8080". */
function endpointOf(hex: string): string {
  const [address, port] = hex.split(':') as [string, string];
  const octets = [6, 4, 2, 0].map((i) => parseInt(address.slice(i, i + 2), 16));
  return `${octets.join('.')}:${parseInt(port, 16)}`;
}

function tcpSockets(): TcpSocket[] {
  // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
  return fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const f = line.trim().split(/\s+/);
      return {
        local: endpointOf(f[1]!),
        remote: endpointOf(f[2]!),
        state: parseInt(f[3]!, 16),
        unreadBytes: parseInt(f[4]!.split(':')[1]!, 16),
        inode: Number(f[9]),
      };
    });
}

/** The inodes of the sockets `pid` holds open. */
function socketInodesOf(pid: number): Set<number> {
  const dir = `/proc/${pid}/fd`;
  const inodes = new Set<number>();
  for (const fd of fs.readdirSync(dir)) {
    let target: string;
    try {
      target = fs.readlinkSync(`${dir}/${fd}`);
    } catch {
      continue; // closed between the listing and the read
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(Number(m[1]));
  }
  return inodes;
}

/** The open connections `pid` holds to `endpoint` ("127.0.0.1:17801"): established, or closed by the far end only. */
function connectionsTo(endpoint: string, pid: number, sockets: readonly TcpSocket[]): TcpSocket[] {
  const own = socketInodesOf(pid);
  return sockets.filter((s) => own.has(s.inode) && s.remote === endpoint && (s.state === TCP_ESTABLISHED || s.state === TCP_CLOSE_WAIT));
}

/** How many connections process `pid` (default: this one) holds open to `endpoint`. */
export function openConnections(endpoint: string, pid: number = process.pid): number {
  return connectionsTo(endpoint, pid, tcpSockets()).length;
}

/**
 * Bytes process `pid` (default: this one) has sent over its connections to `endpoint` that the
 * process listening there has not read yet: with that process frozen, requests sent to it since.
 */
export function unreadAt(endpoint: string, pid: number = process.pid): number {
  const sockets = tcpSockets();
  const ours = new Set(connectionsTo(endpoint, pid, sockets).map((s) => s.local));
  return sockets.filter((s) => s.local === endpoint && ours.has(s.remote)).reduce((sum, s) => sum + s.unreadBytes, 0);
}

/**
 * Network partitions between local node processes, cut with iptables on loopback: what
 * `kv chaos` and the partition tests use.
 *
 * Who sent a packet: a node's outgoing connections all leave from 127.0.0.1 (grpc-js cannot bind
 * them to the node's own address), so a rule on the source address cannot tell kv-1's packets
 * from kv-2's or from the test's own clients'. Each node therefore runs with a group of its own
 * (LocalCluster's gidBase) and a rule matches the sender with `-m owner --gid-owner`, which only
 * works in the OUTPUT chain. Where a packet goes: each node listens on a loopback address of its
 * own (LocalCluster's loopbackPerNode), so `-d` names the receiving node.
 *
 * So `cut(a, b)` drops every packet a's process sends to b's address: a can neither open a
 * connection to b nor use one it has (requests time out, a's failure detector suspects b). b's
 * connections to a still work both ways, since b's requests reach a from 127.0.0.1 and a's
 * replies go back there. A one-way cut at the packet level would break TCP in both directions
 * (no handshake completes without packets both ways), so a one-way cut here is one-way per
 * connection: b reaches a, a does not reach b.
 *
 * Every rule lives in one chain of this test's own, jumped to from OUTPUT; heal() empties it and
 * remove() deletes it (run it in afterAll). install() first removes a chain left by a run that
 * was killed before its afterAll.
 *
 * iptables and a process group of a node's own both need root: test/support/root.ts says how the
 * tests that use this run, on CI here and on GitHub's runners.
 *
 * Checked on Debian 12 with iptables 1.8.9 (package `iptables`), whose `iptables` is the nf_tables
 * variant (iptables-nft) by default: owner matching on loopback works with it. The legacy variant
 * would do the same; nothing here depends on which one `iptables` is.
 */
import { execFileSync } from 'node:child_process';

export interface PartitionNode {
  readonly id: string;
  /** The loopback address the node listens on. */
  readonly host: string;
  /** The group its process runs with. */
  readonly gid: number | undefined;
}

export class Partition {
  constructor(
    /** The chain's name: at most 28 characters, unique to the test (two runs at once must not share it). */
    readonly chain: string,
    private readonly nodes: readonly PartitionNode[],
  ) {
    if (!/^[A-Z0-9_]{1,28}$/.test(chain)) throw new Error(`Partition: chain ${JSON.stringify(chain)} must be 1-28 of [A-Z0-9_]`);
    for (const n of nodes) {
      if (n.gid === undefined) throw new Error(`Partition: ${n.id} runs without a group of its own; start the cluster with gidBase`);
      if (n.host === '127.0.0.1') throw new Error(`Partition: ${n.id} listens on 127.0.0.1, which the test's clients share; start the cluster with loopbackPerNode`);
    }
  }

  /**
   * The iptables in use, e.g. "iptables v1.8.9 (nf_tables)". When it is missing, installs Debian's
   * package (the tests run as root, and `npm test` must need nothing installed by hand);
   * throws naming the package when that fails too.
   */
  static version(): string {
    try {
      return iptables(['--version']).trim();
    } catch {
      try {
        execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables'], { stdio: 'ignore', timeout: 300_000 });
        return iptables(['--version']).trim();
      } catch (e) {
        throw new Error(`iptables is not usable and apt-get install -y iptables failed (${(e as Error).message.split('\n')[0]}): install Debian's iptables package`, { cause: e });
      }
    }
  }

  /** Creates the chain (empty: nothing cut) and the jump to it from OUTPUT. */
  install(): void {
    this.remove();
    iptables(['-N', this.chain]);
    iptables(['-I', 'OUTPUT', '1', '-j', this.chain]);
  }

  /**
   * Drops every packet `from` sends to `to` (see the file comment for what that cuts), or, with
   * `probability` (0..1), that share of them at random: a lossy link, which TCP retransmits over.
   */
  cut(from: string, to: string, probability?: number): void {
    const sender = this.node(from);
    const random = probability === undefined ? [] : ['-m', 'statistic', '--mode', 'random', '--probability', probability.toFixed(4)];
    iptables(['-A', this.chain, '-m', 'owner', '--gid-owner', String(sender.gid), '-d', `${this.node(to).host}/32`, ...random, '-j', 'DROP']);
  }

  /** Cuts every node of one side from every node of the other, both ways. */
  split(side: readonly string[], other: readonly string[]): void {
    for (const a of side) {
      for (const b of other) {
        this.cut(a, b);
        this.cut(b, a);
      }
    }
  }

  /** Removes every cut. */
  heal(): void {
    iptables(['-F', this.chain]);
  }

  /** Packets dropped by the chain's rules since they were added. */
  droppedPackets(): number {
    // -x: exact counters; each rule line starts with its packet count.
    const lines = iptables(['-L', this.chain, '-n', '-v', '-x']).split('\n').slice(2);
    return lines.map((l) => Number(l.trim().split(/\s+/)[0])).filter(Number.isFinite).reduce((a, b) => a + b, 0);
  }

  /** The chain's rules, as iptables -S prints them (for messages). */
  rules(): string {
    return iptables(['-S', this.chain]);
  }

  /** Deletes the jump and the chain; does nothing when they are gone. */
  remove(): void {
    // A killed run may have left more than one jump.
    for (let i = 0; i < 100; i++) {
      try {
        iptables(['-D', 'OUTPUT', '-j', this.chain]);
      } catch {
        break;
      }
    }
    try {
      iptables(['-F', this.chain]);
    } catch {
      return; // no such chain
    }
    iptables(['-X', this.chain]);
  }

  private node(id: string): PartitionNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`Partition: no node ${id} (have ${this.nodes.map((x) => x.id).join(', ')})`);
    return n;
  }
}

function iptables(args: readonly string[]): string {
  // -w: wait for the xtables lock rather than fail when another iptables runs at the same time.
  const waits = args[0] === '--version' ? [] : ['-w', '5'];
  return execFileSync('iptables', [...waits, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

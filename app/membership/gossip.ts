/**
 * Gossip: every `gossipIntervalMs`, a node sends its cluster state to one member picked at random
 * among those it counts up; the member merges it and answers with its own state when that is the
 * newer one, which the sender merges in turn. A change reaches every member in about log2(k)
 * rounds. A state that fails its checks is refused (and logged), never merged.
 */
import { err, KvError, ok, Result } from '../errors';
import { Logger } from '../../observability/log';
import { BackgroundLoop } from '../replication/background';
import { Clock, systemClock } from '../replication/clock';
import { newer } from './cluster-state';
import { Membership } from './membership';
import { decodeState, encodeState } from './state-codec';

export interface GossipPeers {
  isUp(node: string): boolean;
  /** Sends our state; resolves with the peer's when the peer's is newer. */
  gossip(node: string, state: string, timeoutMs: number): Promise<Result<string | undefined>>;
}

export interface GossipConfig {
  /** Pause between rounds; 0 turns gossip off (a fixed member list needs none). */
  readonly gossipIntervalMs: number;
  readonly requestTimeoutMs: number;
}

export class Gossip {
  private readonly loop: BackgroundLoop<void>;
  /** The newest state version each peer is known to hold (it sent it, or took ours). */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly self: string,
    private readonly membership: Membership,
    private readonly peers: GossipPeers,
    private readonly config: GossipConfig,
    private readonly log: Logger,
    clock: Clock = systemClock,
    private readonly random: () => number = Math.random,
  ) {
    this.loop = new BackgroundLoop('gossip', clock, () => this.round(), () => config.gossipIntervalMs, log);
  }

  start(): void {
    if (this.config.gossipIntervalMs > 0) this.loop.start(this.config.gossipIntervalMs);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round: our state to one random up member, theirs back if newer. */
  async round(): Promise<void> {
    const others = this.membership.state.members.map((m) => m.id).filter((id) => id !== this.self && this.peers.isUp(id));
    if (others.length === 0) return;
    const peer = others[Math.floor(this.random() * others.length)]!;
    await this.exchange(peer);
  }

  /** Sends our state to `peer` and merges its answer; whether the peer took ours. */
  private async exchange(peer: string): Promise<boolean> {
    const sent = this.membership.state;
    const answer = await this.peers.gossip(peer, encodeState(sent), this.config.requestTimeoutMs);
    if (!answer.ok) return false;
    // The peer merged ours: it holds this version or a newer one.
    this.saw(peer, sent.version);
    if (answer.value !== undefined) {
      const theirs = await this.accept(answer.value, peer);
      if (theirs) this.saw(peer, theirs.version);
    }
    return true;
  }

  private saw(peer: string, version: number): void {
    if (version > (this.seen.get(peer) ?? 0)) this.seen.set(peer, version);
  }

  /**
   * Makes every other member that is up hold a state at least as new as `version`: a direct
   * gossip to each one not known to. Whether all of them now do (false while one that is up does
   * not answer). A member that is down is passed over: waiting for it would stop every old
   * owner's handoff, and every leave, for as long as it is down; when it comes back it gossips
   * before anything else reaches it by its old state but a write, and an old owner keeps and
   * pushes again a write that arrives after its drop.
   */
  async spread(version: number): Promise<boolean> {
    let all = true;
    for (const m of this.membership.state.members) {
      if (m.id === this.self || (this.seen.get(m.id) ?? 0) >= version || !this.peers.isUp(m.id)) continue;
      if (!(await this.exchange(m.id)) || (this.seen.get(m.id) ?? 0) < version) all = false;
    }
    return all;
  }

  /**
   * What a peer's gossip request gets: we merge its state, and answer ours if ours is newer. A
   * state we refuse is an error to the sender, which then does not count us as holding it.
   */
  async receive(text: string, from: string): Promise<Result<string | undefined>> {
    const theirs = await this.accept(text, from);
    if (theirs === undefined) return err(new KvError('InvalidArgument', `${this.self} refused the cluster state ${from} sent (see its log)`));
    this.saw(from, theirs.version);
    const mine = this.membership.state;
    return ok(newer(mine, theirs) ? encodeState(mine) : undefined);
  }

  /** Decodes and merges a state; undefined (after logging) when it is refused. */
  private async accept(text: string, from: string) {
    try {
      const state = decodeState(text);
      await this.membership.offer(state);
      return state;
    } catch (e) {
      this.log.warn('gossip: refused a cluster state', { from, error: (e as Error).message });
      return undefined;
    }
  }
}

/**
 * Data directory ids: what a node needs to tell a replica that lost its data from a new one (see
 * app/replication/replica-sync.ts). Each data directory gets an id when it starts empty; the node
 * remembers the id it last saw for each peer (from their heartbeats) and the partitions it is
 * still syncing after it lost its data, all in the store's meta, so restarts keep them.
 */
import { randomBytes } from 'node:crypto';
import { LocalStore } from '../storage/local-store';

const META_DATA_ID = 'data-id';
const META_SYNCING = 'syncing-partitions';
const peerMeta = (peer: string) => `peer-data-id/${peer}`;

export interface DataIds {
  /** This directory's id. */
  readonly own: string;
  /** Whether the directory started empty at this start (its id was made now). */
  readonly fresh: boolean;
  /** Partitions a previous start left syncing; undefined when none. */
  readonly syncing: readonly number[] | undefined;
  /**
   * A peer's heartbeat says its directory id: answers the id known for it before ("" for none)
   * and remembers the new one.
   */
  saw(peer: string, dataId: string): string;
  persistSyncing(partitions: readonly number[]): Promise<void>;
}

export async function loadDataIds(store: LocalStore, peers: readonly string[]): Promise<DataIds> {
  let own = await store.getMeta(META_DATA_ID);
  const fresh = own === undefined;
  if (own === undefined) {
    own = randomBytes(8).toString('hex');
    await store.setMeta(META_DATA_ID, own);
  }
  const known = new Map<string, string>();
  for (const p of peers) {
    const id = await store.getMeta(peerMeta(p));
    if (id !== undefined) known.set(p, id);
  }
  const syncingText = await store.getMeta(META_SYNCING);
  const syncing = syncingText ? (JSON.parse(syncingText) as number[]) : undefined;
  return {
    own,
    fresh,
    syncing: syncing && syncing.length > 0 ? syncing : undefined,
    saw(peer, dataId) {
      const before = known.get(peer) ?? '';
      if (dataId !== '' && dataId !== before) {
        known.set(peer, dataId);
        // Rare (a peer's directory changed): written in the background, in order, by the store.
        void store.setMeta(peerMeta(peer), dataId).catch(() => known.delete(peer));
      }
      return before;
    },
    persistSyncing: (partitions) => store.setMeta(META_SYNCING, JSON.stringify(partitions)),
  };
}

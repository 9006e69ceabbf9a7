/** The receiving side of a move: fold in pages, resume where it stopped, catch up, report. */
import { err, KvError, ok } from '../../app/errors';
import { Claimant } from '../../app/membership/claimant';
import { initialState } from '../../app/membership/cluster-state';
import { Membership } from '../../app/membership/membership';
import { FoldPage, TransferPeers, TransferWorker } from '../../app/membership/transfers';
import { silentLogger } from '../../observability/log';
import { MetaMap } from '../support/meta-map';


const KEYS_PER_PARTITION = 25;

async function setup() {
  const members = ['kv-1', 'kv-2', 'kv-3'].map((id, i) => ({ id, address: `127.0.0.1:${7001 + i}`, zone: '' }));
  const view = await Membership.open(new MetaMap(), initialState('kv', members, 8, 3), silentLogger);
  const claimant = new Claimant('kv-1', view, () => true);
  claimant.stage({ kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: '' });
  await claimant.commit();
  // Every current primary holds the same keys in each partition.
  const source = (partition: number) => Array.from({ length: KEYS_PER_PARTITION }, (_, i) => ({ key: Buffer.from(`p${partition}-k${String(i).padStart(3, '0')}`), object: Buffer.from(`v${i}`) }));
  const received = new Map<string, string>();
  const failNext = { fold: 0 };
  const asked: string[] = [];
  const peers: TransferPeers = {
    isUp: () => true,
    foldPartition: async (node, partition, after, limit) => {
      asked.push(`${node}:${partition}:${after ? Buffer.from(after).toString() : '-'}`);
      if (failNext.fold > 0) {
        failNext.fold--;
        return err(new KvError('PeerUnreachable', `${node} is down`));
      }
      const all = source(partition).filter((e) => after === undefined || Buffer.compare(e.key, Buffer.from(after)) > 0);
      const page: FoldPage = { entries: all.slice(0, limit), done: all.length <= limit };
      return ok(page);
    },
    transferDone: async (_claimant, partition, to) => {
      await claimant.transferDone(partition, to);
      return ok(undefined);
    },
  };
  const store = new MetaMap();
  const worker = (catchUps: string[] = []) =>
    new TransferWorker(
      {
        self: 'kv-4',
        membership: view,
        peers,
        store,
        merge: async (partition, key, object) => void received.set(`${partition}/${Buffer.from(key).toString()}`, Buffer.from(object).toString()),
        catchUp: async (partition, peer) => (catchUps.push(`${partition}:${peer}`), true),
        claimant: () => 'kv-1',
      },
      { transferIntervalMs: 10, transferBatchMax: 10, transferKeysPerSecondMax: 1e6, requestTimeoutMs: 100 },
      { copied() {}, finished() {} },
      silentLogger,
    );
  return { view, received, failNext, asked, worker };
}

test('copies every moving partition in pages, catches up with every current primary, and the change completes', async () => {
  const { view, received, worker } = await setup();
  const moving = view.state.transfers.map((t) => t.partition);
  const catchUps: string[] = [];
  const w = worker(catchUps);
  for (let i = 0; i < 100 && w.pending().length > 0; i++) await w.round();
  expect(w.pending()).toEqual([]);
  expect(view.state.target).toBeUndefined();
  expect(received.size).toBe(moving.length * KEYS_PER_PARTITION);
  // Each moving partition caught up with each of its (up) current primaries.
  expect(catchUps.length).toBe(moving.length * 3);
});

test('a fold that fails is tried again, and a new worker (a restart) resumes after the last key copied', async () => {
  const { received, failNext, asked, worker } = await setup();
  const first = worker();
  await first.round(); // page 1: k000..k009
  const firstPartition = asked[0]!.split(':')[1];
  failNext.fold = 1;
  await first.round(); // the fold fails: nothing recorded; the round goes on to the next partition's first page
  expect(received.size).toBe(20);
  const restarted = worker();
  await restarted.round(); // the first partition resumes after k009
  expect(asked.at(-1)).toBe(`kv-1:${firstPartition}:p${firstPartition}-k009`.replace(/^kv-1/, asked.at(-1)!.split(':')[0]!));
  expect(received.size).toBe(30);
});

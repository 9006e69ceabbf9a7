/** The time left of a membership change, from the rate its transfers finish at. */
import { Claimant } from '../../app/membership/claimant';
import { initialState } from '../../app/membership/cluster-state';
import { Membership } from '../../app/membership/membership';
import { ChangeProgress } from '../../app/membership/progress';
import { silentLogger } from '../../observability/log';
import { MetaMap } from '../support/meta-map';

test('0 with no change in progress, unknown until a transfer finished, then the transfers left over the rate seen', async () => {
  const members = ['kv-1', 'kv-2', 'kv-3'].map((id, i) => ({ id, address: `127.0.0.1:${7001 + i}`, zone: '' }));
  const view = await Membership.open(new MetaMap(), initialState('kv', members, 16, 3), silentLogger);
  const claimant = new Claimant('kv-1', view, () => true);
  const progress = new ChangeProgress();
  expect(progress.etaSeconds(view.state, 0)).toBe(0);
  claimant.stage({ kind: 'join', id: 'kv-4', address: '127.0.0.1:7004', zone: '' });
  await claimant.commit();
  const transfers = view.state.transfers;
  expect(transfers).toHaveLength(12);
  expect(progress.etaSeconds(view.state, 1_000)).toBeUndefined();
  // Two transfers in 4 s: 0.5 a second, 10 left: 20 s.
  for (const t of transfers.slice(0, 2)) await claimant.transferDone(t.partition, t.to);
  expect(progress.etaSeconds(view.state, 5_000)).toBeCloseTo(20);
  for (const t of transfers.slice(2)) await claimant.transferDone(t.partition, t.to);
  expect(progress.etaSeconds(view.state, 6_000)).toBe(0);
});

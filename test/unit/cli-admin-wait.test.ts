/** kv admin --commit --wait: committing one change when the claimant allows it, and following it to the end. */
import { KvClient, KvClientError, StatusReply } from '../../app/client/client';
import { commitAlone, stageOnce, Watch, watchChange } from '../../app/cli/admin-wait';
import { CliError } from '../../app/cli/cli-error';

const IN_PROGRESS = () => new KvClientError(9, 'FAILED_PRECONDITION', 'a change is in progress (version 7, 3 transfers left): wait for it to finish before committing another');
const UNREACHABLE = () => new KvClientError(14, 'UNAVAILABLE', 'connect ECONNREFUSED', false, true);

function status(members: Array<[string, string]>, transfersLeft: number): StatusReply {
  return { members: members.map(([id, s]) => ({ id, status: s, address: `127.0.0.1:${7000 + Number(id.slice(3))}` })), transfersLeft } as unknown as StatusReply;
}

/** A fake clock and output: every sleep moves time on. */
function watch(deadlineInMs = 60_000, extra: Partial<Watch> = {}) {
  let now = 0;
  let text = '';
  const w: Watch = {
    out: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream,
    deadlineMs: deadlineInMs,
    now: () => now,
    sleep: async (ms) => void (now += ms),
    clientFor: () => {
      throw new Error('not expected');
    },
    ...extra,
  };
  return { w, output: () => text };
}

/** A KvClient whose answers come from the given scripts, one call at a time. */
function client(script: { admin?: Array<unknown | Error>; status?: Array<StatusReply | Error> }): KvClient & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    admin: async (request: object) => {
      calls.push(Object.keys(request)[0]!);
      const next = script.admin!.shift();
      if (next instanceof Error) throw next;
      return next;
    },
    status: async () => {
      const next = script.status!.length > 1 ? script.status!.shift() : script.status![0];
      if (next instanceof Error) throw next;
      return next;
    },
    close: () => {},
  } as unknown as KvClient & { calls: string[] };
}

describe('commitAlone', () => {
  test('waits while another change is in progress, then commits', async () => {
    const c = client({ admin: [IN_PROGRESS(), { staged: ['leave kv-5'] }, { moves: [{}, {}] }] });
    const { w, output } = watch();
    expect(await commitAlone(c, 'leave kv-5', w)).toBe(2);
    expect(c.calls).toEqual(['plan', 'plan', 'commit']);
    expect(output()).toMatch(/another change is in progress: waiting/);
  });

  test('commits together with the same kind of change staged by others at the same time, and says so', async () => {
    const c = client({ admin: [{ staged: ['leave kv-4', 'leave kv-5'] }, { moves: [] }] });
    const { w, output } = watch();
    await commitAlone(c, 'leave kv-5', w);
    expect(output()).toMatch(/committing together with: leave kv-4/);
  });

  test("rejects committing an operator's other kind of change, naming it", async () => {
    const c = client({ admin: [{ staged: ['join kv-9 at 127.0.0.1:7009', 'leave kv-5'] }] });
    const { w } = watch();
    await expect(commitAlone(c, 'leave kv-5', w)).rejects.toThrow(/other changes are staged besides "leave kv-5": join kv-9/);
    expect(c.calls).toEqual(['plan']);
  });

  test('fails when the time budget runs out while another change is still in progress', async () => {
    const c = client({ admin: Array.from({ length: 100 }, IN_PROGRESS) });
    const { w } = watch(10_000);
    await expect(commitAlone(c, 'leave kv-5', w)).rejects.toThrow(CliError);
  });
});

describe('stageOnce', () => {
  test('a leave already committed is followed, and a leave of a node that is no member is nothing to do', async () => {
    const { w } = watch();
    expect(await stageOnce(client({ status: [status([['kv-5', 'leaving']], 3)] }), { leave: 'kv-5' }, 'leave', 'kv-5', w)).toBe('already');
    expect(await stageOnce(client({ status: [status([['kv-1', 'valid']], 0)] }), { leave: 'kv-5' }, 'leave', 'kv-5', w)).toBe('not-a-member');
  });
});

describe('watchChange', () => {
  test('prints progress with the rate and the time left, then waits for the node that left to exit', async () => {
    const c = client({ status: [status([['kv-5', 'leaving']], 10), status([['kv-5', 'leaving']], 5), status([['kv-1', 'valid']], 0)] });
    const own = client({ status: [status([['kv-1', 'valid']], 0), UNREACHABLE()] });
    const { w, output } = watch(60_000, { clientFor: () => own });
    await watchChange(c, 'leave', 'kv-5', 10, w);
    expect(output()).toMatch(/0\/10 replicas moved/);
    expect(output()).toMatch(/10\/10 replicas moved, [\d.]+\/s, done/);
    expect(output()).toMatch(/kv-5 is out of the cluster; it hands off what it still holds, then exits\nkv-5 handed off everything it held and exited\n$/);
  });

  test('asked at the leaving node itself (a preStop hook run again) after it is out: waits until it exits', async () => {
    const out = { ...status([['kv-1', 'valid']], 0), nodeId: 'kv-5' } as StatusReply;
    const c = client({ status: [out, out, UNREACHABLE()] });
    const { w, output } = watch();
    await watchChange(c, 'leave', 'kv-5', 0, w);
    expect(output()).toMatch(/kv-5 is out of the cluster; it hands off what it still holds, then exits\nkv-5 handed off everything it held and exited\n$/);
  });

  test('draws a progress bar on a terminal', async () => {
    const c = client({ status: [status([['kv-4', 'joining']], 4), status([['kv-4', 'valid']], 0)] });
    const { w, output } = watch();
    (w.out as { isTTY?: boolean }).isTTY = true;
    await watchChange(c, 'join', 'kv-4', 8, w);
    expect(output()).toMatch(/\r\[#{15}-{15}\] 4\/8 replicas moved/);
    expect(output()).toMatch(/\r\[#{30}\] 8\/8 replicas moved, .*done.*\n$/);
  });

  test('fails naming the budget when the change is not done in time', async () => {
    const c = client({ status: [status([['kv-5', 'leaving']], 10)] });
    const { w } = watch(5_000);
    await expect(watchChange(c, 'leave', 'kv-5', 10, w)).rejects.toThrow(/not done when the time budget \(--wait-timeout-s\) ran out; the change goes on/);
  });
});

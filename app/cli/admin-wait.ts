/**
 * kv admin's one-step changes: `--commit` commits a staged join, leave or remove at once (waiting,
 * within the time budget, while another change is in progress), and `--wait` follows the change
 * until it is done: a progress bar on a terminal, a line every few seconds otherwise, with the
 * transfer rate and an estimate of the time left. A leave is done when the member is out of the
 * cluster state and its process has handed off what it held and exited.
 */
import { KvClient, KvClientError, StatusReply } from '../client/client';
import type { AdminRequest } from '../rpc/generated/kv/v1/AdminRequest';
import { CliError } from './cli-error';

/** Pause between two looks at the cluster (status) while a change is followed. */
export const WATCH_INTERVAL_MS = 1000;
/** Lines printed at most this often when the output is not a terminal. */
const LINE_EVERY_MS = 5000;
const BAR_WIDTH = 30;

export type ChangeKind = 'join' | 'leave' | 'remove';

export interface Watch {
  readonly out: NodeJS.WritableStream & { isTTY?: boolean };
  /** When the command gives up (epoch ms). */
  readonly deadlineMs: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** A client for one address (the leaving node's own), closed by the caller's finally. */
  readonly clientFor: (address: string) => KvClient;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Whether a refusal says another change is still in progress (retry later), as the claimant words it. */
function changeInProgress(e: unknown): boolean {
  return e instanceof KvClientError && e.codeName === 'FAILED_PRECONDITION' && /a change is in progress/.test(e.message);
}

/**
 * Stages one change, for a command that may run again (a preStop hook retried, another pod's
 * commit that took this change too): 'already' when the change is committed and in progress
 * (the member has the status it asks for), 'not-a-member' for a leave of a member that is not
 * one; otherwise the change as the claimant describes it. While another change is in progress,
 * staging is refused: it tries again until the deadline.
 */
export async function stageOnce(client: KvClient, request: AdminRequest, kind: ChangeKind, id: string, w: Watch): Promise<string | 'already' | 'not-a-member'> {
  const now = w.now ?? Date.now;
  const sleep = w.sleep ?? defaultSleep;
  let said = false;
  for (;;) {
    const s = await client.status();
    const member = s.members.find((m) => m.id === id);
    if ((kind === 'leave' && member?.status === 'leaving') || (kind === 'join' && member?.status === 'joining')) return 'already';
    if (kind === 'leave' && member === undefined) return 'not-a-member';
    const reply = await client.admin(request).catch((e: unknown) => e);
    if (!changeInProgress(reply)) {
      if (reply instanceof Error) throw reply;
      return (reply as { staged: string[] }).staged.find((d) => d.startsWith(`${kind} ${id}`))!;
    }
    if (now() >= w.deadlineMs) throw new CliError(`kv admin ${kind} ${id}: another change was still in progress when the time budget ran out; nothing was staged`);
    if (!said) w.out.write('another change is in progress: waiting for it to finish before staging\n');
    said = true;
    await sleep(WATCH_INTERVAL_MS * 2);
  }
}

/**
 * Commits the staged `change`, with changes of the same kind others staged at the same time (several
 * pods leaving at once); refused when other kinds of changes are staged (an operator's plan); while another change is in progress, tries again until the deadline.
 * Resolves with the number of replicas the commit moves.
 */
export async function commitAlone(client: KvClient, change: string, w: Watch): Promise<number> {
  const now = w.now ?? Date.now;
  const sleep = w.sleep ?? defaultSleep;
  const commit: AdminRequest = { commit: {} };
  let said = false;
  for (;;) {
    const plan = await client.admin({ plan: {} }).catch((e: unknown) => e);
    if (!changeInProgress(plan)) {
      if (plan instanceof Error) throw plan;
      const staged = (plan as { staged: string[] }).staged;
      // Changes of the same kind staged by others doing the same at the same time (several pods
      // scaled in at once, each leaving) are committed together, as one change; anything else is
      // an operator's plan, not ours to commit.
      const kind = change.split(' ')[0]!;
      const others = staged.filter((s) => s !== change && !s.startsWith(`${kind} `));
      if (others.length > 0) throw new CliError(`kv admin: other changes are staged besides ${JSON.stringify(change)}: ${others.join('; ')}; commit them together with kv admin commit, or kv admin clear and stage again`);
      const together = staged.filter((s) => s !== change);
      if (together.length > 0) w.out.write(`committing together with: ${together.join('; ')}\n`);
      const reply = await client.admin(commit).catch((e: unknown) => e);
      if (!changeInProgress(reply)) {
        if (reply instanceof Error) throw reply;
        return (reply as { moves: unknown[] }).moves.length;
      }
    }
    if (now() >= w.deadlineMs) throw new CliError(`kv admin: another change was still in progress when the time budget ran out; ${JSON.stringify(change)} stays staged (kv admin commit makes it so later)`);
    if (!said) w.out.write('another change is in progress: waiting for it to finish before committing\n');
    said = true;
    await sleep(WATCH_INTERVAL_MS * 2);
  }
}

/** Waits until the change is done, showing progress; throws when the deadline passes first. */
export async function watchChange(client: KvClient, kind: ChangeKind, id: string, moves: number, w: Watch): Promise<void> {
  const now = w.now ?? Date.now;
  const sleep = w.sleep ?? defaultSleep;
  const started = now();
  let lastLine = 0;
  let total = moves;
  let address: string | undefined;
  /** The endpoint is the leaving node itself (a preStop hook): it is watched until it exits. */
  let selfAnswers = false;
  let lastError = '';
  const show = (left: number, final = false) => {
    total = Math.max(total, left);
    const moved = total - left;
    const elapsedS = (now() - started) / 1000;
    const rate = elapsedS > 0 ? moved / elapsedS : 0;
    const eta = left === 0 ? 'done' : rate > 0 ? `about ${formatSeconds(left / rate)} left` : 'time left not known yet';
    const text = `${moved}/${total} replicas moved, ${rate.toFixed(1)}/s, ${eta}`;
    if (w.out.isTTY) {
      const filled = total === 0 ? BAR_WIDTH : Math.round((moved / total) * BAR_WIDTH);
      w.out.write(`\r[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${text}\x1b[K${final ? '\n' : ''}`);
    } else if (final || now() - lastLine >= LINE_EVERY_MS) {
      w.out.write(`${text}\n`);
      lastLine = now();
    }
  };
  // Phase 1: the cluster state, until the change has moved everything and the member has its new status.
  for (;;) {
    let s: StatusReply | undefined;
    try {
      s = await client.status();
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (s) {
      const member = s.members.find((m) => m.id === id);
      if (member) address = member.address;
      if (s.nodeId === id) selfAnswers = true;
      const left = Number(s.transfersLeft);
      // A removed member is out of the state at once; its partitions fill while transfers are left.
      const done = (kind === 'join' ? member?.status === 'valid' : member === undefined) && left === 0;
      show(done ? 0 : left, done);
      if (done) break;
    }
    if (now() >= w.deadlineMs) throw timedOut(kind, id, lastError);
    await sleep(WATCH_INTERVAL_MS);
  }
  if (kind !== 'leave' || (address === undefined && !selfAnswers)) return;
  // Phase 2: the node that left pushes what it still holds to the owners, then exits.
  const own = address === undefined ? client : w.clientFor(address);
  let said = false;
  try {
    for (;;) {
      const answered = await own.status().then(
        () => true,
        (e: unknown) => !(e instanceof KvClientError && e.unreachable),
      );
      if (!answered) break;
      if (!said) w.out.write(`${id} is out of the cluster; it hands off what it still holds, then exits\n`);
      said = true;
      if (now() >= w.deadlineMs) throw timedOut(kind, id, `${id} still answers at ${address ?? 'the endpoint'}`);
      await sleep(WATCH_INTERVAL_MS);
    }
  } finally {
    if (own !== client) own.close();
  }
  w.out.write(`${id} handed off everything it held and exited\n`);
}

function timedOut(kind: ChangeKind, id: string, detail: string): CliError {
  return new CliError(`kv admin ${kind} ${id}: not done when the time budget (--wait-timeout-s) ran out${detail ? ` (${detail})` : ''}; the change goes on: kv status shows it`);
}

export function formatSeconds(s: number): string {
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

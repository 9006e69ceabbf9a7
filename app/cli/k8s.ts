/**
 * `kv k8s zone`, `kv k8s pre-stop` and `kv k8s context-keys`: what the store's chart runs inside
 * its pods (an init container, the preStop hook and a Job). Thin: the API calls are
 * app/k8s/kube-api.ts, the rules app/k8s/pre-stop.ts and app/k8s/context-keys-secret.ts; this
 * file parses flags and carries out the effects.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';
import { inClusterApi, nodeZone, SERVICE_ACCOUNT_DIR, statefulSetReplicas, ZONE_LABEL } from '../k8s/kube-api';
import { runPreStop } from '../k8s/pre-stop';
import { CONTEXT_KEYS_ITEM, ContextKeysSecretOutcome, ensureContextKeysSecret } from '../k8s/context-keys-secret';
import { newContextKeysText } from '../node/context-keys';
import { ConfigError, parseNodeConfig } from '../node/config';
import { ecsLogger } from '../../observability/log';
import { CliError } from './cli-error';

export const K8S_HELP = `kv k8s zone --node-name NAME --out FILE
  Reads the ${ZONE_LABEL} label of Kubernetes node NAME through the API (the pod's
  service account needs "get" on "nodes") and writes it to FILE, for the node's
  KV_ZONE_FILE. The store's chart runs it as an init container, with NAME from the
  downward API (spec.nodeName). Fails, naming the URL, the HTTP status and what to check,
  when the API refuses or the node has no such label.

kv k8s pre-stop --statefulset NAME --namespace NS --sleep-s S --budget-s B [--endpoint H:P[,H:P]] [--log-file F]
  The pod's preStop hook. Reads the StatefulSet's .spec.replicas; when this pod's ordinal
  (from KV_NODE_ID, <set>-<ordinal>) is at or beyond it, and it is at least N, the set is
  being scaled in: it runs kv admin leave <self> --commit --wait against the endpoints
  (default 127.0.0.1:KV_PORT), retrying a refused commit until it is accepted, for at most
  B seconds. Otherwise (restart, rollout, eviction, drain), or when the API cannot be read,
  it only sleeps S seconds: a pod that is coming back must keep its data. Reads the node's
  settings (KV_*) as kv node does. --log-file also writes its log lines there (the chart
  gives /proc/1/fd/2, the node's stderr, so they reach the pod's log).

kv k8s context-keys --namespace NS --secret NAME
  Creates the Secret NAME in NS holding the cluster's context keys (item "${CONTEXT_KEYS_ITEM}": one
  new random key of 32 bytes as hex), only when it does not exist: an existing Secret,
  or one another run creates meanwhile, is left unchanged (rotation is by hand,
  docs/deploy.md). The store's chart runs it as a Job; its service account needs "create"
  on "secrets" and "get" on that one Secret. Says what it did in one line; fails, naming
  the URL, the HTTP status and what to check, when the API refuses.

All take --service-account-dir DIR: where the token and ca.crt are
(default ${SERVICE_ACCOUNT_DIR}).`;

type Flags = Record<string, string | boolean | undefined>;

function parse(argv: readonly string[], options: Record<string, { type: 'string' }>, command: string): Flags | undefined {
  let r;
  try {
    r = parseArgs({ args: [...argv], options: { ...options, 'service-account-dir': { type: 'string', default: SERVICE_ACCOUNT_DIR }, help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true });
  } catch (e) {
    throw new CliError(`kv k8s ${command}: ${(e as Error).message.replace(/\. To specify.*$/s, '')}; see kv k8s --help`);
  }
  if (r.values.help) {
    process.stdout.write(`${K8S_HELP}\n`);
    return undefined;
  }
  return r.values;
}

function required(flags: Flags, name: string, command: string): string {
  const value = flags[name];
  if (typeof value !== 'string' || value === '') throw new CliError(`kv k8s ${command}: --${name} is required; see kv k8s --help`);
  return value;
}

function seconds(flags: Flags, name: string, command: string, max: number): number {
  const text = required(flags, name, command);
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n > max) throw new CliError(`kv k8s ${command}: --${name} ${JSON.stringify(text)} is not a whole number of seconds within 0..${max}`);
  return n;
}

/** Longest pre-stop budget accepted: a day, far beyond any sensible grace period. */
const PRE_STOP_BUDGET_S_MAX = 86_400;
/** Longest pause of a pod that stays. */
const PRE_STOP_SLEEP_S_MAX = 600;

export async function k8sCommand(argv: readonly string[], kvScript: string): Promise<void> {
  const [action, ...rest] = argv;
  if (action === undefined || action === '--help' || action === '-h') {
    process.stdout.write(`${K8S_HELP}\n`);
    return;
  }
  if (action === 'zone') return zoneCommand(rest);
  if (action === 'pre-stop') return preStopCommand(rest, kvScript);
  if (action === 'context-keys') return contextKeysCommand(rest);
  throw new CliError(`kv k8s: unknown action ${JSON.stringify(action)}; one of zone, pre-stop, context-keys; see kv k8s --help`);
}

async function zoneCommand(argv: readonly string[]): Promise<void> {
  const flags = parse(argv, { 'node-name': { type: 'string' }, out: { type: 'string' } }, 'zone');
  if (!flags) return;
  const nodeName = required(flags, 'node-name', 'zone');
  const out = required(flags, 'out', 'zone');
  const api = inClusterApi(process.env, String(flags['service-account-dir']));
  const zone = api.ok ? await nodeZone(api.value, nodeName) : api;
  if (!zone.ok) throw new CliError(`kv k8s zone: ${zone.error}`, 1);
  // Written whole or not at all: the node must never read half a zone name.
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}`);
  try {
    fs.writeFileSync(tmp, `${zone.value}\n`);
    fs.renameSync(tmp, out);
  } catch (e) {
    throw new CliError(`kv k8s zone: cannot write ${out} (${(e as Error).message}): mount a writable volume there`, 1);
  }
  process.stdout.write(`zone ${zone.value} of Kubernetes node ${nodeName} written to ${out}\n`);
}

/** A DNS label (namespace) and a DNS subdomain (Secret name), as the API server checks them. */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const CONTEXT_KEYS_SAID: Record<ContextKeysSecretOutcome, string> = {
  created: 'created it with one new context key',
  exists: 'it exists; left unchanged',
  'created-meanwhile': 'another run created it meanwhile; left unchanged',
};

async function contextKeysCommand(argv: readonly string[]): Promise<void> {
  const flags = parse(argv, { namespace: { type: 'string' }, secret: { type: 'string' } }, 'context-keys');
  if (!flags) return;
  const namespace = required(flags, 'namespace', 'context-keys');
  const name = required(flags, 'secret', 'context-keys');
  if (!NAMESPACE_NAME.test(namespace)) throw new CliError(`kv k8s context-keys: --namespace ${JSON.stringify(namespace)} is not a namespace name (a DNS label: 1-63 of [a-z0-9-])`);
  if (!SECRET_NAME.test(name)) throw new CliError(`kv k8s context-keys: --secret ${JSON.stringify(name)} is not a Secret name (1-253 of [a-z0-9.-], starting and ending with a letter or digit)`);
  const api = inClusterApi(process.env, String(flags['service-account-dir']));
  const outcome = api.ok ? await ensureContextKeysSecret(api.value, { namespace, name }, newContextKeysText) : api;
  if (!outcome.ok) throw new CliError(`kv k8s context-keys: ${outcome.error}`, 1);
  process.stdout.write(`context keys Secret ${namespace}/${name} (item ${CONTEXT_KEYS_ITEM}): ${CONTEXT_KEYS_SAID[outcome.value]}\n`);
}

async function preStopCommand(argv: readonly string[], kvScript: string): Promise<void> {
  const flags = parse(argv, { statefulset: { type: 'string' }, namespace: { type: 'string' }, 'sleep-s': { type: 'string' }, 'budget-s': { type: 'string' }, endpoint: { type: 'string' }, 'log-file': { type: 'string' } }, 'pre-stop');
  if (!flags) return;
  const setName = required(flags, 'statefulset', 'pre-stop');
  const namespace = required(flags, 'namespace', 'pre-stop');
  const sleepMs = seconds(flags, 'sleep-s', 'pre-stop', PRE_STOP_SLEEP_S_MAX) * 1000;
  const budgetMs = seconds(flags, 'budget-s', 'pre-stop', PRE_STOP_BUDGET_S_MAX) * 1000;
  const logFile = flags['log-file'] as string | undefined;
  let config;
  try {
    config = parseNodeConfig([], process.env);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(`kv k8s pre-stop: the node's settings do not parse, so this hook cannot tell who it is (${e.message}); nothing was done`, 1);
    throw e;
  }
  const log = ecsLogger({ nodeId: config.nodeId, component: 'pre-stop', level: 'info', write: (line) => {
    process.stderr.write(line);
    // The hook's own output is seen only when it fails (in the pod's events); the node's stderr is its log.
    if (logFile !== undefined) {
      try {
        fs.appendFileSync(logFile, line);
      } catch {
        // a log that cannot be written must not stop the hook
      }
    }
  } });
  const endpoint = (flags.endpoint as string | undefined) ?? `127.0.0.1:${config.port}`;
  const api = inClusterApi(process.env, String(flags['service-account-dir']));
  const outcome = await runPreStop(
    { nodeId: config.nodeId, setName, n: config.n, sleepMs, budgetMs },
    {
      readDesiredReplicas: async () => (api.ok ? statefulSetReplicas(api.value, namespace, setName) : api),
      leave: (timeoutMs) => runLeave(kvScript, config.nodeId, endpoint, timeoutMs, (line) => log.info('kv admin leave', { line })),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      now: () => Date.now(),
      log,
    },
  );
  // A failed hook shows in the pod's events (FailedPreStopHook); the pod stops either way.
  if (outcome === 'leave-failed') throw new CliError(`kv k8s pre-stop: ${config.nodeId} did not finish leaving within ${budgetMs / 1000} s; see the pod's log`, 1);
}

/** One run of `kv admin leave <id> --commit --wait`, its output passed on line by line, killed at the timeout. */
function runLeave(kvScript: string, nodeId: string, endpoint: string, timeoutMs: number, onLine: (line: string) => void): Promise<{ ok: true; value: void } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const args = [kvScript, 'admin', 'leave', nodeId, '--commit', '--wait', '--endpoint', endpoint];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let last = '';
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        last = line;
        onLine(line);
      });
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, Math.max(0, timeoutMs));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `cannot run kv admin leave (${e.message})` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ok: true, value: undefined });
      else resolve({ ok: false, error: timedOut ? `kv admin leave was still running after ${timeoutMs} ms: stopped it` : `kv admin leave exited with ${code ?? signal}: ${last}` });
    });
  });
}

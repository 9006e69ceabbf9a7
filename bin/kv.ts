#!/usr/bin/env node
/** The `kv` command: dispatches to the command implementations in app/cli. */
import { CliError } from '../app/cli/cli-error';
import { adminCommand, callCommand, chaosCommand, clusterCommand, deleteCommand, getCommand, GLOBAL_FLAGS, nodeCommand, putCommand, statusCommand, USAGE } from '../app/cli/commands';
import { benchCommand } from '../app/cli/bench';
import { benchCompareCommand } from '../app/cli/bench-compare';
import { floorCommand } from '../app/cli/floor';
import { k8sCommand } from '../app/cli/k8s';
import { backupCommand, restoreCommand } from '../app/cli/backup';

// A reader that stops early (`kv status | head`) closes stdout: that ends the command quietly,
// as it does for any Unix tool, instead of an unhandled EPIPE with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

/**
 * Client flags given before the command (`kv --endpoint h:p get k`, as etcdctl users type) are
 * moved after it, where the command parses them; anything else before the command is an error.
 */
function hoistGlobalFlags(argv: string[]): string[] {
  const before: string[] = [];
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('--') && argv[i] !== '--help') {
    const [name, inline] = argv[i]!.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!GLOBAL_FLAGS.has(name)) throw new CliError(`kv: ${argv[i]} before the command is not a flag every client command takes (${[...GLOBAL_FLAGS].map((f) => `--${f}`).join(', ')}); put it after the command; see kv --help`);
    if (inline !== undefined) {
      before.push(`--${name}=${inline}`);
      i += 1;
    } else {
      if (i + 1 >= argv.length) throw new CliError(`kv: ${argv[i]} needs a value; see kv --help`);
      before.push(`--${name}=${argv[i + 1]}`);
      i += 2;
    }
  }
  if (before.length === 0) return argv;
  const [command, ...rest] = argv.slice(i);
  if (command === undefined) throw new CliError(`kv: ${before.join(' ')} given without a command; see kv --help`);
  return [command, ...before, ...rest];
}

async function main(args: string[]): Promise<void> {
  const argv = hoistGlobalFlags(args);
  const [command, ...rest] = argv;
  switch (command) {
    case 'cluster':
      return clusterCommand(rest, __filename);
    case 'node':
      return nodeCommand(rest);
    case 'get':
      return getCommand(rest);
    case 'put':
      return putCommand(rest);
    case 'delete':
      return deleteCommand(rest);
    case 'status':
      return statusCommand(rest);
    case 'call':
      return callCommand(rest);
    case 'admin':
      return adminCommand(rest);
    case 'bench':
      return rest[0] === 'compare' ? benchCompareCommand(rest.slice(1), __filename) : benchCommand(rest);
    case 'floor':
      return floorCommand(rest, __filename);
    case 'k8s':
      return k8sCommand(rest, __filename);
    case 'chaos':
      return chaosCommand(rest);
    case 'backup':
      return backupCommand(rest);
    case 'restore':
      return restoreCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new CliError(`kv: unknown command ${JSON.stringify(command)}; see kv --help`);
  }
}

main(process.argv.slice(2)).then(
  () => {
    if (process.exitCode === undefined) process.exitCode = 0;
  },
  (e: unknown) => {
    if (e instanceof CliError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      process.stderr.write(`kv: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 70;
    }
  },
);

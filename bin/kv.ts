#!/usr/bin/env node
/** The `kv` command: dispatches to the command implementations in app/cli. */
import { CliError } from '../app/cli/cli-error';
import { clusterCommand, deleteCommand, getCommand, nodeCommand, putCommand, statusCommand, USAGE } from '../app/cli/commands';
import { benchCommand } from '../app/cli/bench';
import { floorCommand } from '../app/cli/floor';

// A reader that stops early (`kv status | head`) closes stdout: that ends the command quietly,
// as it does for any Unix tool, instead of an unhandled EPIPE with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

async function main(argv: string[]): Promise<void> {
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
    case 'bench':
      return benchCommand(rest);
    case 'floor':
      return floorCommand(rest, __filename);
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

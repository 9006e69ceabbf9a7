/**
 * The cluster's context keys (see app/versioning/context-seal.ts): read once at start from the
 * file --context-keys-file names, the same file on every node.
 *
 * Without the setting, a node alone in its cluster (one member, not joining) uses the key file in
 * its data directory, `context-keys`, creating it on its first start: a lone node needs no
 * configuration, and its contexts stay valid across restarts. Nodes that join it later must be
 * given that file. Any other storage node refuses to start without the setting: nodes
 * with keys of their own would each refuse the contexts of the others, so a client's put through
 * another node, or forwarded to another primary, would fail. A gateway seals nothing and needs none.
 *
 * The file: one key a line, as hex, at least CONTEXT_KEY_BYTES_MIN bytes; blank lines and text
 * after `#` are ignored; 1..CONTEXT_KEYS_MAX keys. The first signs, every one verifies.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONTEXT_KEY_BYTES_MIN, CONTEXT_KEYS_MAX } from '../versioning/context-seal';
import { ConfigError, NodeConfig } from './config';

/** The key file a lone node creates in its data directory. */
export const OWN_CONTEXT_KEYS_FILE = 'context-keys';
/** Largest key file read: CONTEXT_KEYS_MAX keys with comments fit many times over. */
const CONTEXT_KEYS_FILE_BYTES_MAX = 64 * 1024;
/** Bytes of a key this code generates. */
const GENERATED_KEY_BYTES = 32;

/** Parses a key file's text; `source` names it in errors. */
export function parseContextKeys(text: string, source: string): Buffer[] {
  const keys: Buffer[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    const hex = line.replace(/#.*/, '').trim();
    if (hex === '') continue;
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length % 2 !== 0) throw new ConfigError(`${source}: line ${i + 1} is not a key written as hex digits (openssl rand -hex ${GENERATED_KEY_BYTES} writes one)`);
    if (hex.length / 2 < CONTEXT_KEY_BYTES_MIN) throw new ConfigError(`${source}: line ${i + 1} holds a key of ${hex.length / 2} bytes, below the minimum of ${CONTEXT_KEY_BYTES_MIN} bytes (openssl rand -hex ${GENERATED_KEY_BYTES})`);
    keys.push(Buffer.from(hex, 'hex'));
  }
  if (keys.length === 0) throw new ConfigError(`${source}: no key in the file; it holds 1 to ${CONTEXT_KEYS_MAX} keys, one a line as hex (openssl rand -hex ${GENERATED_KEY_BYTES})`);
  if (keys.length > CONTEXT_KEYS_MAX) throw new ConfigError(`${source}: ${keys.length} keys, above the limit of ${CONTEXT_KEYS_MAX}; drop the oldest (the last lines)`);
  return keys;
}

/** Text of a new key file with one random key. */
export function newContextKeysText(): string {
  return `# kv context keys: the first signs, all verify; the same file on every node\n${randomBytes(GENERATED_KEY_BYTES).toString('hex')}\n`;
}

/** Writes a new key file at `file` unless one is there (atomically: never a half-written file). */
export function ensureContextKeysFile(file: string): void {
  if (fs.existsSync(file)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, newContextKeysText(), { mode: 0o600 });
  try {
    fs.linkSync(tmp, file); // fails if another process made it meanwhile: theirs stays
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Reads a key file; ConfigError names the file and what is wrong. */
export function readContextKeys(file: string, source: string): Buffer[] {
  const where = `${source} (${file})`;
  let text: string;
  try {
    if (fs.statSync(file).size > CONTEXT_KEYS_FILE_BYTES_MAX) throw new Error(`larger than ${CONTEXT_KEYS_FILE_BYTES_MAX} bytes`);
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${where}: cannot read the context keys (${(e as Error).message})`);
  }
  return parseContextKeys(text, where);
}

/**
 * The keys a storage node seals and opens contexts with, and where they came from. ConfigError
 * when the setting is missing on a node that is not alone in its cluster.
 */
export function loadContextKeys(config: Pick<NodeConfig, 'contextKeysFile' | 'dataDir' | 'nodeId' | 'peers' | 'startsOutside'>): { keys: Buffer[]; file: string } {
  if (config.contextKeysFile !== undefined) return { keys: readContextKeys(config.contextKeysFile, 'context-keys-file'), file: config.contextKeysFile };
  // Every node of a cluster must seal contexts with the same key, so only a node alone in its
  // cluster may make its own.
  if (config.peers.size > 1 || config.startsOutside) {
    throw new ConfigError(
      `context-keys-file: not given, and node ${config.nodeId} ${config.startsOutside ? 'joins a cluster' : `is one of ${config.peers.size} members`}: every node of a cluster must sign contexts with the same key. Create one file (openssl rand -hex 32 > context-keys) and give it to every node with --context-keys-file or KV_CONTEXT_KEYS_FILE (kv cluster does this for its nodes; the chart mounts a Secret)`,
    );
  }
  const own = path.join(config.dataDir, OWN_CONTEXT_KEYS_FILE);
  ensureContextKeysFile(own);
  return { keys: readContextKeys(own, "the data directory's own context keys"), file: own };
}

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { ContextSeal, CONTEXT_KEYS_MAX, CONTEXT_SEAL_OVERHEAD_BYTES, MacKey } from '../../app/versioning/context-seal';
import { encodeContext } from '../../app/versioning/codec';
import { ensureContextKeysFile, loadContextKeys, parseContextKeys, readContextKeys } from '../../app/node/context-keys';
import { ConfigError } from '../../app/node/config';

const OLD = Buffer.alloc(32, 0x11);
const NEW = Buffer.alloc(32, 0x22);
const key = Buffer.from('user:1');
const vv = new Map([['kv-1.e1', 7], ['kv-2.e3', 2]]);

function refusal(seal: ContextSeal, k: Uint8Array, context: Uint8Array): string {
  const r = seal.open(k, context);
  if (r.ok) throw new Error('expected the context to be refused');
  expect(r.error.condition).toBe('InvalidArgument');
  return r.error.message;
}

describe('ContextSeal', () => {
  test('opens what it sealed, for the same key, to the same vector', () => {
    const seal = new ContextSeal([OLD]);
    const context = seal.seal(key, vv);
    expect(context.length).toBe(encodeContext(vv).length - 1 + CONTEXT_SEAL_OVERHEAD_BYTES);
    const opened = seal.open(key, context);
    expect(opened.ok && [...opened.value]).toEqual([...vv]);
  });

  test('opens an empty context to the empty vector (a blind write)', () => {
    const opened = new ContextSeal([OLD]).open(key, new Uint8Array(0));
    expect(opened.ok && opened.value.size).toBe(0);
  });

  test('rejects a context with any one bit flipped', () => {
    const seal = new ContextSeal([OLD]);
    const context = seal.seal(key, vv);
    for (let bit = 0; bit < context.length * 8; bit++) {
      const forged = Buffer.from(context);
      forged[bit >> 3]! ^= 1 << (bit & 7);
      expect(refusal(seal, key, forged)).toMatch(/^context: \d+ bytes /);
    }
  });

  test('rejects a context sealed for another key, saying so', () => {
    const seal = new ContextSeal([OLD]);
    expect(refusal(seal, Buffer.from('user:2'), seal.seal(key, vv))).toMatch(/not signed by this cluster for this key: it is for another key/);
  });

  test('rejects a context sealed by another cluster (another key), saying it is not signed by this cluster', () => {
    expect(refusal(new ContextSeal([NEW]), key, new ContextSeal([OLD]).seal(key, vv))).toMatch(/is not signed by this cluster \(its MAC matches none of this node's 1 context key\)/);
  });

  test('rejects the unsigned contexts of nodes before signing, saying to read again', () => {
    expect(refusal(new ContextSeal([OLD]), key, encodeContext(vv))).toMatch(/unsigned context \(format 2\).*read the key again/);
  });

  test('rejects a forged vector with the counter near 2^53 and 63 invented actors', () => {
    const seal = new ContextSeal([OLD]);
    const forged = [encodeContext(new Map([['kv-1.e1', Number.MAX_SAFE_INTEGER]])), encodeContext(new Map(Array.from({ length: 63 }, (_, i) => [`x${String(i).padStart(2, '0')}`, 1])))];
    for (const body of forged) {
      const withFormat3 = Buffer.concat([Buffer.from([3]), body.subarray(1), Buffer.alloc(20)]);
      expect(refusal(seal, key, withFormat3)).toMatch(/not signed by this cluster/);
    }
  });

  test('rotation: the first key seals, every listed key opens, a dropped key no longer opens', () => {
    const before = new ContextSeal([OLD]);
    const adding = new ContextSeal([OLD, NEW]);
    const rotated = new ContextSeal([NEW, OLD]);
    const after = new ContextSeal([NEW]);
    const oldContext = before.seal(key, vv);
    expect(adding.open(key, oldContext).ok).toBe(true);
    expect(rotated.open(key, oldContext).ok).toBe(true);
    expect(adding.seal(key, vv).equals(oldContext)).toBe(true);
    const newContext = rotated.seal(key, vv);
    expect(newContext.equals(oldContext)).toBe(false);
    expect(adding.open(key, newContext).ok).toBe(true);
    expect(after.open(key, newContext).ok).toBe(true);
    expect(refusal(after, key, oldContext)).toMatch(/not signed by this cluster/);
  });

  test.each([32, 63, 64, 65, 100, 200])('its MAC is HMAC-SHA256 as createHmac computes it, for a key of %i bytes', (bytes) => {
    const secret = randomBytes(bytes);
    const mac = new MacKey(secret);
    for (const parts of [[], [Buffer.alloc(0)], [randomBytes(4), randomBytes(1), randomBytes(300)], [randomBytes(64), randomBytes(55), randomBytes(9)]]) {
      const expected = createHmac('sha256', secret);
      for (const p of parts) expected.update(p);
      expect(mac.mac(parts).toString('hex')).toBe(expected.digest('hex'));
    }
  });

  test('opens a context sealed when the key tag was the first bytes of SHA-256 of the key', () => {
    const seal = new ContextSeal([OLD]);
    const context = seal.seal(key, vv);
    const body = context.subarray(0, context.length - 20);
    const oldTag = createHash('sha256').update(key).digest().subarray(0, 4);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(key.length);
    const oldMac = createHmac('sha256', OLD).update(length).update(key).update(body).update(oldTag).digest().subarray(0, 16);
    const opened = seal.open(key, Buffer.concat([body, oldTag, oldMac]));
    expect(opened.ok && [...opened.value]).toEqual([...vv]);
  });

  test('rejects keys shorter than 32 bytes and more than the limit of keys', () => {
    expect(() => new ContextSeal([Buffer.alloc(31)])).toThrow(/context key 1: 31 bytes, must be at least 32/);
    expect(() => new ContextSeal([])).toThrow(/0 given, must be 1\.\.8/);
    expect(() => new ContextSeal(Array.from({ length: CONTEXT_KEYS_MAX + 1 }, () => OLD))).toThrow(/9 given/);
  });
});

describe('context key files', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-ctx-keys-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('parses hex keys one a line, skipping comments and blank lines, in order', () => {
    const keys = parseContextKeys(`# rotated 2026-11\n${NEW.toString('hex')}\n\n${OLD.toString('hex')}  # old\n`, 'f');
    expect(keys).toEqual([NEW, OLD]);
  });

  test.each([
    ['no key', '# nothing\n', /f: no key in the file/],
    ['a short key', 'abcd\n', /f: line 1 holds a key of 2 bytes, below the minimum of 32 bytes/],
    ['a line that is not hex', `${OLD.toString('hex')}\nnot-hex\n`, /f: line 2 is not a key written as hex digits/],
    ['too many keys', `${OLD.toString('hex')}\n`.repeat(9), /f: 9 keys, above the limit of 8/],
  ])('rejects a file with %s, naming the file, the line and the limit', (_what, text, message) => {
    expect(() => parseContextKeys(text, 'f')).toThrow(ConfigError);
    expect(() => parseContextKeys(text, 'f')).toThrow(message);
  });

  test('rejects a missing file, naming it', () => {
    expect(() => readContextKeys(path.join(dir, 'none'), 'context-keys-file')).toThrow(/context-keys-file \(.*none\): cannot read the context keys/);
  });

  test('creates a file of one random key, readable by its owner only, and never replaces it', () => {
    const file = path.join(dir, 'sub', 'context-keys');
    ensureContextKeysFile(file);
    const first = fs.readFileSync(file, 'utf8');
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    expect(parseContextKeys(first, 'f')).toHaveLength(1);
    ensureContextKeysFile(file);
    expect(fs.readFileSync(file, 'utf8')).toBe(first);
  });

  test('a node alone in its cluster without the setting uses, and keeps, the file in its data directory', () => {
    const alone = { dataDir: dir, nodeId: 'solo', peers: new Map([['solo', '127.0.0.1:1']]), startsOutside: false };
    const a = loadContextKeys(alone);
    expect(a.file).toBe(path.join(dir, 'context-keys'));
    expect(loadContextKeys(alone).keys).toEqual(a.keys);
  });

  test('rejects a node of several members, or one that joins, without the setting', () => {
    const peers = new Map([['kv-1', '127.0.0.1:1'], ['kv-2', '127.0.0.1:2']]);
    expect(() => loadContextKeys({ dataDir: dir, nodeId: 'kv-1', peers, startsOutside: false })).toThrow(/context-keys-file: not given, and node kv-1 is one of 2 members: every node of a cluster must sign contexts with the same key/);
    expect(() => loadContextKeys({ dataDir: dir, nodeId: 'kv-3', peers: new Map([['kv-3', '127.0.0.1:3']]), startsOutside: true })).toThrow(/node kv-3 joins a cluster/);
    expect(fs.existsSync(path.join(dir, 'context-keys'))).toBe(false);
  });

  test('reads the file the setting names', () => {
    const file = path.join(dir, 'keys');
    fs.writeFileSync(file, `${NEW.toString('hex')}\n${OLD.toString('hex')}\n`);
    expect(loadContextKeys({ dataDir: dir, nodeId: 'kv-1', peers: new Map(), startsOutside: true, contextKeysFile: file }).keys).toEqual([NEW, OLD]);
  });
});

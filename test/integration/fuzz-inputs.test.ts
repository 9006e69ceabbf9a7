/**
 * Fuzzing every input of a real node (fast-check, against two real node processes with LMDB
 * stores, over gRPC on loopback): every field of every client message (Get, Put, Delete,
 * Inspect, Batch) and the peer messages, with random and garbage bytes for keys, values and
 * contexts, out-of-range integers, many operations in one Batch message, deep clocks in contexts;
 * and raw frames written byte by byte over HTTP/2 to every method: random bytes, valid messages
 * cut short, length prefixes that lie, frames over the size limit, a second message to a unary
 * method.
 *
 * For each case the answer has the status the README's errors table documents (the oracle below
 * says which), the node stays up (a Status call answers after each property), memory stays
 * bounded (the nodes' RSS, sampled after each property, below FUZZ_RSS_BYTES_MAX) and stored data
 * is unchanged: a write with bad input is aimed at seeded keys, and every seeded key reads back
 * identical, on each node, at the end.
 *
 * `npm test` runs FUZZ_RUNS_DEFAULT cases per property; KV_FUZZ_RUNS=100000 runs a long campaign
 * (KV_FUZZ_SEED=<n> replays one). Ports: 19410, 19411.
 */
import * as fc from 'fast-check';
import * as fs from 'node:fs';
import { status as Code } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { TIMEOUT_MS_MAX } from '../../app/api/ops';
import { protos } from '../../app/rpc/proto-definition';
import type { Operation } from '../../app/rpc/generated/kv/v1/Operation';
import { decodeContext, encodeContext } from '../../app/versioning/codec';
import { frame, RawGrpc } from '../support/raw-grpc';
import { Fixture, Stored, startCluster } from './cluster-fixture';

/** Cases per property in `npm test` (the whole file stays well under a minute). */
const FUZZ_RUNS_DEFAULT = 100;
const RUNS = Number(process.env.KV_FUZZ_RUNS ?? FUZZ_RUNS_DEFAULT);
const SEED = process.env.KV_FUZZ_SEED === undefined ? undefined : Number(process.env.KV_FUZZ_SEED);
/** A property's time budget: generous, so that a long campaign is not cut by jest. */
const PROPERTY_TIMEOUT_MS = Math.max(120_000, RUNS * 500);
/** Resident memory a node may reach under the fuzz at most (it starts near 150 MiB). */
const FUZZ_RSS_BYTES_MAX = 768 * 1024 * 1024;

const MIB = 1024 * 1024;
/** The nodes' limits, as started below. */
const LIMITS = { n: 2, r: 1, w: 1, keyBytesMax: 64, valueBytesMax: 4096, batchOpsMax: 64, messageBytesMax: MIB } as const;
const SEEDS = Array.from({ length: 12 }, (_, i) => `seed-${i}`);

let f: Fixture;
let raw: RawGrpc;
let seeded: Map<string, Map<string, Stored>>;
/** A context a get returned for each seeded key (for corrupted copies of real contexts). */
const realContexts: Buffer[] = [];
const rssSamples: Array<{ after: string; node: string; mib: number }> = [];

beforeAll(async () => {
  f = await startCluster({
    basePort: 19410,
    nodes: LIMITS.n,
    n: LIMITS.n,
    r: LIMITS.r,
    w: LIMITS.w,
    extraArgs: ['--key-bytes-max', String(LIMITS.keyBytesMax), '--value-bytes-max', String(LIMITS.valueBytesMax), '--batch-ops-max', String(LIMITS.batchOpsMax), '--message-bytes-max', String(LIMITS.messageBytesMax)],
  });
  await f.waitConnected();
  const c = f.client();
  for (const key of SEEDS) await c.put(key, `value of ${key}`, { w: 2 });
  for (const key of SEEDS) realContexts.push(Buffer.from((await c.get(key, { r: 2 })).context));
  seeded = new Map();
  for (const node of f.cluster.nodes) seeded.set(node.id, await f.storedAt(node.id, SEEDS));
  raw = new RawGrpc(f.cluster.nodes[0]!.endpoint);
}, 60_000);

afterAll(async () => {
  raw?.close();
  const table = rssSamples.map((s) => `${s.after.padEnd(28)} ${s.node} ${s.mib.toFixed(0)} MiB`).join('\n');
  if (table) process.stdout.write(`fuzz: ${RUNS} runs per property; node RSS after each:\n${table}\n`);
  const statuses = [...tally].sort(([a], [b]) => a.localeCompare(b)).map(([row, n]) => `${row} ${n}`).join('\n');
  if (statuses) process.stdout.write(`fuzz: answers by input and status:\n${statuses}\n`);
  await f?.teardown();
}, 60_000);

/** Checks that every node still answers and is within its memory bound; records its RSS. */
async function nodesStillServe(after: string): Promise<void> {
  for (const node of f.cluster.nodes) {
    expect(f.isRunning(node.id)).toBe(true);
    expect((await f.statusOf(node.id)).nodeId).toBe(node.id);
    const status = fs.readFileSync(`/proc/${node.process!.pid}/status`, 'utf8');
    const rssBytes = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
    rssSamples.push({ after, node: node.id, mib: rssBytes / MIB });
    expect(rssBytes).toBeLessThan(FUZZ_RSS_BYTES_MAX);
  }
}

const run = <T>(property: fc.IAsyncPropertyWithHooks<T>) => fc.assert(property, { numRuns: RUNS, seed: SEED, endOnFailure: true });

// ---- Generators ----

const seedKey = fc.constantFrom(...SEEDS.map((k) => Buffer.from(k)));
const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength }).map((b) => Buffer.from(b));
const anyKey = fc.oneof(seedKey, bytes(0, LIMITS.keyBytesMax + 16), fc.constant(Buffer.alloc(0)));
const anyValue = fc.oneof(bytes(0, 64), bytes(LIMITS.valueBytesMax - 4, LIMITS.valueBytesMax + 64));
/** uint32 fields: the usual values, around the limits, and anything up to 2^32-1. */
const quorum = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 }), fc.nat({ max: 2 ** 32 - 1 }));
const timeoutMs = fc.oneof(fc.constant(0), fc.integer({ min: 2000, max: 10_000 }), fc.constant(TIMEOUT_MS_MAX), fc.integer({ min: TIMEOUT_MS_MAX + 1, max: 2 ** 32 - 1 }));

type ContextKind = 'none' | 'garbage' | 'corrupt' | 'deep';
/**
 * Contexts: none; random bytes (garbage); a context a get returned, cut short or with bytes
 * added (corrupt: no context format accepts it); and a well-formed one with a deep clock (many
 * actors, large counters), which only the coordinator's clock bounds can refuse.
 */
const context: fc.Arbitrary<{ kind: ContextKind; bytes: Buffer }> = fc.oneof(
  fc.constant({ kind: 'none' as const, bytes: Buffer.alloc(0) }),
  bytes(1, 200).map((b) => ({ kind: 'garbage' as const, bytes: b })),
  fc.tuple(fc.nat(), fc.nat()).map(([i, cut]) => {
    const real = realContexts[i % realContexts.length]!;
    return { kind: 'corrupt' as const, bytes: real.subarray(0, cut % real.length) };
  }).filter((c) => c.bytes.length > 0),
  fc.tuple(fc.nat(), bytes(1, 32)).map(([i, extra]) => ({ kind: 'corrupt' as const, bytes: Buffer.concat([realContexts[i % realContexts.length]!, extra]) })),
  fc.tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 2 ** 40 })).map(([actors, counter]) => ({
    kind: 'deep' as const,
    bytes: encodeContext(new Map(Array.from({ length: actors }, (_, i) => [`fuzz-actor-${String(i).padStart(4, '0')}`, counter + i]))),
  })),
);

type ClientOp =
  | { kind: 'get'; key: Buffer; r: number; pr: number; timeoutMs: number }
  | { kind: 'put'; key: Buffer; value: Buffer; context: { kind: ContextKind; bytes: Buffer }; w: number; pw: number; timeoutMs: number }
  | { kind: 'delete'; key: Buffer; context: { kind: ContextKind; bytes: Buffer }; w: number; pw: number; timeoutMs: number }
  | { kind: 'inspect'; key: Buffer; timeoutMs: number };

const clientOp: fc.Arbitrary<ClientOp> = fc.oneof(
  fc.record({ kind: fc.constant('get' as const), key: anyKey, r: quorum, pr: quorum, timeoutMs }),
  fc.record({ kind: fc.constant('put' as const), key: anyKey, value: anyValue, context, w: quorum, pw: quorum, timeoutMs }),
  fc.record({ kind: fc.constant('delete' as const), key: anyKey, context, w: quorum, pw: quorum, timeoutMs }),
  fc.record({ kind: fc.constant('inspect' as const), key: anyKey, timeoutMs }),
);

// ---- The oracle: which status each input gets (the README's errors table) ----

interface Expected {
  /** Statuses the answer may have. */
  readonly codes: readonly Code[];
  /** For INVALID_ARGUMENT: the fields any of which the message may name first. */
  readonly fields: readonly string[];
}

/** Whether this build's codec reads `bytes` as a context (random bytes rarely are one). */
function decodes(bytes: Buffer): boolean {
  try {
    decodeContext(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * What an operation should get. INVALID_ARGUMENT for any field out of its range (the message
 * names one of them); else it runs: OK, or for a write FAILED_PRECONDITION when it passes the
 * sibling or clock-size limit. A garbage context this build happens to decode may be taken or refused.
 */
function expectedFor(op: ClientOp): Expected {
  const invalid: string[] = [];
  if (op.key.length === 0 || op.key.length > LIMITS.keyBytesMax) invalid.push('key');
  if (op.timeoutMs > TIMEOUT_MS_MAX) invalid.push('timeout_ms');
  if (op.kind === 'inspect') return invalid.length ? { codes: [Code.INVALID_ARGUMENT], fields: invalid } : { codes: [Code.OK], fields: [] };
  if (op.kind === 'get') {
    const r = op.r === 0 ? LIMITS.r : op.r;
    if (op.r > LIMITS.n) invalid.push('r');
    else if (op.pr > r) invalid.push('pr');
  } else {
    if (op.kind === 'put' && op.value.length > LIMITS.valueBytesMax) invalid.push('value');
    const w = op.w === 0 ? LIMITS.w : op.w;
    if (op.w > LIMITS.n) invalid.push('w');
    else if (op.pw > w) invalid.push('pw');
    if (op.context.kind === 'corrupt' || (op.context.kind === 'garbage' && !decodes(op.context.bytes))) invalid.push('context');
    if (op.context.kind === 'garbage' && decodes(op.context.bytes) && invalid.length === 0) return { codes: [Code.OK, Code.INVALID_ARGUMENT], fields: ['context'] };
    if (op.context.kind === 'deep' && invalid.length === 0) return { codes: [Code.OK, Code.FAILED_PRECONDITION, Code.INVALID_ARGUMENT], fields: ['context'] };
  }
  if (invalid.length) return { codes: [Code.INVALID_ARGUMENT], fields: invalid };
  // Writes without a context to a short random key add siblings: a long run reaches the limit.
  return op.kind === 'get' ? { codes: [Code.OK], fields: [] } : { codes: [Code.OK, Code.FAILED_PRECONDITION], fields: [] };
}

/** A write that could change a seeded key: the fuzz sends only the ones surely refused. */
function wouldWriteSeed(op: ClientOp): boolean {
  if (op.kind === 'get' || op.kind === 'inspect') return false;
  const e = expectedFor(op);
  return SEEDS.includes(op.key.toString('latin1')) && !(e.codes.length === 1 && e.codes[0] === Code.INVALID_ARGUMENT);
}

/** How many answers each kind of input got, by status: printed at the end (the status table, as observed). */
const tally = new Map<string, number>();
function count(input: string, code: number | undefined): void {
  const row = `${input.padEnd(44)} ${code === undefined ? 'none' : Code[code]}`;
  tally.set(row, (tally.get(row) ?? 0) + 1);
}

function checkAnswer(op: ClientOp, code: number | undefined, message: string): void {
  const expected = expectedFor(op);
  const field = /^(\w+): /.exec(message)?.[1];
  const context = op.kind === 'put' || op.kind === 'delete' ? ` context ${op.context.kind}` : '';
  count(`${op.kind}${context}${code === Code.INVALID_ARGUMENT || code === Code.FAILED_PRECONDITION ? ` (${field})` : ''}`, code);
  const what = `${op.kind} ${JSON.stringify({ ...op, key: op.key.toString('hex'), value: undefined })} answered ${code === undefined ? 'nothing' : Code[code]}: ${message}`;
  if (!expected.codes.includes(code as Code)) throw new Error(`expected ${expected.codes.map((c) => Code[c]).join(' or ')}; ${what}`);
  if (code === Code.INVALID_ARGUMENT && !expected.fields.some((field) => message.startsWith(`${field}: `))) {
    throw new Error(`expected the message to name one of ${expected.fields.join(', ')} with its value and limit; ${what}`);
  }
}

// ---- Requests on the wire ----

const { kv, peer, backup } = protos();
type Serializer = { requestSerialize: (r: unknown) => Buffer; requestDeserialize: (b: Buffer) => unknown };
const kvMethod = (name: string) => (kv.KV.service as unknown as Record<string, Serializer>)[name]!;

function requestOf(op: ClientOp): { path: string; body: Buffer } {
  const base = { key: op.key, timeoutMs: op.timeoutMs };
  switch (op.kind) {
    case 'get':
      return { path: '/kv.v1.KV/Get', body: kvMethod('Get').requestSerialize({ ...base, r: op.r, pr: op.pr }) };
    case 'put':
      return { path: '/kv.v1.KV/Put', body: kvMethod('Put').requestSerialize({ ...base, value: op.value, context: op.context.bytes, w: op.w, pw: op.pw }) };
    case 'delete':
      return { path: '/kv.v1.KV/Delete', body: kvMethod('Delete').requestSerialize({ ...base, context: op.context.bytes, w: op.w, pw: op.pw }) };
    case 'inspect':
      return { path: '/kv.v1.KV/Inspect', body: kvMethod('Inspect').requestSerialize(base) };
  }
}

function operationOf(id: number, op: Exclude<ClientOp, { kind: 'inspect' }>): Operation {
  const { kind, context: ctx, ...fields } = op as ClientOp & { context?: { bytes: Buffer } };
  return { id, [kind]: { ...fields, ...(ctx ? { context: ctx.bytes } : {}) } } as Operation;
}

// ---- Properties ----

test('every field of Get, Put, Delete and Inspect gets its documented status, and bad writes to seeded keys change nothing', async () => {
  await run(
    fc.asyncProperty(clientOp, async (op) => {
      if (wouldWriteSeed(op)) return;
      const { path, body } = requestOf(op);
      const answer = await raw.call(path, frame(body), { waitMs: 15_000 });
      checkAnswer(op, answer.code, answer.message);
    }),
  );
  await nodesStillServe('unary fields');
}, PROPERTY_TIMEOUT_MS);

/** Keys written instead of seeded ones, each used once (no key piles up siblings). */
let batchKeys = 0;
const batchOp = clientOp.filter((op): op is Exclude<ClientOp, { kind: 'inspect' }> => op.kind !== 'inspect');

test('a Batch message of up to twice batch-ops-max random operations answers each with its documented status, or ends the stream when it carries too many', async () => {
  const { BatchResponse } = { BatchResponse: kv.KV.service.Batch };
  let over = 0;
  await run(
    // size 'max': fast-check's default size keeps arrays to about ten elements, so the lengths
    // around and past batch-ops-max would never be drawn.
    fc.asyncProperty(fc.array(fc.oneof({ weight: 9, arbitrary: batchOp }, { weight: 1, arbitrary: fc.constant(undefined) }), { minLength: 1, maxLength: LIMITS.batchOpsMax * 2, size: 'max' }), async (ops) => {
      // Writes that would change a seeded key go to a key of their own instead.
      const sent = ops.map((op, i) => (op && wouldWriteSeed(op) ? { ...op, key: Buffer.from(`fuzz-batch-${++batchKeys}-${i}`) } : op));
      const body = kv.KV.service.Batch.requestSerialize({ ops: sent.map((op, i) => (op ? operationOf(i + 1, op) : { id: i + 1 })) });
      const results = new Map<number, { code: number; message: string }>();
      const answer = await raw.call('/kv.v1.KV/Batch', frame(body), {
        end: false,
        waitMs: 20_000,
        until: (messages) => {
          for (const m of messages) for (const r of (BatchResponse.responseDeserialize(m) as { results: Array<{ id: number; error?: { code: number; message: string } }> }).results) results.set(r.id, r.error ?? { code: Code.OK, message: '' });
          return results.size >= sent.length;
        },
      });
      if (sent.length > LIMITS.batchOpsMax) {
        // Counted before it is decoded: the stream ends, none of its operations runs.
        over++;
        expect(answer.code).toBe(Code.INVALID_ARGUMENT);
        expect(answer.message).toBe(`ops: more than ${LIMITS.batchOpsMax} operations in one BatchRequest (${LIMITS.batchOpsMax + 1} counted before it was refused), the limit (batchOpsMax) is ${LIMITS.batchOpsMax}: the stream is closed`);
        expect(results.size).toBe(0);
        return;
      }
      expect(answer.message).toBe('answered');
      for (const [i, op] of sent.entries()) {
        const r = results.get(i + 1)!;
        if (op === undefined) {
          expect(r.code).toBe(Code.INVALID_ARGUMENT);
          expect(r.message).toMatch(/^op: operation \d+ has none of get, put, delete$/);
        } else checkAnswer(op, r.code, r.message);
      }
    }),
  );
  // Both sides of the limit were drawn (about half the lengths are past it).
  expect(over).toBeGreaterThan(0);
  await nodesStillServe('batch');
}, PROPERTY_TIMEOUT_MS);

/** Every method a client or a peer can call, with the type of its request. */
const METHODS: ReadonlyArray<{ path: string; decode: (b: Buffer) => unknown; unary: boolean; sendDecoded: boolean }> = [
  ...['Get', 'Put', 'Delete', 'Status', 'Inspect'].map((m) => ({ path: `/kv.v1.KV/${m}`, decode: kvMethod(m).requestDeserialize, unary: true, sendDecoded: true })),
  { path: '/kv.v1.KV/Batch', decode: kvMethod('Batch').requestDeserialize, unary: false, sendDecoded: true },
  // A decodable Admin request is a real membership change and a decodable peer message real
  // replica traffic: they are fuzzed field by field (peer) or only as garbage (Admin).
  { path: '/kv.v1.KV/Admin', decode: kvMethod('Admin').requestDeserialize, unary: true, sendDecoded: false },
  { path: '/kv.v1.Peer/Exchange', decode: (peer.Peer.service as unknown as Record<string, Serializer>).Exchange!.requestDeserialize, unary: false, sendDecoded: false },
  { path: '/kv.v1.Backup/Restore', decode: (backup.Backup.service as unknown as Record<string, Serializer>).Restore!.requestDeserialize, unary: true, sendDecoded: true },
  { path: '/kv.v1.Backup/Snapshot', decode: (backup.Backup.service as unknown as Record<string, Serializer>).Snapshot!.requestDeserialize, unary: true, sendDecoded: false },
  { path: '/grpc.health.v1.Health/Check', decode: (healthService as unknown as Record<string, Serializer>).Check!.requestDeserialize, unary: true, sendDecoded: true },
];

/** A valid request of a method, as bytes (for mutated frames). */
function validRequest(path: string): Buffer {
  if (path.endsWith('/Batch')) return kv.KV.service.Batch.requestSerialize({ ops: [{ id: 1, get: { key: Buffer.from('fuzz-frame') } }] });
  if (path.endsWith('/Exchange')) return (peer.Peer.service as unknown as Record<string, Serializer>).Exchange!.requestSerialize({ requests: [{ id: 1, ping: { dataId: 'fuzz' } }] });
  if (path.startsWith('/kv.v1.KV/') && ['Get', 'Put', 'Delete', 'Inspect'].includes(path.slice(10))) return kvMethod(path.slice(10)).requestSerialize({ key: Buffer.from('fuzz-frame'), value: Buffer.from('v') });
  return Buffer.alloc(0);
}

/**
 * Bodies: one frame of random bytes; a valid request's frame cut short, or with a lying length
 * prefix (shorter, longer, beyond the size limit), or with random bytes flipped or appended; two
 * frames.
 */
const body = fc.oneof(
  bytes(0, 300).map((b) => ({ how: 'random message', bytes: frame(b) })),
  bytes(0, 40).map((b) => ({ how: 'random bytes', bytes: b })),
  fc.nat().map((cut) => ({ how: 'cut short', cut })),
  fc.oneof(fc.nat({ max: 64 }), fc.integer({ min: LIMITS.messageBytesMax + 1, max: 2 ** 32 - 1 })).map((length) => ({ how: 'lying length', length })),
  fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }).map((flips) => ({ how: 'flipped', flips })),
  bytes(1, 40).map((b) => ({ how: 'appended', bytes: b })),
  fc.constant({ how: 'two frames' }),
);

function bodyFor(path: string, spec: { how: string; bytes?: Buffer; cut?: number; length?: number; flips?: Array<[number, number]> }): Buffer {
  const valid = validRequest(path);
  switch (spec.how) {
    case 'cut short': {
      const whole = frame(valid);
      return whole.subarray(0, spec.cut! % whole.length);
    }
    case 'lying length':
      return frame(valid, { length: spec.length });
    case 'flipped': {
      const copy = Buffer.from(valid);
      for (const [at, value] of spec.flips!) if (copy.length) copy[at % copy.length] = value;
      return frame(copy);
    }
    case 'appended':
      return frame(Buffer.concat([valid, spec.bytes!]));
    case 'two frames':
      return Buffer.concat([frame(valid), frame(valid)]);
    default:
      return spec.bytes!;
  }
}

/** The messages in a request body as the server's decoder reads them, and how the body ends. */
function framesOf(b: Buffer): { messages: Buffer[]; oversize: boolean; cutShort: boolean } {
  const messages: Buffer[] = [];
  let at = 0;
  while (at < b.length) {
    if (b.length - at < 5) return { messages, oversize: false, cutShort: true };
    const length = b.readUInt32BE(at + 1);
    if (length > LIMITS.messageBytesMax) return { messages, oversize: true, cutShort: false };
    if (b.length - at - 5 < length) return { messages, oversize: false, cutShort: true };
    messages.push(b.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return { messages, oversize: false, cutShort: false };
}

/**
 * The status a raw body gets: RESOURCE_EXHAUSTED for a length prefix over the size limit;
 * INVALID_ARGUMENT for a message that does not decode, and, on a method that takes one message,
 * for none or two; a body that ends mid-frame after whole messages is served as those messages
 * (grpc-js drops the rest: on a stream, the client ended it). A decodable request runs: any documented status but INTERNAL and UNKNOWN.
 * Undefined: not sent (a decodable request the fuzz does not send; see METHODS).
 */
function expectedForBody(method: (typeof METHODS)[number], b: Buffer): readonly Code[] | 'runs' | undefined {
  const { messages, oversize } = framesOf(b);
  const undecodable = messages.findIndex((m) => {
    try {
      method.decode(m);
      return false;
    } catch {
      return true;
    }
  });
  const codes: Code[] = [];
  if (oversize) codes.push(Code.RESOURCE_EXHAUSTED);
  if (undecodable >= 0 && (method.unary ? undecodable === 0 : true)) codes.push(Code.INVALID_ARGUMENT);
  // Bytes after a whole message that make no whole frame are dropped by grpc-js's decoder when
  // the request ends: that message is served (it is what the client sent whole).
  if (method.unary && (messages.length > 1 || (messages.length === 0 && !oversize))) codes.push(Code.INVALID_ARGUMENT);
  if (codes.length) return codes;
  if (!method.sendDecoded) return undefined;
  return 'runs';
}

test('raw frames to every method (random, cut short, lying lengths, flipped bytes, two messages) get their documented status', async () => {
  await run(
    fc.asyncProperty(fc.constantFrom(...METHODS), body, async (method, spec) => {
      const b = bodyFor(method.path, spec);
      const expected = expectedForBody(method, b);
      if (expected === undefined) return;
      const answer = await raw.call(method.path, b, { waitMs: 15_000 });
      count(`${method.path.split('/')[2]} ${spec.how}`, answer.code);
      const what = `${method.path} ${spec.how} ${b.toString('hex').slice(0, 120)} answered ${answer.code === undefined ? 'nothing' : Code[answer.code]}: ${answer.message}`;
      if (expected === 'runs') {
        if (answer.code === undefined || answer.code === Code.INTERNAL || answer.code === Code.UNKNOWN) throw new Error(`expected a documented status; ${what}`);
      } else if (!expected.includes(answer.code as Code)) throw new Error(`expected ${expected.map((c) => Code[c]).join(' or ')}; ${what}`);
    }),
  );
  await nodesStillServe('raw frames');
}, PROPERTY_TIMEOUT_MS);

test('rejects a frame over the message size limit with RESOURCE_EXHAUSTED and keeps serving', async () => {
  const answer = await raw.call('/kv.v1.KV/Put', frame(Buffer.alloc(LIMITS.messageBytesMax + 1)));
  expect(answer.code).toBe(Code.RESOURCE_EXHAUSTED);
  expect(answer.message).toBe(`Received message larger than max (${LIMITS.messageBytesMax + 1} vs ${LIMITS.messageBytesMax})`);
  await nodesStillServe('oversize frame');
});

// ---- The peer messages ----

const partition = fc.oneof(fc.nat({ max: 63 }), fc.nat({ max: 2 ** 32 - 1 }));
/** Keys the peer fuzz may write: never a seeded key (a well-formed peer write is real replica traffic). */
const peerKey = fc.oneof(bytes(0, 80), bytes(1000, 1100)).map((b) => Buffer.concat([Buffer.from('fuzz-peer-'), b]));
const peerRequest = fc.oneof(
  fc.record({ fetch: fc.record({ partition, key: fc.oneof(peerKey, seedKey, bytes(0, 80), bytes(1000, 1100)), hintFor: fc.string({ maxLength: 70 }) }) }),
  fc.record({ replicate: fc.record({ partition, key: peerKey, object: bytes(0, 300), hintFor: fc.string({ maxLength: 70 }) }) }),
  // A forward runs with the peer request's timeout, not its operation's: judged without the latter.
  fc.record({ forward: batchOp.map((op) => operationOf(1, wouldWriteSeed({ ...op, timeoutMs: 0 }) ? { ...op, key: Buffer.from('fuzz-forward') } : op)) }),
  fc.record({ ping: fc.record({ dataId: fc.string({ maxLength: 100 }) }) }),
  fc.record({ aeTree: fc.record({ partition }) }),
  fc.record({ aeKeys: fc.record({ partition, segments: fc.array(fc.nat({ max: 2 ** 32 - 1 }), { maxLength: 300 }), limit: fc.nat({ max: 2 ** 32 - 1 }) }) }),
  fc.record({ hintCheck: fc.record({ partition, key: fc.oneof(peerKey, seedKey) }) }),
  fc.record({ reap: fc.record({ partition, key: peerKey, object: bytes(0, 300) }) }),
  fc.record({ gossip: fc.record({ state: fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 4 })) }) }),
  fc.record({ foldPartition: fc.record({ partition, after: fc.oneof(bytes(0, 80), bytes(1020, 1100)), limit: fc.oneof(fc.constant(0), fc.nat({ max: 2 ** 32 - 1 })) }) }),
  fc.record({ transferDone: fc.record({ partition, to: fc.string({ maxLength: 70 }), change: fc.nat({ max: 2 ** 40 }) }) }),
  fc.constant({}),
);

test('every field of every peer request gets an answer with a documented status, never INTERNAL or DATA_LOSS', async () => {
  const exchange = peer.Peer.service.Exchange;
  await run(
    fc.asyncProperty(fc.array(fc.tuple(peerRequest, fc.oneof(fc.constant(0), fc.integer({ min: 1000, max: 10_000 }), fc.nat({ max: 2 ** 32 - 1 }))), { minLength: 1, maxLength: 40 }), async (requests) => {
      const body = exchange.requestSerialize({ requests: requests.map(([r, timeout], i) => ({ id: i + 1, timeoutMs: timeout, ...r })) });
      const answers = new Map<number, { error?: { code: number; message: string } }>();
      const answer = await raw.call('/kv.v1.Peer/Exchange', frame(body), {
        end: false,
        waitMs: 20_000,
        metadata: { 'kv-from': 'fuzzer' },
        until: (messages) => {
          for (const m of messages) for (const r of (exchange.responseDeserialize(m) as { responses: Array<{ id: number; error?: { code: number; message: string } }> }).responses) answers.set(r.id, r);
          return answers.size >= requests.length;
        },
      });
      expect(answer.message).toBe('answered');
      for (const [i, [request]] of requests.entries()) {
        const error = answers.get(i + 1)!.error;
        count(`peer ${Object.keys(request)[0] ?? '(no op)'}`, error?.code ?? Code.OK);
        // DATA_LOSS says a record this node stored failed its check: none did here.
        if (error && [Code.INTERNAL, Code.UNKNOWN, Code.DATA_LOSS].includes(error.code)) throw new Error(`peer request ${JSON.stringify(request).slice(0, 300)} answered ${Code[error.code]}: ${error.message}`);
      }
    }),
  );
  await nodesStillServe('peer fields');
}, PROPERTY_TIMEOUT_MS);

describe('a put with timeout_ms of 2^31', () => {
  const put = (key: string) => ({ key: Buffer.from(key), value: Buffer.from('never stored'), timeoutMs: 2 ** 31 });
  const notStored = async (key: string) => expect((await f.client().get(key, { r: 2 })).found).toBe(false);
  const refusal = `timeout_ms: ${2 ** 31} is out of range: timeout_ms must be within 0..${TIMEOUT_MS_MAX} ms (TIMEOUT_MS_MAX, the longest timer Node keeps), or 0 for the node's request timeout`;

  test('rejects it as INVALID_ARGUMENT naming the field, the value and the limit, and stores nothing (unary)', async () => {
    const answer = await raw.call('/kv.v1.KV/Put', frame(kvMethod('Put').requestSerialize(put('timeout-unary'))));
    expect([answer.code, answer.message]).toEqual([Code.INVALID_ARGUMENT, refusal]);
    await notStored('timeout-unary');
  });

  test('rejects it as INVALID_ARGUMENT and stores nothing (Batch)', async () => {
    const method = kv.KV.service.Batch;
    let result: { code: number; message: string } | undefined;
    await raw.call('/kv.v1.KV/Batch', frame(method.requestSerialize({ ops: [{ id: 1, put: put('timeout-batch') }] })), {
      end: false,
      until: (messages) => {
        for (const m of messages) result = (method.responseDeserialize(m) as { results: Array<{ error?: { code: number; message: string } }> }).results[0]?.error;
        return messages.length > 0;
      },
    });
    expect(result).toEqual(expect.objectContaining({ code: Code.INVALID_ARGUMENT, message: refusal }));
    await notStored('timeout-batch');
  });
});

test('rejects an Admin request that names no action with INVALID_ARGUMENT, not as a refused change', async () => {
  const answer = await raw.call('/kv.v1.KV/Admin', frame(kvMethod('Admin').requestSerialize({})));
  expect([answer.code, answer.message]).toEqual([Code.INVALID_ARGUMENT, 'action: the request names no action; it names one of join, leave, remove, plan, commit or clear']);
});

/** Sends peer requests on one Exchange stream; resolves with each one's error (undefined: answered). */
async function exchange(requests: unknown[]): Promise<Array<{ code: number; message: string } | undefined>> {
  const method = peer.Peer.service.Exchange;
  const answers = new Map<number, { error?: { code: number; message: string } }>();
  const body = method.requestSerialize({ requests: requests.map((r, i) => ({ id: i + 1, ...(r as object) })) });
  await raw.call('/kv.v1.Peer/Exchange', frame(body), {
    end: false,
    metadata: { 'kv-from': 'fuzzer' },
    until: (messages) => {
      for (const m of messages) for (const r of (method.responseDeserialize(m) as { responses: Array<{ id: number; error?: { code: number; message: string } }> }).responses) answers.set(r.id, r);
      return answers.size >= requests.length;
    },
  });
  return requests.map((_, i) => answers.get(i + 1)?.error ?? undefined);
}

test('rejects peer requests for a partition the cluster lacks, an empty or oversize key, a fold of no objects (they were INTERNAL) or an object that does not decode (it was DATA_LOSS) with INVALID_ARGUMENT', async () => {
  const errors = await exchange([
    { fetch: { partition: 2 ** 32 - 1, key: Buffer.from('k') } },
    { aeKeys: { partition: 64, segments: [1], limit: 10 } },
    { replicate: { partition: 1, key: Buffer.alloc(0), object: Buffer.from([1]) } },
    { hintCheck: { partition: 1, key: Buffer.alloc(1025) } },
    { foldPartition: { partition: 8, after: Buffer.alloc(0), limit: 0 } },
    { foldPartition: { partition: 8, after: Buffer.alloc(1025), limit: 5 } },
    { replicate: { partition: 1, key: Buffer.from('fuzz-garbage-object'), object: Buffer.from([0xff, 1, 2]) } },
    { replicate: { partition: 1, key: Buffer.from('fuzz-garbage-hint'), object: Buffer.from([0xff, 1, 2]), hintFor: 'kv-2' } },
  ]);
  expect(errors.map((e) => e && `${Code[e.code]} ${e.message}`)).toEqual([
    `INVALID_ARGUMENT fetch.partition: ${2 ** 32 - 1} is out of range: the cluster's partitions are 0..63`,
    "INVALID_ARGUMENT aeKeys.partition: 64 is out of range: the cluster's partitions are 0..63",
    'INVALID_ARGUMENT replicate.key: 0 bytes is out of range: a key has 1 to 1024 bytes',
    'INVALID_ARGUMENT hintCheck.key: 1025 bytes is out of range: a key has 1 to 1024 bytes',
    'INVALID_ARGUMENT foldPartition.limit: 0 is out of range: a fold asks for at least 1 object',
    'INVALID_ARGUMENT foldPartition.after: 1025 bytes is out of range: a key has at most 1024 bytes',
    expect.stringMatching(/^INVALID_ARGUMENT object: 3 bytes do not decode as a stored object \(.+\); nothing was changed$/),
    expect.stringMatching(/^INVALID_ARGUMENT object: 3 bytes do not decode as a stored object \(.+\); nothing was changed$/),
  ]);
  await nodesStillServe('peer regressions');
});

test('after the fuzz every node serves and every seeded key reads back identical on each node', async () => {
  await nodesStillServe('end');
  for (const node of f.cluster.nodes) expect(await f.storedAt(node.id, SEEDS)).toEqual(seeded.get(node.id));
  const c = f.client();
  for (const key of SEEDS) expect((await c.get(key, { r: 2 })).values.map(String)).toEqual([`value of ${key}`]);
});


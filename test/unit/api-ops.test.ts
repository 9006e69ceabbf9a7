import { KvError } from '../../app/errors';
import { checkOp, checkTimeoutMs, ClientOp, RequestLimits, TIMEOUT_MS_MAX } from '../../app/api/ops';
import { encodeContext } from '../../app/versioning/codec';
import { TEST_CONTEXT_SEAL } from '../support/context-seal';
import { KvClient } from '../../app/client/client';

const LIMITS: RequestLimits = { n: 3, r: 2, w: 2, keyBytesMax: 8, valueBytesMax: 16 };
const key = Buffer.from('k');
const noContext = new Uint8Array(0);

function rejection(op: ClientOp): KvError {
  const result = checkOp(op, LIMITS, TEST_CONTEXT_SEAL);
  if (result.ok) throw new Error(`expected ${op.kind} to be rejected, got ${JSON.stringify(result.value)}`);
  return result.error;
}

function expectInvalidArgument(error: KvError, ...parts: (string | RegExp)[]): void {
  expect(error).toBeInstanceOf(KvError);
  expect(error.condition).toBe('InvalidArgument');
  expect(error.kind).toBe('invalid-argument');
  for (const part of parts) expect(error.message).toMatch(part);
}

describe('checkOp', () => {
  test('resolves r and w of 0 to the cluster defaults', () => {
    expect(checkOp({ kind: 'get', key, r: 0 }, LIMITS, TEST_CONTEXT_SEAL)).toEqual({ ok: true, value: { kind: 'get', key, r: 2, pr: 0 } });
    const put = checkOp({ kind: 'put', key, value: Buffer.from('v'), context: noContext, w: 0 }, LIMITS, TEST_CONTEXT_SEAL);
    expect(put.ok && put.value.kind === 'put' && put.value.w).toBe(2);
  });

  test('keeps an explicit r or w within 1..N', () => {
    for (const q of [1, 2, 3]) {
      const get = checkOp({ kind: 'get', key, r: q }, LIMITS, TEST_CONTEXT_SEAL);
      expect(get.ok && get.value.kind === 'get' && get.value.r).toBe(q);
      const del = checkOp({ kind: 'delete', key, context: noContext, w: q }, LIMITS, TEST_CONTEXT_SEAL);
      expect(del.ok && del.value.kind === 'delete' && del.value.w).toBe(q);
    }
  });

  test('opens the sealed context of a put and gives a delete a null value', () => {
    const vv = new Map([['a@1', 3], ['b@1', 1]]);
    const put = checkOp({ kind: 'put', key, value: Buffer.from('v'), context: TEST_CONTEXT_SEAL.seal(key, vv), w: 0 }, LIMITS, TEST_CONTEXT_SEAL);
    expect(put.ok && put.value.kind === 'put' && [...put.value.context]).toEqual([...vv]);
    const del = checkOp({ kind: 'delete', key, context: TEST_CONTEXT_SEAL.seal(key, vv), w: 0 }, LIMITS, TEST_CONTEXT_SEAL);
    expect(del.ok && del.value.kind === 'delete' && del.value.value).toBeNull();
  });

  test('accepts a key and a value exactly at their limits', () => {
    expect(checkOp({ kind: 'put', key: Buffer.alloc(8, 1), value: Buffer.alloc(16), context: noContext, w: 0 }, LIMITS, TEST_CONTEXT_SEAL).ok).toBe(true);
  });

  test('rejects an empty key, naming the field and the limit', () => {
    expectInvalidArgument(rejection({ kind: 'get', key: new Uint8Array(0), r: 0 }), /^key:/, '0 bytes', 'is empty', '1 to 8 bytes');
  });

  test('rejects an oversize key on every operation, naming the size and the limit', () => {
    const big = Buffer.alloc(9, 1);
    for (const op of [
      { kind: 'get', key: big, r: 0 },
      { kind: 'put', key: big, value: Buffer.from('v'), context: noContext, w: 0 },
      { kind: 'delete', key: big, context: noContext, w: 0 },
    ] as ClientOp[]) {
      expectInvalidArgument(rejection(op), /^key:/, '9 bytes', 'limit of 8 bytes');
    }
  });

  test('rejects an oversize value, naming the size and the limit', () => {
    expectInvalidArgument(rejection({ kind: 'put', key, value: Buffer.alloc(17), context: noContext, w: 0 }), /^value:/, '17 bytes', 'limit of 16 bytes');
  });

  test.each([4, -1, 1.5, Number.NaN])('rejects r = %p outside 1..N', (r) => {
    expectInvalidArgument(rejection({ kind: 'get', key, r }), /^r:/, String(r), '1..N (N=3)', 'or 0 for the cluster default');
  });

  test.each([4, -2, 2.5])('rejects w = %p outside 1..N on puts and deletes', (w) => {
    expectInvalidArgument(rejection({ kind: 'put', key, value: Buffer.from('v'), context: noContext, w }), /^w:/, String(w), '1..N (N=3)');
    expectInvalidArgument(rejection({ kind: 'delete', key, context: noContext, w }), /^w:/, String(w), '1..N (N=3)');
  });

  test.each([
    ['garbage', Buffer.from([0xde, 0xad, 0xbe, 0xef]), 'not a context returned by a get'],
    ['an unsigned context from before signing', encodeContext(new Map([['a@1', 3]])), 'unsigned context (format 2)'],
    ['a truncated context', TEST_CONTEXT_SEAL.seal(key, new Map([['a@1', 300]])).subarray(0, 24), 'not signed by this cluster'],
    ['a context with trailing bytes', Buffer.concat([TEST_CONTEXT_SEAL.seal(key, new Map([['a@1', 1]])), Buffer.from([0])]), 'not signed by this cluster'],
    ['a context of another key', TEST_CONTEXT_SEAL.seal(Buffer.from('other'), new Map([['a@1', 1]])), /not signed by this cluster for this key: it is for another key/],
  ])('rejects %s as context, naming the field and the reason', (_name, context, reason: string | RegExp) => {
    const error = rejection({ kind: 'put', key, value: Buffer.from('v'), context, w: 0 });
    expectInvalidArgument(error, /^context:/, `${context.length} bytes`, reason);
  });

  test('rejects a bad context on a delete too', () => {
    expectInvalidArgument(rejection({ kind: 'delete', key, context: Buffer.from([7]), w: 0 }), /^context:/, /format 7, expected 3/);
  });

  test('checks the key before the value and the value before the quorum', () => {
    expect(rejection({ kind: 'put', key: new Uint8Array(0), value: Buffer.alloc(99), context: noContext, w: 9 }).message).toMatch(/^key:/);
    expect(rejection({ kind: 'put', key, value: Buffer.alloc(99), context: noContext, w: 9 }).message).toMatch(/^value:/);
  });
});

describe('checkTimeoutMs', () => {
  test('takes 0 (the node default) up to TIMEOUT_MS_MAX, the longest timer Node keeps', () => {
    expect(TIMEOUT_MS_MAX).toBe(2 ** 31 - 1);
    for (const t of [0, 1, 5000, TIMEOUT_MS_MAX]) expect(checkTimeoutMs(t)).toEqual({ ok: true, value: t });
  });

  test.each([2 ** 31, 2 ** 32 - 1, -1, 1.5, Number.NaN])('rejects %p naming the field, the value and the limit', (t) => {
    const r = checkTimeoutMs(t);
    if (r.ok) throw new Error(`expected ${t} to be rejected`);
    expectInvalidArgument(r.error, `timeout_ms: ${t} is out of range`, `0..${TIMEOUT_MS_MAX} ms (TIMEOUT_MS_MAX`);
  });
});

test('rejects a client timeoutMs beyond TIMEOUT_MS_MAX when the client is built (a gRPC deadline that far is misread as past)', () => {
  expect(() => new KvClient({ endpoints: ['127.0.0.1:19404'], timeoutMs: 2 ** 31 })).toThrow(`KvClient: timeoutMs ${2 ** 31} is out of range: give 1 to ${TIMEOUT_MS_MAX} ms (TIMEOUT_MS_MAX)`);
  new KvClient({ endpoints: ['127.0.0.1:19404'], timeoutMs: TIMEOUT_MS_MAX }).close();
});

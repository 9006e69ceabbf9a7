/**
 * The multiplexed stream against the installed grpc-js, through an in-process echo service whose
 * answers each test controls: ids match answers to requests in any order, a turn's requests
 * travel in one message, the window refuses what is beyond it, timeouts fail requests, and a
 * stream that breaks fails what was written to it. Ports: chosen by the system.
 */
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { MultiplexedStream, StreamFailure } from '../../app/rpc/multiplexed-stream';

interface Item {
  readonly id: number;
  readonly text: string;
}

const identity = (b: Buffer): Buffer => b;
const EXCHANGE = { path: '/test.Echo/Exchange', requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity };
const SERVICE = { Exchange: EXCHANGE };
const Stub = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
const encode = (items: readonly Item[]) => Buffer.from(JSON.stringify(items));
const decode = (message: Buffer) => JSON.parse(message.toString()) as Item[];

/** How the echo service treats one request: answer it, hold it, or end the whole stream. */
type Reaction = 'echo' | 'hold' | 'fail-stream';

interface Echo {
  readonly port: number;
  /** Messages received, as lists of request texts. */
  readonly messages: string[][];
  /** Answers every held request (in reverse order: the ids must match them up). */
  release(): void;
  close(): Promise<void>;
}

async function startEcho(react: (text: string) => Reaction = () => 'echo'): Promise<Echo> {
  const messages: string[][] = [];
  const held: Array<{ call: grpc.ServerDuplexStream<Buffer, Buffer>; item: Item }> = [];
  const server = new grpc.Server();
  server.addService(SERVICE, {
    Exchange: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (message: Buffer) => {
        const items = decode(message);
        messages.push(items.map((i) => i.text));
        const answers: Item[] = [];
        for (const item of items) {
          const reaction = react(item.text);
          if (reaction === 'fail-stream') {
            // grpc-js ends a server stream with the status of an error emitted on it.
            call.emit('error', { code: grpc.status.INTERNAL, details: `failed on ${item.text}` });
            return;
          }
          if (reaction === 'hold') held.push({ call, item });
          else answers.push({ id: item.id, text: `re:${item.text}` });
        }
        if (answers.length > 0) call.write(encode(answers.reverse()));
      });
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return {
    port,
    messages,
    release: () => {
      for (const { call, item } of held.reverse()) call.write(encode([{ id: item.id, text: `re:${item.text}` }]));
      held.length = 0;
    },
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

function connect(port: number, options: { inFlightMax?: number; onEnded?: (code: number) => void; onSwept?: () => void } = {}) {
  const stub = new Stub(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const sent: number[] = [];
  const stream = new MultiplexedStream<Item, Item, Buffer, Buffer>({
    codec: {
      open: () => stub.makeBidiStreamRequest(EXCHANGE.path, identity, identity) as grpc.ClientDuplexStream<Buffer, Buffer>,
      encode,
      decode: (message, answer) => {
        for (const item of decode(message)) answer(item.id, item);
      },
      sizeOf: (item) => item.text.length,
    },
    inFlightMax: options.inFlightMax ?? 100,
    batch: { itemsMax: 100, bytesMax: 1 << 20 },
    onMessageSent: (n) => sent.push(n),
    onEnded: options.onEnded && ((end) => options.onEnded!(end.code)),
    onSwept: options.onSwept,
  });
  const send = (text: string, o: { timeoutMs?: number; probe?: boolean } = {}) => stream.send((id) => ({ id, text }), o);
  return { stream, send, sent, close: () => (stream.close(), stub.close()) };
}

const failureOf = (r: { ok: boolean; error?: StreamFailure }) => (r.ok ? undefined : r.error);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(react?: (text: string) => Reaction, options?: Parameters<typeof connect>[1]) {
  const echo = await startEcho(react);
  cleanups.push(() => echo.close());
  const client = connect(echo.port, options);
  cleanups.push(() => client.close());
  return { echo, client };
}

test('answers come back matched to their requests by id, in any order; a turn\'s requests go in one message', async () => {
  const { echo, client } = await setUp();
  const answers = await Promise.all(['a', 'b', 'c'].map((t) => client.send(t)));
  expect(answers.map((r) => (r.ok ? r.value.text : r.error.kind))).toEqual(['re:a', 're:b', 're:c']);
  expect(echo.messages).toEqual([['a', 'b', 'c']]);
  expect(client.sent).toEqual([3]);
  expect(client.stream.inFlight).toBe(0);
});

test('rejects a request beyond the window without sending it; a probe is not refused', async () => {
  const { echo, client } = await setUp((t) => (t === 'probe' || t === 'late' ? 'echo' : 'hold'), { inFlightMax: 2 });
  const held = [client.send('x'), client.send('y')];
  expect(failureOf(await client.send('z'))).toEqual({ kind: 'window-full', inFlight: 2, inFlightMax: 2 });
  expect((await client.send('probe', { probe: true })).ok).toBe(true);
  echo.release();
  expect((await Promise.all(held)).every((r) => r.ok)).toBe(true);
  expect((await client.send('late')).ok).toBe(true);
  expect(echo.messages.flat()).not.toContain('z');
});

test('fails a request with no answer within its timeout, and drops the answer that comes later', async () => {
  let swept = 0;
  const { echo, client } = await setUp(() => 'hold', { onSwept: () => swept++ });
  const started = Date.now();
  const r = await client.send('slow', { timeoutMs: 60 });
  expect(failureOf(r)).toEqual({ kind: 'timed-out', timeoutMs: 60 });
  expect(Date.now() - started).toBeGreaterThanOrEqual(59);
  expect(client.stream.inFlight).toBe(0);
  echo.release(); // the late answer finds nobody waiting
  await new Promise((r) => setTimeout(r, 50));
  expect(swept).toBeGreaterThan(0);
  // The sweep stops once nothing is pending.
  const after = swept;
  await new Promise((r) => setTimeout(r, 100));
  expect(swept).toBe(after);
});

test('a stream that breaks fails the requests written to it, tells its owner, and the next request opens a new stream', async () => {
  const ended: number[] = [];
  const { client } = await setUp((t) => (t === 'boom' ? 'fail-stream' : t === 'wait' ? 'hold' : 'echo'), { onEnded: (code) => ended.push(code) });
  const waiting = client.send('wait');
  const boom = await client.send('boom');
  const f = failureOf(boom);
  expect(f).toEqual({ kind: 'stream-ended', code: grpc.status.INTERNAL, details: 'failed on boom', delivery: 'maybe-sent' });
  expect(failureOf(await waiting)).toEqual(f);
  expect(ended).toEqual([grpc.status.INTERNAL]);
  const again = await client.send('again');
  expect(again.ok && again.value.text).toBe('re:again');
});

test('a stream that never connected fails its requests as not sent', async () => {
  const closed = net.createServer();
  const port = await new Promise<number>((resolve) => closed.listen(0, '127.0.0.1', () => resolve((closed.address() as net.AddressInfo).port)));
  await new Promise((r) => closed.close(r));
  const client = connect(port);
  cleanups.push(() => client.close());
  expect(failureOf(await client.send('nowhere'))).toMatchObject({ kind: 'stream-ended', code: grpc.status.UNAVAILABLE, delivery: 'not-sent' });
});

test('failAll fails every pending request, queued or written, and can spare probes', async () => {
  const { echo, client } = await setUp(() => 'hold');
  const written = client.send('written');
  const probe = client.send('probe', { probe: true });
  await new Promise((r) => setTimeout(r, 50));
  const queued = client.send('queued');
  client.stream.failAll({ kind: 'given-up', reason: 'suspected' }, { probes: true });
  expect(failureOf(await written)).toEqual({ kind: 'given-up', reason: 'suspected' });
  expect(failureOf(await queued)).toEqual({ kind: 'given-up', reason: 'suspected' });
  expect(client.stream.inFlight).toBe(1);
  echo.release();
  expect((await probe).ok).toBe(true);
  // The failed request still queued was never written.
  await new Promise((r) => setTimeout(r, 20));
  expect(echo.messages.flat()).not.toContain('queued');
});

test('close fails what is pending as given up, and later requests at once', async () => {
  const { client } = await setUp(() => 'hold');
  const pending = client.send('pending');
  await new Promise((r) => setTimeout(r, 20));
  client.stream.close();
  expect(failureOf(await pending)).toMatchObject({ kind: 'given-up' });
  expect(failureOf(await client.send('after'))).toMatchObject({ kind: 'given-up' });
});

test('rejects a window below one', () => {
  expect(() => connect(1, { inFlightMax: 0 })).toThrow('multiplexed stream: inFlightMax is 0; it must be at least 1');
});

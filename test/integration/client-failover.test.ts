/**
 * The client library when the node it talks to dies with an operation in flight (issue 8). A read
 * goes to the next node. A write that may have reached its coordinator is never resent: the next
 * coordinator would give it a new dot, and the key would hold the value twice, as siblings, while
 * the caller was told OK. The caller gets writeMayHaveApplied instead, and reads the key.
 *
 * Nodes are frozen with SIGSTOP to hold an operation in flight at a chosen point, then killed with
 * SIGKILL (no goodbye on the connection) or stopped with SIGTERM (the Batch stream is cut).
 */
import { KvClient, KvClientError } from '../../app/client/client';
import { openConnections, unreadAt } from '../support/sockets';
import { waitFor } from '../support/wait-for';
import { Fixture, startCluster } from './cluster-fixture';

let f: Fixture;

/** How long the client may take to write a request to a frozen node's socket (a few ms in practice), on a busy machine. */
const IN_FLIGHT_WAIT_MS = 5000;
/** How long a node may take to store a write it received, on a busy machine. */
const STORE_WAIT_MS = 10_000;
/** How long the client may take to close its connections to a node that died. */
const CLOSE_WAIT_MS = 5000;

beforeAll(async () => {
  // A short grace: a node told to stop cuts its Batch streams after about a second, not ten. A
  // long suspicion: a write waiting on frozen primaries stays waiting (a suspected primary's
  // request fails and a fallback takes the write, which would let it succeed before the cut).
  // Long time budgets (the coordinator's and the clients'): a write that waits must still be
  // waiting when the test kills its coordinator or the coordinator cuts its stream, however slow
  // the machine is (CI met a put that timed out first, DEADLINE_EXCEEDED instead of CANCELLED).
  f = await startCluster({ basePort: 17801, extraArgs: ['--shutdown-grace-ms', '500', '--peer-suspect-ms', '30000', '--request-timeout-ms', '30000'] });
}, 60_000);

afterAll(async () => {
  await f?.teardown();
}, 60_000);

/** Nodes killed by a test, brought back after it whatever happened (as are the frozen ones). */
const killed = new Set<string>();

afterEach(async () => {
  f.thawAll();
  for (const id of killed) {
    await f.cluster.kill(id, 'SIGKILL');
    await f.cluster.restart(id);
  }
  killed.clear();
  await f.waitConnected();
}, 60_000);

async function kill(id: string, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  killed.add(id);
  await f.cluster.kill(id, sig);
}

const endpoint = (id: string) => f.cluster.node(id).endpoint;

/** The key's primaries (the first coordinates a write sent to it) and a node that is none of them. */
function rolesOf(key: string): { coordinator: string; second: string; third: string; other: string } {
  const [coordinator, second, third] = f.primariesOf(key) as [string, string, string];
  const other = f.cluster.nodes.map((n) => n.id).find((id) => ![coordinator, second, third].includes(id))!;
  return { coordinator, second, third, other };
}

/** What an operation ended with: 'ok' or the client's error. */
function outcome(p: Promise<unknown>): Promise<'ok' | KvClientError> {
  return p.then(
    () => 'ok' as const,
    (e: unknown) => {
      if (e instanceof KvClientError) return e;
      throw e;
    },
  );
}

/** Copies of `value` a read from every primary sees (r = 3, so a copy on any of them counts). */
async function copiesOf(key: string, value: string, via: string): Promise<number> {
  const reader = f.client({ endpoints: [endpoint(via)] });
  const got = await reader.get(key, { r: 3 });
  return got.values.filter((v) => v.toString() === value).length;
}

/** Waits until `node` holds `value` for `key` in its own store (asked over the peer service). */
async function waitStored(key: string, value: string, node: string): Promise<void> {
  await waitFor(
    async () => {
      const held = (await f.storedAt(node, [key])).get(key);
      return held?.includes(value) === true || `it holds ${JSON.stringify(held)}`;
    },
    { timeoutMs: STORE_WAIT_MS, intervalMs: 20, what: `${node} storing ${value} for ${key}` },
  );
}

/**
 * Waits until a request sent since `unreadBefore` (unreadAt's count then) sits in the frozen
 * `node`'s socket, unread: a frozen process does not read, but its kernel still receives.
 */
async function waitSentTo(node: string, unreadBefore: number): Promise<void> {
  await waitFor(() => unreadAt(endpoint(node)) > unreadBefore, { timeoutMs: IN_FLIGHT_WAIT_MS, intervalMs: 5, what: `the request reaching the frozen ${node}'s socket` });
}

function expectMayHaveApplied(o: 'ok' | KvClientError): void {
  expect(o).toBeInstanceOf(KvClientError);
  const e = o as KvClientError;
  expect(e.writeMayHaveApplied).toBe(true);
  expect(e.message).toMatch(/may or may not have been applied, and was not resent to another node/);
  expect(e.message).toMatch(/read the key to see whether it was/);
}

/**
 * A client whose next operation goes to `first`, then fails over to `then`, with both connections
 * (and Batch streams) up: one get to each, and the client's turn is back at `first`.
 */
async function connectedClient(key: string, first: string, then: string, batch: boolean): Promise<KvClient> {
  const c = f.client({ endpoints: [endpoint(first), endpoint(then)], attemptsMax: 2, batch, timeoutMs: 30_000 });
  await c.get(key);
  await c.get(key);
  return c;
}

describe.each([
  ['unary calls', false],
  ['the Batch stream', true],
])('over %s', (_mode, batch) => {
  const tag = batch ? 'batch' : 'unary';

  test('rejects a put whose coordinator is frozen and then killed with writeMayHaveApplied, and does not resend it to another node', async () => {
    const key = `frozen-coordinator-${tag}`;
    const { coordinator, other } = rolesOf(key);
    const c = await connectedClient(key, coordinator, other, batch);
    f.freeze(coordinator);
    const unread = unreadAt(endpoint(coordinator));
    const put = outcome(c.put(key, 'once'));
    await waitSentTo(coordinator, unread);
    await kill(coordinator);
    expectMayHaveApplied(await put);
    // The frozen coordinator never read the request; had the client resent it, `other` would have
    // coordinated it. Neither happened, and nothing was stored twice.
    await f.cluster.restart(coordinator);
    killed.delete(coordinator);
    await f.waitConnected();
    expect(await copiesOf(key, 'once', other)).toBe(0);
  }, 60_000);

  test('rejects a put the coordinator stored before it was killed with writeMayHaveApplied, and the key holds it once, not twice as siblings', async () => {
    const key = `stored-then-killed-${tag}`;
    const { coordinator, second, third, other } = rolesOf(key);
    const c = await connectedClient(key, coordinator, other, batch);
    // With the other two primaries frozen, the coordinator stores the write, sends it to them,
    // and waits for an acknowledgement: the put is in flight, already applied on one replica.
    f.freeze(second, third);
    const put = outcome(c.put(key, 'once'));
    await waitStored(key, 'once', coordinator);
    await kill(coordinator);
    f.thaw(second, third);
    expectMayHaveApplied(await put);
    await f.cluster.restart(coordinator);
    killed.delete(coordinator);
    await f.waitConnected();
    expect(await copiesOf(key, 'once', other)).toBe(1);
  }, 60_000);

  test('a get whose node is frozen and then killed fails over to the next node', async () => {
    const key = `get-failover-${tag}`;
    const { coordinator, other } = rolesOf(key);
    await f.client().put(key, 'there');
    const c = await connectedClient(key, coordinator, other, batch);
    f.freeze(coordinator);
    const unread = unreadAt(endpoint(coordinator));
    const got = c.get(key);
    await waitSentTo(coordinator, unread);
    await kill(coordinator);
    expect((await got).values.map(String)).toEqual(['there']);
  }, 60_000);

  test('a put to a node that died before the put was sent fails over and is stored once', async () => {
    const key = `dead-before-send-${tag}`;
    const { coordinator, other } = rolesOf(key);
    const c = await connectedClient(key, coordinator, other, batch);
    await kill(coordinator);
    // Wait for the client to see its connection close: a put written to the stream in the moment
    // before it does may have left for the node, and then rightly counts as maybe applied (CI met
    // that). grpc-js closes the socket as it handles the close.
    await waitFor(() => openConnections(endpoint(coordinator)) === 0, { timeoutMs: CLOSE_WAIT_MS, intervalMs: 10, what: `this process closing its connections to the dead ${coordinator}` });
    // The connection is gone before the put starts: the put never leaves the client for the dead
    // node (no connection can be made), so sending it to the next node is safe.
    await c.put(key, 'once');
    await f.cluster.restart(coordinator);
    killed.delete(coordinator);
    await f.waitConnected();
    expect(await copiesOf(key, 'once', other)).toBe(1);
  }, 60_000);
});

test('rejects the pending put as maybe applied, and fails the pending get over to another node, when a node shutting down cuts its Batch stream', async () => {
  const key = 'shutdown-cut';
  const { coordinator, second, third, other } = rolesOf(key);
  await f.client().put(key, 'before');
  const seen = await f.client().get(key);
  // The get fails over to `second`: a primary, so it coordinates the read itself once thawed.
  const reader = await connectedClient(key, coordinator, second, true);
  const writer = await connectedClient(key, coordinator, other, true);
  // With the other primaries frozen, the get (R=2) and the put (W=2) wait on the coordinator
  // until its shutdown grace is over and it cuts the stream. The fallbacks are frozen too: a
  // stopping coordinator cancels its peer streams, the writes to the frozen primaries fail, and a
  // fallback would take the write as a hint and let the put succeed before the cut (CI met that).
  const fallbacks = f.cluster.nodes.map((n) => n.id).filter((id) => ![coordinator, second, third].includes(id));
  f.freeze(second, third, ...fallbacks);
  const get = outcome(reader.get(key));
  const put = outcome(writer.put(key, 'during', { context: seen.context }));
  await waitStored(key, 'during', coordinator);
  const stopped = kill(coordinator, 'SIGTERM');
  const cut = await put;
  expectMayHaveApplied(cut);
  // The stopping node resets its streams and closes its connections (forceShutdown, then the
  // sockets): which the client reads first decides the code grpc-js reports, CANCELLED or
  // UNAVAILABLE (a fresh-clone CI run met the second). Both mean the stream was cut, not refused.
  expect(['CANCELLED', 'UNAVAILABLE']).toContain((cut as KvClientError).codeName);
  // The get went to `second` when the stream was cut; thawed, it answers. (Thawing first also lets
  // the stopping node close its connections to them and exit.)
  f.thaw(second, third, ...fallbacks);
  expect(await get).toBe('ok');
  await stopped;
}, 60_000);

test('a node that failed an attempt is tried last for suspectMs: later operations go to the others first', async () => {
  // A "node" that accepts connections and drops them at once: every attempt on it fails.
  const net = await import('node:net');
  const broken = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
  const brokenEndpoint = `127.0.0.1:${(broken.address() as import('node:net').AddressInfo).port}`;
  const live = f.cluster.nodes[0]!.endpoint;
  const attempts = { withSuspicion: [] as string[], without: [] as string[] };
  const client = f.client({ endpoints: [brokenEndpoint, live], timeoutMs: 2000, onAttempt: (e, outcome) => attempts.withSuspicion.push(`${e === live ? 'live' : 'broken'} ${outcome}`) });
  const plain = f.client({ endpoints: [brokenEndpoint, live], timeoutMs: 2000, suspectMs: 0, onAttempt: (e, outcome) => attempts.without.push(`${e === live ? 'live' : 'broken'} ${outcome}`) });
  try {
    for (let i = 0; i < 6; i++) await client.get(`suspect-${i}`);
    for (let i = 0; i < 6; i++) await plain.get(`suspect-${i}`);
  } finally {
    broken.close();
  }
  // Round-robin starts every other operation at the broken node. With suspicion, only the first
  // operation tries it; the others go to the live node first and succeed there.
  expect(attempts.withSuspicion).toEqual(['broken UNAVAILABLE', 'live OK', 'live OK', 'live OK', 'live OK', 'live OK', 'live OK']);
  expect(attempts.without.filter((a) => a.startsWith('broken'))).toHaveLength(3);
}, 60_000);

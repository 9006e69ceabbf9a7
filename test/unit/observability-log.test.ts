/**
 * The node's log lines: ECS JSON (pino with Elastic's ECS formatter), fields mapped to ECS names,
 * levels, and the per-message rate limit with its summary line.
 */
import { ecsFields, ecsLogger, LOG_RATE_KEYS_MAX, LoggerOptions } from '../../observability/log';
import { traceFields } from '../../app/replication/trace';

type Line = Record<string, unknown>;

function capture(options: Partial<LoggerOptions> = {}) {
  const lines: Line[] = [];
  let now = 1_000_000;
  const log = ecsLogger({ nodeId: 'kv-2', level: 'info', write: (l) => lines.push(JSON.parse(l) as Line), now: () => now, ...options });
  return { log, lines, advance: (ms: number) => (now += ms) };
}

describe('ECS log lines', () => {
  test('a line carries the ECS base fields, the node id, its level and message', () => {
    const { log, lines } = capture();
    log.warn('peer suspected', { peer: 'kv-3', silentMs: 1200 });
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({ 'log.level': 'warn', message: 'peer suspected', 'service.name': 'kv', 'service.node.name': 'kv-2', 'event.dataset': 'kv.node', kv: { peer: 'kv-3', silentMs: 1200 } });
    expect(line['ecs.version']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(new Date(String(line['@timestamp'])).toISOString()).toBe(line['@timestamp']);
    // No pino-only fields: Elasticsearch's ECS template knows none of them.
    expect(Object.keys(line).filter((k) => ['msg', 'level', 'time', 'pid', 'hostname'].includes(k))).toEqual([]);
  });

  test('the store\'s fields go under kv, ECS names stay top-level, error and stack become error.*', () => {
    expect(ecsFields({ partition: 17, 'trace.id': 'abc', error: 'boom', stack: 'at x', skipped: undefined })).toEqual({ kv: { partition: 17 }, 'trace.id': 'abc', 'error.message': 'boom', 'error.stack_trace': 'at x' });
    expect(ecsFields({ error: new Error('disk full') })).toEqual({ 'error.message': 'disk full' });
    expect(ecsFields({})).toEqual({});
  });

  test('a line within a traced operation carries trace.id and span.id from its traceparent', () => {
    const { log, lines } = capture();
    log.warn('read repair failed', { partition: 3, ...traceFields('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01') });
    expect(lines[0]).toMatchObject({ 'trace.id': '4bf92f3577b34da6a3ce929d0e0e4736', 'span.id': '00f067aa0ba902b7', kv: { partition: 3 } });
    // Not traced, or a malformed or all-zero context: no trace fields at all.
    expect(traceFields(undefined)).toEqual({});
    expect(traceFields('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7')).toEqual({});
    expect(traceFields(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`)).toEqual({});
  });

  test('lines below the level are not written; component names the logger', () => {
    const { log, lines } = capture({ level: 'warn', component: 'pre-stop' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines.map((l) => [l['log.level'], l.message, l['log.logger']])).toEqual([
      ['warn', 'w', 'pre-stop'],
      ['error', 'e', 'pre-stop'],
    ]);
  });
});

describe('rate limit on noisy lines', () => {
  test('beyond the limit a message is counted, and one summary line reports the count when the window ends', () => {
    const { log, lines, advance } = capture({ linesPerWindowMax: 3, windowMs: 10_000 });
    for (let i = 0; i < 10; i++) log.warn('hint expired', { i });
    log.warn('another message');
    expect(lines.map((l) => l.message)).toEqual(['hint expired', 'hint expired', 'hint expired', 'another message']);
    advance(10_000);
    log.warn('hint expired', { i: 10 });
    expect(lines.slice(4)).toEqual([
      expect.objectContaining({ 'log.level': 'warn', message: 'suppressed 7 more lines like: hint expired', kv: { suppressed: 7, windowMs: 10_000 } }),
      expect.objectContaining({ message: 'hint expired', kv: { i: 10 } }),
    ]);
  });

  test('a burst that stops is still reported, by a timer at the end of the window', async () => {
    const lines: Line[] = [];
    const log = ecsLogger({ nodeId: 'kv-1', level: 'info', linesPerWindowMax: 1, windowMs: 30, write: (l) => lines.push(JSON.parse(l) as Line) });
    log.error('anti-entropy: cannot read a partition');
    log.error('anti-entropy: cannot read a partition');
    log.error('anti-entropy: cannot read a partition');
    expect(lines).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 80));
    expect(lines.map((l) => [l['log.level'], l.message])).toEqual([
      ['error', 'anti-entropy: cannot read a partition'],
      ['error', 'suppressed 2 more lines like: anti-entropy: cannot read a partition'],
    ]);
  });

  test('levels are counted apart, and 0 turns the limit off', () => {
    const limited = capture({ linesPerWindowMax: 1 });
    limited.log.info('x');
    limited.log.warn('x');
    limited.log.warn('x');
    expect(limited.lines.map((l) => l['log.level'])).toEqual(['info', 'warn']);
    const open = capture({ linesPerWindowMax: 0 });
    for (let i = 0; i < 100; i++) open.log.info('x');
    expect(open.lines).toHaveLength(100);
  });

  test('messages beyond the table share one count, so distinct messages cannot grow it without bound', () => {
    const { log, lines, advance } = capture({ linesPerWindowMax: 1 });
    for (let i = 0; i < LOG_RATE_KEYS_MAX + 10; i++) log.info(`message ${i}`);
    // The first LOG_RATE_KEYS_MAX messages are tracked each; the next one takes the shared
    // count's one line, and the 9 after it are suppressed.
    expect(lines).toHaveLength(LOG_RATE_KEYS_MAX + 1);
    advance(10_000);
    log.info('after');
    expect(lines.slice(-2).map((l) => l.message)).toEqual(["suppressed 9 more lines like: (messages beyond the rate limiter's table)", 'after']);
  });
});

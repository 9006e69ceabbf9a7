/**
 * Structured logs: one JSON object a line on stderr in the Elastic Common Schema (pino with
 * Elastic's ECS formatter), which Filebeat ships to Elasticsearch as it is. Every line carries
 * `@timestamp`, `log.level`, `message`, `ecs.version`, `service.name` (kv), `service.node.name`
 * (the node id) and `event.dataset`. The one file that imports pino.
 *
 * Components take the narrow Logger interface and pass flat fields. Field names are mapped to
 * ECS once, here (see ecsFields): a name with a dot is already an ECS name (`trace.id`,
 * `span.id`) and goes as it is; `error` and `stack` become `error.message` and
 * `error.stack_trace`; every other field is the store's own and goes under `kv`
 * (`kv.partition`, `kv.peer`), as ECS asks of custom fields.
 *
 * Noisy lines are rate-limited per message: a line whose level and message were logged
 * `linesPerWindowMax` times in the current window is dropped and counted, and one summary line
 * per message reports the count when the window ends.
 */
import ecsFormat from '@elastic/ecs-pino-format';
import pino from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function isLogLevel(s: string): s is LogLevel {
  return s in LEVELS;
}

/** The window the per-message line limit counts in. */
export const LOG_RATE_WINDOW_MS = 10_000;
/** Lines of one level and message per window, by default; beyond it they are counted, not written. */
export const LOG_LINES_PER_WINDOW_DEFAULT = 20;
/**
 * Distinct messages the rate limiter tracks in one window at most. Messages are mostly fixed
 * strings; the few that embed a value could otherwise grow the table without bound. Beyond it,
 * new messages share one count.
 */
export const LOG_RATE_KEYS_MAX = 512;
/** The key the messages beyond LOG_RATE_KEYS_MAX share. */
const OVERFLOW_KEY = '\u0000other messages';

/**
 * Writes to stderr, dropping lines it cannot write: a log on a full disk or a closed pipe must
 * not bring the node down (an 'error' event without a listener would).
 */
let stderrGuarded = false;
function writeStderr(line: string): void {
  if (!stderrGuarded) {
    process.stderr.on('error', () => {});
    stderrGuarded = true;
  }
  process.stderr.write(line);
}

/** Caller fields in ECS terms (see the file comment). */
export function ecsFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let own: Record<string, unknown> | undefined;
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (name.includes('.')) out[name] = value;
    else if (name === 'error') out['error.message'] = value instanceof Error ? value.message : String(value);
    else if (name === 'stack') out['error.stack_trace'] = String(value);
    else (own ??= {})[name] = value;
  }
  if (own !== undefined) out.kv = own;
  return out;
}

export interface LoggerOptions {
  /** The node's id: every line's service.node.name. */
  readonly nodeId: string;
  /** Lowest level written. */
  readonly level: LogLevel;
  /**
   * What part of the program logs (ECS log.logger), e.g. pre-stop.
   * @default - none: the node itself
   */
  readonly component?: string;
  /**
   * Lines of one level and message per LOG_RATE_WINDOW_MS; 0 writes every line.
   * @default LOG_LINES_PER_WINDOW_DEFAULT
   */
  readonly linesPerWindowMax?: number;
  /** @default LOG_RATE_WINDOW_MS */
  readonly windowMs?: number;
  /**
   * Where each line goes (it ends with a newline).
   * @default - stderr, dropping lines that cannot be written
   */
  readonly write?: (line: string) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

/** A logger writing ECS JSON lines (see the file comment). */
export function ecsLogger(options: LoggerOptions): Logger {
  const write = options.write ?? writeStderr;
  const base = pino(
    {
      ...ecsFormat({ serviceName: 'kv', serviceNodeName: options.nodeId, eventDataset: 'kv.node' }),
      // pid and host name are what Filebeat's Kubernetes metadata says better (pod, node).
      base: options.component === undefined ? null : { name: options.component },
      level: options.level,
    },
    { write },
  );
  const emit = (level: LogLevel, msg: string, fields: Record<string, unknown> | undefined) => base[level](fields === undefined ? {} : ecsFields(fields), msg);
  const limit = options.linesPerWindowMax ?? LOG_LINES_PER_WINDOW_DEFAULT;
  if (limit === 0) return levelled(LEVELS[options.level], emit);
  const limiter = new LineLimiter(limit, options.windowMs ?? LOG_RATE_WINDOW_MS, options.now ?? Date.now, (level, msg, suppressed, windowMs) =>
    emit(level, `suppressed ${suppressed} more line${suppressed === 1 ? '' : 's'} like: ${msg}`, { 'event.kind': 'metric', suppressed, windowMs }),
  );
  return levelled(LEVELS[options.level], (level, msg, fields) => {
    if (limiter.admit(level, msg)) emit(level, msg, fields);
  });
}

function levelled(threshold: number, emit: (level: LogLevel, msg: string, fields: Record<string, unknown> | undefined) => void): Logger {
  const at = (level: LogLevel) => (LEVELS[level] < threshold ? () => {} : (msg: string, fields?: Record<string, unknown>) => emit(level, msg, fields));
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

interface WindowCount {
  readonly level: LogLevel;
  readonly msg: string;
  written: number;
  suppressed: number;
}

/**
 * Counts lines per level and message in fixed windows. A window ends at the first line after
 * it, or at a timer armed when a line is first suppressed (so a burst that stops is still
 * reported); the timer does not keep the process alive.
 */
class LineLimiter {
  private counts = new Map<string, WindowCount>();
  private windowStartMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly linesMax: number,
    private readonly windowMs: number,
    private readonly now: () => number,
    private readonly report: (level: LogLevel, msg: string, suppressed: number, windowMs: number) => void,
  ) {
    this.windowStartMs = now();
  }

  admit(level: LogLevel, msg: string): boolean {
    if (this.now() - this.windowStartMs >= this.windowMs) this.endWindow();
    let key = `${level}\u0000${msg}`;
    let count = this.counts.get(key);
    if (count === undefined) {
      if (this.counts.size >= LOG_RATE_KEYS_MAX) {
        key = OVERFLOW_KEY;
        count = this.counts.get(key);
      }
      if (count === undefined) {
        count = { level, msg: key === OVERFLOW_KEY ? '(messages beyond the rate limiter\'s table)' : msg, written: 0, suppressed: 0 };
        this.counts.set(key, count);
      }
    }
    if (count.written < this.linesMax) {
      count.written++;
      return true;
    }
    count.suppressed++;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.endWindow();
    }, Math.max(1, this.windowStartMs + this.windowMs - this.now())).unref();
    return false;
  }

  private endWindow(): void {
    const ended = this.counts;
    this.counts = new Map();
    this.windowStartMs = this.now();
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (const c of ended.values()) if (c.suppressed > 0) this.report(c.level, c.msg, c.suppressed, this.windowMs);
  }
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Structured logs: one JSON object a line on stderr (what Filebeat ships to ELK), with a level,
 * a time, the node id and a message; fields are flat. Components take the Logger interface.
 */
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

export function jsonLogger(base: Record<string, unknown>, level: LogLevel, write: (line: string) => void = writeStderr): Logger {
  const threshold = LEVELS[level];
  const emit = (lvl: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < threshold) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, ...base, msg, ...fields })}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

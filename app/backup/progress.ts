/**
 * Progress of long transfers: a bar redrawn in place on a terminal, plain lines otherwise (a log,
 * a CI job, a Kubernetes pod), one every PLAIN_LINE_STEP of the work and one at the end.
 */

/** A redraw of the terminal bar at most this often. */
const REDRAW_MS = 100;
/** Plain lines: one each time this share of the work is done. */
const PLAIN_LINE_STEP = 0.25;
const BAR_WIDTH = 30;

export interface ProgressOut {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export class ProgressTask {
  private done = 0;
  private lastDrawMs = 0;
  private nextLineShare = PLAIN_LINE_STEP;
  private readonly startMs = Date.now();

  constructor(
    private readonly out: ProgressOut,
    private readonly label: string,
    private total: number,
    /** How the amounts read: bytes or a plain count. */
    private readonly unit: 'bytes' | string,
  ) {}

  private amount(n: number): string {
    return this.unit === 'bytes' ? formatBytes(n) : `${n} ${this.unit}`;
  }

  private rate(): string {
    const seconds = Math.max(0.001, (Date.now() - this.startMs) / 1000);
    return this.unit === 'bytes' ? `${formatBytes(this.done / seconds)}/s` : `${Math.round(this.done / seconds)} ${this.unit}/s`;
  }

  /** `n` more units to do (when the amount of work is learnt as it goes). */
  grow(n: number): void {
    this.total += n;
  }

  /** `n` more units done. */
  add(n: number): void {
    this.done += n;
    const share = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    if (this.out.isTTY) {
      const now = Date.now();
      if (now - this.lastDrawMs < REDRAW_MS) return;
      this.lastDrawMs = now;
      const filled = Math.round(share * BAR_WIDTH);
      this.out.write(`\r${this.label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${this.amount(this.done)} of ${this.amount(this.total)}, ${this.rate()}   `);
      return;
    }
    if (share < this.nextLineShare || share >= 1) return;
    // One line for the highest step crossed (a big step crosses several).
    while (share >= this.nextLineShare + PLAIN_LINE_STEP) this.nextLineShare += PLAIN_LINE_STEP;
    this.out.write(`${this.label}: ${(this.nextLineShare * 100).toFixed(0)}% (${this.amount(this.done)} of ${this.amount(this.total)}, ${this.rate()})\n`);
    this.nextLineShare += PLAIN_LINE_STEP;
  }

  /** The last line: what was done, and how. */
  finish(summary: string): void {
    const seconds = ((Date.now() - this.startMs) / 1000).toFixed(1);
    this.out.write(`${this.out.isTTY ? '\r\x1b[K' : ''}${this.label}: ${summary} (${this.amount(this.done)} in ${seconds} s, ${this.rate()})\n`);
  }
}

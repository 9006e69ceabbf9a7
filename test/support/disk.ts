/**
 * Disk faults for tests: bytes that rot in an LMDB file, and a real small disk that fills up.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { testAsRoot } from './root';

/**
 * Flips the last byte of every copy of `needle` in `file` (copy-on-write leaves stale copies in
 * free pages; flipping them all is harmless) and returns how many it flipped. Writes byte by byte
 * in place, so an LMDB store that has the file open sees the change through its memory map, as
 * it would see bits that rotted on disk.
 */
export function flipEveryCopy(file: string, needle: Uint8Array): number {
  const contents = fs.readFileSync(file);
  const fd = fs.openSync(file, 'r+');
  let flipped = 0;
  try {
    for (let at = contents.indexOf(needle); at !== -1; at = contents.indexOf(needle, at + 1)) {
      const last = at + needle.length - 1;
      fs.writeSync(fd, Uint8Array.of(contents[last]! ^ 0x01), 0, 1, last);
      flipped++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return flipped;
}

/**
 * A test on a real small disk: a tmpfs of `sizeMiB`, mounted for the test and removed after it.
 * Mounting needs root: ./root.ts says how such a test runs, on CI here and on GitHub's runners.
 */
export function testOnTmpfs(name: string, sizeMiB: number, fn: (mountPoint: string) => Promise<void>, timeoutMs?: number): void {
  testAsRoot(`mount, for a ${sizeMiB} MiB tmpfs`)(
    name,
    async () => {
      const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-tmpfs-'));
      let mounted = false;
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', mountPoint]);
        mounted = true;
        await fn(mountPoint);
      } finally {
        if (mounted) execFileSync('umount', ['-l', mountPoint]);
        fs.rmSync(mountPoint, { recursive: true, force: true });
      }
    },
    timeoutMs,
  );
}

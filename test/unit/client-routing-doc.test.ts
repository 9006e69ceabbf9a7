import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { partitionOf } from '../../app/ring/ring';

/** The key column of docs/clients.md's table: `text`, or `0x.. 0x..` for raw bytes. */
function keyBytes(cell: string): Buffer {
  const text = cell.replace(/^`|`.*$/g, '');
  return /^0x/.test(text) ? Buffer.from(text.split(' ').map((b) => Number(b))) : Buffer.from(text, 'utf8');
}

test('the partition rule and test vectors in docs/clients.md match the ring', () => {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'clients.md'), 'utf8');
  const rows = doc.split('\n').filter((l) => /^\| `/.test(l));
  expect(rows.length).toBeGreaterThanOrEqual(5);
  for (const row of rows) {
    const [key, md5, q64, q256] = row.split('|').slice(1, 5).map((c) => c.trim()) as [string, string, string, string];
    const bytes = keyBytes(key);
    expect(createHash('md5').update(bytes).digest('hex').slice(0, 8)).toBe(md5);
    expect(partitionOf(bytes, 64)).toBe(Number(q64));
    expect(partitionOf(bytes, 256)).toBe(Number(q256));
    // The rule as the page states it, in another language's terms.
    const h = createHash('md5').update(bytes).digest().readUInt32BE(0);
    expect(h >>> (32 - 6)).toBe(Number(q64));
  }
  expect(partitionOf(Buffer.from('hello'), 1)).toBe(0);
});

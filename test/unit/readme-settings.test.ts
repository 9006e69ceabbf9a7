/** The README's settings table lists every node setting (it is written by hand from SETTINGS). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SETTINGS } from '../../app/node/config';

test('every setting of kv node has a row in the README, with its flag and variable', () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const missing = SETTINGS.filter((s) => !readme.includes(`| \`--${s.flag}\` | \`${s.env}\` |`)).map((s) => s.flag);
  expect(missing).toEqual([]);
});

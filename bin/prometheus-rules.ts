#!/usr/bin/env node
/**
 * Writes the store's alert and recording rules as a Prometheus rules file, for a local Prometheus
 * (`rule_files:`). Usage: `npm run rules` (to dist/prometheus/kv-rules.yml) or
 * `node dist/bin/prometheus-rules.js <file>`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { rulesYaml } from '../observability/rules';

const RULES_FILE = 'dist/prometheus/kv-rules.yml';

const file = process.argv[2] ?? RULES_FILE;
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, rulesYaml());
process.stdout.write(`${file}\n`);

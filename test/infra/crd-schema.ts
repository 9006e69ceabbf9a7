/**
 * Validates synthesized custom resources (prometheus-operator monitors, rules, Alertmanager
 * configurations ...) against the `openAPIV3Schema` of their CRDs, as an API server would, with no
 * cluster: the CRD files are read in place from KV_CRD_DIR (default: ../shared/crds beside the
 * repository, which .ci/run also exports). Stricter than a server in one way, on purpose: a field the
 * schema does not know is an error (kubectl's --validate=strict), not silently pruned, so that a
 * misspelt field fails a test.
 *
 * Without the CRDs, `describeWithCrds` skips the tests and says why; in CI (CI=true) it fails them.
 */
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Schema = Record<string, any>;

/** The CRD folder: KV_CRD_DIR, else ../shared/crds when it exists; undefined when neither. */
export function crdDir(): string | undefined {
  const fromEnv = process.env.KV_CRD_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const beside = path.resolve(REPO_ROOT, '..', 'shared', 'crds');
  return fs.existsSync(beside) ? beside : undefined;
}

/** `describe` when the CRDs are there; otherwise `describe.skip` with a line saying why (a failure in CI). */
export function describeWithCrds(): jest.Describe {
  const dir = crdDir();
  if (dir !== undefined && fs.existsSync(dir)) return describe;
  const why = `the CRD schemas are not here (KV_CRD_DIR is ${JSON.stringify(process.env.KV_CRD_DIR ?? '')} and ../shared/crds does not exist): set KV_CRD_DIR to a folder of CRD files (see .ci/run)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${why}`);
  process.stderr.write(`${path.relative(REPO_ROOT, expect.getState().testPath ?? 'this test file')}: custom resource tests skipped: ${why}\n`);
  return describe.skip;
}

/**
 * The CRDs' patterns are Go (RE2) regular expressions; a few start with the inline flag `(?i)`,
 * which JavaScript does not know: it becomes the `i` flag (close enough for these anchored patterns).
 */
const goRegExp = Object.assign(
  (pattern: string, flags: string): RegExp => (pattern.includes('(?i)') ? new RegExp(pattern.replaceAll('(?i)', ''), `${flags}i`) : new RegExp(pattern, flags)),
  { code: 'new RegExp' },
);
const ajv = new Ajv({ strict: false, allErrors: true, code: { regExp: goRegExp } });
addFormats(ajv);
const validators = new Map<string, ValidateFunction>();

/** Every CRD under the folder, by `<group>/<version>/<kind>`, each version's schema. */
function loadCrds(dir: string): Map<string, Schema> {
  const schemas = new Map<string, Schema>();
  const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.ya?ml$/.test(f));
  for (const file of files) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      const crd = doc.toJS() as Schema | null;
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      for (const version of crd.spec.versions as Schema[]) {
        schemas.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, version.schema.openAPIV3Schema);
      }
    }
  }
  return schemas;
}

let crds: Map<string, Schema> | undefined;

/** The CRD schema of `apiVersion` and `kind`, made strict (see above). */
export function crdSchema(apiVersion: string, kind: string): Schema {
  const dir = crdDir();
  if (dir === undefined) throw new Error('no CRD folder: set KV_CRD_DIR');
  crds ??= loadCrds(dir);
  const schema = crds.get(`${apiVersion}/${kind}`);
  if (schema === undefined) throw new Error(`No CRD for ${apiVersion} ${kind} under ${dir}: add its CRD file there`);
  return strict(structuredClone(schema));
}

/**
 * Closes every object schema that lists its properties and does not say unknown fields are kept. And
 * turns OpenAPI 3.0's boolean `exclusiveMinimum`/`exclusiveMaximum` (a flag on `minimum`/`maximum`,
 * which Chaos Mesh's Schedule CRD uses) into JSON Schema's numeric form, which Ajv expects.
 */
function strict(schema: Schema): Schema {
  if (schema.type === 'object' && schema.properties !== undefined && schema.additionalProperties === undefined && schema['x-kubernetes-preserve-unknown-fields'] !== true) {
    schema.additionalProperties = false;
  }
  for (const [flag, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (typeof schema[flag] !== 'boolean') continue;
    if (schema[flag] === true && typeof schema[bound] === 'number') {
      schema[flag] = schema[bound];
      delete schema[bound];
    } else {
      delete schema[flag];
    }
  }
  for (const value of Object.values(schema)) {
    if (value !== null && typeof value === 'object') strict(value as Schema);
  }
  return schema;
}

/** Throws, listing every error, if `obj` does not match its CRD's schema. */
export function validateCustomResource(obj: { apiVersion?: string; kind?: string }): void {
  const key = `${obj.apiVersion}/${obj.kind}`;
  let validate = validators.get(key);
  if (validate === undefined) {
    validate = ajv.compile(crdSchema(String(obj.apiVersion), String(obj.kind)));
    validators.set(key, validate);
  }
  if (!validate(obj)) throw new Error(`${key} does not match its CRD: ${ajv.errorsText(validate.errors, { separator: '\n' })}`);
}

/** Validates `value` against a part of a CRD's schema (for fields the CRD leaves open, such as child routes). */
export function validateAgainst(schema: Schema, value: unknown, what: string): void {
  const validate = ajv.compile(schema);
  if (!validate(value)) throw new Error(`${what}: ${ajv.errorsText(validate.errors, { separator: '\n' })}`);
}

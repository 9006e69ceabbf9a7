/**
 * A small YAML writer for plain data (objects, arrays, strings, numbers, booleans), so that the
 * rules file can be rendered where only the node's runtime dependencies are installed (the `yaml`
 * package is a development dependency). Block style, two-space indent; every string value is quoted, so
 * no value is ever read back as another type ("true", "5m", "0x10").
 */
export type YamlValue = string | number | boolean | readonly YamlValue[] | { readonly [key: string]: YamlValue | undefined };

/** The YAML text of `value`, ending in a newline. Keys whose value is undefined are left out. */
export function toYaml(value: YamlValue): string {
  return `${lines(value, '').join('\n')}\n`;
}

function lines(value: YamlValue, indent: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${indent}[]`];
    return value.flatMap((item: YamlValue) => {
      const [first, ...rest] = lines(item, `${indent}  `);
      // The first line of the item goes after the dash.
      return [`${indent}- ${first!.slice(indent.length + 2)}`, ...rest];
    });
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value).filter((e): e is [string, YamlValue] => e[1] !== undefined);
    if (entries.length === 0) return [`${indent}{}`];
    return entries.flatMap(([key, v]) => {
      const k = `${indent}${PLAIN_KEY.test(key) ? key : scalar(key)}:`;
      if (isScalar(v) || isEmpty(v)) return [`${k} ${isScalar(v) ? scalar(v) : lines(v, '')[0]}`];
      return [k, ...lines(v, `${indent}  `)];
    });
  }
  return [`${indent}${scalar(value)}`];
}

/** Keys written unquoted: names such as `record`, `runbook_url`, `app.kubernetes.io/name`. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/;

function isScalar(v: YamlValue): v is string | number | boolean {
  return typeof v !== 'object';
}

function isEmpty(v: YamlValue): boolean {
  return Array.isArray(v) ? v.length === 0 : typeof v === 'object' && Object.values(v).every((x) => x === undefined);
}

function scalar(v: string | number | boolean): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`toYaml: ${v} has no YAML form here; write it as a string`);
    return String(v);
  }
  if (typeof v === 'boolean') return String(v);
  // Single quotes need no escapes but a doubled quote, and keep PromQL's double quotes readable;
  // a string with a line break or another control character takes JSON's escapes, which YAML's
  // double-quoted style reads the same way.
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(v) ? JSON.stringify(v) : `'${v.replace(/'/g, "''")}'`;
}

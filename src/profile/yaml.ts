/**
 * A small YAML emitter for JSON-shaped data (objects, arrays, strings, integers, bigints,
 * booleans, null), in block style as Kubernetes manifests are written.
 *
 * Strings are written plain only when no YAML 1.1 or 1.2 reader could take them for anything but
 * that string (not a number, boolean, null, date, or indicator); otherwise double-quoted with
 * escapes, which every YAML reader parses back to the same string.
 */

export type YamlValue = string | number | bigint | boolean | null | readonly YamlValue[] | { readonly [key: string]: YamlValue };

export class YamlError extends Error {
  override name = 'YamlError';
}

/** The document, ending with a newline. */
export function emitYaml(value: YamlValue): string {
  if (isCollection(value) && !isEmptyCollection(value)) return `${emitBlock(value, 0).join('\n')}\n`;
  return `${emitScalarOrEmpty(value)}\n`;
}

const INDENT = '  ';

function emitBlock(value: YamlValue, depth: number): string[] {
  const pad = INDENT.repeat(depth);
  const lines: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value as readonly YamlValue[]) {
      if (isCollection(item) && !isEmptyCollection(item)) {
        // The first line of a nested block goes after "- ", the rest keep its indentation.
        const inner = emitBlock(item, depth + 1);
        const [head, ...rest] = inner;
        lines.push(`${pad}- ${(head ?? '').slice(pad.length + INDENT.length)}`, ...rest);
      } else {
        lines.push(`${pad}- ${emitScalarOrEmpty(item)}`);
      }
    }
    return lines;
  }
  for (const [key, item] of Object.entries(value as { readonly [key: string]: YamlValue })) {
    const k = emitString(key);
    if (isCollection(item) && !isEmptyCollection(item)) {
      // Sequences in a mapping are indented one level, as kubectl writes them.
      lines.push(`${pad}${k}:`, ...emitBlock(item, depth + 1));
    } else {
      lines.push(`${pad}${k}: ${emitScalarOrEmpty(item)}`);
    }
  }
  return lines;
}

function emitScalarOrEmpty(value: YamlValue): string {
  if (Array.isArray(value)) return '[]';
  if (isCollection(value)) return '{}';
  return emitScalar(value as string | number | bigint | boolean | null);
}

function emitScalar(value: string | number | bigint | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    // Readers disagree on floats (YAML 1.1 needs a dot in 1e3); profiles hold only integers.
    if (!Number.isSafeInteger(value)) throw new YamlError(`cannot write ${value} as YAML: only safe integers (or bigints)`);
    return String(value);
  }
  if (typeof value === 'string') return emitString(value);
  throw new YamlError(`cannot write a ${typeof value} as YAML`);
}

// Words some YAML reader (1.1's booleans and nulls included) resolves to a non-string.
const RESERVED = /^(?:y|n|yes|no|true|false|on|off|null|~)$/i;
// Starts with a letter or underscore and uses only characters that are never indicators here.
const PLAIN_SAFE = /^[A-Za-z_][A-Za-z0-9_./-]*$/;

function emitString(s: string): string {
  if (PLAIN_SAFE.test(s) && !RESERVED.test(s)) return s;
  return doubleQuoted(s);
}

/** YAML double-quoted scalar: escapes for `"`, `\`, and every character YAML does not allow raw. */
function doubleQuoted(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (needsEscape(cp)) out += cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Outside YAML's printable set, or a line break YAML would fold (NEL, LS, PS), or a BOM. */
function needsEscape(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0xfeff ||
    (cp >= 0xd800 && cp <= 0xdfff) ||
    cp === 0xfffe ||
    cp === 0xffff
  );
}

function isCollection(value: YamlValue): value is readonly YamlValue[] | { readonly [key: string]: YamlValue } {
  return typeof value === 'object' && value !== null;
}

function isEmptyCollection(value: YamlValue): boolean {
  if (Array.isArray(value)) return value.length === 0;
  return isCollection(value) && Object.keys(value).length === 0;
}

import { parse, stringify } from 'lossless-json';
import { SpecError } from './errors.js';

/** What `runc spec` and `crun spec` indent with; used when the original text gives no hint. */
export const DEFAULT_JSON_INDENT = '\t';

/**
 * Parse JSON keeping every number as written: values are LosslessNumber instances, so integers
 * above 2^53 (memory limits, seccomp masks) and spellings like `1.50` survive a rewrite.
 *
 * Duplicate keys with different values are rejected: Go's encoding/json (runc) keeps the last one
 * and other parsers may keep the first, so rewriting such a file could change what the runtime
 * sees. Duplicates with identical values are harmless and collapse to one.
 */
export function parseJsonLossless(text: string, source: string): unknown {
  try {
    return parse(text, null, {
      onDuplicateKey: ({ key, position }) => {
        throw new SpecError(`${source}: invalid JSON at ${describePosition(text, position)}: duplicate key "${key}" with different values`);
      },
    });
  } catch (err) {
    if (err instanceof SpecError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    const match = / at position (\d+)$/.exec(message);
    const where = match?.[1] !== undefined ? describePosition(text, Number(match[1])) : 'unknown position';
    const problem = match ? message.slice(0, match.index) : message;
    throw new SpecError(`${source}: invalid JSON at ${where}: ${problem}`, { cause: err });
  }
}

/**
 * Serialize a tree from parseJsonLossless (or built from plain values): LosslessNumbers are written
 * back verbatim, plain numbers as JSON.stringify would. Pretty-printed, with a trailing newline.
 */
export function stringifyJsonLossless(value: unknown, indent: string = DEFAULT_JSON_INDENT): string {
  const text = stringify(value, undefined, indent);
  if (text === undefined) {
    throw new SpecError(`cannot serialize a ${typeof value} as JSON`);
  }
  return `${text}\n`;
}

/**
 * The indentation unit of a pretty-printed JSON document: the leading whitespace of its first
 * indented line (depth 1). Compact or single-line documents give the default.
 */
export function detectJsonIndent(text: string): string {
  const match = /\n([ \t]+)\S/.exec(text);
  return match?.[1] ?? DEFAULT_JSON_INDENT;
}

/** 1-based line and column of a 0-based character offset, as editors show them. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lastNewline = before.lastIndexOf('\n');
  let line = 1;
  for (let i = before.indexOf('\n'); i !== -1; i = before.indexOf('\n', i + 1)) line++;
  return { line, column: before.length - lastNewline };
}

function describePosition(text: string, offset: number): string {
  const { line, column } = lineAndColumn(text, offset);
  return `line ${line} column ${column}`;
}

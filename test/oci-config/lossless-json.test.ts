import { isLosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/oci-config/errors.js';
import {
  DEFAULT_JSON_INDENT,
  detectJsonIndent,
  lineAndColumn,
  parseJsonLossless,
  stringifyJsonLossless,
} from '../../src/oci-config/lossless-json.js';
import { BIG_NUMBER_CONFIG } from './fixtures.js';

function catchSpecError(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return err as SpecError;
  }
  throw new Error('expected a SpecError, nothing was thrown');
}

/** The 0-based offset of the n-th occurrence of `needle`, to locate errors without hard-coding. */
function offsetOf(text: string, needle: string): number {
  const offset = text.indexOf(needle);
  expect(offset).toBeGreaterThanOrEqual(0);
  return offset;
}

describe('parseJsonLossless + stringifyJsonLossless', () => {
  it('round-trips a tab-indented config byte for byte, big integers and number spellings included', () => {
    const tree = parseJsonLossless(BIG_NUMBER_CONFIG, 'config.json');
    expect(stringifyJsonLossless(tree, detectJsonIndent(BIG_NUMBER_CONFIG))).toBe(BIG_NUMBER_CONFIG);
  });

  it('keeps what a JSON.parse round trip would lose (so the test above is meaningful)', () => {
    const viaJsonParse = JSON.stringify(JSON.parse(BIG_NUMBER_CONFIG), null, '\t') + '\n';
    expect(viaJsonParse).not.toBe(BIG_NUMBER_CONFIG);
    expect(viaJsonParse).not.toContain('18446744073709551615');
    expect(viaJsonParse).not.toContain('9223372036854775807');
    const ours = stringifyJsonLossless(parseJsonLossless(BIG_NUMBER_CONFIG, 'config.json'));
    for (const literal of ['18446744073709551615', '18446744073709551614', '9223372036854775807', '9007199254740993', '1.50', '1e3', '-0']) {
      expect(ours).toContain(`: ${literal}`);
    }
  });

  it('parses numbers as LosslessNumbers holding the exact text', () => {
    const tree = parseJsonLossless('{"limit": 9223372036854775807}', 'x') as { limit: unknown };
    expect(isLosslessNumber(tree.limit)).toBe(true);
    expect(String(tree.limit)).toBe('9223372036854775807');
  });

  it('writes numbers we create as plain JSON numbers next to preserved ones', () => {
    const tree = parseJsonLossless('{"big": 18446744073709551615}', 'x') as Record<string, unknown>;
    const text = stringifyJsonLossless({ ...tree, timeout: 30, ratio: 0.5 }, '  ');
    expect(text).toBe('{\n  "big": 18446744073709551615,\n  "timeout": 30,\n  "ratio": 0.5\n}\n');
    const reparsed = parseJsonLossless(text, 'x') as Record<string, unknown>;
    expect(String(reparsed.timeout)).toBe('30');
  });

  it('keeps the meaning of escaped strings and the __proto__ key', () => {
    const text = '{"\\u00e9t\\u00e9": "caf\\u00e9\\n", "__proto__": {"polluted": true}}';
    const tree = parseJsonLossless(text, 'x');
    const out = stringifyJsonLossless(tree);
    expect(JSON.parse(out)).toEqual(JSON.parse(text));
    expect(Object.keys(JSON.parse(out) as object)).toEqual(['été', '__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('ends the output with exactly one newline', () => {
    expect(stringifyJsonLossless({ a: [] })).toBe('{\n\t"a": []\n}\n');
  });

  it('rejects a duplicate key with a different value, naming key and line', () => {
    const text = '{\n\t"a": 1,\n\t"linux": {\n\t\t"limit": 1,\n\t\t"limit": 2\n\t}\n}';
    const err = catchSpecError(() => parseJsonLossless(text, '/b/config.json'));
    const { line } = lineAndColumn(text, text.lastIndexOf('"limit"'));
    expect(err.message).toBe(`/b/config.json: invalid JSON at line ${line} column 4: duplicate key "limit" with different values`);
  });

  it('accepts a duplicate key with an identical value, keeping one', () => {
    const tree = parseJsonLossless('{"a": {"b": 1}, "a": {"b": 1}}', 'x');
    expect(stringifyJsonLossless(tree, '')).toBe('{"a":{"b":1}}\n');
  });

  it('reports invalid JSON with line and column of the problem', () => {
    const text = '{\n\t"ociVersion": "1.0.2"\n\t"process": {}\n}';
    const err = catchSpecError(() => parseJsonLossless(text, '/b/config.json'));
    const { line, column } = lineAndColumn(text, offsetOf(text, '"process"'));
    expect(err.message).toBe(`/b/config.json: invalid JSON at line ${line} column ${column}: Comma ',' expected after value but got '"'`);
  });

  it.each([
    ['empty input', ''],
    ['truncated', '{"a": [1, 2'],
    ['raw newline inside a string', '{"a": "x\ny"}'],
    ['trailing garbage', '{} {}'],
    ['byte order mark', '\ufeff{}'],
    ['duplicate key containing a newline escape', '{"a\\nb": 1, "a\\nb": 2}'],
  ])('gives a one-line error for %s', (_label, text) => {
    const err = catchSpecError(() => parseJsonLossless(text, 'config.json'));
    expect(err.message).toMatch(/^config\.json: invalid JSON at line \d+ column \d+: \S/);
    expect(err.message).not.toMatch(/[\n\r]/);
  });
});

describe('detectJsonIndent', () => {
  it.each([
    ['tabs', '\t'],
    ['two spaces', '  '],
    ['four spaces', '    '],
  ])('detects %s', (_label, indent) => {
    const text = stringifyJsonLossless({ a: { b: [1] } }, indent);
    expect(detectJsonIndent(text)).toBe(indent);
  });

  it('falls back to the runc default for compact JSON', () => {
    expect(detectJsonIndent('{"a":{"b":1}}')).toBe(DEFAULT_JSON_INDENT);
    expect(DEFAULT_JSON_INDENT).toBe('\t');
  });
});

describe('lineAndColumn', () => {
  it('is 1-based and counts columns from the last newline', () => {
    const text = 'ab\ncde\nf';
    expect(lineAndColumn(text, 0)).toEqual({ line: 1, column: 1 });
    expect(lineAndColumn(text, 2)).toEqual({ line: 1, column: 3 });
    expect(lineAndColumn(text, 3)).toEqual({ line: 2, column: 1 });
    expect(lineAndColumn(text, text.indexOf('f'))).toEqual({ line: 3, column: 1 });
  });
});

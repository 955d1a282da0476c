// The YAML emitter, checked against a real YAML reader: PyYAML (python3-yaml), a YAML 1.1 reader,
// which is the stricter one about plain scalars (yes/no/on/off are booleans there).
import { execFileSync } from 'node:child_process';
import { isLosslessNumber, parse } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { YamlError, emitYaml, type YamlValue } from '../../src/profile/yaml.js';

/** PyYAML's reading of `yaml`, as JSON text. */
function pyYamlLoad(yaml: string): string {
  return execFileSync('python3', ['-c', 'import json, sys, yaml; sys.stdout.write(json.dumps(yaml.safe_load(sys.stdin.read())))'], {
    input: yaml,
    encoding: 'utf8',
  });
}

/** Numbers of either side as their digits, so 2^64-1 compares exactly. */
function comparable(value: unknown): unknown {
  if (typeof value === 'bigint' || typeof value === 'number') return `#${value.toString()}`;
  if (isLosslessNumber(value)) return `#${value.value}`;
  if (Array.isArray(value)) return value.map(comparable);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, comparable(v)]));
  return value;
}

function roundTrip(value: YamlValue): unknown {
  return comparable(parse(pyYamlLoad(emitYaml(value))));
}

const TRICKY_STRINGS = [
  '', ' ', 'plain', 'yes', 'No', 'ON', 'off', 'y', 'n', 'true', 'False', 'null', 'Null', '~', '123', '-1', '1e3', '0x1f', '0o17', '.inf', '.NaN',
  '1_000', '2001-12-14', '12:30:45', '- item', '-', '? key', ': value', 'a: b', 'a #b', '#comment', '@at', '`tick', '!tag', '&anchor', '*alias',
  '|', '>', '%YAML', "'single'", '"double"', '[x]', '{y}', ',', 'trailing ', ' leading', 'multi\nline', 'tab\there', 'cr\rx', 'back\\slash',
  'été', '日本', 'emoji 🎉', 'nel\u0085x', 'ls\u2028x', 'ps\u2029x', 'bom\ufeffx', 'del\u007fx', 'bell\u0007x', 'nul\u0000x', '<<',
  'security-profiles-operator.x-k8s.io/v1beta1', 'SCMP_ACT_ALLOW', 'x86_64',
];

describe('emitYaml', () => {
  it('strings read back as themselves, as values, list items and keys', () => {
    // One document, one reader run: each string as a value, a sequence item and a key.
    const doc = { values: TRICKY_STRINGS.map((s) => ({ value: s })), items: TRICKY_STRINGS, keys: Object.fromEntries(TRICKY_STRINGS.map((s, i) => [s, i])) };
    const back = roundTrip(doc) as typeof doc;
    TRICKY_STRINGS.forEach((s, i) => {
      expect(back.values[i], JSON.stringify(s)).toEqual({ value: s });
      expect(back.items[i], JSON.stringify(s)).toBe(s);
    });
    expect(back.keys).toEqual(comparable(doc.keys));
  });

  it('keys that YAML 1.1 would read as booleans or numbers stay strings', () => {
    const value = { on: 1, off: 2, yes: 3, '1': 4, 'a b': 5, '': 6, 'x:y': 7 };
    expect(roundTrip(value)).toEqual(comparable(value));
  });

  it('nested mappings and sequences, empty ones, and scalars of each type', () => {
    const value: YamlValue = {
      apiVersion: 'v1',
      spec: {
        syscalls: [
          { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
          { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [{ index: 0, value: 18446744073709551615n, op: 'SCMP_CMP_EQ' }] },
        ],
        nested: [[1, [2, []]], {}, [{}], { a: [] }],
        flags: [true, false, null, -7, 0],
      },
      empty: [],
      none: {},
    };
    expect(roundTrip(value)).toEqual(comparable(value));
  });

  it('a top-level scalar, empty list or empty map is a document too', () => {
    expect(roundTrip('yes')).toBe('yes');
    expect(roundTrip([])).toEqual([]);
    expect(roundTrip({})).toEqual({});
  });

  it('writes block style with two-space indentation, sequences indented under their key', () => {
    expect(emitYaml({ metadata: { name: 'ls' }, list: ['a', { b: 1, c: [2] }] })).toBe(
      ['metadata:', '  name: ls', 'list:', '  - a', '  - b: 1', '    c:', '      - 2', ''].join('\n'),
    );
  });

  it('refuses what it cannot write exactly', () => {
    expect(() => emitYaml({ x: 1.5 })).toThrow(YamlError);
    expect(() => emitYaml({ x: Number.NaN })).toThrow(YamlError);
    expect(() => emitYaml({ x: 2 ** 60 })).toThrow(/only safe integers/);
  });
});

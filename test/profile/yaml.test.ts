// The YAML emitter's layout and refusals. That what it writes reads back as the same value in a
// real YAML reader (PyYAML) is checked in integration/yaml-readers.test.ts.
import { describe, expect, it } from 'vitest';
import { YamlError, emitYaml } from '../../src/profile/yaml.js';

describe('emitYaml', () => {
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

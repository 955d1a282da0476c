import { LosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/oci-config/errors.js';
import { parseJsonLossless } from '../../src/oci-config/lossless-json.js';
import { formatFieldPath, HOOK_STAGES, OciHookSchema, validateHook, validateSpec } from '../../src/oci-config/schema.js';
import { BIG_NUMBER_CONFIG } from './fixtures.js';

function specWith(extra: Record<string, unknown>): Record<string, unknown> {
  return { ociVersion: '1.0.2', ...extra };
}

function validationError(tree: unknown): string {
  try {
    validateSpec(tree, '/b/config.json');
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return (err as SpecError).message;
  }
  throw new Error('expected validateSpec to throw');
}

describe('validateSpec', () => {
  it('returns the parsed tree itself, so key order and LosslessNumbers are untouched', () => {
    const tree = parseJsonLossless(BIG_NUMBER_CONFIG, 'config.json');
    const spec = validateSpec(tree, 'config.json');
    expect(spec).toBe(tree);
    expect(Object.keys(spec)).toEqual(Object.keys(tree as object));
  });

  it('accepts null where runc treats it as absent', () => {
    expect(() => validateSpec(specWith({ hooks: null, annotations: null, process: null, root: null }), 'x')).not.toThrow();
    expect(() => validateSpec(specWith({ hooks: { prestart: null, poststop: [{ path: '/bin/true', args: null, timeout: null }] } }), 'x')).not.toThrow();
  });

  it('lets unknown fields pass at every level', () => {
    const tree = specWith({
      hooks: { futureStage: [{ anything: 1 }], createRuntime: [{ path: '/x', vendor: { a: 1 } }] },
      process: { args: ['sh'], newField: 1 },
      linux: { whatever: [1, 2] },
      topLevelNew: true,
    });
    expect(validateSpec(tree, 'x')).toBe(tree);
  });

  it.each([
    ['a missing ociVersion', { hooks: {} }, 'ociVersion: required'],
    ['a non-object document', [], '(root)'],
    ['a relative hook path', specWith({ hooks: { createRuntime: [{ path: 'bin/hook' }] } }), 'hooks.createRuntime[0].path: must be an absolute path'],
    ['a hook arg that is not a string', specWith({ hooks: { poststop: [{ path: '/h' }, { path: '/h', args: ['h', 1] }] } }), 'hooks.poststop[1].args[1]'],
    ['a stage that is not an array', specWith({ hooks: { prestart: {} } }), 'hooks.prestart'],
    ['an annotation value that is not a string', specWith({ annotations: { 'io.example/n': new LosslessNumber('1') } }), 'annotations["io.example/n"]: expected string, got number'],
    ['process.args that is not an array', specWith({ process: { args: 'sh' } }), 'process.args: expected array, got string'],
    ['a timeout that is not a number', specWith({ hooks: { poststop: [{ path: '/h', timeout: '5' }] } }), 'hooks.poststop[0].timeout: expected number, got string'],
  ])('rejects %s, naming the field', (_label, tree, field) => {
    const message = validationError(tree);
    expect(message).toContain(`/b/config.json: invalid ${field}`);
    expect(message).not.toMatch(/\n/);
  });
});

describe('hook timeout', () => {
  const accepted = [30, 1, 2 ** 31 - 1, new LosslessNumber('30'), new LosslessNumber('2147483647')];
  const rejected = [
    0,
    -1,
    1.5,
    2 ** 31,
    Number.POSITIVE_INFINITY,
    new LosslessNumber('0'),
    new LosslessNumber('-5'),
    new LosslessNumber('1.0'),
    new LosslessNumber('1e3'),
    new LosslessNumber('2147483648'),
    new LosslessNumber('18446744073709551615'),
    '30',
  ];

  it.each(accepted.map((timeout) => [String(timeout), timeout]))('accepts %s', (_label, timeout) => {
    expect(OciHookSchema.safeParse({ path: '/h', timeout }).success).toBe(true);
  });

  it.each(rejected.map((timeout) => [JSON.stringify(String(timeout)), timeout]))('rejects %s', (_label, timeout) => {
    expect(OciHookSchema.safeParse({ path: '/h', timeout }).success).toBe(false);
  });
});

describe('validateHook', () => {
  it('names the source and the field', () => {
    expect(() => validateHook({ path: '/h', env: 'A=1' }, 'our hook')).toThrow(/^our hook: invalid env: /);
  });
});

describe('HOOK_STAGES', () => {
  it('lists the runtime-spec stages in lifecycle order', () => {
    expect(HOOK_STAGES.indexOf('createRuntime')).toBeLessThan(HOOK_STAGES.indexOf('startContainer'));
    expect(HOOK_STAGES.at(-1)).toBe('poststop');
  });
});

describe('formatFieldPath', () => {
  it('writes identifiers with dots, indexes and other keys in brackets', () => {
    expect(formatFieldPath([])).toBe('(root)');
    expect(formatFieldPath(['hooks', 'poststop', 2, 'args', 0])).toBe('hooks.poststop[2].args[0]');
    expect(formatFieldPath(['annotations', 'io.x/y'])).toBe('annotations["io.x/y"]');
  });
});

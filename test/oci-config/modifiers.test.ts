import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/oci-config/errors.js';
import { parseJsonLossless, stringifyJsonLossless } from '../../src/oci-config/lossless-json.js';
import { appendHooksModifier, composeModifiers, setHooksModifier, type SpecModifier } from '../../src/oci-config/modifiers.js';
import { validateSpec, type OciHook, type OciSpec } from '../../src/oci-config/schema.js';
import { BIG_NUMBER_CONFIG, deepFreeze } from './fixtures.js';

const RECORD_HOOK: OciHook = { path: '/usr/libexec/oci-ftrace/hook', args: ['oci-ftrace-hook', 'record'], timeout: 30 };
const REPORT_HOOK: OciHook = { path: '/usr/libexec/oci-ftrace/hook', args: ['oci-ftrace-hook', 'report'], timeout: 30 };
const isOurs = (hook: OciHook): boolean => hook.path === '/usr/libexec/oci-ftrace/hook';

function fixtureSpec(): OciSpec {
  return validateSpec(parseJsonLossless(BIG_NUMBER_CONFIG, 'fixture'), 'fixture');
}

describe('appendHooksModifier', () => {
  it('appends after the hooks already in the stage, keeping theirs first and in order', () => {
    const spec = fixtureSpec();
    const userHooks = spec.hooks?.createRuntime ?? [];
    expect(userHooks.length).toBeGreaterThan(0);
    const result = appendHooksModifier('createRuntime', [RECORD_HOOK], isOurs).apply(spec);
    expect(result.hooks?.createRuntime).toEqual([...userHooks, RECORD_HOOK]);
  });

  it('adds a missing stage after the existing ones and missing hooks after existing keys', () => {
    const spec = fixtureSpec();
    const withStage = appendHooksModifier('poststop', [REPORT_HOOK], isOurs).apply(spec);
    expect(Object.keys(withStage.hooks ?? {})).toEqual([...Object.keys(spec.hooks ?? {}), 'poststop']);
    expect(Object.keys(withStage)).toEqual(Object.keys(spec));

    const bare = { ociVersion: '1.0.2', process: { args: ['sh'] } };
    const withHooks = appendHooksModifier('poststop', [REPORT_HOOK], isOurs).apply(bare);
    expect(Object.keys(withHooks)).toEqual([...Object.keys(bare), 'hooks']);
    expect(withHooks.hooks?.poststop).toEqual([REPORT_HOOK]);
  });

  it('replaces a null stage or null hooks with a list', () => {
    const modifier = appendHooksModifier('poststop', [REPORT_HOOK], isOurs);
    expect(modifier.apply({ ociVersion: '1', hooks: null }).hooks?.poststop).toEqual([REPORT_HOOK]);
    expect(modifier.apply({ ociVersion: '1', hooks: { poststop: null } }).hooks?.poststop).toEqual([REPORT_HOOK]);
  });

  it('is idempotent: a second application returns the spec unchanged', () => {
    const modifier = appendHooksModifier('createRuntime', [RECORD_HOOK], isOurs);
    const once = modifier.apply(fixtureSpec());
    const twice = modifier.apply(once);
    expect(twice).toBe(once);
    expect(twice.hooks?.createRuntime?.filter(isOurs)).toHaveLength(1);
  });

  it('recognizes its hook wherever it sits in the stage, even with other arguments', () => {
    const spec: OciSpec = {
      ociVersion: '1',
      hooks: { createRuntime: [{ path: '/usr/libexec/oci-ftrace/hook', args: ['old'] }, { path: '/user/hook' }] },
    };
    expect(appendHooksModifier('createRuntime', [RECORD_HOOK], isOurs).apply(spec)).toBe(spec);
  });

  it('only looks at its own stage', () => {
    const spec: OciSpec = { ociVersion: '1', hooks: { poststop: [REPORT_HOOK] } };
    const result = appendHooksModifier('createRuntime', [RECORD_HOOK], isOurs).apply(spec);
    expect(result.hooks?.createRuntime).toEqual([RECORD_HOOK]);
    expect(result.hooks?.poststop).toEqual([REPORT_HOOK]);
  });

  it('is pure: the input (deep-frozen) is not mutated and stays byte-identical', () => {
    const spec = deepFreeze(fixtureSpec());
    const before = stringifyJsonLossless(spec);
    const result = composeModifiers([
      appendHooksModifier('createRuntime', [RECORD_HOOK], isOurs),
      appendHooksModifier('poststop', [REPORT_HOOK], isOurs),
    ]).apply(spec);
    expect(stringifyJsonLossless(spec)).toBe(before);
    expect(result).not.toBe(spec);
    // Untouched subtrees are shared, not copied: that is what keeps them exactly as parsed.
    expect(result.linux).toBe(spec.linux);
  });

  it('does not share arrays with the caller or between results', () => {
    const args = ['oci-ftrace-hook', 'record'];
    const hooks: OciHook[] = [{ path: '/usr/libexec/oci-ftrace/hook', args }];
    const modifier = appendHooksModifier('createRuntime', hooks, isOurs);
    args.push('mutated-later');
    hooks.push({ path: '/evil' });
    const first = modifier.apply({ ociVersion: '1' });
    const second = modifier.apply({ ociVersion: '1' });
    expect(first.hooks?.createRuntime).toEqual([{ path: '/usr/libexec/oci-ftrace/hook', args: ['oci-ftrace-hook', 'record'] }]);
    expect(first.hooks?.createRuntime?.[0]?.args).not.toBe(second.hooks?.createRuntime?.[0]?.args);
  });

  it.each([
    ['a relative hook path', [{ path: 'hook' }], /hook 0: invalid path: must be an absolute path$/],
    ['a bad timeout', [{ path: '/usr/libexec/oci-ftrace/hook', timeout: 0 }], /hook 0: invalid timeout: must be an integer from 1 to 2147483647$/],
    ['a timeout that is not a number', [{ path: '/usr/libexec/oci-ftrace/hook', timeout: '30' }], /hook 0: invalid timeout: expected number, got string$/],
    ['no hooks', [], /no hooks to append$/],
    ['hooks the predicate does not recognize', [{ path: '/other' }], /would not be idempotent$/],
  ])('refuses %s when built', (_label, hooks, message) => {
    expect(() => appendHooksModifier('poststop', hooks as OciHook[], isOurs)).toThrow(SpecError);
    expect(() => appendHooksModifier('poststop', hooks as OciHook[], isOurs)).toThrow(message);
  });

  it('refuses an unknown stage', () => {
    expect(() => appendHooksModifier('prestop' as 'poststop', [REPORT_HOOK], isOurs)).toThrow(/unknown hook stage "prestop"/);
  });
});

describe('composeModifiers', () => {
  const tag = (value: string): SpecModifier => ({
    name: `tag-${value}`,
    apply: (spec) => ({ ...spec, annotations: { ...(spec.annotations ?? {}), order: `${spec.annotations?.order ?? ''}${value}` } }),
  });

  it('applies left to right and names itself after its parts', () => {
    const composed = composeModifiers([tag('a'), tag('b'), tag('c')]);
    expect(composed.name).toBe('tag-a+tag-b+tag-c');
    expect(composed.apply({ ociVersion: '1' }).annotations?.order).toBe('abc');
  });

  it('is the identity when empty', () => {
    const spec: OciSpec = { ociVersion: '1' };
    expect(composeModifiers([]).apply(spec)).toBe(spec);
    expect(composeModifiers([], 'tracing').name).toBe('tracing');
  });
});

describe('setHooksModifier', () => {
  const NEW_RECORD: OciHook = { ...RECORD_HOOK, args: [...(RECORD_HOOK.args ?? []), '--state-dir', '/run/elsewhere'] };

  it('appends when the stage holds none of ours, after the user hooks', () => {
    const spec: OciSpec = { ociVersion: '1', hooks: { createRuntime: [{ path: '/user/hook' }] } };
    expect(setHooksModifier('createRuntime', [RECORD_HOOK], isOurs).apply(spec).hooks?.createRuntime).toEqual([{ path: '/user/hook' }, RECORD_HOOK]);
  });

  it('returns the very same spec when ours is there as it would write it (a timeout read from a file included)', () => {
    const once = setHooksModifier('createRuntime', [RECORD_HOOK], isOurs).apply(fixtureSpec());
    expect(setHooksModifier('createRuntime', [RECORD_HOOK], isOurs).apply(once)).toBe(once);
    const fromFile = parseJsonLossless(stringifyJsonLossless(once), 'written') as OciSpec;
    expect(setHooksModifier('createRuntime', [RECORD_HOOK], isOurs).apply(fromFile)).toBe(fromFile);
  });

  it('replaces an older form of ours in place, keeping the user hooks around it in order, and drops duplicates', () => {
    const spec: OciSpec = {
      ociVersion: '1',
      hooks: { createRuntime: [{ path: '/user/first' }, RECORD_HOOK, { path: '/user/second' }, RECORD_HOOK] },
    };
    const result = setHooksModifier('createRuntime', [NEW_RECORD], isOurs).apply(spec);
    expect(result.hooks?.createRuntime).toEqual([{ path: '/user/first' }, NEW_RECORD, { path: '/user/second' }]);
    expect(spec.hooks?.createRuntime).toHaveLength(4);
  });
});

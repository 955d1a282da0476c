import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { editBundleSpec, readBundleSpec, writeFileAtomic, writeJsonAtomic } from '../../src/oci-config/bundle-config.js';
import { parseJsonLossless, stringifyJsonLossless } from '../../src/oci-config/lossless-json.js';
import { appendHooksModifier, type SpecModifier } from '../../src/oci-config/modifiers.js';
import type { OciHook, OciSpec } from '../../src/oci-config/schema.js';
import { BIG_NUMBER_CONFIG, listDir, useTempDirs } from './fixtures.js';
import { specErrorOf } from './spec-error.js';

const OUR_PATH = '/usr/libexec/oci-ftrace/hook';
const RECORD_HOOK: OciHook = { path: OUR_PATH, args: ['hook', 'record'], timeout: 30 };
const REPORT_HOOK: OciHook = { path: OUR_PATH, args: ['hook', 'report'], timeout: 30 };
const isOurs = (hook: OciHook): boolean => hook.path === OUR_PATH;
const ourModifiers = (): SpecModifier[] => [
  appendHooksModifier('createRuntime', [RECORD_HOOK], isOurs),
  appendHooksModifier('poststop', [REPORT_HOOK], isOurs),
];

const tempDir = useTempDirs();

function bundleWith(configText: string | Uint8Array): { dir: string; config: string } {
  const dir = tempDir();
  const config = join(dir, 'config.json');
  writeFileSync(config, configText);
  mkdirSync(join(dir, 'rootfs'));
  return { dir, config };
}

/** Remove exactly what ourModifiers add, so the rest can be compared with the original. */
function withoutOurHooks(tree: OciSpec): OciSpec {
  const hooks = { ...tree.hooks };
  for (const stage of ['createRuntime', 'poststop'] as const) {
    const kept = (hooks[stage] ?? []).filter((hook) => !isOurs(hook));
    if (kept.length > 0) hooks[stage] = kept;
    else delete hooks[stage];
  }
  return { ...tree, hooks };
}

describe('editBundleSpec', () => {
  it('adds our hooks and keeps every other byte of the file', async () => {
    const { dir, config } = bundleWith(BIG_NUMBER_CONFIG);
    const result = await editBundleSpec(dir, ourModifiers());
    expect(result).toMatchObject({ changed: true, applied: ['append-hooks:createRuntime', 'append-hooks:poststop'] });

    const written = readFileSync(config, 'utf8');
    const tree = parseJsonLossless(written, config) as OciSpec;
    expect(tree.hooks?.createRuntime?.at(-1)).toEqual({ path: OUR_PATH, args: ['hook', 'record'], timeout: expect.anything() });
    expect(String(tree.hooks?.poststop?.[0]?.timeout)).toBe('30');
    expect(stringifyJsonLossless(withoutOurHooks(tree))).toBe(BIG_NUMBER_CONFIG);
    expect(stringifyJsonLossless(result.spec)).toBe(written);
  });

  it('does not write at all on a second run: same inode, mtime and bytes', async () => {
    const { dir, config } = bundleWith(BIG_NUMBER_CONFIG);
    await editBundleSpec(dir, ourModifiers());
    const before = statSync(config);
    const bytes = readFileSync(config);
    const again = await editBundleSpec(dir, ourModifiers());
    expect(again).toMatchObject({ changed: false, applied: [] });
    const after = statSync(config);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(readFileSync(config).equals(bytes)).toBe(true);
    const tree = parseJsonLossless(readFileSync(config, 'utf8'), config) as OciSpec;
    expect(tree.hooks?.createRuntime?.filter(isOurs)).toHaveLength(1);
    expect(tree.hooks?.poststop?.filter(isOurs)).toHaveLength(1);
  });

  it('does not rewrite a compact file when no modifier changes anything', async () => {
    const compact = JSON.stringify({ ociVersion: '1.0.2', hooks: { createRuntime: [RECORD_HOOK], poststop: [REPORT_HOOK] } });
    const { dir, config } = bundleWith(compact);
    const result = await editBundleSpec(dir, ourModifiers());
    expect(result.changed).toBe(false);
    expect(readFileSync(config, 'utf8')).toBe(compact);
  });

  it('replaces the file by rename, keeping mode 0640 and owner 1234:1234, leaving no temp file', async () => {
    const { dir, config } = bundleWith(BIG_NUMBER_CONFIG);
    chownSync(config, 1234, 1234);
    chmodSync(config, 0o640);
    const inodeBefore = statSync(config).ino;
    const entriesBefore = listDir(dir);

    await editBundleSpec(dir, ourModifiers());

    const after = statSync(config);
    expect(after.ino).not.toBe(inodeBefore);
    expect(after.mode & 0o7777).toBe(0o640);
    expect([after.uid, after.gid]).toEqual([1234, 1234]);
    expect(listDir(dir)).toEqual(entriesBefore);
  });

  it('keeps the indentation of the original (two spaces)', async () => {
    const twoSpaces = stringifyJsonLossless(parseJsonLossless(BIG_NUMBER_CONFIG, 'x'), '  ');
    const { dir, config } = bundleWith(twoSpaces);
    await editBundleSpec(dir, ourModifiers());
    const tree = parseJsonLossless(readFileSync(config, 'utf8'), config) as OciSpec;
    expect(readFileSync(config, 'utf8')).toBe(stringifyJsonLossless(tree, '  '));
    expect(stringifyJsonLossless(withoutOurHooks(tree), '  ')).toBe(twoSpaces);
  });

  it('leaves the original byte-identical when a modifier throws', async () => {
    const { dir, config } = bundleWith(BIG_NUMBER_CONFIG);
    const entries = listDir(dir);
    const throwing: SpecModifier = {
      name: 'explodes',
      apply: () => {
        throw new Error('boom\nsecond line');
      },
    };
    const message = await specErrorOf(editBundleSpec(dir, [...ourModifiers(), throwing]));
    expect(message).toBe(`${config}: modifier explodes failed: boom\\u000asecond line`);
    expect(readFileSync(config, 'utf8')).toBe(BIG_NUMBER_CONFIG);
    expect(listDir(dir)).toEqual(entries);
  });

  it('refuses to write what a buggy modifier produced, naming the modifier and the field', async () => {
    const { dir, config } = bundleWith(BIG_NUMBER_CONFIG);
    const buggy: SpecModifier = {
      name: 'relative-hook',
      apply: (spec) => ({ ...spec, hooks: { ...spec.hooks, prestart: [{ path: 'relative/hook' }] } }),
    };
    const message = await specErrorOf(editBundleSpec(dir, [buggy]));
    expect(message).toBe(`${config}: after modifier relative-hook: invalid hooks.prestart[0].path: must be an absolute path`);
    expect(readFileSync(config, 'utf8')).toBe(BIG_NUMBER_CONFIG);
  });

  // The disk filling up mid-write (a tmpfs mounted for it) is in integration/oci-config.test.ts.
});

describe('readBundleSpec', () => {
  it('returns the validated tree with numbers kept as LosslessNumbers', async () => {
    const { dir } = bundleWith(BIG_NUMBER_CONFIG);
    const { spec, raw } = await readBundleSpec(dir);
    expect(spec).toBe(raw);
    const memory = (spec.linux as { resources: { memory: { limit: unknown } } }).resources.memory;
    expect(isLosslessNumber(memory.limit)).toBe(true);
    expect(String(memory.limit)).toBe('9223372036854775807');
  });

  it.each([
    ['invalid JSON', '{\n\t"ociVersion": "1.0.2",\n}', /config\.json: invalid JSON at line 3 column 1: /],
    ['a schema violation', '{"ociVersion": 1}', /config\.json: invalid ociVersion: expected string, got number$/],
    ['a byte order mark', '\ufeff{"ociVersion": "1"}', /config\.json: invalid JSON at line 1 column 1: /],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), /config\.json: not valid UTF-8$/],
  ])('names the file and the problem for %s', async (_label, content, expected) => {
    const { dir, config } = bundleWith(content);
    const message = await specErrorOf(readBundleSpec(dir));
    expect(message.startsWith(config)).toBe(true);
    expect(message).toMatch(expected);
  });

  it('says so when the bundle directory is missing, is a file, or lacks config.json', async () => {
    const dir = tempDir();
    const missing = join(dir, 'nope');
    expect(await specErrorOf(readBundleSpec(missing))).toBe(`bundle directory ${missing} does not exist`);
    const file = join(dir, 'file');
    writeFileSync(file, '{}');
    expect(await specErrorOf(readBundleSpec(file))).toBe(`bundle ${file} is not a directory`);
    expect(await specErrorOf(editBundleSpec(dir, ourModifiers()))).toBe(`${join(dir, 'config.json')}: bundle has no config.json`);
    mkdirSync(join(dir, 'config.json'));
    expect(await specErrorOf(readBundleSpec(dir))).toBe(`${join(dir, 'config.json')}: not a regular file`);
  });
});

describe('writeJsonAtomic / writeFileAtomic', () => {
  it('creates a new file with the requested mode regardless of umask', async () => {
    const path = join(tempDir(), 'state.json');
    const previous = process.umask(0o077);
    try {
      await writeJsonAtomic(path, { pid: 42, big: parseJsonLossless('18446744073709551615', 'x') }, { mode: 0o644, indent: '  ' });
    } finally {
      process.umask(previous);
    }
    expect(readFileSync(path, 'utf8')).toBe('{\n  "pid": 42,\n  "big": 18446744073709551615\n}\n');
    expect(statSync(path).mode & 0o7777).toBe(0o644);
  });

  it('keeps the replaced file’s mode and owner by default', async () => {
    const path = join(tempDir(), 'state.json');
    writeFileSync(path, 'old');
    chownSync(path, 4321, 4321);
    chmodSync(path, 0o600);
    await writeJsonAtomic(path, { v: 2 });
    const after = statSync(path);
    expect([after.mode & 0o7777, after.uid, after.gid]).toEqual([0o600, 4321, 4321]);
    expect(readFileSync(path, 'utf8')).toBe('{\n\t"v": 2\n}\n');
  });

  it('removes its temp file when the final rename fails', async () => {
    const dir = tempDir();
    const target = join(dir, 'occupied');
    mkdirSync(target);
    writeFileSync(join(target, 'child'), '');
    const entries = listDir(dir);
    const message = await specErrorOf(writeFileAtomic(target, 'data'));
    expect(message).toMatch(new RegExp(`^${target}: cannot write: E(ISDIR|NOTEMPTY|EXIST)`));
    expect(listDir(dir)).toEqual(entries);
  });

  it('fails with one line when the directory does not exist', async () => {
    const path = join(tempDir(), 'missing', 'state.json');
    expect(await specErrorOf(writeJsonAtomic(path, {}))).toMatch(new RegExp(`^${path}: cannot write: ENOENT`));
  });
});

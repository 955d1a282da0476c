import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/config.js';
import { editBundleSpec } from '../../src/oci-config/bundle-config.js';
import { parseJsonLossless, stringifyJsonLossless } from '../../src/oci-config/lossless-json.js';
import { SpecError } from '../../src/oci-config/errors.js';
import { validateSpec, type OciSpec } from '../../src/oci-config/schema.js';
import { silentLogger } from '../../src/log/logger.js';
import { prepareBundle, tracingModifiers, unprepareModifier } from '../../src/prepare/prepare-bundle.js';
import { bundleSeccompOf, readSavedBundle, restoreBundleOriginal, savedBundlePath } from '../../src/prepare/bundle-original.js';
import {
  ORIGINAL_SECCOMP_ANNOTATION,
  RECORD_MODE_MODIFIER_NAME,
  RECORD_SECCOMP_ANNOTATION,
  UNCONFINED_ANNOTATION,
  permissiveRecordProfile,
  recordModeModifier,
  recordModeOf,
  undoRecordMode,
} from '../../src/prepare/record-mode.js';
const AGENT = { frontDoor: '/opt/oci-ftrace/dist/bin/oci-ftrace-runc', socket: '/run/oci-ftrace/agent.sock', config: '' };
import { BIG_NUMBER_CONFIG, deepFreeze, listDir, useTempDirs } from '../oci-config/fixtures.js';
import { X86_64_ARCHES } from './fixtures.js';

const bigSpec = (): OciSpec => deepFreeze(validateSpec(parseJsonLossless(BIG_NUMBER_CONFIG, 'fixture'), 'fixture'));
const seccompOf = (spec: OciSpec) => (spec.linux as { seccomp?: unknown } | null | undefined)?.seccomp;
const recordMode = recordModeModifier('x86_64');
const optIn = (spec: OciSpec): OciSpec => ({ ...spec, annotations: { ...(spec.annotations ?? {}), [RECORD_SECCOMP_ANNOTATION]: 'permissive' } });

describe('record mode', () => {
  it('keeps the bundle\'s own profile by default: nothing in the spec changes', () => {
    const spec = bigSpec();
    expect(recordModeOf(spec.annotations)).toBe('keep');
    expect(recordMode.apply(spec)).toBe(spec);
    const annotated = { ...spec, annotations: { ...spec.annotations, [RECORD_SECCOMP_ANNOTATION]: 'keep' } };
    expect(recordMode.apply(annotated)).toBe(annotated);
  });

  it('and adds no filter to a bundle that has none', () => {
    const spec = { ociVersion: '1.0.2' };
    expect(recordMode.apply(spec)).toBe(spec);
  });

  it('is not something our config can choose: the key is gone, and naming it is an error that says what to do instead', () => {
    expect(() => ConfigSchema.parse({ recordSeccomp: 'permissive' })).toThrow();
    expect(Object.keys(ConfigSchema.shape)).not.toContain('recordSeccomp');
  });

  it('permissive, by the container\'s own annotation: a filter that blocks nothing, on every ABI of the arch', () => {
    expect(permissiveRecordProfile('x86_64')).toEqual({ defaultAction: 'SCMP_ACT_ALLOW', architectures: X86_64_ARCHES });
    expect(permissiveRecordProfile('aarch64').architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    const next = recordMode.apply(optIn(bigSpec()));
    expect(seccompOf(next)).toEqual(permissiveRecordProfile('x86_64'));
  });

  it('permissive says so in the container\'s annotations, and keeps its profile, 64-bit values exact', () => {
    const spec = optIn(bigSpec());
    const next = recordMode.apply(spec);
    expect(next.annotations?.[UNCONFINED_ANNOTATION]).toMatch(/not enforced while traced/);
    const saved = next.annotations?.[ORIGINAL_SECCOMP_ANNOTATION] ?? '';
    expect(saved).toContain('"value":18446744073709551615');
    expect(stringifyJsonLossless(parseJsonLossless(saved, 'saved'))).toBe(stringifyJsonLossless(seccompOf(spec)));
    expect(Object.keys(next)).toEqual(Object.keys(spec));
    expect((next.linux as Record<string, unknown>).resources).toBe((spec.linux as Record<string, unknown>).resources);
  });

  it('is undone exactly by undoRecordMode (for a bundle a killed run left prepared)', () => {
    const spec = optIn(bigSpec());
    const undone = undoRecordMode(recordMode.apply(spec));
    expect(stringifyJsonLossless(undone)).toBe(stringifyJsonLossless(spec));
    const none = optIn({ ociVersion: '1', linux: { namespaces: [] } });
    expect(undoRecordMode(recordMode.apply(none))).toEqual(none);
  });

  it('is idempotent', () => {
    const once = recordMode.apply(optIn(bigSpec()));
    expect(recordMode.apply(once)).toBe(once);
  });

  it('refuses an unknown per-container mode in one line', () => {
    expect(() => recordMode.apply({ ociVersion: '1', annotations: { [RECORD_SECCOMP_ANNOTATION]: 'off' } })).toThrow(SpecError);
    expect(() => recordModeOf({ [RECORD_SECCOMP_ANNOTATION]: 'off' })).toThrow(/"off" is not one of keep, permissive/);
  });
});

describe('the prepare step leaves the bundle as found', () => {
  const tempDir = useTempDirs();
  const config = (stateDir: string) => ConfigSchema.parse({ stateDir });

  it('by default touches only the hooks, and takes out nothing of the container\'s own', () => {
    const modifiers = tracingModifiers(config('/run/x'), AGENT);
    const result = modifiers.reduce<OciSpec>((s, m) => m.apply(s), bigSpec());
    expect(seccompOf(result)).toEqual(seccompOf(bigSpec()));
    expect(result.annotations).toEqual(bigSpec().annotations);
    expect(result.hooks?.createRuntime?.filter((h) => h.args?.[0] === 'oci-ftrace-hook')).toHaveLength(1);
    expect(result.hooks?.createRuntime?.[0]).toEqual(bigSpec().hooks?.createRuntime?.[0]);
    const optedOut = { ociVersion: '1', annotations: { 'oci-ftrace/trace': 'false' } };
    expect(modifiers.reduce<OciSpec>((s, m) => m.apply(s), optedOut)).toBe(optedOut);
  });

  it('saves config.json exactly (bytes, mode, owner) before it writes, and puts it back over what it wrote', async () => {
    const dir = tempDir();
    const state = tempDir();
    const file = path.join(dir, 'config.json');
    // Not as we would write it: compact, with odd spacing, so only the saved bytes can restore it.
    const original = `${JSON.stringify(JSON.parse(BIG_NUMBER_CONFIG.replace('9223372036854775807', '1')))}  \n`.replace('"limit":1', '"limit": 9223372036854775807');
    writeFileSync(file, original, { mode: 0o640 });
    const prepared = await prepareBundle(dir, 'c1', config(state), AGENT, silentLogger());
    expect(prepared).toMatchObject({ traced: true, changed: true, recordSeccomp: 'keep' });
    expect(readFileSync(file, 'utf8')).not.toBe(original);
    const saved = readSavedBundle(state, 'c1');
    expect(saved).toBeDefined();
    const found = validateSpec(parseJsonLossless(original, 'original'), 'original');
    expect(bundleSeccompOf(saved!)).toBe(stringifyJsonLossless(seccompOf(found), '').trimEnd());
    expect(await restoreBundleOriginal(state, saved!)).toBe('restored');
    expect(readFileSync(file, 'utf8')).toBe(original);
    expect(statSync(file).mode & 0o7777).toBe(0o640);
    expect(listDir(state)).toEqual([]);
    expect(listDir(dir)).toEqual(['config.json']);
  });

  it('leaves a config.json someone changed since alone', async () => {
    const dir = tempDir();
    const state = tempDir();
    writeFileSync(path.join(dir, 'config.json'), BIG_NUMBER_CONFIG);
    await prepareBundle(dir, 'c2', config(state), AGENT, silentLogger());
    writeFileSync(path.join(dir, 'config.json'), '{"ociVersion":"theirs"}');
    expect(await restoreBundleOriginal(state, readSavedBundle(state, 'c2')!)).toBe('changed-since');
    expect(readFileSync(path.join(dir, 'config.json'), 'utf8')).toBe('{"ociVersion":"theirs"}');
    expect(readSavedBundle(state, 'c2')).toBeUndefined();
  });

  it('saves nothing for a container that is not traced', async () => {
    const dir = tempDir();
    const state = tempDir();
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ociVersion: '1', annotations: { 'oci-ftrace/trace': 'false' } }));
    expect(await prepareBundle(dir, 'c3', config(state), AGENT, silentLogger())).toMatchObject({ traced: false, changed: false });
    expect(listDir(state)).toEqual([]);
  });

  it('heals a bundle a killed run left prepared: what it puts back is the bundle without our part', async () => {
    const dir = tempDir();
    const state = tempDir();
    const file = path.join(dir, 'config.json');
    const theirs = optIn(validateSpec(parseJsonLossless(BIG_NUMBER_CONFIG, 'f'), 'f'));
    writeFileSync(file, stringifyJsonLossless(theirs));
    await prepareBundle(dir, 'c4', config(state), AGENT, silentLogger());
    const left = readFileSync(file, 'utf8');
    expect(left).toContain(UNCONFINED_ANNOTATION);
    // Killed before it could restore: the saved copy is gone with the state directory.
    await editBundleSpec(dir, []);
    const state2 = tempDir();
    await prepareBundle(dir, 'c5', config(state2), AGENT, silentLogger());
    expect(await restoreBundleOriginal(state2, readSavedBundle(state2, 'c5')!)).toBe('restored');
    expect(readFileSync(file, 'utf8')).toBe(stringifyJsonLossless(theirs));
    expect(unprepareModifier().apply(theirs)).toBe(theirs);
  });

  it('names its saved copy after the container, confined to the state directory', () => {
    expect(savedBundlePath('/run/oci-ftrace', 'abc')).toBe('/run/oci-ftrace/abc.bundle.json');
    expect(() => savedBundlePath('/run/oci-ftrace', '../x')).toThrow();
  });

  it('applies record mode in the prepare step only by the container\'s own annotation', async () => {
    const dir = tempDir();
    const state = tempDir();
    writeFileSync(path.join(dir, 'config.json'), stringifyJsonLossless(optIn(bigSpec())));
    const r = await prepareBundle(dir, 'c6', config(state), AGENT, silentLogger());
    expect(r.recordSeccomp).toBe('permissive');
    const modifiers = tracingModifiers(config(state), AGENT);
    expect(modifiers.map((m) => m.name)).toContain(RECORD_MODE_MODIFIER_NAME);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/config.js';
import { editBundleSpec } from '../../src/spec/bundle-config.js';
import { parseJsonLossless, stringifyJsonLossless } from '../../src/spec/lossless-json.js';
import { SpecError } from '../../src/spec/errors.js';
import { validateSpec, type OciSpec } from '../../src/spec/schema.js';
import { tracingModifiers } from '../../src/wrapper/prepare-bundle.js';
import {
  ORIGINAL_SECCOMP_ANNOTATION,
  RECORD_MODE_MODIFIER_NAME,
  RECORD_SECCOMP_ANNOTATION,
  describeRecordModeEdit,
  permissiveRecordProfile,
  recordModeModifier,
} from '../../src/wrapper/record-mode.js';
import { BIG_NUMBER_CONFIG, deepFreeze, listDir, useTempDirs } from '../spec/fixtures.js';
import { X86_64_ARCHES } from './fixtures.js';

const bigSpec = (): OciSpec => deepFreeze(validateSpec(parseJsonLossless(BIG_NUMBER_CONFIG, 'fixture'), 'fixture'));
const seccompOf = (spec: OciSpec) => (spec.linux as { seccomp?: unknown } | null | undefined)?.seccomp;
const permissive = recordModeModifier('permissive', 'x86_64');

describe('recordModeModifier', () => {
  it('loads a filter that blocks nothing, on every ABI of the arch', () => {
    expect(permissiveRecordProfile('x86_64')).toEqual({ defaultAction: 'SCMP_ACT_ALLOW', architectures: X86_64_ARCHES });
    expect(permissiveRecordProfile('aarch64').architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  });

  it("replaces the bundle's profile and keeps it, 64-bit values exact, in an annotation", () => {
    const spec = bigSpec();
    const next = permissive.apply(spec);
    expect(seccompOf(next)).toEqual(permissiveRecordProfile('x86_64'));
    const saved = next.annotations?.[ORIGINAL_SECCOMP_ANNOTATION] ?? '';
    expect(saved).toContain('"value":18446744073709551615');
    expect(stringifyJsonLossless(parseJsonLossless(saved, 'saved'))).toBe(stringifyJsonLossless(seccompOf(spec)));
    // Everything else as it was, keys in their order, the new annotation last.
    expect(Object.keys(next)).toEqual(Object.keys(spec));
    expect(Object.keys(next.annotations ?? {})).toEqual([...Object.keys(spec.annotations ?? {}), ORIGINAL_SECCOMP_ANNOTATION]);
    expect((next.linux as Record<string, unknown>).resources).toBe((spec.linux as Record<string, unknown>).resources);
  });

  it('adds a filter to a bundle that had none, and records that there was none', () => {
    const next = permissive.apply({ ociVersion: '1.0.2' });
    expect(seccompOf(next)).toEqual(permissiveRecordProfile('x86_64'));
    expect(next.annotations).toEqual({ [ORIGINAL_SECCOMP_ANNOTATION]: 'null' });
    expect(describeRecordModeEdit(next)).toMatchObject({ replaced: 'no profile (none in the bundle)' });
    expect(seccompOf(permissive.apply({ ociVersion: '1.0.2', linux: null }))).toEqual(permissiveRecordProfile('x86_64'));
  });

  it('is idempotent: a second create changes nothing and keeps the first original', () => {
    const once = permissive.apply(bigSpec());
    expect(permissive.apply(once)).toBe(once);
  });

  it('"keep", from the config or the container, leaves the bundle alone', () => {
    const spec = bigSpec();
    expect(recordModeModifier('keep', 'x86_64').apply(spec)).toBe(spec);
    const annotated = { ...spec, annotations: { ...spec.annotations, [RECORD_SECCOMP_ANNOTATION]: 'keep' } };
    expect(permissive.apply(annotated)).toBe(annotated);
    const forced = { ...spec, annotations: { [RECORD_SECCOMP_ANNOTATION]: 'permissive' } };
    expect(seccompOf(recordModeModifier('keep', 'x86_64').apply(forced))).toEqual(permissiveRecordProfile('x86_64'));
  });

  it('refuses an unknown per-container mode in one line', () => {
    expect(() => permissive.apply({ ociVersion: '1', annotations: { [RECORD_SECCOMP_ANNOTATION]: 'off' } })).toThrow(SpecError);
    expect(() => permissive.apply({ ociVersion: '1', annotations: { [RECORD_SECCOMP_ANNOTATION]: 'off' } })).toThrow(/"off" is not one of permissive, keep/);
  });

  it('says in the log what it replaced', () => {
    expect(describeRecordModeEdit(permissive.apply(bigSpec()))).toEqual({
      replaced: "the bundle's own profile",
      originalDefaultAction: 'SCMP_ACT_ERRNO',
      originalRules: 1,
      keptIn: `annotation ${ORIGINAL_SECCOMP_ANNOTATION}`,
    });
    expect(describeRecordModeEdit({ ociVersion: '1' })).toBeUndefined();
  });
});

describe('record mode in the prepare step', () => {
  const tempDir = useTempDirs();

  it('is one of the tracing modifiers by default, and off for opted-out containers', () => {
    const config = ConfigSchema.parse({});
    expect(config.recordSeccomp).toBe('permissive');
    const modifiers = tracingModifiers(config, {});
    expect(modifiers.map((m) => m.name)).toContain(RECORD_MODE_MODIFIER_NAME);
    const optedOut = { ociVersion: '1', annotations: { 'oci-ftrace/trace': 'false' } };
    const result = modifiers.reduce<OciSpec>((s, m) => m.apply(s), optedOut);
    expect(result).toBe(optedOut);
  });

  it('rewrites config.json atomically and losslessly, and a second prepare leaves it untouched', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'config.json');
    writeFileSync(file, BIG_NUMBER_CONFIG);
    const first = await editBundleSpec(dir, [permissive]);
    expect(first.applied).toEqual([RECORD_MODE_MODIFIER_NAME]);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('"limit": 9223372036854775807');
    expect(text).toContain('"defaultAction": "SCMP_ACT_ALLOW"');
    expect(listDir(dir)).toEqual(['config.json']);
    const second = await editBundleSpec(dir, [permissive]);
    expect(second.changed).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});

// The YAML we write, read back by a real YAML reader: the emitter on its own, and the SPO form of a
// profile against the SeccompProfile CRD. Needs python3 with PyYAML (python3-yaml), not root.
// Moved from test/profile/yaml.test.ts and test/profile/render.test.ts, which keep the pure cases.
import { execFileSync } from 'node:child_process';
import { isLosslessNumber, parse } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateProfile } from '../src/profile/generate.js';
import { recordedSyscalls } from '../src/profile/recorded.js';
import { SPO_API_VERSION, ociSeccompObject, renderProfile } from '../src/profile/render.js';
import { SECCOMP_ACTIONS, SECCOMP_OPERATORS } from '../src/profile/seccomp.js';
import { emitYaml, type YamlValue } from '../src/profile/yaml.js';
import { X86_64_ARCHES, summaryFixture } from '../test/profile/fixtures.js';

/** PyYAML's reading of `yaml`, as JSON text. */
function pyYamlLoad(yaml: string): string {
  return execFileSync('python3', ['-c', 'import json, sys, yaml; sys.stdout.write(json.dumps(yaml.safe_load(sys.stdin.read())))'], {
    input: yaml,
    encoding: 'utf8',
  });
}

// The YAML emitter, checked against a real YAML reader: PyYAML (python3-yaml), a YAML 1.1 reader,
// which is the stricter one about plain scalars (yes/no/on/off are booleans there).

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
});

const made = generateProfile({ recorded: [recordedSyscalls(summaryFixture('runc-ls-nnp'), 'fixture')] });

/** The SeccompProfile CRD's v1beta1 schema, as security-profiles-operator declares it (kubebuilder enums and types). */
const SpoArch = z.enum([
  'SCMP_ARCH_NATIVE', 'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64',
]);
const SpoResourceShape = z
  .object({
    apiVersion: z.literal('security-profiles-operator.x-k8s.io/v1beta1'),
    kind: z.literal('SeccompProfile'),
    metadata: z.object({ name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/) }).strict(),
    spec: z
      .object({
        defaultAction: z.enum(SECCOMP_ACTIONS),
        architectures: z.array(SpoArch).optional(),
        flags: z.array(z.enum(['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'])).optional(),
        syscalls: z.array(
          z
            .object({
              names: z.array(z.string()).min(1),
              action: z.enum(SECCOMP_ACTIONS),
              errnoRet: z.number().int().min(0).max(2 ** 31 - 1).optional(),
              args: z.array(z.object({ index: z.number().int().min(0), value: z.number().int().min(0).optional(), valueTwo: z.number().int().min(0).optional(), op: z.enum(SECCOMP_OPERATORS) }).strict()).max(6).optional(),
            })
            .strict(),
        ),
      })
      .strict(),
  })
  .strict();

describe('the SPO form', () => {
  it('is YAML of a SeccompProfile resource that fits the CRD, with the OCI form as its spec less defaultErrnoRet', () => {
    const yaml = renderProfile(made.profile, 'spo', { name: 'ls-root' });
    const resource = SpoResourceShape.parse(JSON.parse(pyYamlLoad(yaml)));
    expect(resource.apiVersion).toBe(SPO_API_VERSION);
    const { defaultErrnoRet, ...oci } = ociSeccompObject(made.profile);
    expect(defaultErrnoRet).toBe(1);
    expect(resource.spec).toEqual(oci);
    expect(resource.spec.architectures).toEqual(X86_64_ARCHES);
  });
});

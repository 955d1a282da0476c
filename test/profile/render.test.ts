import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateProfile } from '../../src/profile/generate.js';
import { DOCKER_DEFAULT_CAPABILITIES, parseInputProfile, resolveInputProfile } from '../../src/profile/input-profile.js';
import { recordedSyscalls } from '../../src/profile/recorded.js';
import { SPO_API_VERSION, dockerProfileObject, ociSeccompObject, renderProfile, spoNameFor, spoResourceObject } from '../../src/profile/render.js';
import { SECCOMP_ACTIONS, SECCOMP_OPERATORS, type SeccompProfile } from '../../src/profile/seccomp.js';
import { parseJsonLossless } from '../../src/spec/lossless-json.js';
import { X86_64_ARCHES, summaryFixture } from './fixtures.js';

const made = generateProfile({ recorded: [recordedSyscalls(summaryFixture('runc-ls-nnp'), 'fixture')] });
const WITH_ARGS: SeccompProfile = {
  ...made.profile,
  syscalls: [...made.profile.syscalls, { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2n ** 64n - 1n, valueTwo: 0n, op: 'SCMP_CMP_MASKED_EQ' }] }],
};
const ctx = { arch: 'x86_64' as const, capabilities: new Set(DOCKER_DEFAULT_CAPABILITIES), kernel: { kernel: 6, major: 1 } };

describe('the OCI form', () => {
  it('is a runtime-spec linux.seccomp object that reads back as the same profile', () => {
    const text = renderProfile(WITH_ARGS, 'oci', { name: 'x' });
    const tree = parseJsonLossless(text, 'oci.json') as Record<string, unknown>;
    expect(Object.keys(tree)).toEqual(['defaultAction', 'defaultErrnoRet', 'architectures', 'syscalls']);
    expect(text).toContain('"value": 18446744073709551615');
    expect(resolveInputProfile(parseInputProfile(tree, 'oci.json'), ctx)).toEqual(WITH_ARGS);
  });
});

/**
 * The structure of Docker's default profile (moby profiles/seccomp: Seccomp embeds the OCI object
 * and adds archMap; each rule may add name, comment, includes, excludes), strict, so a key Docker
 * does not know fails here.
 */
const DockerArch = z.string().regex(/^SCMP_ARCH_[A-Z0-9_]+$/);
const DockerProfileShape = z
  .object({
    defaultAction: z.enum(SECCOMP_ACTIONS),
    defaultErrnoRet: z.number().int().nonnegative().optional(),
    archMap: z.array(z.object({ architecture: DockerArch, subArchitectures: z.array(DockerArch).nullable() }).strict()).min(1),
    syscalls: z.array(
      z
        .object({
          names: z.array(z.string()).min(1),
          action: z.enum(SECCOMP_ACTIONS),
          errnoRet: z.number().int().nonnegative().optional(),
          args: z.array(z.object({ index: z.number().int(), value: z.unknown(), valueTwo: z.unknown().optional(), op: z.enum(SECCOMP_OPERATORS) }).strict()).optional(),
          comment: z.string().optional(),
          includes: z.object({}).passthrough().optional(),
          excludes: z.object({}).passthrough().optional(),
        })
        .strict(),
    ),
  })
  .strict();

describe('the Docker form', () => {
  it("has the structure of Docker's default profile: archMap, defaultErrnoRet, rules with names", () => {
    const obj = JSON.parse(renderProfile(made.profile, 'docker', { name: 'x' })) as unknown;
    const parsed = DockerProfileShape.parse(obj);
    expect(parsed.archMap).toEqual([{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }]);
    expect(parsed.defaultErrnoRet).toBe(1);
    expect(Object.keys(dockerProfileObject(made.profile))).not.toContain('architectures');
  });

  it('reads back, resolved as Docker resolves it, as the same profile', () => {
    const tree = parseJsonLossless(renderProfile(WITH_ARGS, 'docker', { name: 'x' }), 'docker.json');
    expect(resolveInputProfile(parseInputProfile(tree, 'docker.json'), ctx)).toEqual(WITH_ARGS);
  });
});

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

function pyYamlLoad(yaml: string): unknown {
  return JSON.parse(execFileSync('python3', ['-c', 'import json, sys, yaml; sys.stdout.write(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: yaml, encoding: 'utf8' }));
}

describe('the SPO form', () => {
  it('is YAML of a SeccompProfile resource that fits the CRD, with the OCI form as its spec less defaultErrnoRet', () => {
    const yaml = renderProfile(made.profile, 'spo', { name: 'ls-root' });
    const resource = SpoResourceShape.parse(pyYamlLoad(yaml));
    expect(resource.apiVersion).toBe(SPO_API_VERSION);
    const { defaultErrnoRet, ...oci } = ociSeccompObject(made.profile);
    expect(defaultErrnoRet).toBe(1);
    expect(resource.spec).toEqual(oci);
    expect(resource.spec.architectures).toEqual(X86_64_ARCHES);
  });

  it('refuses what the CRD cannot hold, in one line', () => {
    expect(() => spoResourceObject(made.profile, 'Not_A_Name')).toThrow(/"Not_A_Name" is not a valid Kubernetes name/);
    expect(() => spoResourceObject({ ...made.profile, defaultErrnoRet: 38 }, 'x')).toThrow(/cannot carry defaultErrnoRet 38/);
    expect(() => spoResourceObject(WITH_ARGS, 'x')).toThrow(/personality: argument value above 2\^63-1/);
  });

  it('names the resource after the container id, as Kubernetes allows', () => {
    expect(spoNameFor('My_Container.1')).toBe('my-container.1');
    expect(spoNameFor('-abc-')).toBe('abc');
    expect(spoNameFor('___')).toBe('oci-ftrace-profile');
    expect(spoNameFor('a'.repeat(300))).toHaveLength(253);
  });
});

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateProfile } from '../../src/profile/generate.js';
import { DOCKER_DEFAULT_CAPABILITIES, parseInputProfile, resolveInputProfile } from '../../src/profile/input-profile.js';
import { recordedSyscalls } from '../../src/profile/recorded.js';
import { dockerProfileObject, renderProfile, spoNameFor, spoResourceObject } from '../../src/profile/render.js';
import { SECCOMP_ACTIONS, SECCOMP_OPERATORS, type SeccompProfile } from '../../src/profile/seccomp.js';
import { parseJsonLossless } from '../../src/oci-config/lossless-json.js';
import { summaryFixture } from './fixtures.js';

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

// That the SPO form is YAML fitting the SeccompProfile CRD, read back by PyYAML, is checked in
// integration/yaml-readers.test.ts.
describe('the SPO form', () => {
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

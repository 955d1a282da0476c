import { describe, expect, it } from 'vitest';
import { DOCKER_DEFAULT_CAPABILITIES, parseInputProfile, parseKernelRelease, resolveInputProfile, type ResolveContext } from '../../src/profile/input-profile.js';
import { parseJsonLossless } from '../../src/oci-config/lossless-json.js';
import { BIG_NUMBER_CONFIG } from '../oci-config/fixtures.js';
import { X86_64_ARCHES } from './fixtures.js';

const ctx = (over: Partial<ResolveContext> = {}): ResolveContext => ({
  arch: 'x86_64',
  capabilities: new Set(DOCKER_DEFAULT_CAPABILITIES),
  kernel: { kernel: 6, major: 1 },
  ...over,
});

/** A Docker-form profile in the shape of moby's default: archMap, conditional rules, comments. */
const DOCKER_FORM = `{
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 1,
  "archMap": [
    { "architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
    { "architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"] },
    { "architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null }
  ],
  "syscalls": [
    { "names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "always" },
    { "name": "uname", "action": "SCMP_ACT_ALLOW" },
    { "names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["amd64", "x32"] } },
    { "names": ["sync_file_range2"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["arm64"] } },
    { "names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": { "caps": ["CAP_SYS_ADMIN"] } },
    { "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": { "caps": ["CAP_SYS_ADMIN"] } },
    { "names": ["newer"], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "6.2" } },
    { "names": ["older"], "action": "SCMP_ACT_ALLOW", "excludes": { "minKernel": "6.2" } }
  ]
}`;

const parseText = (text: string, source = 'p.json') => parseInputProfile(parseJsonLossless(text, source), source);
const names = (p: ReturnType<typeof resolveInputProfile>) => p.syscalls.flatMap((r) => r.names);

describe('resolveInputProfile of a Docker profile, as Docker resolves it', () => {
  const docker = parseText(DOCKER_FORM);

  it('expands the archMap entry of the native architecture', () => {
    expect(resolveInputProfile(docker, ctx()).architectures).toEqual(X86_64_ARCHES);
    expect(resolveInputProfile(docker, ctx({ arch: 'aarch64' })).architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  });

  it('keeps rules by arch, capabilities and kernel, and turns `name` into `names`', () => {
    expect(names(resolveInputProfile(docker, ctx()))).toEqual(['read', 'write', 'uname', 'arch_prctl', 'clone3', 'older']);
    expect(names(resolveInputProfile(docker, ctx({ arch: 'aarch64' })))).toEqual(['read', 'write', 'uname', 'sync_file_range2', 'clone3', 'older']);
    const admin = ctx({ capabilities: new Set([...DOCKER_DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']), kernel: { kernel: 6, major: 18 } });
    expect(names(resolveInputProfile(docker, admin))).toEqual(['read', 'write', 'uname', 'arch_prctl', 'mount', 'newer']);
  });

  it('keeps actions, errno values and the default errno; drops comments', () => {
    const p = resolveInputProfile(docker, ctx());
    expect(p.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(p.defaultErrnoRet).toBe(1);
    expect(p.syscalls.find((r) => r.names.includes('clone3'))).toEqual({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
    expect(p.syscalls[0]).toEqual({ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' });
  });
});

describe('parseInputProfile', () => {
  it('takes linux.seccomp out of a config.json and keeps 64-bit argument values exact', () => {
    const p = resolveInputProfile(parseText(BIG_NUMBER_CONFIG, 'config.json'), ctx());
    expect(p.syscalls).toEqual([
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 18446744073709551615n, valueTwo: 18446744073709551614n, op: 'SCMP_CMP_MASKED_EQ' }] },
    ]);
  });

  it.each([
    ['{"defaultAction":"SCMP_ACT_ALLOW","syscals":[]}', /p\.json: invalid \(root\): Unrecognized key\(s\) in object: 'syscals'/],
    ['{"defaultAction":"SCMP_ACT_MAYBE"}', /p\.json: invalid defaultAction: Invalid enum value/],
    ['{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}', /invalid syscalls\[0\]\.args\[0\]\.index: index must be an integer from 0 to 5/],
    ['{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":18446744073709551616,"op":"SCMP_CMP_EQ"}]}]}', /args\[0\]\.value: must be an integer from 0 to 2\^64-1/],
    ['{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}', /'architectures' and 'archMap' are both set/],
    ['{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}', /syscalls\[0\] has both 'name' and 'names'/],
    ['{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[],"action":"SCMP_ACT_ALLOW"}]}', /a rule needs names/],
    ['{"ociVersion":"1.0.2","linux":{}}', /config\.json has no linux\.seccomp/],
    ['{"hello":1}', /not a seccomp profile/],
  ])('refuses %s in one line', (text, message) => {
    let error: Error | undefined;
    try {
      parseText(text);
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain('\n');
  });
});

describe('parseKernelRelease', () => {
  it('reads kernel and major revision as Docker does', () => {
    expect(parseKernelRelease('6.18.44-fc-v657')).toEqual({ kernel: 6, major: 18 });
    expect(parseKernelRelease('3.12-1-amd64')).toEqual({ kernel: 3, major: 12 });
    expect(() => parseKernelRelease('unknown')).toThrow(/cannot read a kernel version/);
  });
});

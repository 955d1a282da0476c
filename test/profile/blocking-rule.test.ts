import { describe, expect, it } from 'vitest';
import { describeBlockingRule } from '../../src/profile/blocking-rule.js';
import type { SeccompProfile } from '../../src/profile/seccomp.js';
import { errnoName } from '../../src/syscalls/index.js';

const seen = (errnos: Record<number, number>, killed = 0) => ({ errnos: new Map(Object.entries(errnos).map(([k, v]) => [Number(k), v])), killed });

const profile: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  architectures: ['SCMP_ARCH_X86_64'],
  syscalls: [
    { names: ['read', 'write', 'clone'], action: 'SCMP_ACT_ALLOW' },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0n, op: 'SCMP_CMP_EQ' }] },
    { names: ['ptrace'], action: 'SCMP_ACT_KILL' },
  ],
};

describe('describeBlockingRule', () => {
  it('names the rule that stops a call outright', () => {
    expect(describeBlockingRule(profile, 'clone3', seen({ 38: 2 }), errnoName)).toBe('rule 1 (clone3: SCMP_ACT_ERRNO ENOSYS)');
    expect(describeBlockingRule(profile, 'ptrace', seen({}, 1), errnoName)).toBe('rule 3 (ptrace: SCMP_ACT_KILL)');
  });

  it('names the default action for a call no rule names', () => {
    expect(describeBlockingRule(profile, 'keyctl', seen({ 1: 1 }), errnoName)).toBe('defaultAction SCMP_ACT_ERRNO EPERM');
  });

  it('names the default for arguments that no rule allows', () => {
    expect(describeBlockingRule(profile, 'personality', seen({ 1: 1 }), errnoName)).toBe('defaultAction SCMP_ACT_ERRNO EPERM (for arguments no rule allows)');
  });

  it('is undefined for a call the profile allows outright (something else stopped it)', () => {
    expect(describeBlockingRule(profile, 'read', seen({ 1: 1 }), errnoName)).toBeUndefined();
    expect(describeBlockingRule({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [], syscalls: [] }, 'mkdir', seen({ 1: 1 }), errnoName)).toBeUndefined();
  });

  it('lets the answer pick among rules that depend on arguments', () => {
    const p: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: [],
      syscalls: [
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 40n, op: 'SCMP_CMP_EQ' }] },
        { names: ['socket'], action: 'SCMP_ACT_KILL', args: [{ index: 0, value: 16n, op: 'SCMP_CMP_EQ' }] },
      ],
    };
    expect(describeBlockingRule(p, 'socket', seen({ 97: 1 }), errnoName)).toBe('rule 0 (socket: SCMP_ACT_ERRNO EAFNOSUPPORT, for some arguments)');
    expect(describeBlockingRule(p, 'socket', seen({}, 1), errnoName)).toBe('rule 1 (socket: SCMP_ACT_KILL, for some arguments)');
  });
});

import { describe, expect, it } from 'vitest';
import { diffSyscalls, isSameSyscalls, renderDiffText, syscallsAllowedBy, type SyscallSet } from '../../src/profile/diff.js';
import type { SeccompProfile } from '../../src/profile/seccomp.js';
import { allSyscallNames } from '../../src/syscalls/index.js';

const set = (source: string, names: string[], conditional: string[] = []): SyscallSet => ({ source, kind: 'profile', names: new Set(names), conditional: new Set(conditional) });
const eq0 = [{ index: 0, value: 0n, op: 'SCMP_CMP_EQ' as const }];

describe('syscallsAllowedBy', () => {
  it('deny by default: what rules allow, argument-only allows marked, blocks win', () => {
    const p: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: [],
      syscalls: [
        { names: ['read', 'write', 'uname'], action: 'SCMP_ACT_ALLOW' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: eq0 },
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', args: eq0 },
        { names: ['uname'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
        { names: ['getpid'], action: 'SCMP_ACT_LOG' },
      ],
    };
    const r = syscallsAllowedBy(p, 'x86_64');
    expect([...r.names].sort()).toEqual(['getpid', 'personality', 'read', 'write']);
    expect([...r.conditional]).toEqual(['personality']);
  });

  it('allow by default: every syscall of the arch but those blocked outright; argument blocks marked', () => {
    const p: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: [],
      syscalls: [
        { names: ['mount', 'ptrace'], action: 'SCMP_ACT_ERRNO' },
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', args: eq0 },
      ],
    };
    const r = syscallsAllowedBy(p, 'x86_64');
    expect(r.names.size).toBe(allSyscallNames('x86_64').length - 2);
    expect(r.names.has('mount')).toBe(false);
    expect(r.names.has('socket')).toBe(true);
    expect([...r.conditional]).toEqual(['socket']);
  });
});

describe('diffSyscalls', () => {
  it('lists what each side has that the other lacks, and shared argument-only allows', () => {
    const d = diffSyscalls(set('a', ['read', 'write', 'personality'], ['personality']), set('b', ['write', 'uname', 'personality']));
    expect(d).toEqual({ a: { source: 'a', only: ['read'] }, b: { source: 'b', only: ['uname'] }, common: 2, conditional: ['personality'] });
    expect(isSameSyscalls(d)).toBe(false);
    expect(renderDiffText(d)).toBe('only in a: read\nonly in b: uname\nin both, allowed only for some arguments: personality\nin both: 2\n');
  });

  it('is empty both ways for equal sets', () => {
    const d = diffSyscalls(set('a', ['read']), set('b', ['read']));
    expect(isSameSyscalls(d)).toBe(true);
    expect(renderDiffText(d)).toBe('only in a: (none)\nonly in b: (none)\nin both: 1\n');
  });
});

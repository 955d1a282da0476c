import { describe, expect, it } from 'vitest';
import { RUNTIME_ASYNC_SYSCALLS, generateProfile, type ProfileInput } from '../../src/profile/generate.js';
import { ProfileError } from '../../src/profile/input-profile.js';
import { recordedSyscalls } from '../../src/profile/recorded.js';
import type { SeccompProfile, SeccompRule } from '../../src/profile/seccomp.js';
import { syscallsSinceProfileStart } from '../../src/report/summary.js';
import { X86_64_ARCHES, summaryFixture, syntheticSummary } from './fixtures.js';

const allowedBy = (p: SeccompProfile): string[] => p.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names);
const rulesFor = (p: SeccompProfile, name: string): SeccompRule[] => p.syscalls.filter((r) => r.names.includes(name));
const recorded = (names: string[], before: string[] = []) => recordedSyscalls(syntheticSummary(names, { before }), 'synthetic');
const input = (profile: SeccompProfile, source = 'input.json'): ProfileInput => ({ source, profile });

describe('generateProfile from a real recording (runc, `ls /`)', () => {
  const summary = summaryFixture('runc-ls-nnp');
  const made = generateProfile({ recorded: [recordedSyscalls(summary, 'fixture')] });

  it('denies by default with EPERM, on every ABI of the architecture', () => {
    expect(made.profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(made.profile.defaultErrnoRet).toBe(1);
    expect(made.profile.architectures).toEqual(X86_64_ARCHES);
    expect(made.arch).toBe('x86_64');
    expect(made.containerIds).toEqual([summary.containerId]);
  });

  it('allows what the container did from the load on, plus what runc may do then that a recording can miss', () => {
    const since = syscallsSinceProfileStart(summary);
    const expected = [...new Set([...since, ...RUNTIME_ASYNC_SYSCALLS.runc])].sort();
    expect(allowedBy(made.profile)).toEqual(expected);
    expect(made.runtimeAdded).toEqual(RUNTIME_ASYNC_SYSCALLS.runc.filter((n) => !since.includes(n)).sort());
  });

  it("leaves out the runtime's setup before the load, which the trace has", () => {
    for (const name of ['mount', 'pivot_root', 'umount2', 'sethostname']) {
      expect(summary.syscalls[name], `${name} traced`).toBeDefined();
      expect(allowedBy(made.profile)).not.toContain(name);
    }
  });

  it('answers clone3 with ENOSYS, since it was not recorded', () => {
    expect(allowedBy(made.profile)).not.toContain('clone3');
    expect(made.clone3Enosys).toBe(true);
    expect(rulesFor(made.profile, 'clone3')).toEqual([{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
  });
});

describe('generateProfile', () => {
  it('is the union of several reports', () => {
    const runc = recordedSyscalls(summaryFixture('runc-ls-no-nnp'), 'runc');
    const crun = recordedSyscalls(summaryFixture('crun-ls-no-nnp'), 'crun');
    const made = generateProfile({ recorded: [runc, crun], runtimes: [] });
    expect(allowedBy(made.profile)).toEqual([...new Set([...runc.syscalls, ...crun.syscalls])].sort());
    // What crun does after its load with NoNewPrivileges off, and runc does not.
    expect(crun.syscalls.filter((n) => !runc.syscalls.includes(n)).length).toBeGreaterThan(0);
  });

  it('adds nothing for crun, whose code after the load follows its program order', () => {
    const made = generateProfile({ recorded: [recorded(['execve', 'close'])], runtimes: ['crun'] });
    expect(allowedBy(made.profile)).toEqual(['close', 'execve']);
    expect(made.runtimeAdded).toEqual([]);
  });

  it('allows clone3 when recorded, with no ENOSYS rule', () => {
    const made = generateProfile({ recorded: [recorded(['clone3', 'execve'])], runtimes: [] });
    expect(allowedBy(made.profile)).toEqual(['clone3', 'execve']);
    expect(made.clone3Enosys).toBe(false);
    expect(rulesFor(made.profile, 'clone3')).toEqual([{ names: ['clone3', 'execve'], action: 'SCMP_ACT_ALLOW' }]);
  });

  it('refuses reports from two architectures', () => {
    const a = recorded(['execve']);
    expect(() => generateProfile({ recorded: [a, { ...a, arch: 'aarch64', source: 'arm' }] })).toThrow(/one profile covers one architecture/);
  });

  it('refuses to make a profile from nothing', () => {
    expect(() => generateProfile({ recorded: [] })).toThrow(ProfileError);
  });
});

describe('generateProfile with input profiles', () => {
  const denyAllBut = (names: string[], extra: SeccompRule[] = [], defaultAction: SeccompProfile['defaultAction'] = 'SCMP_ACT_ERRNO'): SeccompProfile => ({
    defaultAction,
    architectures: X86_64_ARCHES,
    syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }, ...extra],
  });
  const base = ['execve', 'write', 'exit_group', 'uname', 'getrandom'];

  it('keeps an explicit block of a recorded syscall, with its errno', () => {
    const made = generateProfile({
      recorded: [recorded(base)],
      inputs: [input({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [], syscalls: [{ names: ['getrandom'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }] })],
      runtimes: [],
    });
    expect(allowedBy(made.profile)).toEqual(['execve', 'exit_group', 'uname', 'write']);
    expect(rulesFor(made.profile, 'getrandom')).toEqual([{ names: ['getrandom'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
    expect(made.constrained).toEqual([{ name: 'getrandom', source: 'input.json' }]);
  });

  it("keeps a recorded syscall blocked that the input's default blocks; EPERM needs no rule of its own", () => {
    const made = generateProfile({ recorded: [recorded(base)], inputs: [input(denyAllBut(['execve', 'write', 'exit_group', 'getrandom']))], runtimes: [] });
    expect(allowedBy(made.profile)).toEqual(['execve', 'exit_group', 'getrandom', 'write']);
    expect(rulesFor(made.profile, 'uname')).toEqual([]);
  });

  it("writes the input's own default action for a syscall it blocks with another action", () => {
    const made = generateProfile({ recorded: [recorded(base)], inputs: [input(denyAllBut(['execve', 'write', 'exit_group', 'getrandom'], [], 'SCMP_ACT_KILL_PROCESS'))], runtimes: [] });
    expect(rulesFor(made.profile, 'uname')).toEqual([{ names: ['uname'], action: 'SCMP_ACT_KILL_PROCESS' }]);
  });

  it('keeps argument rules of a recorded syscall, exactly', () => {
    const personality: SeccompRule = { names: ['personality', 'uname'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2n ** 64n - 1n, valueTwo: 8n, op: 'SCMP_CMP_MASKED_EQ' }] };
    const made = generateProfile({ recorded: [recorded(base)], inputs: [input(denyAllBut(['execve', 'write', 'exit_group', 'getrandom'], [personality]))], runtimes: [] });
    expect(rulesFor(made.profile, 'uname')).toEqual([{ ...personality, names: ['uname'] }]);
    // personality was not recorded: the input's rule for it is not carried over.
    expect(rulesFor(made.profile, 'personality')).toEqual([]);
  });

  it('allows nothing the input allows but the container did not do', () => {
    const made = generateProfile({ recorded: [recorded(['execve'])], inputs: [input(denyAllBut(['execve', 'mount', 'ptrace']))], runtimes: [] });
    expect(allowedBy(made.profile)).toEqual(['execve']);
  });

  it('refuses argument blocks under an allowing default: a deny-by-default profile cannot say "all but these arguments"', () => {
    const inp = input({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [], syscalls: [{ names: ['uname'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1n, op: 'SCMP_CMP_EQ' }] }] });
    expect(() => generateProfile({ recorded: [recorded(base)], inputs: [inp], runtimes: [] })).toThrow(/uname is blocked only for some arguments/);
  });

  it("answers clone3 with ENOSYS when the input blocks it only by default, and keeps the input's rule when it has one", () => {
    const byDefault = generateProfile({ recorded: [recorded(['clone3', 'execve'])], inputs: [input(denyAllBut(['execve']))], runtimes: [] });
    expect(rulesFor(byDefault.profile, 'clone3')).toEqual([{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
    const explicit = generateProfile({
      recorded: [recorded(['clone3', 'execve'])],
      inputs: [input(denyAllBut(['execve'], [{ names: ['clone3'], action: 'SCMP_ACT_KILL_THREAD' }]))],
      runtimes: [],
    });
    expect(rulesFor(explicit.profile, 'clone3')).toEqual([{ names: ['clone3'], action: 'SCMP_ACT_KILL_THREAD' }]);
    expect(explicit.clone3Enosys).toBe(false);
  });

  it('applies input constraints to the runtime additions too', () => {
    const made = generateProfile({ recorded: [recorded(['execve'])], inputs: [input(denyAllBut(['execve', 'futex']))], runtimes: ['runc'] });
    expect(allowedBy(made.profile)).toEqual(['execve', 'futex']);
  });

  it('with several inputs, the first that blocks outright wins, and differing argument rules are refused', () => {
    const blockUname = input({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [], syscalls: [{ names: ['uname'], action: 'SCMP_ACT_TRAP' }] }, 'a.json');
    const argsUname = (value: bigint, source: string) =>
      input(denyAllBut(['execve'], [{ names: ['uname'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op: 'SCMP_CMP_NE' }] }]), source);
    const blocked = generateProfile({ recorded: [recorded(['uname', 'execve'])], inputs: [argsUname(1n, 'b.json'), blockUname], runtimes: [] });
    expect(rulesFor(blocked.profile, 'uname')).toEqual([{ names: ['uname'], action: 'SCMP_ACT_TRAP' }]);
    const same = generateProfile({ recorded: [recorded(['uname', 'execve'])], inputs: [argsUname(1n, 'b.json'), argsUname(1n, 'c.json')], runtimes: [] });
    expect(rulesFor(same.profile, 'uname')).toHaveLength(1);
    expect(() => generateProfile({ recorded: [recorded(['uname', 'execve'])], inputs: [argsUname(1n, 'b.json'), argsUname(2n, 'c.json')], runtimes: [] })).toThrow(
      /b\.json and c\.json restrict uname by different argument rules/,
    );
  });
});

describe('recordedSyscalls', () => {
  it('refuses a report without a traced filter load', () => {
    const s = summaryFixture('runc-ls-nnp');
    expect(() => recordedSyscalls({ ...s, profileStart: { kind: 'first-exec', timestamp: 1, pid: 1 } }, 'r.json')).toThrow(/no seccomp filter load was traced \(start: first-exec\)/);
  });

  it('refuses a trace that lost events, unless told to accept it', () => {
    const s = summaryFixture('runc-ls-nnp');
    const lossy = { ...s, loss: { ...s.loss, lost: 3, overrun: 3 } };
    expect(() => recordedSyscalls(lossy, 'r.json')).toThrow(/lost 3 events.*larger bufferKbPerContainer.*--allow-lost-events/);
    expect(recordedSyscalls(lossy, 'r.json', { allowLostEvents: true }).syscalls).toEqual(syscallsSinceProfileStart(s));
  });

  it('refuses syscalls the table cannot name', () => {
    expect(() => recordedSyscalls(syntheticSummary(['execve', 'syscall_470']), 'r.json')).toThrow(/without a name in the x86_64 table: syscall_470/);
  });
});

describe('calls the container\'s own profile stopped (recorded with it kept)', () => {
  const own: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: X86_64_ARCHES,
    syscalls: [
      { names: ['getrandom'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      { names: ['ptrace'], action: 'SCMP_ACT_KILL' },
      { names: ['keyctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ],
  };
  const withBlocked = (blocked: string[]) => ({ ...recorded(['read', 'write']), blocked });

  it('stay stopped as that profile stops them: its errno, its kill; ours denies the rest by default', () => {
    const made = generateProfile({ recorded: [withBlocked(['getrandom', 'keyctl', 'ptrace'])], inputs: [input(own, 'seccomp.original.json')] });
    expect(rulesFor(made.profile, 'getrandom')).toEqual([{ names: ['getrandom'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
    expect(rulesFor(made.profile, 'ptrace')).toEqual([{ names: ['ptrace'], action: 'SCMP_ACT_KILL' }]);
    // EPERM is our default answer anyway: no rule needed.
    expect(rulesFor(made.profile, 'keyctl')).toEqual([]);
    expect(allowedBy(made.profile)).not.toEqual(expect.arrayContaining(['getrandom', 'keyctl', 'ptrace']));
    expect(made.constrained.map((c) => c.name).sort()).toEqual(['getrandom', 'keyctl', 'ptrace']);
  });

  it('are denied by our default when no input says how they were stopped', () => {
    const made = generateProfile({ recorded: [withBlocked(['getrandom'])] });
    expect(rulesFor(made.profile, 'getrandom')).toEqual([]);
    expect(allowedBy(made.profile)).not.toContain('getrandom');
  });

  it('a blocked clone3 keeps the answer the container got', () => {
    const made = generateProfile({ recorded: [withBlocked(['clone3'])], inputs: [input({ ...own, syscalls: [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }] })] });
    expect(rulesFor(made.profile, 'clone3')).toEqual([{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
    expect(made.clone3Enosys).toBe(false);
  });
});

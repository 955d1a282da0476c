import { machine } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  allSyscallNames,
  ARCHES,
  archFromNodeArch,
  forkSyscallNumbers,
  hostArch,
  isArch,
  seccompArchitectures,
  syscallName,
  syscallNumber,
  type Arch,
} from '../../src/syscalls/index.js';
import { aarch64Syscalls } from '../../src/syscalls/tables/aarch64.js';
import { x86_64Syscalls } from '../../src/syscalls/tables/x86_64.js';

const TABLES: Record<Arch, Readonly<Record<string, number>>> = { x86_64: x86_64Syscalls, aarch64: aarch64Syscalls };

describe.each(ARCHES)('%s lookups', (arch) => {
  const table = TABLES[arch];

  it('round-trips every name through its number', () => {
    for (const name of allSyscallNames(arch)) {
      const nr = syscallNumber(name, arch);
      expect(nr, name).toBe(table[name]);
      expect(syscallName(nr as number, arch)).toBe(name);
    }
  });

  it('lists every table name once, alphabetically', () => {
    const names = allSyscallNames(arch);
    expect([...names].sort()).toEqual(Object.keys(table).sort());
    expect(names).toEqual([...names].sort());
  });

  it('names numbers outside the table syscall_<nr> without throwing', () => {
    const beyond = Math.max(...Object.values(table)) + 1;
    expect(syscallName(beyond, arch)).toBe(`syscall_${beyond}`);
    expect(syscallName(-1, arch)).toBe('syscall_-1');
    expect(syscallName(Number.NaN, arch)).toBe('syscall_NaN');
  });

  it('knows no names outside the table, prototype keys included', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'syscalls', 'not_a_syscall']) {
      expect(syscallNumber(name, arch), name).toBeUndefined();
    }
  });
});

describe('forkSyscallNumbers', () => {
  it('gives the task-creating syscalls each arch has (asm-generic has no fork or vfork)', () => {
    const names = (arch: Arch) => [...forkSyscallNumbers(arch)].map((nr) => syscallName(nr, arch)).sort();
    expect(names('x86_64')).toEqual(['clone', 'clone3', 'fork', 'vfork']);
    expect(names('aarch64')).toEqual(['clone', 'clone3']);
  });
});

describe('architectures', () => {
  it('map Node.js arch names and reject others in one line', () => {
    expect(archFromNodeArch('x64')).toBe('x86_64');
    expect(archFromNodeArch('arm64')).toBe('aarch64');
    for (const other of ['ia32', 'arm', 'riscv64', '']) {
      expect(() => archFromNodeArch(other)).toThrow(/^unsupported architecture "[^"\n]*": [^\n]+$/);
    }
  });

  it('give the host architecture as uname -m reports it', () => {
    // os.machine() is uname(2)'s machine field, the one `uname -m` prints, read without running uname.
    const host = machine();
    if (isArch(host)) expect(hostArch()).toBe(host);
    else expect(() => hostArch()).toThrow(/unsupported architecture/);
  });

  it('reject a value that is not an Arch instead of reading the prototype', () => {
    const bogus = 'constructor' as Arch;
    expect(() => syscallName(0, bogus)).toThrow(/^unsupported architecture "constructor"/);
    expect(() => seccompArchitectures(bogus)).toThrow(/^unsupported architecture "constructor"/);
  });

  it('give seccomp architectures with the native one first and none shared between arches', () => {
    const [x86, arm] = [seccompArchitectures('x86_64'), seccompArchitectures('aarch64')];
    expect(x86[0]).toBe('SCMP_ARCH_X86_64');
    expect(arm[0]).toBe('SCMP_ARCH_AARCH64');
    expect(x86.filter((name) => arm.includes(name))).toEqual([]);
    expect(Object.isFrozen(x86) && Object.isFrozen(arm)).toBe(true);
  });
});

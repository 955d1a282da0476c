import { describe, expect, it } from 'vitest';
import { aarch64Syscalls } from '../../src/syscalls/tables/aarch64.js';
import { kernelInternalErrnos, uapiErrnoAliases, uapiErrnos } from '../../src/syscalls/tables/errno.js';
import { x86_64Syscalls } from '../../src/syscalls/tables/x86_64.js';

const TABLES = [
  ['x86_64', x86_64Syscalls],
  ['aarch64', aarch64Syscalls],
] as const;

describe.each(TABLES)('%s syscall table', (_arch, table) => {
  const entries = Object.entries(table);

  it('has lower-case C identifiers as names', () => {
    const bad = entries.filter(([name]) => !/^[a-z_][a-z0-9_]*$/.test(name));
    expect(bad).toEqual([]);
  });

  it('has unique non-negative integer numbers in ascending order', () => {
    const numbers = entries.map(([, nr]) => nr);
    expect(numbers.every((nr) => Number.isInteger(nr) && nr >= 0)).toBe(true);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
  });

  it('leaves out the table bounds that are not syscalls', () => {
    expect(Object.keys(table)).not.toContain('syscalls');
    expect(Object.keys(table)).not.toContain('arch_specific_syscall');
  });

  it('is frozen', () => {
    expect(Object.isFrozen(table)).toBe(true);
  });
});

describe('known numbers (syscall(2), the kernel syscall tables)', () => {
  it.each([
    ['read', 0],
    ['fstat', 5],
    ['execve', 59],
    ['uname', 63],
    ['openat', 257],
    ['newfstatat', 262],
    ['clone3', 435],
  ])('x86_64 %s is %i', (name, nr) => {
    expect(x86_64Syscalls[name]).toBe(nr);
  });

  it.each([
    ['openat', 56],
    ['getdents64', 61],
    ['newfstatat', 79],
    ['fstat', 80],
    ['uname', 160],
    ['execve', 221],
    ['clone3', 435],
  ])('aarch64 %s is %i', (name, nr) => {
    expect(aarch64Syscalls[name]).toBe(nr);
  });
});

describe('aarch64 resolves asm-generic the way arm64 builds it', () => {
  it('has the __ARCH_WANT_* entries arm64 asks for and none of the 32-bit names', () => {
    // arch/arm64/include/uapi/asm/unistd.h wants RENAMEAT, SET_GET_RLIMIT, SYS_CLONE3, MEMFD_SECRET.
    for (const name of ['renameat', 'getrlimit', 'setrlimit', 'clone3', 'memfd_secret']) {
      expect(aarch64Syscalls, name).toHaveProperty(name);
    }
    // 64-bit: __NR3264_* resolve to the plain names, never the *64 ones.
    for (const name of ['fstatat64', 'fcntl64', 'statfs64', 'mmap2', 'llseek', 'sync_file_range2']) {
      expect(aarch64Syscalls, name).not.toHaveProperty(name);
    }
    // asm-generic never had the legacy path calls.
    for (const name of ['open', 'stat', 'fork']) {
      expect(aarch64Syscalls, name).not.toHaveProperty(name);
    }
  });
});

describe('errno tables', () => {
  it('have E-names, unique positive numbers in ascending order and a description each', () => {
    for (const list of [uapiErrnos, kernelInternalErrnos]) {
      const numbers = list.map((e) => e.errno);
      expect(list.every((e) => /^E[A-Z0-9_]+$/.test(e.name) && e.description.length > 0)).toBe(true);
      expect(numbers.every((n) => Number.isInteger(n) && n > 0)).toBe(true);
      expect(new Set(numbers).size).toBe(numbers.length);
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    }
  });

  it('keep kernel-internal errnos apart from the UAPI ones and inside the error range', () => {
    const uapiNumbers = new Set(uapiErrnos.map((e) => e.errno));
    expect(kernelInternalErrnos.filter((e) => uapiNumbers.has(e.errno))).toEqual([]);
    // include/linux/err.h: -1..-4095 is the error range of a syscall return.
    expect(kernelInternalErrnos.every((e) => e.errno <= 4095)).toBe(true);
  });

  it('map each alias to a primary name that is not itself an alias', () => {
    const primary = new Set(uapiErrnos.map((e) => e.name));
    for (const [alias, name] of Object.entries(uapiErrnoAliases)) {
      expect(primary.has(name), `${alias} -> ${name}`).toBe(true);
      expect(primary.has(alias), alias).toBe(false);
    }
  });

  it('are frozen', () => {
    expect(Object.isFrozen(uapiErrnos) && Object.isFrozen(kernelInternalErrnos)).toBe(true);
    expect(uapiErrnos.every((e) => Object.isFrozen(e))).toBe(true);
  });
});

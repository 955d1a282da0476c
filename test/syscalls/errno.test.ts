import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { describeReturn, errnoDescription, errnoName, errnoNumber } from '../../src/syscalls/index.js';
import { kernelInternalErrnos, uapiErrnoAliases, uapiErrnos } from '../../src/syscalls/tables/errno.js';

const ALL_ERRNOS = [...uapiErrnos, ...kernelInternalErrnos];

describe('errno lookups', () => {
  it('agree with the errno numbers Node.js was built with', () => {
    // Node's table comes from the C library it was compiled against, not from our headers.
    const nodeErrnos = Object.entries(constants.errno);
    expect(nodeErrnos.length).toBeGreaterThan(0);
    for (const [name, errno] of nodeErrnos) {
      expect(errnoName(errno), `${name}=${errno} has a name`).toBeDefined();
      const ours = errnoNumber(name);
      // glibc adds names the kernel does not have (ENOTSUP); those must still share a number with one of ours.
      if (ours !== undefined) expect(ours, name).toBe(errno);
    }
  });

  it('name and describe every table entry', () => {
    for (const entry of ALL_ERRNOS) {
      expect(errnoName(entry.errno)).toBe(entry.name);
      expect(errnoDescription(entry.errno)).toBe(entry.description);
      expect(errnoNumber(entry.name)).toBe(entry.errno);
    }
  });

  it('resolve aliases to the primary number but name numbers by the primary name', () => {
    for (const [alias, primary] of Object.entries(uapiErrnoAliases)) {
      const errno = errnoNumber(alias);
      expect(errno, alias).toBe(errnoNumber(primary));
      expect(errnoName(errno as number)).toBe(primary);
    }
  });

  it('know nothing about zero, negatives, gaps or prototype keys', () => {
    const known = new Set(ALL_ERRNOS.map((e) => e.errno));
    const gap = [...Array(4096).keys()].find((n) => n > 0 && !known.has(n)) as number;
    for (const errno of [0, -1, -2, gap, 4096, 1.5]) {
      expect(errnoName(errno), String(errno)).toBeUndefined();
      expect(errnoDescription(errno), String(errno)).toBeUndefined();
    }
    expect(errnoNumber('constructor')).toBeUndefined();
    expect(errnoNumber('EBOGUS')).toBeUndefined();
  });
});

describe('describeReturn', () => {
  it('prints non-negative values as plain numbers', () => {
    expect(describeReturn(0)).toBe('0');
    expect(describeReturn(3)).toBe('3');
    expect(describeReturn(0n)).toBe('0');
    // An mmap address, as ftrace prints it.
    expect(describeReturn(140737353711616n)).toBe('140737353711616');
  });

  it('prints every known error as -N NAME (description), from number, bigint or unsigned 64-bit', () => {
    for (const entry of ALL_ERRNOS) {
      const expected = `-${entry.errno} ${entry.name} (${entry.description})`;
      expect(describeReturn(-entry.errno)).toBe(expected);
      expect(describeReturn(-BigInt(entry.errno))).toBe(expected);
      expect(describeReturn((1n << 64n) - BigInt(entry.errno))).toBe(expected);
    }
  });

  it('treats exactly -4095..-1 as errors', () => {
    const known = new Set(ALL_ERRNOS.map((e) => e.errno));
    expect(known.has(4095)).toBe(false);
    expect(describeReturn(-4095n)).toBe('-4095 (unknown errno 4095)');
    expect(describeReturn(-4096n)).toBe('-4096');
    // A kernel-half address printed as a signed long is a value, not an error.
    expect(describeReturn(-140737488355328n)).toBe('-140737488355328');
    expect(describeReturn(-(1n << 63n))).toBe((-(1n << 63n)).toString());
  });

  it('never throws on values that cannot be a signed long', () => {
    expect(describeReturn(1n << 64n)).toBe((1n << 64n).toString());
    expect(describeReturn(-(1n << 63n) - 1n)).toBe((-(1n << 63n) - 1n).toString());
    expect(describeReturn(Number.NaN)).toBe('NaN');
    expect(describeReturn(1.5)).toBe('1.5');
    expect(describeReturn(2 ** 60)).toBe(String(2 ** 60));
  });
});

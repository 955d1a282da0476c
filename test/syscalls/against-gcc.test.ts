/**
 * Cross-checks the generated tables against the host C library's headers as gcc compiles them
 * (<sys/syscall.h> SYS_* and <errno.h>): catches a generator that drops, renames or misparses.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { allSyscallNames, hostArch, isArch, syscallNumber } from '../../src/syscalls/index.js';
import { uapiErrnoAliases, uapiErrnos } from '../../src/syscalls/tables/errno.js';
import { hasGcc, parsePairs, runC } from './c-program.js';
import { compareTables } from './compare-tables.js';

const GCC = hasGcc();
const machine = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();
const HOST_SUPPORTED = isArch(machine);

/** A C program printing "NAME value" for each macro. */
function printMacros(header: string, macros: string[]): string {
  const lines = macros.map((m) => `#ifdef ${m}\n  printf("%s %ld\\n", "${m}", (long)(${m}));\n#endif`);
  return `#include <stdio.h>\n#include <${header}>\nint main(void) {\n${lines.join('\n')}\n  return 0;\n}\n`;
}

describe.skipIf(!GCC || !HOST_SUPPORTED)(
  `tables against the host's C headers${GCC ? '' : ' (skipped: gcc not found on PATH)'}${HOST_SUPPORTED ? '' : ` (skipped: host is ${machine})`}`,
  () => {
    it('host syscall table matches the SYS_* numbers of <sys/syscall.h>', () => {
      const arch = hostArch();
      const defines = execFileSync('gcc', ['-E', '-dM', '-x', 'c', '-'], {
        input: '#include <sys/syscall.h>\n',
        encoding: 'utf8',
      });
      const macros = [...defines.matchAll(/^#define (SYS_\w+) /gm)].map((m) => m[1] as string);
      expect(macros.length).toBeGreaterThan(0);
      const values = parsePairs(runC(printMacros('sys/syscall.h', macros)));
      const theirs = new Map([...values].map(([macro, value]) => [macro.slice('SYS_'.length), Number(value)]));
      const ours = new Map(allSyscallNames(arch).map((name) => [name, syscallNumber(name, arch) as number]));
      expect(compareTables(ours, theirs)).toEqual({ mismatched: [], missingFromOurs: [], missingFromTheirs: [] });
    });

    it('errno names and aliases match <errno.h>', () => {
      const names = [...uapiErrnos.map((e) => e.name), ...Object.keys(uapiErrnoAliases)];
      const values = parsePairs(runC(printMacros('errno.h', names)));
      const expected = new Map(uapiErrnos.map((e) => [e.name, e.errno]));
      for (const [alias, primary] of Object.entries(uapiErrnoAliases)) expected.set(alias, expected.get(primary) as number);
      expect(new Map([...values].map(([name, value]) => [name, Number(value)]))).toEqual(expected);
    });
  },
);

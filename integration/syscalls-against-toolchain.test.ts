// The generated syscall and errno tables against the host toolchain: the C library's headers as gcc
// compiles them, and libseccomp's own tables. Needs gcc (and libseccomp.so.2), not root.
// Moved from test/syscalls/against-gcc.test.ts and test/syscalls/against-libseccomp.test.ts.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { allSyscallNames, ARCHES, hostArch, isArch, seccompArchitectures, syscallNumber } from '../src/syscalls/index.js';
import { uapiErrnoAliases, uapiErrnos } from '../src/syscalls/tables/errno.js';
import { canLink, hasGcc, parsePairs, runC } from './support/c-program.js';
import { compareTables } from './support/compare-tables.js';

/*
 * Cross-checks the generated tables against the host C library's headers as gcc compiles them
 * (<sys/syscall.h> SYS_* and <errno.h>): catches a generator that drops, renames or misparses.
 */

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

/*
 * Cross-checks the generated tables against libseccomp's own syscall tables (the names OCI seccomp
 * profiles use), for both architectures, through the host's libseccomp.so.2.
 */

const LIBSECCOMP = '-l:libseccomp.so.2';
const AVAILABLE = canLink(LIBSECCOMP);

// Prototypes from seccomp.h (stable since libseccomp 2.0), so the -dev package is not needed.
const PRELUDE = `#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
uint32_t seccomp_arch_resolve_name(const char *arch_name);
char *seccomp_syscall_resolve_num_arch(uint32_t arch_token, int num);
int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name);
`;

/** Prints "name nr" for every syscall libseccomp knows on argv[1], by number and by argv[2..] names. */
const DUMP_SYSCALLS = `${PRELUDE}
int main(int argc, char **argv) {
  uint32_t arch = seccomp_arch_resolve_name(argv[1]);
  if (arch == 0) { fprintf(stderr, "unknown arch %s\\n", argv[1]); return 2; }
  for (int nr = 0; nr < 4096; nr++) {
    char *name = seccomp_syscall_resolve_num_arch(arch, nr);
    if (name) { printf("%s %d\\n", name, nr); free(name); }
  }
  for (int i = 2; i < argc; i++) {
    int nr = seccomp_syscall_resolve_name_arch(arch, argv[i]);
    if (nr >= 0) printf("%s %d\\n", argv[i], nr);
  }
  return 0;
}
`;

/** Prints each argv architecture name with libseccomp's token for it (0 = unknown). */
const RESOLVE_ARCHES = `${PRELUDE}
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) printf("%s %u\\n", argv[i], seccomp_arch_resolve_name(argv[i]));
  return 0;
}
`;

describe.skipIf(!AVAILABLE)(`tables against libseccomp${AVAILABLE ? '' : ' (skipped: gcc or libseccomp.so.2 missing)'}`, () => {
  it.each(ARCHES)('%s numbers and names agree with libseccomp', (arch) => {
    const names = allSyscallNames(arch);
    const output = runC(DUMP_SYSCALLS, [LIBSECCOMP], [arch, ...names]);
    const theirs = new Map<string, number>();
    for (const line of output.trim().split('\n')) {
      const [name, nr] = line.split(' ');
      theirs.set(name as string, Number(nr));
    }
    const ours = new Map(names.map((name) => [name, syscallNumber(name, arch) as number]));
    expect(theirs.size).toBeGreaterThan(0);
    expect(compareTables(ours, theirs)).toEqual({ mismatched: [], missingFromOurs: [], missingFromTheirs: [] });
  });

  it.each(ARCHES)('%s seccomp architectures are all known to libseccomp', (arch) => {
    // OCI's SCMP_ARCH_X86_64 is libseccomp's "x86_64".
    const libNames = seccompArchitectures(arch).map((name) => name.replace(/^SCMP_ARCH_/, '').toLowerCase());
    const tokens = runC(RESOLVE_ARCHES, [LIBSECCOMP], libNames).trim().split('\n');
    expect(tokens).toHaveLength(libNames.length);
    for (const line of tokens) expect(line, line).toMatch(/^\S+ [1-9]\d*$/);
    expect(libNames[0]).toBe(arch);
  });
});

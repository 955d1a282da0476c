#!/usr/bin/env node
/**
 * Generates the syscall and errno tables in src/syscalls/tables/ from the kernel UAPI headers
 * that Debian packages ship. The generated files are committed; CI does not run this.
 *
 * Prerequisites (Debian 12, as root):
 *   apt-get update && apt-get install -y cpp linux-libc-dev linux-libc-dev-arm64-cross
 *   apt-get install -y $(apt-cache search --names-only '^linux-headers-[0-9.]+-[0-9]+-common$' | sort -V | tail -1 | cut -d' ' -f1)
 *     linux-libc-dev              x86_64 headers under /usr/include (asm-generic, x86_64-linux-gnu/asm)
 *     linux-libc-dev-arm64-cross  arm64 headers under /usr/aarch64-linux-gnu/include
 *     linux-headers-*-common      the kernel's own include/linux/errno.h under /usr/src: the errnos above
 *                                 511 (ERESTARTSYS...) that never reach user space but that ftrace's
 *                                 sys_exit shows, because it fires before signal handling rewrites them
 *
 * Usage (plain Node, no npm):
 *   node scripts/gen-syscall-tables.mjs          write the tables
 *   node scripts/gen-syscall-tables.mjs --check  exit 1 if the committed tables differ from the headers
 *
 * How: the host C preprocessor includes <asm/unistd.h> for each architecture (-nostdinc -undef, so
 * only the target's macros are defined) and expands every __NR_ macro. That resolves the
 * asm-generic conditionals (__ARCH_WANT_*) and __NR3264_ indirections exactly as an arm64 build
 * does; names are the __NR_ names (fstat, newfstatat), which are also libseccomp's and OCI's.
 * Each generated file cites the headers the preprocessor read and the packages that own them.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'syscalls', 'tables');
const INSTALL_HINT = 'see the prerequisites at the top of scripts/gen-syscall-tables.mjs';

const ARCHES = [
  {
    arch: 'x86_64',
    exportName: 'x86_64Syscalls',
    cppArgs: ['-D__x86_64__', '-I/usr/include/x86_64-linux-gnu', '-I/usr/include'],
    // Known numbers (syscall(2), the kernel's syscall_64.tbl) that catch a broken resolution.
    known: { read: 0, openat: 257, execve: 59, uname: 63, fstat: 5, clone3: 435 },
  },
  {
    arch: 'aarch64',
    exportName: 'aarch64Syscalls',
    cppArgs: ['-D__aarch64__', '-I/usr/aarch64-linux-gnu/include'],
    known: { openat: 56, getdents64: 61, uname: 160, execve: 221, fstat: 80, newfstatat: 79, clone3: 435 },
  },
];

/** __NR_ macros that are table bounds, not system calls. */
const NOT_SYSCALLS = new Set(['syscalls', 'arch_specific_syscall']);

const ERRNO_HEADERS = ['/usr/include/asm-generic/errno-base.h', '/usr/include/asm-generic/errno.h'];

/**
 * The restart codes, which include/linux/errno.h leaves uncommented or terse ("restart if no
 * handler.."), described by what the kernel's signal delivery does with them.
 */
const KERNEL_ERRNO_DESCRIPTIONS = {
  ERESTARTSYS: 'Interrupted by a signal; restarted unless a handler without SA_RESTART runs (then EINTR)',
  ERESTARTNOINTR: 'Interrupted by a signal; always restarted',
  ERESTARTNOHAND: 'Interrupted by a signal; restarted unless a handler runs (then EINTR)',
  ERESTART_RESTARTBLOCK: 'Interrupted by a signal; resumed by restart_syscall unless a handler runs (then EINTR)',
};

/** include/linux/errno.h of the newest installed linux-headers-*-common package. */
function kernelErrnoHeader() {
  const dirs = readdirSync('/usr/src').filter((d) => /^linux-headers-.+-common$/.test(d));
  if (dirs.length === 0) fail(`no /usr/src/linux-headers-*-common (${INSTALL_HINT})`);
  const newest = dirs.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1);
  return `/usr/src/${newest}/include/linux/errno.h`;
}

function fail(message) {
  process.stderr.write(`gen-syscall-tables: ${message}\n`);
  process.exit(1);
}

function run(cmd, args, input = '') {
  const result = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (result.error) fail(`cannot run ${cmd} (${INSTALL_HINT}): ${result.error.message}`);
  if (result.status !== 0) {
    fail(`${cmd} ${args.join(' ')} exited ${result.status} (${INSTALL_HINT}): ${result.stderr.trim().split('\n')[0]}`);
  }
  return result;
}

/** Runs cpp on `source` with only the target's macros; returns its output and the headers it read. */
function preprocess(cppArgs, source, extraArgs = []) {
  const { stdout, stderr } = run('cpp', ['-nostdinc', '-undef', '-H', ...cppArgs, ...extraArgs, '-'], source);
  // -H prints one ". /path/to/header.h" line per header read, dots giving the include depth.
  const headers = stderr.split('\n').flatMap((line) => /^\.+ (\/\S+)$/.exec(line)?.[1] ?? []);
  return { stdout, headers: [...new Set(headers)] };
}

/** "package version: path" for each header, from dpkg's ownership database. */
function cite(headers) {
  return headers.map((path) => {
    const owner = run('dpkg-query', ['-S', path]).stdout.split('\n')[0];
    const pkg = owner.slice(0, owner.indexOf(': '));
    const version = run('dpkg-query', ['-W', '-f', '${Version}', pkg]).stdout.trim();
    return `${pkg} ${version}: ${path}`;
  });
}

/** Parses a cpp-expanded number: decimal or hex, possibly a parenthesised sum of both. */
function parseNumber(text, what) {
  const terms = text.replace(/[()\s]/g, '').split('+');
  if (!terms.every((t) => /^(0x[0-9a-fA-F]+|\d+)$/.test(t))) fail(`${what} expands to "${text}", not a number`);
  return terms.reduce((sum, t) => sum + Number(t), 0);
}

function resolveSyscalls({ arch, cppArgs, known }) {
  const include = '#include <asm/unistd.h>\n';
  const { stdout: macros, headers } = preprocess(cppArgs, include, ['-dM']);
  const names = [...macros.matchAll(/^#define __NR_(\w+) /gm)]
    .map((m) => m[1])
    .filter((name) => !NOT_SYSCALLS.has(name));
  // Second pass: let the preprocessor expand each macro, aliases (__NR3264_*) included.
  const probe = include + names.map((name) => `@nr ${name} __NR_${name}\n`).join('');
  const expanded = preprocess(cppArgs, probe, ['-P']).stdout;
  const table = new Map();
  for (const [, name, value] of expanded.matchAll(/^@nr (\w+) (.+)$/gm)) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) fail(`${arch}: unexpected syscall name "${name}"`);
    table.set(name, parseNumber(value, `${arch} __NR_${name}`));
  }
  if (table.size !== names.length) fail(`${arch}: expanded ${table.size} of ${names.length} __NR_ macros`);
  const byNumber = new Map();
  for (const [name, nr] of table) {
    if (byNumber.has(nr)) fail(`${arch}: ${name} and ${byNumber.get(nr)} share number ${nr}`);
    byNumber.set(nr, name);
  }
  for (const [name, nr] of Object.entries(known)) {
    if (table.get(name) !== nr) fail(`${arch}: ${name} resolved to ${table.get(name)}, expected ${nr}`);
  }
  const entries = [...table].sort((a, b) => a[1] - b[1]);
  return { entries, sources: cite(headers.filter((h) => /unistd/.test(h))), cppArgs };
}

function renderSyscalls({ arch, exportName }, { entries, sources, cppArgs }) {
  return [
    '// Generated by scripts/gen-syscall-tables.mjs; do not edit by hand.',
    `// ${arch} system call numbers from the kernel UAPI headers (Debian package version: header):`,
    ...sources.map((s) => `//   ${s}`),
    `// resolved with: cpp -nostdinc -undef ${cppArgs.join(' ')} on #include <asm/unistd.h>`,
    '',
    `/** ${arch} system call name -> number (the __NR_ names, as libseccomp uses them), ordered by number. */`,
    `export const ${exportName}: Readonly<Record<string, number>> = Object.freeze({`,
    ...entries.map(([name, nr]) => `  ${name}: ${nr},`),
    '});',
    '',
  ].join('\n');
}

/** Parses `#define ENAME value /* description *\/` lines; value is a number or another E-name. */
function parseErrnoHeader(path) {
  const text = readFileSync(path, 'utf8');
  const defines = [];
  for (const line of text.split('\n')) {
    if (!/^#define\s+E/.test(line)) continue;
    const m = /^#define\s+(E[A-Z0-9_]+)\s+(\d+|E[A-Z0-9_]+)\s*(?:\/\*\s*(.*?)\s*\*\/)?\s*$/.exec(line);
    if (!m) fail(`${path}: cannot parse "${line}"`);
    defines.push({ name: m[1], value: m[2], description: KERNEL_ERRNO_DESCRIPTIONS[m[1]] ?? m[3] ?? '' });
  }
  return defines;
}

function resolveErrnos() {
  const defines = ERRNO_HEADERS.flatMap(parseErrnoHeader);
  const primary = new Map();
  const aliases = new Map();
  for (const d of defines) {
    if (/^\d+$/.test(d.value)) {
      if (!d.description) fail(`${d.name} has no description comment`);
      primary.set(d.name, { name: d.name, errno: Number(d.value), description: d.description });
    } else {
      if (!primary.has(d.value)) fail(`alias ${d.name} -> ${d.value} names no earlier errno`);
      aliases.set(d.name, d.value);
    }
  }
  // Both architectures must see the same numbers (arm64's asm/errno.h is asm-generic's).
  for (const { arch, cppArgs } of ARCHES) {
    const macros = preprocess(cppArgs, '#include <asm/errno.h>\n', ['-dM']).stdout;
    const seen = new Map([...macros.matchAll(/^#define (E[A-Z0-9_]+) (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    for (const e of primary.values()) {
      if (seen.get(e.name) !== e.errno) fail(`${arch}: ${e.name} is ${seen.get(e.name)}, asm-generic says ${e.errno}`);
    }
    if (seen.size !== primary.size) fail(`${arch}: asm/errno.h defines ${seen.size} errnos, asm-generic ${primary.size}`);
  }
  const entries = [...primary.values()].sort((a, b) => a.errno - b.errno);
  return { entries, aliases: [...aliases].sort(([a], [b]) => a.localeCompare(b)), sources: cite(ERRNO_HEADERS) };
}

function resolveKernelErrnos(uapi) {
  const header = kernelErrnoHeader();
  const entries = parseErrnoHeader(header).map((d) => {
    if (!/^\d+$/.test(d.value) || !d.description) fail(`${header}: ${d.name} needs a number and a description`);
    return { name: d.name, errno: Number(d.value), description: d.description };
  });
  const clash = entries.find((k) => uapi.entries.some((u) => u.errno === k.errno || u.name === k.name));
  if (clash) fail(`${header}: ${clash.name} clashes with a UAPI errno`);
  return { entries: entries.sort((a, b) => a.errno - b.errno), sources: cite([header]) };
}

/** A single-quoted TypeScript string literal. */
function quote(text) {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function renderErrnos({ entries, aliases, sources }, kernel) {
  return [
    '// Generated by scripts/gen-syscall-tables.mjs; do not edit by hand.',
    '// errno names, numbers and descriptions (the header comments) from the kernel UAPI headers',
    '// (Debian package version: header); x86_64 and aarch64 both use asm-generic numbering:',
    ...sources.map((s) => `//   ${s}`),
    '',
    'export interface ErrnoEntry {',
    '  readonly name: string;',
    '  readonly errno: number;',
    '  readonly description: string;',
    '}',
    '',
    '/** Every errno the UAPI headers define under its primary name, ordered by number. */',
    'export const uapiErrnos: readonly ErrnoEntry[] = Object.freeze(',
    '  [',
    ...entries.map((e) => `    { name: ${quote(e.name)}, errno: ${e.errno}, description: ${quote(e.description)} },`),
    '  ].map((entry) => Object.freeze(entry)),',
    ');',
    '',
    '/** Alternative names -> the primary name they alias (EWOULDBLOCK -> EAGAIN). */',
    'export const uapiErrnoAliases: Readonly<Record<string, string>> = Object.freeze({',
    ...aliases.map(([alias, name]) => `  ${alias}: ${quote(name)},`),
    '});',
    '',
    '// Kernel-internal errnos (never returned to user space, but ftrace sys_exit shows them);',
    '// descriptions are the header comments, except the ERESTART* ones, which the generator words:',
    ...kernel.sources.map((s) => `//   ${s}`),
    '',
    '/** ERESTARTSYS and friends, ordered by number; none overlaps a UAPI errno. */',
    'export const kernelInternalErrnos: readonly ErrnoEntry[] = Object.freeze(',
    '  [',
    ...kernel.entries.map((e) => `    { name: ${quote(e.name)}, errno: ${e.errno}, description: ${quote(e.description)} },`),
    '  ].map((entry) => Object.freeze(entry)),',
    ');',
    '',
  ].join('\n');
}

function main() {
  const check = process.argv.includes('--check');
  const files = new Map();
  for (const spec of ARCHES) files.set(`${spec.arch}.ts`, renderSyscalls(spec, resolveSyscalls(spec)));
  const uapi = resolveErrnos();
  files.set('errno.ts', renderErrnos(uapi, resolveKernelErrnos(uapi)));
  if (!check) mkdirSync(OUT_DIR, { recursive: true });
  let stale = 0;
  for (const [file, content] of files) {
    const path = join(OUT_DIR, file);
    if (check) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        // missing counts as stale
      }
      if (current !== content) {
        process.stderr.write(`gen-syscall-tables: ${path} is stale\n`);
        stale += 1;
      }
    } else {
      writeFileSync(path, content);
      process.stdout.write(`wrote ${path}\n`);
    }
  }
  if (stale > 0) process.exit(1);
}

main();

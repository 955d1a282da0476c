// Build the front door, dist/bin/oci-ftrace-runc, from src/launcher/oci-ftrace-runc.c: the
// program engines run. It execs the real runtime itself for pass-through calls and hands
// everything else to the bash launcher bin/oci-ftrace-runc (README "Performance").
//
// $CC, else cc; -O2 -static, else dynamically linked when static linking fails (no libc.a). The
// package root is compiled in, for a copy of the binary that sits outside the package. Without a C
// compiler, one warning and dist/bin/oci-ftrace-runc is a symlink to the bash launcher, so that
// the install path is the same either way. A compiler that runs but fails stops the build. Safe
// to rerun: the result replaces the old one in one rename.
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const source = path.join(root, 'src', 'launcher', 'oci-ftrace-runc.c');
const target = path.join(root, 'dist', 'bin', 'oci-ftrace-runc');
const partial = `${target}.partial-${process.pid}`;
const compiler = process.env.CC || 'cc';
const FLAGS = ['-std=c99', '-O2', '-Wall', '-Wextra', '-Werror'];

/** s as a C string literal: the package root may hold any byte but NUL. */
function cString(s) {
  let out = '"';
  for (const byte of Buffer.from(s)) {
    const c = String.fromCharCode(byte);
    if (c === '"' || c === '\\') out += `\\${c}`;
    else if (byte < 0x20 || byte >= 0x7f) out += `\\${byte.toString(8).padStart(3, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

function compile(linking) {
  // No shell: the root goes to the compiler as one argument whatever it holds.
  return spawnSync(compiler, [...FLAGS, ...linking, `-DOFT_PACKAGE_ROOT=${cString(root)}`, '-o', partial, source], { encoding: 'utf8' });
}

mkdirSync(path.dirname(target), { recursive: true });
let result = compile(['-static']);
let linked = 'static';
if (result.error?.code === 'ENOENT') {
  symlinkSync(path.join('..', '..', 'bin', 'oci-ftrace-runc'), partial);
  renameSync(partial, target);
  console.warn(`build-launcher: no C compiler (${compiler}): dist/bin/oci-ftrace-runc is a symlink to the bash launcher, pass-through calls cost a bash exec`);
  process.exit(0);
}
if (result.error) throw result.error;
if (result.status !== 0) {
  const staticOutput = result.stderr;
  result = compile([]);
  linked = 'dynamic';
  if (result.status !== 0) {
    rmSync(partial, { force: true });
    process.stderr.write(`${staticOutput}${result.stderr}`);
    console.error(`build-launcher: ${compiler} failed to build ${path.relative(root, source)}`);
    process.exit(1);
  }
}
renameSync(partial, target);
console.log(`build-launcher: ${path.relative(root, target)} (${linked}, ${compiler})`);

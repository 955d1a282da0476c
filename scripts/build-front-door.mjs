// Build the front door, dist/bin/oci-ftrace-runc, from src/front-door/oci-ftrace-runc.c: the
// program engines run as their runtime (the sniff, the runtime lookup, the agent's client).
//
// $CC, else cc; -O2 -static, else dynamically linked when static linking fails (no libc.a). Baked
// in: OFT_NODE (dist/node-path when the build recorded it, else this Node), OFT_AGENT (the agent's
// bundle, which need only exist when the front door starts the agent) and OFT_PACKAGE_ROOT. A
// missing compiler stops the build with one line: there is no fallback. Safe to rerun: the result
// replaces the old one in one rename.
//
// For tests: `--out FILE` builds elsewhere, and OFT_AGENT / OFT_NODE in the environment replace the
// defaults (e.g. a stub agent).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const source = path.join(root, 'src', 'front-door', 'oci-ftrace-runc.c');
const compiler = process.env.CC || 'cc';
const FLAGS = ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror'];

function fail(message) {
  console.error(message);
  process.exit(1);
}

function parseArgs(argv) {
  let out = path.join(root, 'dist', 'bin', 'oci-ftrace-runc');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && i + 1 < argv.length) out = path.resolve(argv[++i]);
    else fail(`build-front-door: unknown argument ${JSON.stringify(argv[i])} (usage: build-front-door.mjs [--out FILE])`);
  }
  return out;
}

function absolute(what, value) {
  if (!path.isAbsolute(value)) fail(`build-front-door: ${what} must be an absolute path, not ${JSON.stringify(value)}`);
  return value;
}

function nodePath() {
  if (process.env.OFT_NODE) return absolute('OFT_NODE', process.env.OFT_NODE);
  const recorded = path.join(root, 'dist', 'node-path');
  if (existsSync(recorded)) return absolute(`${path.relative(root, recorded)}`, readFileSync(recorded, 'utf8').trim());
  return process.execPath;
}

/** s as a C string literal: a path may hold any byte but NUL. */
function cString(s) {
  let out = '"';
  for (const byte of Buffer.from(s)) {
    const c = String.fromCharCode(byte);
    if (c === '"' || c === '\\') out += `\\${c}`;
    // Octal escapes, always three digits, so that a following digit cannot join them.
    else if (byte < 0x20 || byte >= 0x7f) out += `\\${byte.toString(8).padStart(3, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

const target = parseArgs(process.argv.slice(2));
const shown = path.relative(root, target).startsWith('..') ? target : path.relative(root, target);
const defines = [
  `-DOFT_NODE=${cString(nodePath())}`,
  `-DOFT_AGENT=${cString(absolute('OFT_AGENT', process.env.OFT_AGENT || path.join(root, 'dist', 'bundle', 'agent', 'main.js')))}`,
  `-DOFT_PACKAGE_ROOT=${cString(root)}`,
];
const partial = `${target}.partial-${process.pid}`;

function compile(linking) {
  // No shell: each path goes to the compiler as one argument whatever it holds.
  return spawnSync(compiler, [...FLAGS, ...linking, ...defines, '-o', partial, source], { encoding: 'utf8' });
}

mkdirSync(path.dirname(target), { recursive: true });
let result = compile(['-static']);
let linked = 'static';
if (result.error?.code === 'ENOENT') {
  fail(`oci-ftrace: no C compiler (${compiler}): cannot build the front door ${shown}; install gcc (Debian: apt-get install gcc libc6-dev) then run npm rebuild oci-ftrace (-g when installed globally)`);
}
if (result.error) {
  rmSync(partial, { force: true });
  fail(`build-front-door: cannot run ${compiler}: ${result.error.message}`);
}
if (result.status !== 0) {
  const staticOutput = result.stderr;
  result = compile([]);
  linked = 'dynamic';
  if (result.status !== 0) {
    rmSync(partial, { force: true });
    process.stderr.write(`${staticOutput}${result.stderr}`);
    fail(`build-front-door: ${compiler} failed to build ${path.relative(root, source)}`);
  }
}
try {
  chmodSync(partial, 0o755);
  renameSync(partial, target);
} catch (err) {
  rmSync(partial, { force: true });
  fail(`build-front-door: cannot install ${shown}: ${err.message}`);
}
console.log(`build-front-door: ${shown} (${linked}, ${compiler})`);

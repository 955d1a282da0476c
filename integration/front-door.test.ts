// The front door, src/front-door/oci-ftrace-runc.c, as the real binary: pass-through that is one
// exec and byte for byte bare runc, the runtime lookup and its loop guard, the sniff and the
// prepare request it sends, starting the agent (detached, alone, once under a race), failing open
// or refusing (strict), the hook mode, and the socket's name. The agent is a stub (a small Node
// script written here) that the front door starts like the real one: copies of the front door are
// built with OFT_AGENT pointing at it, or at an agent that cannot start.
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  rmdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxBundle } from './lab/bundle.js';
import { stopProcess } from './lab/daemon.js';
import { CRUN, REPO_ROOT, RUNC, uniqueId } from './lab/env.js';
import { isProcessAlive, processesMatching } from './lab/leaks.js';
import { runCommand, type CommandResult } from './lab/run.js';

const SYS_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const SOCKET_DIR = '/run/oci-ftrace';
const NOBODY = 65534;
const BUILD_SCRIPT = path.join(REPO_ROOT, 'scripts', 'build-front-door.mjs');
const DIST_FRONT_DOOR = path.join(REPO_ROOT, 'dist', 'bin', 'oci-ftrace-runc');
const STUB_PATTERN = /stub-agent\.mjs|dead-agent\.mjs/;

let tmp = '';
/** Front doors built here: the agent is the stub, one that exits at once, or a node that does not exist. */
let FD = '';
let DEAD = '';
let NO_NODE = '';
let HOOK = '';
let DEAD_HOOK = '';
let PROBE = '';
let FAKE = '';
let STUB = '';
let socketDirCreated = false;

// ---------------------------------------------------------------------------------------------
// The stub agent: listens on its --socket, writes the facts file, records what it receives and
// answers as its config (or <socket dir>/stub-behaviour.json without --config) says, re-read for
// every connection so a test can change its mind. Exits after a minute without connections.
const STUB_SOURCE = `import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
const argv = process.argv.slice(2);
const socket = argv[argv.indexOf('--socket') + 1];
const ci = argv.indexOf('--config');
const config = ci >= 0 ? argv[ci + 1] : '';
const behaviourPath = config || path.join(path.dirname(socket), 'stub-behaviour.json');
const behaviour = () => JSON.parse(fs.readFileSync(behaviourPath, 'utf8'));
const first = behaviour();
fs.appendFileSync(path.join(first.record, 'starts'), JSON.stringify({ pid: process.pid, argv: process.argv.slice(1), socket, config }) + '\\n');
fs.writeFileSync(socket + '.facts', 'strict=' + (first.strict ? 1 : 0) + '\\nlog=' + first.log + '\\n');
let idle;
const bump = () => { clearTimeout(idle); idle = setTimeout(() => process.exit(0), 60000); };
bump();
const frame = (text) => { const body = Buffer.from(text); const head = Buffer.alloc(4); head.writeUInt32BE(body.length); return Buffer.concat([head, body]); };
let seq = 0;
const server = net.createServer((conn) => {
  bump();
  let got = Buffer.alloc(0);
  conn.on('error', () => {});
  conn.on('data', (chunk) => {
    got = Buffer.concat([got, chunk]);
    if (got.length < 4 || got.length < 4 + got.readUInt32BE(0)) return;
    const body = got.subarray(4, 4 + got.readUInt32BE(0));
    const b = behaviour();
    fs.writeFileSync(path.join(b.record, 'req-' + process.pid + '-' + String(seq++).padStart(4, '0') + '.bin'), body);
    const flag = JSON.parse(body.toString('latin1')).kind === 'prepare' ? 'go' : 'ok';
    if (b.reply === 'yes') conn.end(frame(JSON.stringify({ v: 1, [flag]: true })));
    else if (b.reply === 'no') conn.end(frame(JSON.stringify({ v: 1, [flag]: false, message: b.message })));
    else if (b.reply === 'raw') conn.end(frame(b.raw));
    else if (b.reply === 'bytes') conn.end(Buffer.from(b.hex, 'hex'));
    else if (b.reply === 'close') conn.end();
    // 'never': keep the connection and say nothing
  });
});
process.on('SIGTERM', () => { fs.rmSync(socket, { force: true }); process.exit(0); });
setTimeout(() => { fs.rmSync(socket, { force: true }); server.listen(socket); }, first.listenDelayMs ?? 0);
`;

// A runtime that shows what reached it: its pid, argv, environment and descriptors (all but the
// ones it lists them with). In C, so that no interpreter adds descriptors of its own. With
// PROBE_OUT it writes there (for a caller that closed stdout), and leaves that descriptor out too.
const PROBE_SOURCE = `#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
extern char **environ;
static int out = 1;
static void hex(const char *tag, const char *s) {
  dprintf(out, "%s ", tag);
  for (; *s; s++) dprintf(out, "%02x", (unsigned char)*s);
  dprintf(out, "\\n");
}
int main(int argc, char **argv) {
  const char *to = getenv("PROBE_OUT");
  DIR *d;
  struct dirent *e;
  if (to != NULL) out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  d = opendir("/proc/self/fd");
  dprintf(out, "pid %d\\n", getpid());
  for (int i = 0; i < argc; i++) hex("argv", argv[i]);
  for (char **p = environ; *p; p++) hex("env", *p);
  while (d != NULL && (e = readdir(d)) != NULL) {
    char link[64], target[4096];
    ssize_t n;
    if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d) || (to != NULL && atoi(e->d_name) == out)) continue;
    snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
    n = readlink(link, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    dprintf(out, "fd %s %s\\n", e->d_name, target);
  }
  return 0;
}
`;

interface Probe {
  pid: number;
  argv: Buffer[];
  env: string[];
  fds: Map<number, string>;
}

function parseProbe(stdout: string): Probe {
  const probe: Probe = { pid: 0, argv: [], env: [], fds: new Map() };
  for (const line of stdout.split('\n')) {
    const [tag, first = '', ...rest] = line.split(' ');
    if (tag === 'pid') probe.pid = Number(first);
    if (tag === 'argv') probe.argv.push(Buffer.from(first, 'hex'));
    if (tag === 'env') probe.env.push(Buffer.from(first, 'hex').toString());
    if (tag === 'fd') probe.fds.set(Number(first), rest.join(' '));
  }
  return probe;
}

// ---------------------------------------------------------------------------------------------
// Running the front door with exactly the environment given (env -i), so nothing of the test
// runner's leaks in and PATH can be unset.

interface DoorOptions {
  bin?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  /** Programs between env and the front door (sh -c ..., setpriv ...). */
  prefix?: string[];
  timeoutMs?: number;
}

function door(args: readonly string[], opts: DoorOptions = {}): Promise<CommandResult> {
  const env: Record<string, string | undefined> = { PATH: SYS_PATH, ...opts.env };
  const pairs = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  return runCommand('/usr/bin/env', ['-i', ...pairs, ...(opts.prefix ?? []), opts.bin ?? FD, ...args], {
    cwd: opts.cwd,
    input: opts.input,
    reject: false,
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
}

/** What a run shows of itself, runc's timestamps aside (they change with the second). */
const shown = (r: CommandResult) => ({
  exitCode: r.exitCode,
  stdout: r.stdout,
  stderr: r.stderr.replace(/time="[^"]*"/g, 'time="T"'),
});

function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

const socketFor = (config: string) => path.join(SOCKET_DIR, `agent-${fnv1a64(config)}.sock`);

/** A JSON string as the spec writes it: quote, backslash and control characters escaped, the rest as bytes. */
function jsonString(value: Buffer | string): Buffer {
  const out: number[] = [0x22];
  for (const byte of Buffer.isBuffer(value) ? value : Buffer.from(value)) {
    if (byte === 0x22 || byte === 0x5c) out.push(0x5c, byte);
    else if (byte < 0x20) out.push(...Buffer.from(`\\u00${byte.toString(16).padStart(2, '0')}`));
    else out.push(byte);
  }
  out.push(0x22);
  return Buffer.from(out);
}

function statFields(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields from 3 on: [0] is field 3 (state).
  return text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
}

function ancestors(pid: number): number[] {
  const out: number[] = [];
  for (let p = pid; p > 1; ) {
    p = Number(statFields(p)[1]);
    out.push(p);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Agents: one config (so one socket) per test, cleaned up after it.

interface Behaviour {
  reply: 'yes' | 'no' | 'raw' | 'bytes' | 'close' | 'never';
  message?: string;
  raw?: string;
  hex?: string;
  strict?: boolean;
  listenDelayMs?: number;
}

interface Agent {
  dir: string;
  config: string;
  socket: string;
  log: string;
  record: string;
  behave(b: Behaviour): void;
  starts(): Array<{ pid: number; argv: string[]; socket: string; config: string }>;
  requests(): Buffer[];
  logLines(): Array<Record<string, unknown>>;
  /** Writes the facts file as the agent would, for an agent that never ran. */
  facts(strict: boolean): void;
  /** Starts the stub by hand (as something other than a front door would). */
  startByHand(): Promise<number>;
}

const agents: Agent[] = [];
const pidsToStop: number[] = [];
let agentCount = 0;

function makeAgent(behaviour: Behaviour, opts: { socket?: string; behaviourFile?: string; config?: string } = {}): Agent {
  const dir = path.join(tmp, 'agents', String(agentCount++));
  const record = path.join(dir, 'record');
  mkdirSync(record, { recursive: true });
  chmodSync(record, 0o777);
  const config = opts.config ?? path.join(dir, 'config.json');
  const socket = opts.socket ?? socketFor(config);
  const log = path.join(dir, 'agent.log');
  const behaviourFile = opts.behaviourFile ?? config;
  const agent: Agent = {
    dir,
    config,
    socket,
    log,
    record,
    behave(b) {
      writeFileSync(behaviourFile, JSON.stringify({ ...b, record, log }));
    },
    starts() {
      const file = path.join(record, 'starts');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ReturnType<Agent['starts']>[number]);
    },
    requests() {
      return readdirSync(record).filter((f) => f.startsWith('req-')).sort().map((f) => readFileSync(path.join(record, f)));
    },
    logLines() {
      if (!existsSync(log)) return [];
      return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    facts(strict) {
      writeFileSync(`${socket}.facts`, `strict=${strict ? 1 : 0}\nlog=${log}\n`);
    },
    async startByHand() {
      const child = spawn('/usr/bin/node', [STUB, 'agent', '--socket', socket, '--config', config], { stdio: 'ignore', detached: true });
      child.unref();
      const pid = child.pid ?? 0;
      pidsToStop.push(pid);
      for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 10));
      return pid;
    },
  };
  agent.behave(behaviour);
  agents.push(agent);
  return agent;
}

async function cleanUpAgents(): Promise<void> {
  for (const agent of agents.splice(0)) {
    for (const start of agent.starts()) pidsToStop.push(start.pid);
    for (const pid of pidsToStop.splice(0)) await stopProcess(pid, 2_000);
    for (const suffix of ['', '.facts', '.lock']) rmSync(`${agent.socket}${suffix}`, { force: true });
  }
  for (const pid of pidsToStop.splice(0)) await stopProcess(pid, 2_000);
}

function logLineOf(agent: Agent): Record<string, unknown> {
  const lines = agent.logLines();
  expect(lines).toHaveLength(1);
  return lines[0] as Record<string, unknown>;
}

const fakeRuntimeRan = (r: CommandResult) => /^pid=\d+$/m.test(r.stdout);

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/oft-front-door-');
  chmodSync(tmp, 0o755);
  socketDirCreated = !existsSync(SOCKET_DIR);

  // The package's own build first, as npm run build runs it (it replaces dist/bin/oci-ftrace-runc in one rename).
  await runCommand('node', [BUILD_SCRIPT]);

  STUB = path.join(tmp, 'stub-agent.mjs');
  writeFileSync(STUB, STUB_SOURCE);
  const dead = path.join(tmp, 'dead-agent.mjs');
  writeFileSync(dead, 'process.exit(3);\n');
  FD = path.join(tmp, 'bin', 'oci-ftrace-runc');
  DEAD = path.join(tmp, 'dead', 'oci-ftrace-runc');
  NO_NODE = path.join(tmp, 'no-node', 'oci-ftrace-runc');
  await Promise.all([
    runCommand('node', [BUILD_SCRIPT, '--out', FD], { env: { OFT_AGENT: STUB } }),
    runCommand('node', [BUILD_SCRIPT, '--out', DEAD], { env: { OFT_AGENT: dead } }),
    runCommand('node', [BUILD_SCRIPT, '--out', NO_NODE], { env: { OFT_AGENT: STUB, OFT_NODE: '/nonexistent/node' } }),
  ]);
  for (const dir of ['bin', 'dead', 'no-node']) chmodSync(path.join(tmp, dir), 0o755);

  mkdirSync(path.join(tmp, 'hook'));
  HOOK = path.join(tmp, 'hook', 'oci-ftrace-hook');
  symlinkSync(FD, HOOK);
  mkdirSync(path.join(tmp, 'dead-hook'));
  DEAD_HOOK = path.join(tmp, 'dead-hook', 'oci-ftrace-hook');
  symlinkSync(DEAD, DEAD_HOOK);

  PROBE = path.join(tmp, 'probe');
  writeFileSync(`${PROBE}.c`, PROBE_SOURCE);
  await runCommand('cc', ['-O2', '-o', PROBE, `${PROBE}.c`]);
  FAKE = path.join(tmp, 'fake-runtime');
  writeFileSync(FAKE, '#!/bin/sh\nread -r stat < /proc/$$/stat\necho "pid=$$"\necho "stat=$stat"\n');
  chmodSync(FAKE, 0o755);
}, 120_000);

afterEach(async () => {
  await cleanUpAgents();
});

afterAll(async () => {
  await cleanUpAgents();
  if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  if (socketDirCreated) {
    try {
      rmdirSync(SOCKET_DIR);
    } catch {
      // someone else's agent uses it now
    }
  }
});

// ---------------------------------------------------------------------------------------------

describe('the build', () => {
  it('bakes in the recorded node, the agent bundle and the package root; static; mode 0755', () => {
    const binary = readFileSync(DIST_FRONT_DOOR);
    const node = existsSync(path.join(REPO_ROOT, 'dist', 'node-path'))
      ? readFileSync(path.join(REPO_ROOT, 'dist', 'node-path'), 'utf8').trim()
      : process.execPath;
    expect(binary.includes(Buffer.from(`${node}\0`))).toBe(true);
    expect(binary.includes(Buffer.from(`${path.join(REPO_ROOT, 'dist', 'bundle', 'agent', 'main.js')}\0`))).toBe(true);
    expect(binary.includes(Buffer.from(`front door of ${REPO_ROOT}\0`))).toBe(true);
    expect(statSync(DIST_FRONT_DOOR).mode & 0o777).toBe(0o755);
    expect(execFileSync('file', ['-L', DIST_FRONT_DOOR], { encoding: 'utf8' })).toMatch(/statically linked/);
    expect(readFileSync(FD).includes(Buffer.from(`${STUB}\0`))).toBe(true);
  });

  it('without a C compiler: one line naming what to install, exit 1, nothing written', async () => {
    const out = path.join(tmp, 'no-cc', 'oci-ftrace-runc');
    const r = await runCommand('node', [BUILD_SCRIPT, '--out', out], { env: { CC: 'no-such-cc' }, reject: false });
    expect({ exitCode: r.exitCode, stdout: r.stdout, lines: r.stderr.split('\n').length }).toEqual({ exitCode: 1, stdout: '', lines: 1 });
    expect(r.stderr.trimEnd()).toBe(`oci-ftrace: no C compiler (no-such-cc): cannot build the front door ${out}; install gcc (Debian: apt-get install gcc libc6-dev) then run npm rebuild oci-ftrace (-g when installed globally)`);
    expect(existsSync(path.dirname(out)) ? readdirSync(path.dirname(out)) : []).toEqual([]);
  });
});

describe('pass-through', () => {
  it.each([
    ['--version', ['--version']],
    ['--help', ['--help']],
    ['list', ['--root', '@ROOT', 'list']],
    ['state of nothing', ['--root', '@ROOT', 'state', 'nothing-here']],
    ['an unknown command', ['frobnicate']],
  ])('%s: byte for byte what bare runc prints and returns', async (_name, template) => {
    const root = path.join(tmp, 'runc-root');
    mkdirSync(root, { recursive: true });
    const args = template.map((a) => (a === '@ROOT' ? root : a));
    const bare = await door(args, { bin: RUNC });
    const ours = await door(args);
    expect(shown(ours)).toEqual(shown(bare));
  });

  it('is exactly two execve in one process (ours, then runc), and opens nothing and no socket before the second', async () => {
    const trace = path.join(tmp, 'strace-pass.txt');
    const r = await door(['-f', '-qq', '-s', '4096', '-e', 'trace=execve,openat,open,socket,connect', '-o', trace, FD, '--version'], { bin: '/usr/bin/strace' });
    expect(r.exitCode).toBe(0);
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    const execs = lines.filter((l) => / execve\(/.test(l));
    expect(execs).toHaveLength(2);
    expect(execs[0]).toContain(`execve("${FD}", ["${FD}", "--version"]`);
    expect(execs[1]).toContain('execve("/usr/sbin/runc", ["runc", "--version"]');
    expect(execs.every((l) => l.endsWith('= 0'))).toBe(true);
    const pids = new Set(execs.map((l) => l.split(' ')[0]));
    expect(pids.size).toBe(1);
    const between = lines.slice(lines.indexOf(execs[0] as string) + 1, lines.indexOf(execs[1] as string));
    expect(between).toEqual([]);
  });

  it('words that only look like the sniffed ones, and the word as argv[0], go straight to the runtime', async () => {
    const agent = makeAgent({ reply: 'yes' });
    for (const args of [['created'], ['--run'], ['RUN'], ['state', 'execs'], ['list', '--format', 'json']]) {
      const r = await door(args, { env: { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: PROBE } });
      expect(r.exitCode).toBe(0);
      expect(parseProbe(r.stdout).argv.slice(1).map(String)).toEqual(args);
    }
    const r = await runCommand(FD, ['--version'], { argv0: 'create', env: { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: PROBE } });
    expect(parseProbe(r.stdout).argv.map(String)).toEqual(['probe', '--version']);
    expect(agent.starts()).toEqual([]);
    expect(agent.requests()).toEqual([]);
  });
});

describe('the runtime lookup', () => {
  it('OCI_FTRACE_RUNTIME: an absolute path, or a name on PATH; argv[0] is the runtime’s name', async () => {
    const abs = parseProbe((await door(['x', 'y'], { env: { OCI_FTRACE_RUNTIME: PROBE } })).stdout);
    expect(abs.argv.map(String)).toEqual(['probe', 'x', 'y']);
    const dir = path.join(tmp, 'named');
    mkdirSync(dir);
    copyFileSync(PROBE, path.join(dir, 'my-runtime'));
    chmodSync(path.join(dir, 'my-runtime'), 0o755);
    const named = await door(['x'], { env: { OCI_FTRACE_RUNTIME: 'my-runtime', PATH: `/nonexistent:${dir}/:${SYS_PATH}` } });
    expect(parseProbe(named.stdout).argv.map(String)).toEqual(['my-runtime', 'x']);
  });

  it('OCI_FTRACE_WHICH_RUNTIME=1 prints what it would exec (doctor asks so), runs nothing, and says the lookup error', async () => {
    const which = await door(['create', 'id'], { env: { OCI_FTRACE_WHICH_RUNTIME: '1', OCI_FTRACE_RUNTIME: PROBE } });
    expect(shown(which)).toEqual({ exitCode: 0, stdout: PROBE, stderr: '' });
    const none = await door([], { env: { OCI_FTRACE_WHICH_RUNTIME: '1', OCI_FTRACE_RUNTIME: 'no-such-runtime' } });
    expect(shown(none)).toEqual({ exitCode: 1, stdout: '', stderr: 'oci-ftrace-runc: runtime "no-such-runtime" not found on PATH' });
    // Any other value is not the query: the runtime runs.
    expect(parseProbe((await door(['x'], { env: { OCI_FTRACE_WHICH_RUNTIME: 'yes', OCI_FTRACE_RUNTIME: PROBE } })).stdout).argv.map(String)).toEqual(['probe', 'x']);
  });

  it('bad values of OCI_FTRACE_RUNTIME: one line each, exit 1', async () => {
    const plain = path.join(tmp, 'not-executable');
    writeFileSync(plain, '#!/bin/sh\n');
    const self = path.join(tmp, 'self-link');
    symlinkSync(FD, self);
    const cases: Array<[string, string]> = [
      [plain, `oci-ftrace-runc: runtime ${plain} is not an executable file`],
      [tmp, `oci-ftrace-runc: runtime ${tmp} is not an executable file`],
      ['/nonexistent/runc', 'oci-ftrace-runc: runtime /nonexistent/runc is not an executable file'],
      [FD, `oci-ftrace-runc: runtime ${FD} is oci-ftrace-runc itself, not a real runtime`],
      [self, `oci-ftrace-runc: runtime ${self} is oci-ftrace-runc itself, not a real runtime`],
      ['bin/runc', 'oci-ftrace-runc: runtime "bin/runc" must be an absolute path or a name to look up on PATH'],
      ['./runc', 'oci-ftrace-runc: runtime "./runc" must be an absolute path or a name to look up on PATH'],
      ['no-such-runtime', 'oci-ftrace-runc: runtime "no-such-runtime" not found on PATH'],
    ];
    for (const [value, message] of cases) {
      const r = await door(['--version'], { env: { OCI_FTRACE_RUNTIME: value } });
      expect({ value, ...shown(r) }).toEqual({ value, exitCode: 1, stdout: '', stderr: message });
    }
  });

  it('PATH: relative and empty entries never count; unset means the default; crun when there is no runc', async () => {
    // A runc in the cwd that must never run.
    const cwd = path.join(tmp, 'cwd-with-runc');
    mkdirSync(path.join(cwd, 'bin'), { recursive: true });
    for (const p of [path.join(cwd, 'runc'), path.join(cwd, 'bin', 'runc'), path.join(cwd, 'crun')]) copyFileSync(PROBE, p);
    for (const p of ['runc', 'bin/runc', 'crun']) chmodSync(path.join(cwd, p), 0o755);
    const bare = shown(await door(['--version'], { bin: RUNC }));
    expect(shown(await door(['--version'], { cwd, env: { PATH: `::.:bin:./:${SYS_PATH}` } }))).toEqual(bare);
    expect(shown(await door(['--version'], { cwd, env: { PATH: undefined } }))).toEqual(bare);
    expect(shown(await door(['--version'], { cwd, env: { PATH: ':.:bin' } }))).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'oci-ftrace-runc: neither runc nor crun found on PATH; set OCI_FTRACE_RUNTIME',
    });
    // (/usr/bin/runc is a link to runc on Debian: a directory of its own holds crun alone.)
    const crunOnly = path.join(tmp, 'crun-only');
    mkdirSync(crunOnly);
    symlinkSync(CRUN, path.join(crunOnly, 'crun'));
    expect(shown(await door(['--version'], { cwd, env: { PATH: crunOnly } }))).toEqual(shown(await door(['--version'], { bin: CRUN })));
  });

  it('installed as runc ahead of the real one (symlink or hard link): skips itself and runs the real runc', async () => {
    const bare = shown(await door(['--version'], { bin: RUNC }));
    for (const kind of ['symlink', 'hardlink'] as const) {
      const dir = path.join(tmp, `installed-${kind}`);
      mkdirSync(dir);
      if (kind === 'symlink') symlinkSync(FD, path.join(dir, 'runc'));
      else linkSync(FD, path.join(dir, 'runc'));
      const env = { PATH: `${dir}:${SYS_PATH}` };
      // As the engine calls it (by the name runc on PATH), and as dist/bin/oci-ftrace-runc.
      expect(shown(await door(['--version'], { bin: 'runc', env }))).toEqual(bare);
      expect(shown(await door(['--version'], { env }))).toEqual(bare);
    }
  });

  it('a copy of us as runc is another file, so it is taken as the runtime; the copy sees its own pid and stops the loop', async () => {
    const dir = path.join(tmp, 'copy');
    mkdirSync(dir);
    copyFileSync(FD, path.join(dir, 'runc'));
    chmodSync(path.join(dir, 'runc'), 0o755);
    const env = { PATH: `${dir}:${SYS_PATH}` };
    expect(shown(await door(['--version'], { env }))).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `oci-ftrace-runc: runtime ${dir}/runc runs oci-ftrace-runc again; set OCI_FTRACE_RUNTIME to the real runc or crun`,
    });
    // Called as runc itself, the copy skips itself like a link does.
    expect(shown(await door(['--version'], { bin: path.join(dir, 'runc'), env }))).toEqual(shown(await door(['--version'], { bin: RUNC })));
  });

  it('the loop guard: a runtime that execs us again in the same process is stopped; a pid of another process is not a loop', async () => {
    const dir = path.join(tmp, 'loop');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'runc'), `#!/bin/sh\nexec ${FD} "$@"\n`);
    chmodSync(path.join(dir, 'runc'), 0o755);
    const looped = {
      exitCode: 1,
      stdout: '',
      stderr: `oci-ftrace-runc: runtime ${dir}/runc runs oci-ftrace-runc again; set OCI_FTRACE_RUNTIME to the real runc or crun`,
    };
    expect(shown(await door(['--version'], { env: { PATH: `${dir}:${SYS_PATH}` } }))).toEqual(looped);
    // A create: the first pass asks the agent, the second stops before asking it again.
    const agent = makeAgent({ reply: 'yes' });
    expect(shown(await door(['create', 'x'], { env: { PATH: `${dir}:${SYS_PATH}`, OCI_FTRACE_CONFIG: agent.config } }))).toEqual(looped);
    expect(agent.requests()).toHaveLength(1);
    const inherited = await door(['a'], { env: { OCI_FTRACE_LAUNCHER_PID: '1', OCI_FTRACE_RUNTIME: PROBE } });
    expect(inherited.exitCode).toBe(0);
  });

  it('the runtime sees the caller’s environment plus OCI_FTRACE_LAUNCHER_PID (our pid, now its own), and only the caller’s descriptors', async () => {
    const marker = path.join(tmp, 'marker-file');
    writeFileSync(marker, 'x');
    const agent = makeAgent({ reply: 'yes' });
    // Pass-through; a create answered by a running agent; a create that starts the agent (lock, pipe, socket).
    const running = makeAgent({ reply: 'yes' });
    await running.startByHand();
    // What the caller has open, as the runtime would see it without us (the test runner may hand down descriptors of its own).
    const withMarker = ['/bin/sh', '-c', 'exec 7<"$0"; exec "$@"', marker];
    const bare = parseProbe((await door([], { bin: PROBE, prefix: withMarker, cwd: tmp })).stdout);
    expect(bare.fds.get(7)).toBe(marker);
    for (const [args, config] of [
      [['state', 'x'], agent.config],
      [['create', 'x'], running.config],
      [['create', 'y'], agent.config],
    ] as const) {
      const r = await door(args, {
        env: { OCI_FTRACE_RUNTIME: PROBE, A_VARIABLE: 'kept as it is', OCI_FTRACE_CONFIG: config },
        prefix: withMarker,
        cwd: tmp,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      const probe = parseProbe(r.stdout);
      // PWD is the caller's too: sh (the caller here) exports it.
      expect(probe.env.sort()).toEqual(
        [`PATH=${SYS_PATH}`, `PWD=${tmp}`, 'A_VARIABLE=kept as it is', `OCI_FTRACE_RUNTIME=${PROBE}`, `OCI_FTRACE_CONFIG=${config}`, `OCI_FTRACE_LAUNCHER_PID=${probe.pid}`].sort(),
      );
      expect([...probe.fds.keys()].sort()).toEqual([...bare.fds.keys()].sort());
      for (const [fd, target] of bare.fds) if (fd > 2) expect(probe.fds.get(fd)).toBe(target);
      expect(probe.fds.get(0)).toBe('/dev/null');
    }
    expect(agent.starts()).toHaveLength(1);
  });

  it('a runtime that cannot be exec’d: the reason, and 127 / 126 / 1 as a shell would', async () => {
    const missing = path.join(tmp, 'bad-interpreter');
    writeFileSync(missing, '#!/nonexistent/sh\n');
    const denied = path.join(tmp, 'denied-interpreter');
    writeFileSync(denied, `#!${path.join(tmp, 'not-executable-interpreter')}\n`);
    writeFileSync(path.join(tmp, 'not-executable-interpreter'), '');
    const noFormat = path.join(tmp, 'no-format');
    writeFileSync(noFormat, 'just text\n');
    for (const p of [missing, denied, noFormat]) chmodSync(p, 0o755);
    const cases: Array<[string, number, string]> = [
      [missing, 127, 'No such file or directory'],
      [denied, 126, 'Permission denied'],
      [noFormat, 1, 'Exec format error'],
    ];
    for (const [runtime, code, why] of cases) {
      expect(shown(await door(['--version'], { env: { OCI_FTRACE_RUNTIME: runtime } }))).toEqual({
        exitCode: code,
        stdout: '',
        stderr: `oci-ftrace-runc: cannot run ${runtime}: ${why}`,
      });
    }
  });
});

describe('the sniff and the prepare request', () => {
  it('sends exactly the request: our pid (the runtime’s), our start time, cwd, the runtime, the config made absolute, argv as given', async () => {
    const agent = makeAgent({ reply: 'yes' });
    await agent.startByHand();
    const relative = path.relative(agent.dir, agent.config);
    const argv = ['--root', '/run/x', '--log', 'l.json', 'create', '--bundle', 'b', '--', 'id with space', 'q"b\\s', 'tab\tnl\n\x01\x1f', 'é✓'];
    const r = await door(argv, {
      cwd: agent.dir,
      env: { OCI_FTRACE_CONFIG: relative, OCI_FTRACE_RUNTIME: FAKE },
      // One more argument that is not UTF-8 at all: byte 0xff.
      prefix: ['/bin/sh', '-c', 'exec "$@" "$(printf \'\\377\')"', 'sh'],
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const pid = Number(/^pid=(\d+)$/m.exec(r.stdout)?.[1]);
    const stat = /^stat=(.*)$/m.exec(r.stdout)?.[1] ?? '';
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    expect(start).toMatch(/^\d+$/);
    const expected = Buffer.concat([
      Buffer.from(`{"v":1,"kind":"prepare","pid":${pid},"start":"${start}","cwd":`),
      jsonString(agent.dir),
      Buffer.from(',"runtime":'),
      jsonString(FAKE),
      Buffer.from(',"config":'),
      jsonString(agent.config),
      Buffer.from(',"argv":['),
      Buffer.concat([...argv.map(jsonString), jsonString(Buffer.from([0xff]))].flatMap((s, i) => (i === 0 ? [s] : [Buffer.from(','), s]))),
      Buffer.from(']}'),
    ]);
    expect(agent.requests()).toHaveLength(1);
    expect(agent.requests()[0]?.toString('latin1')).toBe(expected.toString('latin1'));
    // And it is JSON the agent can read.
    expect(JSON.parse(agent.requests()[0]?.toString('utf8') ?? '')).toMatchObject({ pid, start, argv: [...argv, '\ufffd'] });
  });

  it('a request of 1.2 MB (argv) arrives whole; a log line keeps the argv that fits in 64 KiB and counts the rest', async () => {
    const agent = makeAgent({ reply: 'yes' });
    const argv = ['create', ...Array.from({ length: 300 }, (_, i) => `${i}:${'\u0001'.repeat(1000)}${'x'.repeat(3000)}`)];
    const r = await door(argv, { env: { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: FAKE } });
    expect(r.exitCode, r.stderr).toBe(0);
    const [request] = agent.requests();
    expect(request?.length).toBeGreaterThan(1_200_000);
    expect((JSON.parse(request?.toString() ?? '{}') as { argv: string[] }).argv).toEqual(argv);

    const down = makeAgent({ reply: 'yes' });
    down.facts(false);
    const failed = await door(argv, { bin: DEAD, env: { OCI_FTRACE_CONFIG: down.config, OCI_FTRACE_RUNTIME: FAKE } });
    expect(failed.exitCode).toBe(0);
    const text = readFileSync(down.log, 'utf8');
    expect(text.length).toBeLessThanOrEqual(64 * 1024);
    const line = logLineOf(down) as { argv: string[]; argvOmitted: number; msg: string };
    expect(line.argv.length).toBeGreaterThan(1);
    expect([...line.argv, ...argv.slice(line.argv.length)]).toEqual(argv);
    expect(line.argvOmitted).toBe(argv.length - line.argv.length);
    expect(line.msg).toMatch(/exited without listening; the container runs untraced$/);
  });

  it.each(['create', 'run', 'restore', 'exec'])('%s anywhere in argv asks the agent; the runtime found on PATH is named absolute', async (word) => {
    const agent = makeAgent({ reply: 'yes' });
    // exec asks only an agent that runs (see below).
    if (word === 'exec') await agent.startByHand();
    const dir = path.join(tmp, `path-${word}`);
    mkdirSync(dir);
    copyFileSync(FAKE, path.join(dir, 'runc'));
    chmodSync(path.join(dir, 'runc'), 0o755);
    const r = await door(['--debug', word, '--', 'x'], { env: { OCI_FTRACE_CONFIG: agent.config, PATH: `${dir}//:${SYS_PATH}` } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(fakeRuntimeRan(r)).toBe(true);
    const request = JSON.parse(agent.requests()[0]?.toString() ?? '{}') as { runtime: string; argv: string[] };
    expect(request).toMatchObject({ runtime: `${dir}/runc`, argv: ['--debug', word, '--', 'x'] });
  });

  it('exec with no agent running starts none, logs nothing, and runs the runtime at once', async () => {
    const agent = makeAgent({ reply: 'yes' });
    const r = await door(['exec', 'ctr', 'ls'], { env: { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: FAKE } });
    expect({ exitCode: r.exitCode, stderr: r.stderr, ran: fakeRuntimeRan(r) }).toEqual({ exitCode: 0, stderr: '', ran: true });
    expect(agent.starts()).toEqual([]);
    expect(agent.requests()).toEqual([]);
    expect(agent.logLines()).toEqual([]);
    expect(r.durationMs).toBeLessThan(1000);
  });

  it('go true execs the runtime; go false prints the message and exits 1 without it', async () => {
    const agent = makeAgent({ reply: 'yes' });
    const env = { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: FAKE };
    const go = await door(['create', 'x'], { env });
    expect({ exitCode: go.exitCode, stderr: go.stderr, ran: fakeRuntimeRan(go) }).toEqual({ exitCode: 0, stderr: '', ran: true });
    agent.behave({ reply: 'no', message: 'oci-ftrace: strict mode: "x" cannot be traced:\tno tracefs \\ é ✓ 😀' });
    const no = await door(['create', 'x'], { env });
    expect({ exitCode: no.exitCode, stdout: no.stdout, stderr: no.stderr }).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'oci-ftrace: strict mode: "x" cannot be traced:\tno tracefs \\ é ✓ 😀',
    });
    // Whitespace and member order are JSON's business; \u escapes (a surrogate pair, a lone one) are decoded.
    agent.behave({ reply: 'raw', raw: ' { "go" : false , "message" : "a\\u0041\\ud83d\\ude00\\udc00\\/z" , "v" : 1 } ' });
    const spaced = await door(['create', 'x'], { env });
    expect({ exitCode: spaced.exitCode, stderr: spaced.stderr }).toEqual({ exitCode: 1, stderr: 'aA😀\ufffd/z' });
    expect(agent.logLines()).toEqual([]);
  });

  it('malformed replies fail open, each with a log line in the facts’ log; strict refuses them', async () => {
    const agent = makeAgent({ reply: 'yes' });
    const env = { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: FAKE };
    const big = Buffer.alloc(4);
    big.writeUInt32BE(64 * 1024 + 1);
    const bad: Behaviour[] = [
      { reply: 'raw', raw: '{"v":1,"go":"yes"}' },
      { reply: 'raw', raw: '{"v":2,"go":true}' },
      { reply: 'raw', raw: '{"v":10,"go":true}' },
      { reply: 'raw', raw: '{"v":1,"go":true,"extra":1}' },
      { reply: 'raw', raw: '{"v":1,"go":false}' },
      { reply: 'raw', raw: '{"v":1,"go":true,"go":true}' },
      { reply: 'raw', raw: '{"v":1,"ok":true}' },
      { reply: 'raw', raw: '{"v":1,"go":true} x' },
      { reply: 'raw', raw: 'not json' },
      { reply: 'bytes', hex: big.toString('hex') },
      { reply: 'bytes', hex: '00000010' + Buffer.from('{"v":1,').toString('hex') },
      { reply: 'close' },
    ];
    for (const b of bad) {
      agent.behave(b);
      const r = await door(['create', 'x'], { env });
      expect({ b, exitCode: r.exitCode, stderr: r.stderr, ran: fakeRuntimeRan(r) }).toEqual({ b, exitCode: 0, stderr: '', ran: true });
    }
    const lines = agent.logLines();
    expect(lines).toHaveLength(bad.length);
    for (const line of lines) {
      expect(line).toMatchObject({ level: 40, component: 'front-door', argv: ['create', 'x'] });
      expect(line.msg).toMatch(/^(malformed reply.*|the agent closed the connection without a whole reply); the container runs untraced$/);
    }
    agent.behave({ reply: 'raw', raw: '{"v":1,"go":"yes"}', strict: true });
    agent.facts(true);
    const strict = await door(['create', 'x'], { env });
    expect(shown(strict)).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `oci-ftrace-runc: cannot reach the oci-ftrace agent at ${agent.socket}: malformed reply; strict mode refuses the container`,
    });
  });

  it('a reply that never comes: fails open after 10 s', async () => {
    const agent = makeAgent({ reply: 'never' });
    const r = await door(['run', 'x'], { env: { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: FAKE } });
    expect({ exitCode: r.exitCode, stderr: r.stderr, ran: fakeRuntimeRan(r) }).toEqual({ exitCode: 0, stderr: '', ran: true });
    expect(r.durationMs).toBeGreaterThanOrEqual(10_000);
    expect(r.durationMs).toBeLessThan(12_500);
    expect(logLineOf(agent).msg).toBe('no reply within 10 s; the container runs untraced');
  }, 30_000);
});

describe('starting the agent', () => {
  it('no agent: starts it detached, in its own session, cwd /, only PATH, 0-2 on /dev/null, nothing of the caller’s', async () => {
    const agent = makeAgent({ reply: 'yes' });
    const marker = path.join(tmp, 'marker-start');
    writeFileSync(marker, 'x');
    const withMarker = ['/bin/sh', '-c', 'exec 7<"$0"; exec "$@"', marker];
    const r = await door(['create', 'x'], {
      env: { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: PROBE, SECRET: 'not for the agent' },
      prefix: withMarker,
      cwd: agent.dir,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const probe = parseProbe(r.stdout);
    const [start] = agent.starts();
    expect(agent.starts()).toHaveLength(1);
    expect(start).toMatchObject({ socket: agent.socket, config: agent.config, argv: [STUB, 'agent', '--socket', agent.socket, '--config', agent.config] });
    const stubPid = start?.pid ?? 0;
    expect(isProcessAlive(stubPid)).toBe(true);
    const [, ppid, pgrp, session] = statFields(stubPid);
    expect(Number(session)).toBe(stubPid);
    expect(Number(pgrp)).toBe(stubPid);
    // Reparented: to init, or to a subreaper above the test (never the front door or its caller).
    expect(Number(ppid) === 1 || ancestors(process.pid).includes(Number(ppid))).toBe(true);
    expect(Number(ppid)).not.toBe(probe.pid);
    expect(readFileSync(`/proc/${stubPid}/environ`, 'utf8')).toBe(`PATH=${SYS_PATH}\0`);
    expect(readlinkSync(`/proc/${stubPid}/cwd`)).toBe('/');
    const fds = new Map(readdirSync(`/proc/${stubPid}/fd`).map((fd) => [Number(fd), readlinkSync(`/proc/${stubPid}/fd/${fd}`)]));
    expect([fds.get(0), fds.get(1), fds.get(2)]).toEqual(['/dev/null', '/dev/null', '/dev/null']);
    // None of the caller's descriptors reached it: above 2, what the runtime got from the caller (the
    // marker, whatever the test runner handed down) and the caller's stdout/stderr pipes. (/dev/null
    // aside: the agent may open it itself.)
    const callers = new Set([...probe.fds.values()].filter((t) => t !== '/dev/null'));
    expect(callers.has(marker)).toBe(true);
    expect([...fds].filter(([fd, t]) => fd > 2 && callers.has(t))).toEqual([]);
    expect(existsSync(`${agent.socket}.lock`)).toBe(true);
  });

  it('a caller with 0-2 closed: the runtime gets them closed (none of ours in their place), the agent gets /dev/null', async () => {
    const agent = makeAgent({ reply: 'yes' });
    const out = path.join(agent.dir, 'probe.out');
    // Our socket, lock and start pipe all land on 0-2 here; a refusal then has no stderr to go to.
    const r = await door(['create', 'x'], {
      env: { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: PROBE, PROBE_OUT: out },
      prefix: ['/bin/sh', '-c', 'exec <&- >&- 2>&-; exec "$@"', 'sh'],
    });
    expect(r.exitCode).toBe(0);
    const probe = parseProbe(readFileSync(out, 'utf8'));
    expect([...probe.fds.keys()].filter((fd) => fd <= 2)).toEqual([]);
    expect(agent.requests()).toHaveLength(1);
    const stubPid = agent.starts()[0]?.pid ?? 0;
    expect([0, 1, 2].map((fd) => readlinkSync(`/proc/${stubPid}/fd/${fd}`))).toEqual(['/dev/null', '/dev/null', '/dev/null']);
    agent.behave({ reply: 'no', message: 'refused' });
    const refused = await door(['create', 'x'], {
      env: { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: PROBE },
      prefix: ['/bin/sh', '-c', 'exec 2>&-; exec "$@"', 'sh'],
    });
    expect({ exitCode: refused.exitCode, stdout: refused.stdout, stderr: refused.stderr }).toEqual({ exitCode: 1, stdout: '', stderr: '' });
  });

  it('a socket left by a dead agent (connection refused) gets a new agent', async () => {
    const agent = makeAgent({ reply: 'yes' });
    const first = await agent.startByHand();
    process.kill(first, 'SIGKILL');
    // Gone, not merely a zombie: a thread group's leader shows Z while its other threads (which
    // hold the listening socket until the last one exits) are still on their way out.
    for (let i = 0; i < 500 && existsSync(`/proc/${first}`); i++) await new Promise((res) => setTimeout(res, 10));
    expect(existsSync(`/proc/${first}`)).toBe(false);
    expect(existsSync(agent.socket)).toBe(true);
    const r = await door(['create', 'x'], { env: { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: FAKE } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(agent.starts()).toHaveLength(2);
    expect(agent.requests()).toHaveLength(1);
  });

  it('20 concurrent creates with no agent start exactly one', async () => {
    const agent = makeAgent({ reply: 'yes', listenDelayMs: 300 });
    const env = { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: FAKE };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => door(['create', `c${i}`], { env })));
    expect(results.map((r) => [r.exitCode, r.stderr, fakeRuntimeRan(r)])).toEqual(results.map(() => [0, '', true]));
    expect(agent.starts()).toHaveLength(1);
    expect(agent.requests()).toHaveLength(20);
    expect(agent.logLines()).toEqual([]);
  });

  it('an agent that cannot start: fails open at once with a log line in the facts’ log, or refuses in strict mode', async () => {
    const agent = makeAgent({ reply: 'yes' });
    agent.facts(false);
    const env = { OCI_FTRACE_CONFIG: agent.config, OCI_FTRACE_RUNTIME: FAKE };
    const before = Date.now();
    const r = await door(['create', 'x'], { bin: DEAD, env });
    expect({ exitCode: r.exitCode, stderr: r.stderr, ran: fakeRuntimeRan(r) }).toEqual({ exitCode: 0, stderr: '', ran: true });
    // It noticed the agent die rather than waiting out the 5 s.
    expect(r.durationMs).toBeLessThan(4_000);
    const line = logLineOf(agent);
    const pid = Number(/^pid=(\d+)$/m.exec(r.stdout)?.[1]);
    expect(line).toMatchObject({ level: 40, pid, component: 'front-door', argv: ['create', 'x'] });
    expect(line.msg).toMatch(/^the agent \(pid \d+\) exited without listening; the container runs untraced$/);
    expect(Number(line.time)).toBeGreaterThanOrEqual(before);
    expect(Number(line.time)).toBeLessThanOrEqual(Date.now());
    expect(Object.keys(line)).toEqual(['level', 'time', 'pid', 'component', 'argv', 'msg']);

    const noNode = await door(['create', 'y'], { bin: NO_NODE, env });
    expect(noNode.exitCode).toBe(0);
    expect(agent.logLines()[1]?.msg).toBe('cannot start the agent: cannot run /nonexistent/node: No such file or directory; the container runs untraced');

    agent.facts(true);
    const strict = await door(['create', 'x'], { bin: DEAD, env });
    expect(shown(strict).stdout).toBe('');
    expect(strict.exitCode).toBe(1);
    expect(strict.stderr).toMatch(
      new RegExp(`^oci-ftrace-runc: cannot reach the oci-ftrace agent at ${agent.socket}: the agent \\(pid \\d+\\) exited without listening; strict mode refuses the container$`),
    );
    expect(agent.logLines()).toHaveLength(2);
  });
});

describe('the socket’s name', () => {
  it('agent-<FNV-1a 64 of the absolute config path>.sock under /run/oci-ftrace for root: relative paths get the cwd, nothing is normalised', async () => {
    const agent = makeAgent({ reply: 'yes' });
    const env = (config: string) => ({ OCI_FTRACE_CONFIG: config, OCI_FTRACE_RUNTIME: FAKE });
    // Relative to the cwd; relative to "/" (one slash); absolute with "." and "//" left as they are.
    const relative = path.relative(agent.dir, agent.config);
    const fromRoot = agent.config.slice(1);
    const odd = agent.config.replace(/\/config\.json$/, '/./record/..//config.json');
    for (const [config, cwd, absolute] of [
      [relative, agent.dir, agent.config],
      [fromRoot, '/', agent.config],
      [odd, agent.dir, odd],
    ] as const) {
      const r = await door(['create', 'x'], { env: env(config), cwd });
      expect(r.exitCode, r.stderr).toBe(0);
      const start = agent.starts().at(-1);
      expect(start?.socket).toBe(path.join(SOCKET_DIR, `agent-${fnv1a64(absolute)}.sock`));
      expect(start?.config).toBe(absolute);
      const requests = agent.requests();
      expect((JSON.parse(requests.at(-1)?.toString() ?? '{}') as { config: string }).config).toBe(absolute);
      if (absolute !== agent.config) for (const s of agent.starts().slice(-1)) pidsToStop.push(s.pid);
      if (absolute !== agent.config) for (const suffix of ['', '.facts', '.lock']) rmSync(`${socketFor(absolute)}${suffix}`, { force: true });
    }
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
  });

  it('not root: agent.sock in $XDG_RUNTIME_DIR/oci-ftrace without a config; a directory that is not ours is refused', async () => {
    const xdg = path.join(tmp, 'xdg');
    mkdirSync(path.join(xdg, 'oci-ftrace'), { recursive: true });
    chownSync(xdg, NOBODY, NOBODY);
    chownSync(path.join(xdg, 'oci-ftrace'), NOBODY, NOBODY);
    chmodSync(path.join(xdg, 'oci-ftrace'), 0o700);
    const socket = path.join(xdg, 'oci-ftrace', 'agent.sock');
    const agent = makeAgent({ reply: 'yes' }, { socket, behaviourFile: path.join(xdg, 'oci-ftrace', 'stub-behaviour.json') });
    const asNobody = ['/usr/bin/setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
    const r = await door(['create', 'x'], { env: { XDG_RUNTIME_DIR: xdg, OCI_FTRACE_RUNTIME: FAKE }, prefix: asNobody, cwd: '/' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(agent.starts().map((s) => s.socket)).toEqual([socket]);
    expect(agent.starts()[0]?.argv).toEqual([STUB, 'agent', '--socket', socket]);
    expect(agent.requests()).toHaveLength(1);

    // $XDG_RUNTIME_DIR/oci-ftrace made by someone else: not a place to start an agent in.
    const foreign = path.join(tmp, 'xdg-foreign');
    mkdirSync(path.join(foreign, 'oci-ftrace'), { recursive: true });
    const log = path.join(tmp, 'foreign.log');
    writeFileSync(log, '');
    chmodSync(log, 0o666);
    writeFileSync(path.join(foreign, 'oci-ftrace', 'agent.sock.facts'), `strict=0\nlog=${log}\n`);
    const refused = await door(['create', 'x'], { env: { XDG_RUNTIME_DIR: foreign, OCI_FTRACE_RUNTIME: FAKE }, prefix: asNobody, cwd: '/' });
    expect({ exitCode: refused.exitCode, stderr: refused.stderr, ran: fakeRuntimeRan(refused) }).toEqual({ exitCode: 0, stderr: '', ran: true });
    expect(JSON.parse(readFileSync(log, 'utf8')).msg).toBe(
      `${foreign}/oci-ftrace is not a directory owned by uid ${NOBODY}; the container runs untraced`,
    );
  });

  it('not root, no usable XDG_RUNTIME_DIR: /tmp/oci-ftrace-<uid>', async (ctx) => {
    const dir = `/tmp/oci-ftrace-${NOBODY}`;
    if (existsSync(dir)) ctx.skip();
    try {
      mkdirSync(dir, { mode: 0o700 });
      chownSync(dir, NOBODY, NOBODY);
      const socket = path.join(dir, 'agent.sock');
      const agent = makeAgent({ reply: 'yes' }, { socket, behaviourFile: path.join(dir, 'stub-behaviour.json') });
      const asNobody = ['/usr/bin/setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
      for (const xdg of [undefined, 'relative/dir']) {
        const r = await door(['create', 'x'], { env: { XDG_RUNTIME_DIR: xdg, OCI_FTRACE_RUNTIME: FAKE }, prefix: asNobody, cwd: '/' });
        expect(r.exitCode, r.stderr).toBe(0);
      }
      expect(agent.starts().map((s) => s.socket)).toEqual([socket]);
      expect(agent.requests()).toHaveLength(2);
      await cleanUpAgents();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hook mode', () => {
  const STATE = '{"ociVersion":"1.0.2","id":"ctr-1","status":"creating","pid":4242,"bundle":"/b","annotations":{"k":"v é"}}';

  it('splices the state in verbatim (trailing whitespace trimmed); ok true is 0, ok false is the message and 1', async () => {
    const agent = makeAgent({ reply: 'yes' });
    const hookArgs = (kind: string) => [kind, agent.socket, '5', agent.config];
    const ok = await door(hookArgs('record'), { bin: HOOK, input: `${STATE} \n\t\n` });
    expect({ exitCode: ok.exitCode, stdout: ok.stdout, stderr: ok.stderr }).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    expect(agent.requests()[0]?.toString()).toBe(`{"v":1,"kind":"record","state":${STATE}}`);
    expect(agent.starts()[0]?.argv).toEqual([STUB, 'agent', '--socket', agent.socket, '--config', agent.config]);
    agent.behave({ reply: 'no', message: 'the trace of ctr-1 is incomplete' });
    const no = await door(hookArgs('report'), { bin: HOOK, input: STATE });
    expect({ exitCode: no.exitCode, stdout: no.stdout, stderr: no.stderr }).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'oci-ftrace report: the trace of ctr-1 is incomplete',
    });
    expect(agent.requests()[1]?.toString()).toBe(`{"v":1,"kind":"report","state":${STATE}}`);
  });

  it('the agent gone and not startable: 0 and a log line with the kind and the container id; strict: 1', async () => {
    const agent = makeAgent({ reply: 'yes' });
    agent.facts(false);
    const r = await door(['record', agent.socket, '5', agent.config], { bin: DEAD_HOOK, input: STATE });
    expect({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    const line = logLineOf(agent);
    expect(line).toMatchObject({ level: 40, component: 'front-door', kind: 'record', id: 'ctr-1', argv: ['record', agent.socket, '5', agent.config] });
    expect(line.msg).toMatch(/^the agent \(pid \d+\) exited without listening; the container runs untraced$/);
    agent.facts(true);
    const strict = await door(['report', agent.socket, '5', agent.config], { bin: DEAD_HOOK, input: STATE });
    expect(strict.exitCode).toBe(1);
    expect(strict.stderr).toMatch(new RegExp(`^oci-ftrace report: cannot reach the oci-ftrace agent at ${agent.socket}: the agent \\(pid \\d+\\) exited without listening$`));
  });

  it('a reply that does not come within WAIT_SECONDS fails open', async () => {
    const agent = makeAgent({ reply: 'never' });
    const r = await door(['record', agent.socket, '1', agent.config], { bin: HOOK, input: STATE });
    expect({ exitCode: r.exitCode, stderr: r.stderr }).toEqual({ exitCode: 0, stderr: '' });
    expect(r.durationMs).toBeGreaterThanOrEqual(1_000);
    expect(logLineOf(agent)).toMatchObject({ kind: 'record', id: 'ctr-1', msg: 'no reply within 1 s; the container runs untraced' });
  });

  it('bad arguments and bad input: exit 1, one line', async () => {
    const agent = makeAgent({ reply: 'yes' });
    const cases: Array<[string[], string, RegExp]> = [
      [['record', agent.socket, '5'], STATE, /^oci-ftrace-hook: usage: oci-ftrace-hook record\|report SOCKET WAIT_SECONDS CONFIG/],
      [['trace', agent.socket, '5', ''], STATE, /^oci-ftrace-hook: the kind must be record or report, not "trace"$/],
      [['record', 'relative.sock', '5', ''], STATE, /^oci-ftrace-hook: the socket must be an absolute path/],
      [['record', `/${'s'.repeat(120)}`, '5', ''], STATE, /^oci-ftrace-hook: the socket must be an absolute path shorter than 108 bytes/],
      [['record', agent.socket, '0', ''], STATE, /^oci-ftrace-hook: WAIT_SECONDS must be a number from 1 to 3600, not "0"$/],
      [['record', agent.socket, '3601', ''], STATE, /WAIT_SECONDS must be a number from 1 to 3600, not "3601"$/],
      [['record', agent.socket, '5s', ''], STATE, /not "5s"$/],
      [['record', agent.socket, '', ''], STATE, /not ""$/],
      [['record', agent.socket, '5', 'relative.json'], STATE, /^oci-ftrace-hook: the config must be an absolute path or "", not "relative.json"$/],
      [['record', agent.socket, '5', agent.config], ' \n', /^oci-ftrace record: no state on stdin$/],
      [['record', agent.socket, '5', agent.config], `{"id":"${'x'.repeat(1 << 20)}"}`, /^oci-ftrace record: the state on stdin is larger than 1048576 bytes$/],
    ];
    for (const [args, input, message] of cases) {
      const r = await door(args, { bin: HOOK, input });
      expect({ args, exitCode: r.exitCode, stdout: r.stdout, lines: r.stderr.split('\n').length }).toEqual({ args, exitCode: 1, stdout: '', lines: 1 });
      expect(r.stderr).toMatch(message);
    }
    expect(agent.starts()).toEqual([]);
  });

  it('as real runc runs it: a createRuntime hook with the args the spec gives', async () => {
    const agent = makeAgent({ reply: 'yes' });
    const b = await makeBusyboxBundle(path.join(tmp, 'bundle'), { args: ['true'] });
    const config = JSON.parse(readFileSync(b.configPath, 'utf8')) as Record<string, unknown>;
    config.hooks = { createRuntime: [{ path: FD, args: ['oci-ftrace-hook', 'record', agent.socket, '5', agent.config] }] };
    writeFileSync(b.configPath, JSON.stringify(config));
    const id = uniqueId('front-door-hook');
    const root = path.join(tmp, 'runc-hook-root');
    const r = await runCommand(RUNC, ['--root', root, 'run', '--bundle', b.bundleDir, id], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const request = JSON.parse(agent.requests()[0]?.toString() ?? '{}') as { kind: string; state: { id: string; status: string; bundle: string } };
    expect(request).toMatchObject({ kind: 'record', state: { id, status: 'creating', bundle: b.bundleDir } });
  });
});

describe('leftovers', () => {
  it('no stub agent is left running and no socket, facts or lock file of ours is left', async () => {
    await cleanUpAgents();
    expect(processesMatching(STUB_PATTERN).filter((p) => p.cmdline.includes(tmp))).toEqual([]);
    const ours = existsSync(SOCKET_DIR) ? readdirSync(SOCKET_DIR).filter((f) => /^agent-[0-9a-f]{16}\.sock/.test(f)) : [];
    const mine = new Set(Array.from({ length: agentCount }, (_, i) => path.basename(socketFor(path.join(tmp, 'agents', String(i), 'config.json')))));
    expect(ours.filter((f) => mine.has(f.replace(/\.(facts|lock)$/, '')))).toEqual([]);
  });
});

import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { FRONT_DOOR, LAUNCHER, LAUNCHERS, explain, frontDoorIsCompiled, launcherEnv } from '../runc-args/launcher.js';

// The front door (dist/bin/oci-ftrace-runc, src/launcher/): what it does itself, and how it hands
// the rest to the bash launcher. Shared behaviour is tested for both launchers in
// passthrough.test.ts, locate.test.ts and launcher-prepare.test.ts.
const scratch = mkdtempSync(join(tmpdir(), 'oci-ftrace-front-door-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const compiled = frontDoorIsCompiled();
const hasStrace = spawnSync('strace', ['-V']).status === 0;
const RUNC = '/usr/sbin/runc';

// A fake real runtime: records the path it was run by and its arguments, exits 0.
const record = join(scratch, 'runtime.record');
const realDir = join(scratch, 'real');
mkdirSync(realDir);
const fakeRunc = join(realDir, 'runc');
writeFileSync(fakeRunc, `#!/bin/sh\nprintf '%s\\n' "$0" "$@" > ${record}\n`);
chmodSync(fakeRunc, 0o755);
const recorded = () => readFileSync(record, 'utf8').split('\n').slice(0, -1);
beforeEach(() => rmSync(record, { force: true }));
// Creating commands then run no prepare step: the fake runtime gets no real bundle.
const untraced = join(scratch, 'untraced.json');
writeFileSync(untraced, '{"trace": "never"}');

interface Chain {
  /** Paths of the execve calls that succeeded, in order. */
  execs: string[];
  /** fork, vfork or clone calls before the last of them. */
  forksBefore: number;
  /** All those execve calls came from one process. */
  onePid: boolean;
}

/** strace -f of one call, as bench/passthrough.mjs checks it. */
function execChain(file: string, argv: readonly string[], env: Record<string, string>): Chain {
  const out = join(scratch, 'strace.out');
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve,fork,vfork,clone,clone3', '-o', out, file, ...argv], { env, encoding: 'utf8' });
  if (r.error) throw r.error;
  const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  const execLines = lines.filter((l) => /execve\(/.test(l) && !/= -1 /.test(l));
  const last = lines.lastIndexOf(execLines.at(-1) as string);
  return {
    execs: execLines.map((l) => /execve\("([^"]+)"/.exec(l)?.[1] as string),
    forksBefore: lines.slice(0, last).filter((l) => /\b(fork|vfork|clone3?)\(/.test(l)).length,
    onePid: new Set(execLines.map((l) => l.split(/\s+/)[0])).size === 1,
  };
}

describe('the build', () => {
  it('compiles the front door when a C compiler is there, else links the bash launcher', () => {
    const haveCompiler = spawnSync(process.env.CC || 'cc', ['--version']).error === undefined;
    if (haveCompiler) expect(compiled).toBe(true);
    else expect(readlinkSync(FRONT_DOOR)).toBe('../../bin/oci-ftrace-runc');
  });
});

describe.skipIf(!compiled)('the compiled front door', () => {
  const emptyRoot = join(scratch, 'state');

  it.skipIf(!hasStrace).each([[['--version']], [['--root', emptyRoot, 'list']], [['--root', emptyRoot, 'state', 'missing-id']]])(
    'passes %j through with two execs in one process: itself, then runc',
    (argv) => {
      expect(execChain(FRONT_DOOR, argv, launcherEnv())).toEqual({ execs: [FRONT_DOOR, RUNC], forksBefore: 0, onePid: true });
    },
  );

  it.skipIf(!hasStrace)('hands create to the bash launcher by exec too', () => {
    expect(execChain(FRONT_DOOR, ['create', '--help'], launcherEnv())).toEqual({ execs: [FRONT_DOOR, LAUNCHER, RUNC], forksBefore: 0, onePid: true });
  });

  it('changes no environment variable but OCI_FTRACE_LAUNCHER_PID, which it sets to its pid', async () => {
    const env = launcherEnv({ OCI_FTRACE_RUNTIME: '/usr/bin/env', ODD: 'a\nb=c', EMPTY: '', OCI_FTRACE_LAUNCHER_PID: '1' });
    const child = execa(FRONT_DOOR, ['-0'], { env, extendEnv: false });
    const { stdout } = await child;
    const got = stdout.split('\0').filter(Boolean).sort();
    const expected = Object.entries({ ...env, OCI_FTRACE_LAUNCHER_PID: String(child.pid) }).map(([k, v]) => `${k}=${v}`).sort();
    expect(got).toEqual(expected);
  });

  it('leaves no descriptor open in the runtime', async () => {
    const config = join(scratch, 'readlink.json');
    writeFileSync(config, '{"runtime": "readlink"}');
    const fds = [3, 4, 5, 6, 7, 8, 9].map((fd) => `/proc/self/fd/${fd}`);
    const result = await execa(FRONT_DOOR, fds, { env: { PATH: '/usr/bin', OCI_FTRACE_CONFIG: config }, extendEnv: false, reject: false });
    expect([result.exitCode, result.stdout, result.stderr]).toEqual([1, '', '']);
  });

  it('hands a runtime it cannot exec (a script without #!) to bash, which runs it', async () => {
    const script = join(scratch, 'no-shebang');
    writeFileSync(script, 'echo "no #! line: $*"\nexit 3\n');
    chmodSync(script, 0o755);
    for (const { path } of LAUNCHERS) {
      const result = await execa(path, ['state', 'id'], { env: launcherEnv({ OCI_FTRACE_RUNTIME: script }), extendEnv: false, reject: false });
      expect([result.exitCode, result.stdout, result.stderr]).toEqual([3, 'no #! line: state id', '']);
    }
  });

  it('hands explain mode to the bash launcher', async () => {
    for (const argv of [['state', 'x'], ['--log', '/l', 'create', '--bundle', '/b', 'id'], ['run', '--help']]) {
      const env = launcherEnv({ OCI_FTRACE_RUNTIME: fakeRunc });
      expect(await explain(argv, env, { launcher: FRONT_DOOR })).toEqual(await explain(argv, env));
    }
  });

  describe('a copy outside its package', () => {
    const copy = join(scratch, 'copied', 'dist', 'bin', 'oci-ftrace-runc');
    mkdirSync(dirname(copy), { recursive: true });
    copyFileSync(FRONT_DOOR, copy);
    chmodSync(copy, 0o755);

    it('passes through by itself', async () => {
      await execa(copy, ['--version'], { env: launcherEnv({ OCI_FTRACE_RUNTIME: fakeRunc }), extendEnv: false });
      expect(recorded()).toEqual([fakeRunc, '--version']);
    });

    it.skipIf(!hasStrace)('hands create to the bash launcher of the package root compiled into it', () => {
      expect(existsSync(join(scratch, 'copied', 'bin', 'oci-ftrace-runc'))).toBe(false);
      const env = launcherEnv({ OCI_FTRACE_RUNTIME: fakeRunc, OCI_FTRACE_CONFIG: untraced });
      expect(execChain(copy, ['create', 'id'], env)).toEqual({ execs: [copy, LAUNCHER, fakeRunc], forksBefore: 0, onePid: true });
      expect(recorded()).toEqual([fakeRunc, 'create', 'id']);
    });
  });
});

describe.each(LAUNCHERS)('the $name installed as runc ahead of the real one on PATH', ({ name, path }) => {
  const installed = join(scratch, `installed-${name.replace(' ', '-')}`);
  mkdirSync(installed);
  symlinkSync(path, join(installed, 'runc'));
  const env = launcherEnv({ PATH: `${installed}:${realDir}`, OCI_FTRACE_CONFIG: untraced });
  const call = (argv: string[]) => execa(join(installed, 'runc'), argv, { env, extendEnv: false, timeout: 10_000 });

  it('passes --version and state through to the real runc', async () => {
    await call(['--version']);
    expect(recorded()).toEqual([fakeRunc, '--version']);
    await call(['state', 'id']);
    expect(recorded()).toEqual([fakeRunc, 'state', 'id']);
  });

  it('takes create, run and restore to the real runc, not back into itself', async () => {
    for (const argv of [['create', '--bundle', '/b', 'id'], ['run', '-d', 'id'], ['restore', 'id']]) {
      await call(argv);
      expect(recorded()).toEqual([fakeRunc, ...argv]);
    }
  });
});

describe.skipIf(!compiled)('a copy of the front door installed as runc', () => {
  // bash knows the front door by its path in the package: a copy elsewhere is a stranger to it.
  // Symlink it instead (README "Install"); the loop guard stops what would otherwise loop.
  const installed = join(scratch, 'installed-copy');
  mkdirSync(installed);
  copyFileSync(FRONT_DOOR, join(installed, 'runc'));
  chmodSync(join(installed, 'runc'), 0o755);
  const env = launcherEnv({ PATH: `${installed}:${realDir}`, OCI_FTRACE_CONFIG: untraced });

  it('passes through to the real runc (it knows itself), and stops a create with the loop message', async () => {
    await execa(join(installed, 'runc'), ['--version'], { env, extendEnv: false });
    expect(recorded()).toEqual([fakeRunc, '--version']);
    rmSync(record);
    const create = await execa(join(installed, 'runc'), ['create', 'id'], { env, extendEnv: false, reject: false, timeout: 10_000 });
    expect([create.exitCode, create.stderr]).toEqual([1, `oci-ftrace-runc: runtime ${join(installed, 'runc')} runs oci-ftrace-runc again; set "runtime" to the real runc or crun`]);
    expect(existsSync(record)).toBe(false);
  });
});

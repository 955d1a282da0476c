import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { formatRuntimeLogLine } from '../../src/runc-args/index.js';
import { FRONT_DOOR, LAUNCHER, frontDoorIsCompiled, launcherEnv } from '../runc-args/launcher.js';

// A package tree of our own: bin/oci-ftrace-runc (a copy of the launcher), dist/bin/oci-ftrace-runc
// (a copy of the front door, or the build's symlink to the launcher without a C compiler),
// dist/node-path, and a dist/cli/runc-prepare.js that records how it was run and exits as told.
// The "runtime" is a script that records its arguments and exits 7.
const root = mkdtempSync(join(tmpdir(), 'oci-ftrace-prepare-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const pkg = join(root, 'pkg');
const launcher = join(pkg, 'bin', 'oci-ftrace-runc');
mkdirSync(dirname(launcher), { recursive: true });
copyFileSync(LAUNCHER, launcher);
// The copied front door finds this package from its own path, not from the root compiled into it
// (this checkout, whose prepare step records nothing here).
const frontDoor = join(pkg, 'dist', 'bin', 'oci-ftrace-runc');
mkdirSync(dirname(frontDoor), { recursive: true });
if (frontDoorIsCompiled()) {
  copyFileSync(FRONT_DOOR, frontDoor);
  chmodSync(frontDoor, 0o755);
} else {
  symlinkSync(join('..', '..', 'bin', 'oci-ftrace-runc'), frontDoor);
}
/** The package's two launchers, with their paths inside it. */
const LAUNCHED = [
  { name: 'bash launcher', file: launcher, inPkg: ['bin', 'oci-ftrace-runc'] },
  { name: 'front door', file: frontDoor, inPkg: ['dist', 'bin', 'oci-ftrace-runc'] },
];
mkdirSync(join(pkg, 'dist', 'cli'), { recursive: true });
const prepareRecord = join(root, 'prepare.json');
writeFileSync(
  join(pkg, 'dist', 'cli', 'runc-prepare.js'),
  `import { fstatSync, statSync, writeFileSync } from 'node:fs';
const devNull = statSync('/dev/null').rdev;
writeFileSync(${JSON.stringify(prepareRecord)}, JSON.stringify({
  argv: process.argv.slice(2),
  stdinIsDevNull: fstatSync(0).rdev === devNull,
  stdoutIsDevNull: fstatSync(1).rdev === devNull,
}));
process.stderr.write('prepare says hello\\n');
if (process.env.PREPARE_SIGNAL) process.kill(process.pid, process.env.PREPARE_SIGNAL);
process.exitCode = Number(process.env.PREPARE_EXIT ?? 0);
`,
);
writeFileSync(join(pkg, 'dist', 'node-path'), `${process.execPath}\n`);

const runtimeRecord = join(root, 'runtime.args');
const runtime = join(root, 'runtime', 'runc');
mkdirSync(dirname(runtime));
writeFileSync(runtime, `#!/bin/sh\nprintf '%s\\n' "$@" > ${runtimeRecord}\nexit 7\n`);
chmodSync(runtime, 0o755);

const log = join(root, 'runtime.log');
const ARGV = ['--log', log, '--log-format', 'json', 'create', '--bundle', '/b', 'id with space'];

beforeEach(() => {
  for (const file of [prepareRecord, runtimeRecord, log]) rmSync(file, { force: true });
});

async function launchWith(file: string, extraEnv: Record<string, string> = {}, argv = ARGV) {
  return execa(file, argv, {
    env: launcherEnv({ OCI_FTRACE_RUNTIME: runtime, ...extraEnv }),
    extendEnv: false,
    reject: false,
  });
}

const runtimeArgs = () => readFileSync(runtimeRecord, 'utf8').split('\n').slice(0, -1);
const prepared = () => JSON.parse(readFileSync(prepareRecord, 'utf8')) as { argv: string[]; stdinIsDevNull: boolean; stdoutIsDevNull: boolean };

/** The one warning the launcher logged, checked against formatRuntimeLogLine. */
function loggedWarning(): string {
  const lines = readFileSync(log, 'utf8').split('\n');
  expect(lines).toHaveLength(2);
  const line = lines[0] as string;
  const entry = JSON.parse(line) as { level: string; msg: string; time: string };
  const offset = entry.time.endsWith('Z') ? 0 : -new Date().getTimezoneOffset();
  expect(line).toBe(formatRuntimeLogLine('warning', entry.msg, 'json', new Date(entry.time), offset));
  expect(entry.level).toBe('warning');
  return entry.msg;
}

describe.each(LAUNCHED)('the prepare step of create, run and restore, through the $name', ({ file, inPkg }) => {
  const launch = (extraEnv: Record<string, string> = {}, argv = ARGV, through = file) => launchWith(through, extraEnv, argv);

  it('runs with the original arguments and /dev/null stdio, then the runtime runs untouched', async () => {
    const result = await launch();
    expect(prepared()).toEqual({ argv: ARGV, stdinIsDevNull: true, stdoutIsDevNull: true });
    expect(result.stderr).toBe('prepare says hello');
    expect(runtimeArgs()).toEqual(ARGV);
    expect(result.exitCode).toBe(7);
    expect(existsSync(log)).toBe(false);
  });

  it('exit 100 stops: no runtime, exit 1', async () => {
    const result = await launch({ PREPARE_EXIT: '100' });
    expect(result.exitCode).toBe(1);
    expect(existsSync(runtimeRecord)).toBe(false);
    expect(existsSync(log)).toBe(false);
  });

  it.each([
    [{ PREPARE_EXIT: '3' }, 'prepare step failed (exit status 3)'],
    [{ PREPARE_SIGNAL: 'SIGKILL' }, 'prepare step failed (exit status 137)'],
  ])('fails open when it breaks (%j)', async (env, reason) => {
    const result = await launch(env);
    expect(loggedWarning()).toBe(`oci-ftrace-runc: ${reason}; the container runs without tracing`);
    expect(runtimeArgs()).toEqual(ARGV);
    expect(result.exitCode).toBe(7);
  });

  it('fails open, quietly, when node is missing', async () => {
    const result = await launch({ OCI_FTRACE_NODE: '/nonexistent/node' });
    expect(loggedWarning()).toMatch(/node \/nonexistent\/node is not an executable file; the container runs without tracing$/);
    expect(result.stderr).toBe('');
    expect(runtimeArgs()).toEqual(ARGV);
  });

  // Run through a symlink (the front door without a C compiler), bash resolves it with readlink
  // from PATH, which this test empties.
  it.skipIf(file === frontDoor && !frontDoorIsCompiled())('takes node from OCI_FTRACE_NODE, else dist/node-path, else PATH', async () => {
    await launch({ OCI_FTRACE_NODE: process.execPath });
    expect(prepared().argv).toEqual(ARGV);

    rmSync(join(pkg, 'dist', 'node-path'));
    rmSync(prepareRecord);
    try {
      const noNode = await launch({ PATH: '/nonexistent' });
      expect(loggedWarning()).toMatch(/node "node" not found on PATH; the container runs without tracing$/);
      expect(noNode.stderr).toBe('');
      expect(existsSync(prepareRecord)).toBe(false);

      rmSync(log);
      await launch({ PATH: dirname(process.execPath) });
      expect(prepared().argv).toEqual(ARGV);
      expect(existsSync(log)).toBe(false);
    } finally {
      writeFileSync(join(pkg, 'dist', 'node-path'), `${process.execPath}\n`);
    }
  });

  it('finds the package through a symlink to the launcher, as npm installs bins', async () => {
    const link = join(root, `npm-bin-${inPkg.length}`, 'oci-ftrace-runc');
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join('..', 'pkg', ...inPkg), link);
    await launch({}, ARGV, link);
    expect(prepared().argv).toEqual(ARGV);
  });

  it.skipIf(file !== launcher)('fails open when the launcher sits outside its package', async () => {
    const stray = join(root, 'stray', 'oci-ftrace-runc');
    mkdirSync(dirname(stray), { recursive: true });
    copyFileSync(LAUNCHER, stray);
    chmodSync(stray, statSync(LAUNCHER).mode);
    const result = await launch({}, ARGV, stray);
    expect(loggedWarning()).toMatch(/prepare step .*\/stray\/\.\.\/dist\/cli\/runc-prepare\.js not found/);
    expect(result.exitCode).toBe(7);
  });

  it.each([
    [['--log', log, 'state', 'id']],
    [['run', '--help']],
    [['--help', 'create', 'id']],
    [['exec', 'id', 'create']],
  ])('is skipped for %j', async (argv) => {
    const result = await launch({}, argv);
    expect(existsSync(prepareRecord)).toBe(false);
    expect(runtimeArgs()).toEqual(argv);
    expect(result.exitCode).toBe(7);
  });
});

describe.each(LAUNCHED)('the $name never loops into itself', ({ file, inPkg }) => {
  it('stops when the configured runtime execs straight back into it', async () => {
    const wrapper = join(root, `wrapper-${inPkg.length}`, 'runc');
    mkdirSync(dirname(wrapper), { recursive: true });
    writeFileSync(wrapper, `#!/bin/sh\nexec ${file} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const result = await execa(file, ['state', 'id'], {
      env: launcherEnv({ OCI_FTRACE_RUNTIME: wrapper }),
      extendEnv: false,
      reject: false,
      timeout: 10_000,
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(
      `oci-ftrace-runc: runtime ${wrapper} runs oci-ftrace-runc again; set "runtime" to the real runc or crun`,
    );
  });
});

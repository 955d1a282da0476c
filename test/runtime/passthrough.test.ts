import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { LAUNCHERS, SYSTEM_PATH, launcherEnv } from '../runc-args/launcher.js';

// What an engine sees through either launcher (the front door passes most of these through
// itself and hands create, run and restore to the bash launcher) must be what it sees from the
// runtime itself.
const scratch = mkdtempSync(join(tmpdir(), 'oci-ftrace-passthrough-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const emptyRoot = join(scratch, 'state'); // no containers: list and state do not depend on the machine
// create/run lines below run our real prepare step (when dist/ is built); keep its files in here.
const config = join(scratch, 'config.json');
writeFileSync(config, JSON.stringify({ outputDir: join(scratch, 'out'), logFile: join(scratch, 'oci-ftrace.log') }));

interface Outcome {
  stdout: Buffer;
  stderr: string;
  exitCode: number | undefined;
}

async function run(file: string, argv: readonly string[], env: Record<string, string>): Promise<Outcome> {
  const result = await execa(file, argv, { env, extendEnv: false, reject: false, encoding: 'buffer', cwd: scratch });
  return {
    stdout: Buffer.from(result.stdout),
    // runc stamps its stderr log lines with the time.
    stderr: Buffer.from(result.stderr).toString('latin1').replace(/time="[^"]*"/g, 'time="T"'),
    exitCode: result.exitCode,
  };
}

async function compare(launcher: string, runtime: string, argv: readonly string[], name = runtime.split('/').pop() as string, dir?: string) {
  const direct = await run(name, argv, { PATH: dir ?? SYSTEM_PATH });
  const wrapped = await run(launcher, argv, launcherEnv({ OCI_FTRACE_RUNTIME: runtime, OCI_FTRACE_CONFIG: config }));
  expect(wrapped.exitCode).toBe(direct.exitCode);
  expect(wrapped.stderr).toBe(direct.stderr);
  expect(wrapped.stdout.equals(direct.stdout)).toBe(true);
  return direct;
}

const COMMON: string[][] = [
  ['--help'],
  ['frobnicate'],
  ['--root', emptyRoot, 'list'],
  ['--root', emptyRoot, 'state', 'missing-id'],
  ['create', '--help'],
  ['run', '--help'],
  ['spec', '--help'],
  ['--log-format=xml', 'list'],
  ['create', 'a', 'b'], // both print their argv[0] in this error
];

const renamed = join(scratch, 'renamed');
mkdirSync(renamed);
symlinkSync('/usr/sbin/runc', join(renamed, 'my-runc'));

describe.each(LAUNCHERS)('through the $name', ({ path: launcher }) => {
  describe('runc through the launcher is runc', () => {
    const cases = [['--version'], ['-v'], ['features'], ...COMMON, ['restore', 'id', '--help'], ['create', '-b', 'x', '--bundle', 'y', 'id']];
    it.each(cases)('runc %j', async (...argv) => {
      const direct = await compare(launcher, '/usr/sbin/runc', argv);
      expect(direct.stdout.length + direct.stderr.length).toBeGreaterThan(0);
    });

    it('shows the name it was found under, as runc does', async () => {
      const myRunc = join(renamed, 'my-runc');
      const help = await compare(launcher, myRunc, ['--help'], 'my-runc', renamed);
      expect(help.stdout.toString()).toContain('   my-runc [global options] command');
      const usage = await compare(launcher, myRunc, ['create', 'a', 'b'], 'my-runc', renamed);
      expect(usage.stderr).toContain('msg="my-runc: \\"create\\" requires exactly 1 argument(s)"');
    });
  });

  describe('crun through the launcher is crun', () => {
    const cases = [['--version'], ['-V'], ...COMMON, ['create', '-?']];
    it.each(cases)('crun %j', async (...argv) => {
      const direct = await compare(launcher, '/usr/bin/crun', argv);
      expect(direct.stdout.length + direct.stderr.length).toBeGreaterThan(0);
    });
  });
});

// The runc argv parser against the real runc 1.1: the shared table of command lines, Go's int and
// bool literals as runc's flags take them, and a log format runc refuses. Needs /usr/sbin/runc, not
// root: every command line stops at usage, help or chdir before anything is created.
// Moved from test/runc-args/parse.test.ts, which keeps the parser's own cases.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { goQuote, parseGoBool, parseGoInt64, parseRuncArgv, runtimeLogTarget } from '../src/runc-args/index.js';
import { ARGV_CASES } from '../test/runc-args/cases.js';
import { RUNC } from './lab/env.js';

// runc runs in an empty directory: nothing there to create a container from, and relative
// --log files land there.
const scratch = mkdtempSync(join(tmpdir(), 'oci-ftrace-parse-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function runRunc(argv: readonly string[]): Promise<{ out: string; exitCode: number }> {
  const result = await execa(RUNC, argv, { cwd: scratch, reject: false, all: true, env: { XDG_RUNTIME_DIR: '' } });
  return { out: result.all ?? '', exitCode: result.exitCode ?? -1 };
}

describe('the table agrees with the real runc 1.1', () => {
  const creating = ARGV_CASES.filter((c) => ['create', 'run', 'restore'].includes(c.command));
  for (const c of creating) {
    it(`runc ${JSON.stringify(c.argv)}`, async () => {
      const inv = parseRuncArgv(c.argv);
      const { out } = await runRunc(c.argv);
      if (!c.createsContainer) {
        // Help, or (for crun's -?) runc's usage text: either way nothing is created.
        expect(out).toMatch(/^(Incorrect Usage.*\n\n)?NAME:\n {3}runc /);
      } else if (inv.usageError !== undefined) {
        // On stdout as is, or quoted inside the msg="..." of runc's log line on stderr.
        expect(out.includes(inv.usageError) || out.includes(goQuote(inv.usageError).slice(1, -1))).toBe(true);
      } else if (c.bundle !== undefined) {
        expect(out).toContain(`chdir ${c.bundle}: no such file or directory`);
      } else {
        expect(out).toContain('JSON specification file config.json not found');
      }
    });
  }

  it('reports global usage errors in runc words', async () => {
    for (const c of ARGV_CASES.filter((x) => x.usageError && x.command === '')) {
      const inv = parseRuncArgv(c.argv);
      const { out, exitCode } = await runRunc(c.argv);
      expect(exitCode).not.toBe(0);
      expect(out).toContain(inv.usageError);
    }
  });
});

describe('Go literals for int and bool flags, as runc takes them', () => {
  const ints = ['0', '7', '-7', '+7', '010', '08', '0x1F', '0X1f', '0o17', '0O17', '0b101', '0B2', '1_000', '_1', '1_',
    '0_7', '0x_1F', '0x', '1__0', '9223372036854775807', '9223372036854775808', '-9223372036854775808',
    '-9223372036854775809', '0x7fffffffffffffff', '0x8000000000000000', '-0x8000000000000000', '0777777777777777777777',
    '01000000000000000000000', '-01000000000000000000000', '', '-', '1e3', ' 1', '١'];
  it.each(ints)('preserve-fds=%j', async (literal) => {
    const { out } = await runRunc(['create', `--preserve-fds=${literal}`, '--help', 'id']);
    const runcAccepts = out.startsWith('NAME:');
    expect(parseGoInt64(literal) !== undefined).toBe(runcAccepts);
    expect(parseRuncArgv(['create', `--preserve-fds=${literal}`, '--help', 'id']).createsContainer).toBe(!runcAccepts);
  });

  const bools = ['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False', 'yes', 'tRUE', ''];
  it.each(bools)('no-pivot=%j', async (literal) => {
    const { out } = await runRunc(['create', `--no-pivot=${literal}`, '--help', 'id']);
    expect(parseGoBool(literal) !== undefined).toBe(out.startsWith('NAME:'));
  });
});

describe('runtimeLogTarget', () => {
  const target = (...argv: string[]) => runtimeLogTarget(parseRuncArgv(argv).globals);

  it('gives none when runc refuses the format (and so writes no log)', async () => {
    expect(target('--log=bad.log', '--log-format=xml', 'state')).toBeUndefined();
    const { out } = await runRunc(['--log=bad.log', '--log-format=xml', 'state', 'x']);
    expect(out).toContain('invalid log-format: xml');
    await expect(execa('test', ['-e', join(scratch, 'bad.log')], { reject: false })).resolves.toMatchObject({ exitCode: 1 });
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import {
  goQuote,
  parseGoBool,
  parseGoInt64,
  parseRuncArgv,
  resolveBundleDir,
  resolveSpecPath,
  runtimeLogTarget,
} from '../../src/runc-args/index.js';
import { ARGV_CASES } from './cases.js';

const RUNC = '/usr/sbin/runc';
// runc runs in an empty directory: nothing there to create a container from, and relative
// --log files land there.
const scratch = mkdtempSync(join(tmpdir(), 'oci-ftrace-parse-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function runRunc(argv: readonly string[]): Promise<{ out: string; exitCode: number }> {
  const result = await execa(RUNC, argv, { cwd: scratch, reject: false, all: true, env: { XDG_RUNTIME_DIR: '' } });
  return { out: result.all ?? '', exitCode: result.exitCode ?? -1 };
}

describe('parseRuncArgv on the shared table', () => {
  for (const c of ARGV_CASES) {
    it(`reads ${JSON.stringify(c.argv)}`, () => {
      const inv = parseRuncArgv(c.argv);
      expect({
        command: inv.command ?? '',
        createsContainer: inv.createsContainer,
        bundle: inv.bundle,
        containerId: inv.containerId,
        log: inv.globals.log,
        logFormat: inv.globals.logFormat,
        usageError: inv.usageError !== undefined,
      }).toEqual({
        command: c.command,
        createsContainer: c.createsContainer,
        bundle: c.bundle,
        containerId: c.containerId,
        log: c.log,
        logFormat: c.logFormat,
        usageError: c.usageError ?? false,
      });
    });
  }
});

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

  it('reads preserve-fds values as Go does', () => {
    expect(parseRuncArgv(['create', '--preserve-fds', '0x10', 'id']).preserveFds).toBe(16);
    expect(parseRuncArgv(['create', '--preserve-fds=010', 'id']).preserveFds).toBe(8);
    expect(parseRuncArgv(['create', '--preserve-fds=1_000', 'id']).preserveFds).toBe(1000);
    expect(parseRuncArgv(['run', 'id']).preserveFds).toBeUndefined();
  });

  const bools = ['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False', 'yes', 'tRUE', ''];
  it.each(bools)('no-pivot=%j', async (literal) => {
    const { out } = await runRunc(['create', `--no-pivot=${literal}`, '--help', 'id']);
    expect(parseGoBool(literal) !== undefined).toBe(out.startsWith('NAME:'));
  });
});

describe('what a creating command acts on', () => {
  it('extracts pid file, console socket, detach and crun --config', () => {
    const inv = parseRuncArgv(['--root', '/run/x', 'run', 'id', '--pid-file=/p', '-d', '--console-socket', '/s', '-f', 'alt.json']);
    expect(inv).toMatchObject({ pidFile: '/p', consoleSocket: '/s', detach: true, configFile: 'alt.json', containerId: 'id' });
    expect(inv.globals.root).toBe('/run/x');
    expect(inv.usageError).toBeUndefined();
    expect(parseRuncArgv(['run', '-d=false', 'id']).detach).toBe(false);
  });

  it('keeps the command arguments untouched and every flag of the command', () => {
    const argv = ['restore', 'id', '--empty-ns', 'network', '--empty-ns=ipc', '--image-path', '/img'];
    const inv = parseRuncArgv(argv);
    expect(inv.commandArgs).toEqual(argv.slice(1));
    expect(inv.commandFlags.get('empty-ns')).toEqual(['network', 'ipc']);
    expect(inv.commandFlags.get('image-path')).toEqual(['/img']);
    expect(inv.operands).toEqual(['id']);
  });

  it('reads every global flag', () => {
    const inv = parseRuncArgv([
      '--debug', '--systemd-cgroup=true', '--criu=/c', '--rootless', 'auto', '--cgroup-manager', 'systemd',
      '--log-level=warning', '--root=/r', 'state', 'x',
    ]);
    expect(inv.globals).toEqual({
      debug: true, systemdCgroup: true, criu: '/c', rootless: 'auto', cgroupManager: 'systemd', logLevel: 'warning',
      root: '/r', help: false, version: false,
    });
    expect(inv.command).toBe('state');
  });

  it('names the first flag neither runtime knows', () => {
    expect(parseRuncArgv(['--frob=1', 'create', 'id']).unknownFlag).toBe('--frob=1');
    expect(parseRuncArgv(['create', 'id', '-x']).unknownFlag).toBe('-x');
    expect(parseRuncArgv(['create', 'id']).unknownFlag).toBeUndefined();
  });
});

describe('resolveBundleDir and resolveSpecPath', () => {
  it('joins onto cwd without normalising, like chdir', () => {
    expect(resolveBundleDir(parseRuncArgv(['create', 'id']), '/work')).toBe('/work');
    expect(resolveBundleDir(parseRuncArgv(['create', '--bundle=', 'id']), '/work')).toBe('/work');
    expect(resolveBundleDir(parseRuncArgv(['create', '-b', 'b/../c', 'id']), '/work')).toBe('/work/b/../c');
    expect(resolveBundleDir(parseRuncArgv(['create', '-b', 'c', 'id']), '/')).toBe('/c');
    expect(resolveBundleDir(parseRuncArgv(['create', '-b', '/abs', 'id']), '/work')).toBe('/abs');
  });

  it('finds the spec, honouring crun --config', () => {
    expect(resolveSpecPath(parseRuncArgv(['create', '-b', 'bb', 'id']), '/w')).toBe('/w/bb/config.json');
    expect(resolveSpecPath(parseRuncArgv(['create', '-f', 'alt.json', 'id']), '/w')).toBe('/w/alt.json');
    expect(resolveSpecPath(parseRuncArgv(['create', '--config=/etc/x.json', 'id']), '/w')).toBe('/etc/x.json');
  });
});

describe('runtimeLogTarget', () => {
  const target = (...argv: string[]) => runtimeLogTarget(parseRuncArgv(argv).globals);
  it('follows --log and --log-format as the runtimes do', () => {
    expect(target('--log', '/l', 'state', 'x')).toEqual({ path: '/l', format: 'text' });
    expect(target('--log', '/l', '--log-format', 'json', 'state', 'x')).toEqual({ path: '/l', format: 'json' });
    expect(target('--log=rel.log', '--log-format=text', 'state')).toEqual({ path: 'rel.log', format: 'text' });
    expect(target('--log=file:/c.log', '--log-format=json', 'state')).toEqual({ path: '/c.log', format: 'json' });
    expect(target('--log=journald:x', 'state')).toBeUndefined();
    expect(target('--log=syslog:', 'state')).toBeUndefined();
    expect(target('--log=', 'state')).toBeUndefined();
    expect(target('--log-format=json', 'state')).toBeUndefined();
  });

  it('gives none when runc refuses the format (and so writes no log)', async () => {
    expect(target('--log=bad.log', '--log-format=xml', 'state')).toBeUndefined();
    const { out } = await runRunc(['--log=bad.log', '--log-format=xml', 'state', 'x']);
    expect(out).toContain('invalid log-format: xml');
    await expect(execa('test', ['-e', join(scratch, 'bad.log')], { reject: false })).resolves.toMatchObject({ exitCode: 1 });
  });
});

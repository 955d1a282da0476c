import { describe, expect, it } from 'vitest';
import { parseRuncArgv, resolveBundleDir, resolveSpecPath, runtimeLogTarget } from '../../src/runc-args/index.js';
import { ARGV_CASES } from './cases.js';

// The parser on its own. What the real runc 1.1 does with the same command lines (the shared
// table, Go's int and bool literals, a refused log format) is in integration/runc-args.test.ts.

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

describe('Go literals for int and bool flags, as runc takes them', () => {
  it('reads preserve-fds values as Go does', () => {
    expect(parseRuncArgv(['create', '--preserve-fds', '0x10', 'id']).preserveFds).toBe(16);
    expect(parseRuncArgv(['create', '--preserve-fds=010', 'id']).preserveFds).toBe(8);
    expect(parseRuncArgv(['create', '--preserve-fds=1_000', 'id']).preserveFds).toBe(1000);
    expect(parseRuncArgv(['run', 'id']).preserveFds).toBeUndefined();
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
});

describe('exec: the calls that enter a container', () => {
  it('reads the container id after exec flags; what follows is the command, flags and all', () => {
    const inv = parseRuncArgv(['--root', '/run/x', 'exec', '--process', '/tmp/p.json', '-d', '--pid-file', '/tmp/pid', 'ctr1']);
    expect({ enters: inv.entersContainer, creates: inv.createsContainer, id: inv.containerId, detach: inv.detach, pidFile: inv.pidFile }).toEqual({ enters: true, creates: false, id: 'ctr1', detach: true, pidFile: '/tmp/pid' });
    const cmd = parseRuncArgv(['exec', '-e', 'A=1', '-e', 'B=2', '-t', 'ctr2', 'sh', '-c', 'ls -d /']);
    expect({ enters: cmd.entersContainer, id: cmd.containerId, operands: cmd.operands }).toEqual({ enters: true, id: 'ctr2', operands: ['ctr2', 'sh', '-c', 'ls -d /'] });
  });

  it('enters nothing on help, a bad flag or no id', () => {
    expect(parseRuncArgv(['exec', '--help']).entersContainer).toBe(false);
    expect(parseRuncArgv(['exec', '--no-such-flag', 'c']).entersContainer).toBe(false);
    expect(parseRuncArgv(['exec', '--no-such-flag', 'c']).usageError).toBeDefined();
    expect(parseRuncArgv(['exec']).entersContainer).toBe(false);
    expect(parseRuncArgv(['state', 'c']).entersContainer).toBe(false);
  });
});

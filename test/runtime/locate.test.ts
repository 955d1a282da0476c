import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { LAUNCHER_MARKER, isLauncherFile, locateRuntime } from '../../src/runtime/locate.js';
import { LAUNCHER, explain } from '../runc-args/launcher.js';

// PATH directories holding fake runtimes, copies and links of the launcher, and decoys.
const root = mkdtempSync(join(tmpdir(), 'oci-ftrace-locate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function dir(name: string): string {
  const path = join(root, name);
  mkdirSync(path, { recursive: true });
  return path;
}
function script(path: string, body: string, mode = 0o755): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, mode);
  return path;
}

const copyDir = dir('copy'); // runc: a copy of the launcher
copyFileSync(LAUNCHER, join(copyDir, 'runc'));
const linkDir = dir('link'); // runc: a symlink to the launcher (npm style)
symlinkSync(LAUNCHER, join(linkDir, 'runc'));
const realDir = dir('real'); // runc and crun: fake runtimes
script(join(realDir, 'runc'), 'echo fake runc');
script(join(realDir, 'crun'), 'echo fake crun');
const crunDir = dir('crun-only');
script(join(crunDir, 'crun'), 'echo fake crun');
const plainDir = dir('not-executable');
script(join(plainDir, 'runc'), 'echo not executable', 0o644);
mkdirSync(join(dir('a-directory'), 'runc'));
const mentionsDir = dir('mentions-marker'); // names the marker but not as a line of its own
script(join(mentionsDir, 'runc'), `echo "${LAUNCHER_MARKER}"`);
const cwdDir = dir('cwd'); // only reachable through relative PATH entries
script(join(cwdDir, 'runc'), 'echo picked from cwd');

const selfPaths = [realpathSync(LAUNCHER)];

interface LookupCase {
  name: string;
  path: string;
  env?: Record<string, string>;
  config?: string;
  expected: string | RegExp;
}

const cases: LookupCase[] = [
  { name: 'skips a copy and a symlink of the launcher', path: `${copyDir}:${linkDir}:${realDir}`, expected: join(realDir, 'runc') },
  { name: 'prefers runc anywhere on PATH to crun', path: `${copyDir}:${crunDir}:${realDir}`, expected: join(realDir, 'runc') },
  { name: 'falls back to crun', path: `${copyDir}:${crunDir}`, expected: join(crunDir, 'crun') },
  { name: 'fails when only the launcher is there', path: `${copyDir}:${linkDir}`, expected: /^neither runc nor crun found on PATH/ },
  { name: 'skips non-executables and directories', path: `${plainDir}:${join(root, 'a-directory')}:${realDir}`, expected: join(realDir, 'runc') },
  { name: 'skips empty and relative PATH entries', path: `:.:cwd:${realDir}`, expected: join(realDir, 'runc') },
  { name: 'keeps a script that only mentions the marker', path: `${mentionsDir}:${realDir}`, expected: join(mentionsDir, 'runc') },
  { name: 'drops one trailing slash', path: `${realDir}/`, expected: join(realDir, 'runc') },
  { name: 'takes OCI_FTRACE_RUNTIME by name', path: `${copyDir}:${realDir}`, env: { OCI_FTRACE_RUNTIME: 'crun' }, expected: join(realDir, 'crun') },
  { name: 'takes a configured name, skipping the launcher', path: `${linkDir}:${realDir}`, env: { OCI_FTRACE_RUNTIME: 'runc' }, expected: join(realDir, 'runc') },
  { name: 'takes an absolute path', path: '', env: { OCI_FTRACE_RUNTIME: join(crunDir, 'crun') }, expected: join(crunDir, 'crun') },
  { name: 'refuses the launcher itself', path: realDir, env: { OCI_FTRACE_RUNTIME: LAUNCHER }, expected: /is oci-ftrace-runc itself/ },
  { name: 'refuses a copy of the launcher', path: realDir, env: { OCI_FTRACE_RUNTIME: join(copyDir, 'runc') }, expected: /is oci-ftrace-runc itself/ },
  { name: 'refuses a non-executable', path: realDir, env: { OCI_FTRACE_RUNTIME: join(plainDir, 'runc') }, expected: /is not an executable file$/ },
  { name: 'refuses a missing path', path: realDir, env: { OCI_FTRACE_RUNTIME: '/nonexistent/runc' }, expected: /is not an executable file$/ },
  { name: 'refuses a relative path', path: realDir, env: { OCI_FTRACE_RUNTIME: 'real/runc' }, expected: /must be an absolute path/ },
  { name: 'does not fall back from a configured name', path: `${linkDir}:${crunDir}`, env: { OCI_FTRACE_RUNTIME: 'runc' }, expected: /^runtime "runc" not found on PATH$/ },
  { name: 'reads "runtime" from the config file', path: realDir, config: '{\n  "strict": true,\n  "runtime" :\t"crun"\n}\n', expected: join(realDir, 'crun') },
  { name: 'lets OCI_FTRACE_RUNTIME override the config file', path: realDir, config: '{"runtime":"crun"}', env: { OCI_FTRACE_RUNTIME: 'runc' }, expected: join(realDir, 'runc') },
  { name: 'uses PATH when the config has no runtime', path: `${linkDir}:${crunDir}`, config: '{"outputDir":"/x"}', expected: join(crunDir, 'crun') },
  { name: 'takes an absolute path from the config', path: '', config: `{"runtime":"${join(realDir, 'runc')}"}`, expected: join(realDir, 'runc') },
];

describe('locateRuntime and the launcher pick the same runtime', () => {
  for (const [i, c] of cases.entries()) {
    it(c.name, async () => {
      const env: Record<string, string> = { ...c.env, OCI_FTRACE_CONFIG: join(root, 'none.json') };
      if (c.config !== undefined) {
        env.OCI_FTRACE_CONFIG = join(root, `config-${i}.json`);
        writeFileSync(env.OCI_FTRACE_CONFIG, c.config);
      }
      let fromTs: string;
      try {
        fromTs = locateRuntime({ configured: loadConfig(env).runtime, pathEnv: c.path, selfPaths });
      } catch (err) {
        fromTs = (err as Error).message;
      }
      if (typeof c.expected === 'string') expect(fromTs).toBe(c.expected);
      else expect(fromTs).toMatch(c.expected);

      const fromLauncher = await explainIn(root, { ...env, PATH: c.path });
      expect(fromLauncher.runtime || fromLauncher.error).toBe(fromTs);
    });
  }

  it('treats an empty "runtime" as unset (the launcher; the TS config rejects it)', async () => {
    const config = join(root, 'empty-runtime.json');
    writeFileSync(config, '{"runtime": ""}');
    const got = await explainIn(root, { PATH: realDir, OCI_FTRACE_CONFIG: config });
    expect(got.runtime).toBe(join(realDir, 'runc'));
  });
});

describe('isLauncherFile', () => {
  it('knows the launcher, its copies and links, and nothing else', () => {
    expect(isLauncherFile(LAUNCHER)).toBe(true);
    expect(isLauncherFile(join(copyDir, 'runc'))).toBe(true);
    expect(isLauncherFile(join(linkDir, 'runc'))).toBe(true);
    expect(isLauncherFile(join(mentionsDir, 'runc'))).toBe(false);
    expect(isLauncherFile('/usr/sbin/runc')).toBe(false);
    expect(isLauncherFile('/nonexistent')).toBe(false);
  });

  it('looks only at the first 512 bytes', () => {
    const late = join(root, 'late-marker');
    writeFileSync(late, `#!/bin/sh\n${'#'.repeat(600)}\n${LAUNCHER_MARKER}\n`);
    const early = join(root, 'early-marker');
    writeFileSync(early, `#!/bin/sh\n${'#'.repeat(400)}\n${LAUNCHER_MARKER}\n`);
    expect([isLauncherFile(late), isLauncherFile(early)]).toEqual([false, true]);
  });
});

function explainIn(cwd: string, env: Record<string, string>) {
  // Relative PATH entries would resolve inside our fixture tree (root/cwd holds a runc).
  return explain(['state', 'x'], env, { cwd });
}

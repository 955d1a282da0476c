import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { LAUNCHER_MARKER, isLauncherFile, locateRuntime, ownLaunchers } from '../../src/runtime/locate.js';
import { FRONT_DOOR, LAUNCHER, REPO, explain, frontDoorIsCompiled } from '../runc-args/launcher.js';

// PATH directories holding fake runtimes, copies and links of the launchers, and decoys.
const root = mkdtempSync(join(tmpdir(), 'oci-ftrace-locate-'));
const cleanups = [root];
afterAll(() => {
  for (const dir of cleanups) rmSync(dir, { recursive: true, force: true });
});

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
// A fake runtime prints the path it was run by (sh's $0: the path exec'd, not argv[0]), and says
// when bash ran before it: bash exports SHLVL, the front door changes no variable but its own.
const FAKE = 'echo "$0"; [ -z "${SHLVL+set}" ] || echo "(through bash)"';

const copyDir = dir('copy'); // runc: a copy of the launcher
copyFileSync(LAUNCHER, join(copyDir, 'runc'));
const linkDir = dir('link'); // runc: a symlink to the launcher (npm style)
symlinkSync(LAUNCHER, join(linkDir, 'runc'));
const realDir = dir('real'); // runc and crun: fake runtimes
script(join(realDir, 'runc'), FAKE);
script(join(realDir, 'crun'), FAKE);
const crunDir = dir('crun-only');
script(join(crunDir, 'crun'), FAKE);
const plainDir = dir('not-executable');
script(join(plainDir, 'runc'), 'echo not executable', 0o644);
mkdirSync(join(dir('a-directory'), 'runc'));
const mentionsDir = dir('mentions-marker'); // names the marker but not as a line of its own
script(join(mentionsDir, 'runc'), `${FAKE} # ${LAUNCHER_MARKER}`);
const cwdDir = dir('cwd'); // only reachable through relative PATH entries
script(join(cwdDir, 'runc'), 'echo picked from cwd');
const doorLinkDir = dir('front-door-link'); // runc: a symlink to the front door (installed as runc)
symlinkSync(FRONT_DOOR, join(doorLinkDir, 'runc'));
// runc: a hard link to the front door; beside the build when the temp dir is another filesystem.
let doorHardDir = dir('front-door-hard-link');
try {
  linkSync(realpathSync(FRONT_DOOR), join(doorHardDir, 'runc'));
} catch (err) {
  if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
  doorHardDir = mkdtempSync(join(dirname(FRONT_DOOR), '.locate-test-'));
  cleanups.push(doorHardDir);
  linkSync(realpathSync(FRONT_DOOR), join(doorHardDir, 'runc'));
}

// The package's two launchers: what neither launcher may ever pick.
const selfPaths = ownLaunchers(REPO);
// Built without a C compiler, the front door is a symlink to the bash launcher.
const alwaysBash = !frontDoorIsCompiled();

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
  { name: 'skips a symlink and a hard link to the front door', path: `${doorLinkDir}:${doorHardDir}:${crunDir}:${realDir}`, expected: join(realDir, 'runc') },
  { name: 'takes a configured name, skipping the front door', path: `${doorLinkDir}:${crunDir}`, env: { OCI_FTRACE_RUNTIME: 'crun' }, expected: join(crunDir, 'crun') },
  { name: 'refuses the front door itself', path: realDir, env: { OCI_FTRACE_RUNTIME: FRONT_DOOR }, expected: /is oci-ftrace-runc itself/ },
  { name: 'refuses a link to the front door', path: realDir, env: { OCI_FTRACE_RUNTIME: join(doorHardDir, 'runc') }, expected: /is oci-ftrace-runc itself/ },
  { name: 'fails when only links to the front door are there', path: `${doorLinkDir}:${doorHardDir}`, expected: /^neither runc nor crun found on PATH/ },
];

/**
 * The front door's choice, black-box: it has no explain mode, so it runs a pass-through argv and
 * the fake runtime says who it is; an error is handed to bash, which prints it.
 */
async function frontDoorPicks(env: Record<string, string>, cwd = root): Promise<{ picked?: string; throughBash?: boolean; error?: string }> {
  const result = await execa(FRONT_DOOR, ['--version'], { env, extendEnv: false, reject: false, cwd });
  if (result.exitCode === 0) {
    expect(result.stderr).toBe('');
    const [picked, ...rest] = result.stdout.split('\n');
    return { picked, throughBash: rest.join('\n') === '(through bash)' };
  }
  expect([result.exitCode, result.stdout]).toEqual([1, '']);
  return { error: result.stderr.replace(/^oci-ftrace-runc: /, '') };
}

describe('locateRuntime, the bash launcher and the front door pick the same runtime', () => {
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

      const fromFrontDoor = await frontDoorPicks({ ...env, PATH: c.path });
      // A runtime found is exec'd by the front door itself, without bash.
      if (fromFrontDoor.error === undefined) expect(fromFrontDoor).toEqual({ picked: fromTs, throughBash: alwaysBash });
      else expect(fromFrontDoor.error).toBe(fromTs);
    });
  }

  it('treats an empty "runtime" as unset (the launchers; the TS config rejects it)', async () => {
    const config = join(root, 'empty-runtime.json');
    writeFileSync(config, '{"runtime": ""}');
    const got = await explainIn(root, { PATH: realDir, OCI_FTRACE_CONFIG: config });
    expect(got.runtime).toBe(join(realDir, 'runc'));
    expect(await frontDoorPicks({ PATH: realDir, OCI_FTRACE_CONFIG: config })).toEqual({ picked: join(realDir, 'runc'), throughBash: alwaysBash });
  });
});

// The bash launcher reads "runtime" with a regex on the config file's text, whatever the text
// holds (the TS config accepts only valid JSON): the front door must read every text alike, or
// hand it to bash.
describe('the front door reads the config text as the bash launcher does', () => {
  script(join(realDir, 'cr\u00fcn'), FAKE);
  const texts: { name: string; text: string | Buffer; throughBash?: boolean }[] = [
    { name: 'spaces of every kind around the colon', text: '{"runtime" \t\n\r\v\f:\f\v\r\n\t "crun"}' },
    { name: 'the leftmost match: a value with a backslash does not match', text: '{"runtime": "ru\\"nc", "x": {"runtime": "crun"}}' },
    { name: 'the leftmost match: the first that matches wins', text: '{"a": {"runtime": "crun"}, "runtime": "runc"}' },
    { name: 'a key that only ends like runtime, then the key', text: '{"xruntime": "runc", "runtime": "crun"}' },
    { name: 'quotes that run into the key', text: '""runtime"": "runc"}, "runtime":"crun"' },
    { name: 'no colon after the key', text: '{"runtime" "runc", "runtime": "crun"}' },
    { name: 'text after a NUL byte does not count', text: Buffer.from('{"outputDir": "/x"}\0{"runtime": "crun"}') },
    { name: 'a NUL byte inside the value', text: Buffer.from('{"runtime": "cr\0un"}') },
    { name: 'an unterminated value', text: '{"runtime": "crun' },
    { name: 'no runtime key at all', text: '{"trace": "never"}' },
    { name: 'not JSON at all', text: 'runtime: crun "runtime":"crun"' },
    { name: 'an empty file', text: '' },
    { name: 'a non-ASCII value (bash reads it by its locale)', text: '{"runtime": "cr\u00fcn"}', throughBash: true },
    { name: 'non-ASCII before the colon', text: '{"runtime"\u3000: "runc", "runtime": "crun"}', throughBash: true },
    { name: 'a file larger than the front door reads', text: `{"pad": "${'x'.repeat(70_000)}", "runtime": "crun"}`, throughBash: true },
    { name: 'a large file that a NUL byte ends early', text: Buffer.concat([Buffer.from('{"runtime": "crun"}\0'), Buffer.alloc(70_000, 'x')]) },
  ];
  for (const [i, t] of texts.entries()) {
    it(t.name, async () => {
      const config = join(root, `text-${i}.json`);
      writeFileSync(config, t.text);
      const env = { PATH: realDir, OCI_FTRACE_CONFIG: config };
      const fromLauncher = await explainIn(root, env);
      expect(fromLauncher.error).toBeUndefined();
      expect(await frontDoorPicks(env)).toEqual({ picked: fromLauncher.runtime, throughBash: alwaysBash || (t.throughBash ?? false) });
    });
  }

  it('reads a directory, a FIFO or a missing file as empty, and never opens the FIFO', async () => {
    const fifo = join(root, 'config.fifo');
    await execa('mkfifo', [fifo]);
    for (const config of [realDir, fifo, join(root, 'missing.json'), '']) {
      const env = { PATH: `${crunDir}:${realDir}`, OCI_FTRACE_CONFIG: config };
      expect(await frontDoorPicks(env)).toEqual({ picked: join(realDir, 'runc'), throughBash: alwaysBash });
    }
  });

  it('leaves an unset PATH to bash, which fills in a default of its own', async () => {
    const bare = await execa('/usr/sbin/runc', ['--version']);
    const result = await execa(FRONT_DOOR, ['--version'], { env: { OCI_FTRACE_CONFIG: join(root, 'none.json') }, extendEnv: false, cwd: root });
    expect(result.stdout).toBe(bare.stdout);
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

import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { LAUNCHER, launcherEnv } from '../runc-args/launcher.js';

// The launcher starts the container's collector beside the prepare step (bin/oci-ftrace-runc,
// _oft_start_collector). A package tree of our own: a copy of the launcher, a prepare step that
// records what it was told, and a "collector" that records how it was started.
const root = mkdtempSync(join(tmpdir(), 'oci-ftrace-ahead-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const pkg = join(root, 'pkg');
const launcher = join(pkg, 'bin', 'oci-ftrace-runc');
mkdirSync(dirname(launcher), { recursive: true });
copyFileSync(LAUNCHER, launcher);
copyFileSync(join(dirname(LAUNCHER), 'oci-ftrace-collector'), join(pkg, 'bin', 'oci-ftrace-collector'));
for (const dir of ['cli', 'collector']) mkdirSync(join(pkg, 'dist', dir), { recursive: true });
writeFileSync(join(pkg, 'dist', 'node-path'), `${process.execPath}\n`);

const prepareRecord = join(root, 'prepare.json');
writeFileSync(
  join(pkg, 'dist', 'cli', 'runc-prepare.js'),
  `require('node:fs').writeFileSync(${JSON.stringify(prepareRecord)}, JSON.stringify({ ahead: process.env.OCI_FTRACE_COLLECTOR_AHEAD ?? null }));\n`,
);
const collectorRecord = join(root, 'collector.json');
writeFileSync(
  join(pkg, 'dist', 'collector', 'main.js'),
  `const fs = require('node:fs');
const stat = fs.readFileSync('/proc/self/stat', 'utf8');
const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
const target = (fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd); } catch { return null; } };
fs.writeFileSync(${JSON.stringify(collectorRecord)}, JSON.stringify({
  argv: process.argv.slice(2),
  pid: process.pid,
  ppid: Number(fields[1]),
  sid: Number(fields[3]),
  stdio: [0, 1, 2].map(target),
  fds: fs.readdirSync('/proc/self/fd').map(target),
  caCerts: process.env.NODE_EXTRA_CA_CERTS ?? null,
}));
`,
);
const runtime = join(root, 'runc');
writeFileSync(runtime, '#!/bin/sh\nexit 0\n');
chmodSync(runtime, 0o755);
const neverConfig = join(root, 'never.json');
writeFileSync(neverConfig, JSON.stringify({ trace: 'never' }));

beforeEach(() => {
  for (const f of [prepareRecord, collectorRecord]) rmSync(f, { force: true });
});

async function launch(argv: string[], env: Record<string, string> = {}) {
  const r = await execa(launcher, argv, { env: launcherEnv({ OCI_FTRACE_RUNTIME: runtime, NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca.pem', ...env }), extendEnv: false, reject: false });
  expect(r.exitCode).toBe(0);
  return r;
}

interface Started {
  argv: string[];
  pid: number;
  ppid: number;
  sid: number;
  stdio: string[];
  fds: (string | null)[];
  caCerts: string | null;
}

/** The collector's record, once it has written it (it runs detached: nobody waits for it). */
async function collectorStarted(timeoutMs = 2000): Promise<Started | undefined> {
  for (const started = Date.now(); !existsSync(collectorRecord) && Date.now() - started < timeoutMs; ) await new Promise((r) => setTimeout(r, 20));
  return existsSync(collectorRecord) ? (JSON.parse(readFileSync(collectorRecord, 'utf8')) as Started) : undefined;
}

describe('the collector the launcher starts beside the prepare step', () => {
  it.each([
    ['create', ['create', '--bundle', '/b', 'c1']],
    ['run, flags after the id', ['--root', '/r', 'run', 'c1', '--bundle', '/b', '-d']],
    ['restore', ['restore', '--image-path', '/i', 'c1']],
  ])('starts for %s, told the id, in a session of its own, holding none of our descriptors', async (_name, argv) => {
    await launch(argv);
    const started = await collectorStarted();
    // It watches the launcher, which becomes the runtime, by pid and start time.
    expect(started?.argv.slice(0, 4)).toEqual(['c1', '--serve', '--ahead', '--runtime-pid']);
    expect(started?.argv[4]).toMatch(/^[1-9][0-9]*:[0-9]+$/);
    expect(started?.sid).toBe(started?.pid);
    expect(started?.stdio).toEqual(['/dev/null', '/dev/null', '/dev/null']);
    expect(started?.caCerts).toBe('');
    expect(JSON.parse(readFileSync(prepareRecord, 'utf8'))).toEqual({ ahead: '1' });
  });

  it('does not inherit a descriptor the engine handed the runtime (--preserve-fds)', async () => {
    const r = execa('/bin/bash', ['-c', 'exec 7</etc/hostname; exec "$0" "$@"', launcher, 'create', '--preserve-fds', '4', '--bundle', '/b', 'c1'], {
      env: launcherEnv({ OCI_FTRACE_RUNTIME: runtime }),
      extendEnv: false,
      reject: false,
    });
    expect((await r).exitCode).toBe(0);
    const started = await collectorStarted();
    expect(started?.argv[0]).toBe('c1');
    expect(started?.fds).not.toContain('/etc/hostname');
  });

  it.each([
    ['an id the collector would refuse', ['create', '--bundle', '/b', '../c1']],
    ['an id with a space', ['create', '--bundle', '/b', 'c 1']],
    ['two operands (runc refuses it)', ['create', '--bundle', '/b', 'c1', 'c2']],
    ['no id', ['create', '--bundle', '/b']],
  ])('is not started for %s, and the prepare step starts none either way', async (_name, argv) => {
    await launch(argv);
    expect(await collectorStarted(500)).toBeUndefined();
    expect(JSON.parse(readFileSync(prepareRecord, 'utf8'))).toEqual({ ahead: '' });
  });

  it('is not started when nothing is prepared: a pass-through call, or trace "never"', async () => {
    await launch(['state', 'c1']);
    await launch(['create', '--bundle', '/b', 'c1'], { OCI_FTRACE_CONFIG: neverConfig });
    expect(await collectorStarted(500)).toBeUndefined();
    expect(existsSync(prepareRecord)).toBe(false);
  });
});

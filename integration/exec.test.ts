// `exec` into a traced container (what kubectl exec and exec probes come down to: the runtime's
// exec) is traced with it, under runc and crun: the exec'd command's calls are the container's,
// in its report and in profiles made from it; the runtime's own part of the exec (runc exec, its
// init joining the namespaces before the seccomp load) is not.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeBusyboxBundle } from './lab/bundle.js';
import { ANALYZER, CRUN, RUNC, WRAPPER, uniqueId } from './lab/env.js';
import { leftovers } from './lab/leaks.js';
import { runCommand } from './lab/run.js';
import { createAndStart, deleteContainer, waitStopped, type DetachedContainer } from './support/detached.js';
import { OWN_PROFILE, ourLog, readTraceResult, tracedSuite } from './support/traced.js';

const suite = tracedSuite('oci-ftrace-exec-');

// The init only sleeps until told to stop: ls's getdents64 and touch's utimensat are the exec's alone.
const WAIT = ['sh', '-c', 'while [ ! -e /dev/shm/stop ]; do sleep 0.1; done'];

describe.each([
  { name: 'runc', runtime: RUNC, ownProfile: true, which: 'with a seccomp profile of its own' },
  { name: 'crun', runtime: CRUN, ownProfile: true, which: 'with a seccomp profile of its own' },
  { name: 'runc', runtime: RUNC, ownProfile: false, which: 'unconfined (no profile, a Kubernetes pod\'s default)' },
  { name: 'crun', runtime: CRUN, ownProfile: false, which: 'unconfined (no profile, a Kubernetes pod\'s default)' },
])('exec into a traced container under $name, $which', ({ name, runtime, ownProfile }) => {
  const from = ownProfile ? 'their own seccomp load' : 'their exec of the command (no filter is loaded)';
  it(`traces the exec'd processes from ${from}: in the report, marked${ownProfile ? ', and in its profile' : ''}`, async () => {
    const traced = suite.tracedEnv();
    const tag = `${name}-${ownProfile ? 'own' : 'none'}`;
    const b = await makeBusyboxBundle(path.join(suite.work(), `b-${tag}`), { args: WAIT, ...(ownProfile ? { seccomp: OWN_PROFILE } : {}) });
    const c: DetachedContainer = { id: uniqueId(`exec-${tag}`), globals: ['--root', path.join(suite.work(), `root-${tag}`)], env: traced.env(runtime), runtime };
    await createAndStart(c, b.bundleDir, path.join(suite.work(), `${tag}.out`));
    try {
      const ls = await runCommand(WRAPPER, [...c.globals, 'exec', c.id, 'ls', '/'], { env: c.env, reject: false });
      expect({ code: ls.exitCode, stderr: ls.stderr }, ourLog(traced)).toEqual({ code: 0, stderr: '' });
      expect(ls.stdout.split('\n')).toContain('bin');
      const touch = await runCommand(WRAPPER, [...c.globals, 'exec', c.id, 'touch', '/dev/shm/stop'], { env: c.env, reject: false });
      expect(touch.exitCode, touch.stderr).toBe(0);
      await waitStopped(c, 30_000);
    } finally {
      await deleteContainer(c);
    }
    const { summary } = await readTraceResult(traced, c.id);
    expect(summary.loss.lost).toBe(0);
    const execd = Object.values(summary.processes).filter((p) => p.exec === true);
    const lsProc = execd.find((p) => p.execs.some((e) => e.endsWith('ls')));
    expect(lsProc, JSON.stringify(summary.processes)).toBeDefined();
    expect(summary.syscalls.getdents64?.pids).toContain(lsProc!.pid);
    expect(summary.syscalls.utimensat?.count).toBeGreaterThanOrEqual(1);
    // The runtime's side: runc exec itself and its init before the load made many calls, none counted.
    expect(execd.reduce((n, p) => n + (p.runtimeCalls ?? 0), 0)).toBeGreaterThan(50);
    expect(summary.syscalls.setns, 'joining the namespaces is the runtime\'s, before the load').toBeUndefined();
    expect(ourLog(traced)).toContain('exec into the container: traced with it');
    const show = await runCommand(ANALYZER, ['show', path.join(traced.outputDir, c.id, 'summary.json')]);
    expect(show.stdout).toMatch(ownProfile ? /ls.*\[exec'd; \d+ calls of the runtime's before its seccomp load\]/ : /ls.*\[exec'd; \d+ calls of the runtime's before its exec of the command\]/);
    // No filter load, no profile start: the tool says to record with record-seccomp permissive (profile.test's).
    if (!ownProfile) {
      expect(await leftovers({ stateDir: traced.stateDir })).toEqual({ instances: [], processes: [], stateFiles: [] });
      return;
    }
    // A profile made from it allows what the exec'd commands needed.
    const profile = await runCommand(ANALYZER, ['profile', path.join(traced.outputDir, c.id, 'summary.json')]);
    const allowed = (JSON.parse(profile.stdout) as { syscalls: { names: string[]; action: string }[] }).syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names);
    expect(allowed).toEqual(expect.arrayContaining(['getdents64', 'utimensat']));
    expect(allowed).not.toContain('setns');
    expect(await leftovers({ stateDir: traced.stateDir })).toEqual({ instances: [], processes: [], stateFiles: [] });
  });
});

describe('exec into a container that is not traced', () => {
  it('runs it as the runtime does, and traces nothing', async () => {
    const traced = suite.tracedEnv({ trace: 'annotated' });
    const b = await makeBusyboxBundle(path.join(suite.work(), 'b-untraced'), { args: WAIT });
    const c: DetachedContainer = { id: uniqueId('exec-untraced'), globals: ['--root', path.join(suite.work(), 'root-untraced')], env: traced.env(RUNC), runtime: RUNC };
    await createAndStart(c, b.bundleDir, path.join(suite.work(), 'untraced.out'));
    try {
      const r = await runCommand(WRAPPER, [...c.globals, 'exec', c.id, 'sh', '-c', 'echo hi; touch /dev/shm/stop; exit 3'], { env: c.env, reject: false });
      expect({ code: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 3, stdout: 'hi', stderr: '' });
      await waitStopped(c, 30_000);
    } finally {
      await deleteContainer(c);
    }
    expect(readFileSync(traced.logFile, 'utf8')).not.toContain('exec into the container');
    expect(await leftovers({ stateDir: traced.stateDir })).toEqual({ instances: [], processes: [], stateFiles: [] });
  });
});

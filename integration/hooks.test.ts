// The collector serves the container's hooks (src/collector/serve.ts, bin/oci-ftrace-hook), and
// every way it can fail leaves the work to the Node hooks, which trace as before.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectorFiles } from '../src/collector/files.js';
import { makeBusyboxBundle } from './lab/bundle.js';
import { CRUN, REPO_ROOT, RUNC, WRAPPER, uniqueId } from './lab/env.js';
import { isProcessAlive, leftovers } from './lab/leaks.js';
import { runCommand } from './lab/run.js';
import { createAndStart, deleteContainer, status, waitStopped, type DetachedContainer } from './support/detached.js';
import { OWN_PROFILE, ourLog, readTraceResult, tracedSuite, type TracedEnv } from './support/traced.js';

const WORKLOAD = ['sh', '-c', 'uname -a; ls /'];
const suite = tracedSuite('oci-ftrace-hooks-');
const tracedEnv = suite.tracedEnv;

interface LogEntry {
  component: string;
  msg: string;
  id?: string;
  [key: string]: unknown;
}

/** Our log's lines about one container. */
function logOf(traced: TracedEnv, id: string): LogEntry[] {
  if (!existsSync(traced.logFile)) return [];
  return readFileSync(traced.logFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LogEntry)
    .filter((e) => e.id === id);
}

/** Which of our processes did the hooks' work, by their log lines. */
function whoDidTheHooks(traced: TracedEnv, id: string): { record: string[]; report: string[] } {
  const entries = logOf(traced, id);
  return {
    record: entries.filter((e) => e.msg.startsWith('recording container')).map((e) => e.component),
    // The Node report logs the headline; the collector serving it logs "collector finished".
    report: entries.filter((e) => e.component === 'report' && e.msg.startsWith('oci-ftrace: container')).map((e) => e.component),
  };
}

async function expectNothingLeft(traced: TracedEnv): Promise<void> {
  expect(await leftovers({ stateDir: traced.stateDir })).toEqual({ instances: [], processes: [], stateFiles: [] });
}

function expectWorkloadTraced(traced: TracedEnv, id: string): void {
  const { summary } = readTraceResult(traced, id);
  expect(summary.kind).toBe('final');
  expect(summary.containerId).toBe(id);
  expect(summary.syscalls.uname?.count ?? 0, ourLog(traced)).toBeGreaterThan(0);
  expect(summary.syscalls.getdents64?.count ?? 0).toBeGreaterThan(0);
  expect(summary.loss.lost).toBe(0);
  expect(summary.profileStart?.kind, JSON.stringify(summary.profileStart)).toBe('seccomp-load');
}

describe.each([
  ['runc', RUNC],
  ['crun', CRUN],
])('under %s, the collector serves both hooks', (name, runtime) => {
  it('run: no Node hook runs, and the trace is whole', async () => {
    const traced = tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), `served-${name}`), { args: WORKLOAD, seccomp: OWN_PROFILE });
    const id = uniqueId(`served-${name}`);
    const r = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(runtime), reject: false });
    expect(r.exitCode, r.stderr + ourLog(traced)).toBe(0);
    expect(whoDidTheHooks(traced, id)).toEqual({ record: ['collector'], report: [] });
    // Started by the launcher, beside the prepare step.
    expect(logOf(traced, id).find((e) => e.msg.startsWith('recording container'))?.startedBy).toBe('launcher');
    expectWorkloadTraced(traced, id);
    expect(readTraceResult(traced, id).summary.trace.source).toBe('collector');
    await expectNothingLeft(traced);
  });

  it('opted out by annotation: the collector the launcher started goes again, leaving nothing', async () => {
    const traced = tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), `opted-out-${name}`), { args: WORKLOAD, annotations: { 'oci-ftrace/trace': 'false' } });
    const id = uniqueId(`out-${name}`);
    const r = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(runtime), reject: false });
    expect(r.exitCode, r.stderr + ourLog(traced)).toBe(0);
    expect(existsSync(path.join(traced.outputDir, id))).toBe(false);
    expect(JSON.parse(readFileSync(b.configPath, 'utf8')).hooks ?? {}).toEqual({});
    await expectNothingLeft(traced);
  });
});

describe('the report hook', () => {
  it('is served while the container still runs (create, then delete without start)', async () => {
    const traced = tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'never-started'), { args: WORKLOAD, seccomp: OWN_PROFILE });
    const c: DetachedContainer = { id: uniqueId('never-started'), globals: ['--root', path.join(suite.work(), 'root-ns')], env: traced.env(RUNC), runtime: RUNC };
    const out = path.join(suite.work(), 'never-started.out');
    const create = await runCommand('/bin/sh', ['-c', `exec "$0" "$@" >${out} 2>&1 </dev/null`, WRAPPER, ...c.globals, 'create', '--bundle', b.bundleDir, c.id], { env: c.env, reject: false });
    expect(create.exitCode, create.stderr + ourLog(traced)).toBe(0);
    expect(await status(c)).toBe('created');
    await deleteContainer(c);
    expect(whoDidTheHooks(traced, c.id)).toEqual({ record: ['collector'], report: [] });
    const { summary } = readTraceResult(traced, c.id);
    expect(summary.kind).toBe('final');
    // The runtime's own setup inside the container, up to where its init waits for start.
    expect(summary.trace.syscallsTotal).toBeGreaterThan(0);
    expect(summary.syscalls.uname).toBeUndefined();
    await expectNothingLeft(traced);
  });

  it('after the collector stopped waiting for it (the engine deleted late), reads what the collector left', async () => {
    const traced = tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'late-delete'), { args: WORKLOAD, seccomp: OWN_PROFILE });
    const c: DetachedContainer = { id: uniqueId('late'), globals: ['--root', path.join(suite.work(), 'root-late')], env: traced.env(RUNC), runtime: RUNC };
    await createAndStart(c, b.bundleDir, path.join(suite.work(), 'late.out'));
    await waitStopped(c, 30_000);
    // The collector finished when the init exited, and waits 5 s for the report hook.
    const pid = Number(readFileSync(collectorFiles(traced.stateDir, c.id).pid, 'utf8'));
    for (const started = Date.now(); isProcessAlive(pid) && Date.now() - started < 15_000; ) await new Promise((r) => setTimeout(r, 100));
    expect(isProcessAlive(pid)).toBe(false);
    await deleteContainer(c);
    expect(whoDidTheHooks(traced, c.id)).toEqual({ record: ['collector'], report: ['report'] });
    expectWorkloadTraced(traced, c.id);
    expect(readTraceResult(traced, c.id).summary.trace.source).toBe('collector');
    await expectNothingLeft(traced);
  });
});

describe('when the collector cannot serve', () => {
  it('is gone before the record hook: the Node hooks trace the container, and nothing waits for the dead one', async () => {
    const traced = tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'dead-collector'), { args: WORKLOAD, seccomp: OWN_PROFILE });
    const id = uniqueId('dead');
    // The launcher's prepare step alone, then the collector it started killed, then bare runc.
    const prepare = path.join(REPO_ROOT, 'dist', 'bundle', 'cli', 'runc-prepare.js');
    await runCommand(process.execPath, [prepare, 'create', '--bundle', b.bundleDir, id], { env: traced.env(RUNC) });
    const pid = Number(readFileSync(collectorFiles(traced.stateDir, id).pid, 'utf8'));
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && isProcessAlive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    const r = await runCommand(RUNC, ['run', '--bundle', b.bundleDir, id], { env: traced.env(RUNC), reject: false });
    expect(r.exitCode, r.stderr + ourLog(traced)).toBe(0);
    expect(r.durationMs).toBeLessThan(8000);
    expect(whoDidTheHooks(traced, id)).toEqual({ record: ['record'], report: ['report'] });
    expectWorkloadTraced(traced, id);
    await expectNothingLeft(traced);
  });

  it('cannot set up the trace: fail open runs the container untraced; strict mode refuses it in one line', async () => {
    const b = await makeBusyboxBundle(path.join(suite.work(), 'no-tracefs'), { args: WORKLOAD, seccomp: OWN_PROFILE });
    const bare = await runCommand(RUNC, ['run', '--bundle', (await makeBusyboxBundle(path.join(suite.work(), 'no-tracefs-bare'), { args: WORKLOAD, seccomp: OWN_PROFILE })).bundleDir, uniqueId('bare')]);
    const open = tracedEnv({ tracefsPath: '/nonexistent/tracing' });
    const id = uniqueId('open');
    const r = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: open.env(RUNC), reject: false });
    expect([r.exitCode, r.stdout.split('\n').slice(2), r.stderr]).toEqual([0, bare.stdout.split('\n').slice(2), '']);
    expect(ourLog(open)).toContain('tracefs not found at configured path /nonexistent/tracing');
    await expectNothingLeft(open);

    const strict = tracedEnv({ tracefsPath: '/nonexistent/tracing', strict: true });
    const s = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId('strict')], { env: strict.env(RUNC), reject: false });
    expect(s.exitCode).not.toBe(0);
    expect(s.stderr).toContain('oci-ftrace record: tracefs not found at configured path /nonexistent/tracing');
    await expectNothingLeft(strict);
  });
});

describe('the prepare step fails after the collector started', () => {
  it('(config.json cannot be written): the container runs untraced, and the collector is told and leaves nothing', async () => {
    const traced = tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'read-only'), { args: WORKLOAD, seccomp: OWN_PROFILE });
    // The rootfs outside the bundle (runc makes its mount points there), then a read-only bind
    // mount of the bundle: config.json reads, the atomic write's temp file fails.
    const rootfs = path.join(suite.work(), 'read-only-rootfs');
    renameSync(b.rootfsDir, rootfs);
    const spec = JSON.parse(readFileSync(b.configPath, 'utf8')) as { root: { path: string } };
    writeFileSync(b.configPath, JSON.stringify({ ...spec, root: { ...spec.root, path: rootfs } }, null, 2));
    await runCommand('mount', ['--bind', b.bundleDir, b.bundleDir]);
    try {
      await runCommand('mount', ['-o', 'remount,ro,bind', b.bundleDir]);
      const id = uniqueId('ro');
      const r = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(RUNC), reject: false });
      expect(r.exitCode, r.stderr + ourLog(traced)).toBe(0);
      expect(r.stdout).toContain('Linux');
      expect(ourLog(traced)).toContain('cannot prepare the bundle for tracing');
      expect(existsSync(path.join(traced.outputDir, id))).toBe(false);
      await expectNothingLeft(traced);
    } finally {
      await runCommand('umount', [b.bundleDir], { reject: false });
    }
  });
});

describe('the same container id again at once', () => {
  it('is traced afresh: the earlier collector, still removing its instance, leaves the new one alone', async () => {
    const traced = tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'again'), { args: WORKLOAD, seccomp: OWN_PROFILE });
    const id = uniqueId('again');
    const summaries: string[] = [];
    for (let round = 0; round < 3; round++) {
      const r = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(RUNC), reject: false });
      expect(r.exitCode, r.stderr + ourLog(traced)).toBe(0);
      expectWorkloadTraced(traced, id);
      summaries.push(readTraceResult(traced, id).summary.generatedAt);
    }
    expect(new Set(summaries).size).toBe(3);
    expect(whoDidTheHooks(traced, id)).toEqual({ record: ['collector', 'collector', 'collector'], report: [] });
    await expectNothingLeft(traced);
  });
});

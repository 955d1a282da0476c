// Issue 2, done-when: the wrapper runs a busybox bundle exactly as the bare runtime does, under
// runc and crun, directly and as containerd calls it, and leaves a syscall log and summary.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxBundle } from './lab/bundle.js';
import { CRUN, RUNC, WRAPPER, requireLab, uniqueId } from './lab/env.js';
import { leftovers } from './lab/leaks.js';
import { runCommand } from './lab/run.js';
import { containerPids, logLinesFor, makeTracedEnv, ourLog, readTraceResult, type TracedEnv } from './support/traced.js';

const WORKLOAD = ['sh', '-c', 'uname -a; cat /etc/hostname; ls /'];

let work: string;
let traced: TracedEnv;

beforeAll(async () => {
  requireLab();
  work = await mkdtemp(path.join(tmpdir(), 'oci-ftrace-core-'));
  traced = makeTracedEnv();
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  traced.cleanup();
});

async function expectTraceOfWorkload(id: string): Promise<void> {
  const { summary, log, files } = await readTraceResult(traced, id);
  expect(files).toEqual(['ftrace_syscalls_dump.log', 'summary.json']);
  expect(summary.containerId).toBe(id);
  expect(summary.kind).toBe('final');
  const pids = new Set(containerPids(summary));
  for (const name of ['uname', 'getdents64', 'execve']) {
    const lines = logLinesFor(log, name);
    expect(lines.length, `${name} in log`).toBeGreaterThan(0);
    for (const { pid } of lines) expect(pids.has(pid), `${name} pid ${pid} is the container's`).toBe(true);
    expect(summary.syscalls[name]?.count).toBeGreaterThan(0);
  }
  expect(logLinesFor(log, 'openat').length + logLinesFor(log, 'open').length).toBeGreaterThan(0);
  // The container's own processes: sh exec'd by the runtime, and busybox's cat re-exec.
  const execs = Object.values(summary.processes).flatMap((p) => p.execs);
  expect(execs).toContain('/bin/sh');
  expect(summary.loss.lost).toBe(0);
}

async function expectNothingLeft(bundleDir: string): Promise<void> {
  expect(await leftovers({ stateDir: traced.stateDir })).toEqual({ instances: [], processes: [], stateFiles: [] });
  // Only what was there before: no temp files beside config.json.
  expect(readdirSync(bundleDir).sort()).toEqual(['config.json', 'rootfs']);
}

describe.each([
  ['runc', RUNC],
  ['crun', CRUN],
])('oci-ftrace-runc over %s', (name, runtime) => {
  it('run: same output and exit code as bare, and a trace of the workload', async () => {
    const bare = await makeBusyboxBundle(path.join(work, `${name}-bare`), { args: WORKLOAD });
    const wrapped = await makeBusyboxBundle(path.join(work, `${name}-wrapped`), { args: WORKLOAD });
    const bareId = uniqueId(`bare-${name}`);
    const id = uniqueId(`run-${name}`);
    const expected = await runCommand(runtime, ['run', '--bundle', bare.bundleDir, bareId], { reject: false });
    const got = await runCommand(WRAPPER, ['run', '--bundle', wrapped.bundleDir, id], { reject: false, env: traced.env(runtime) });
    expect(got.exitCode, got.stderr + ourLog(traced)).toBe(0);
    expect(got.stdout).toBe(expected.stdout);
    expect(got.stderr).toBe(expected.stderr);
    await expectTraceOfWorkload(id);
    await expectNothingLeft(wrapped.bundleDir);
  });

  it('create/start/delete as containerd calls it: --root, --log json, --pid-file, detached stdio', async () => {
    const b = await makeBusyboxBundle(path.join(work, `${name}-ctd`), { args: WORKLOAD });
    const root = path.join(work, `${name}-root`);
    const logFile = path.join(work, `${name}-log.json`);
    const id = uniqueId(`ctd-${name}`);
    const globals = ['--root', root, '--log', logFile, '--log-format', 'json'];
    const env = traced.env(runtime);
    // Detached: the container's stdio are the files the wrapper was given, as with the shim's fifos.
    const outFile = path.join(work, `${name}-ctd.out`);
    const create = await runCommand('/bin/sh', ['-c', `exec "$0" "$@" >${outFile} 2>&1 </dev/null`, WRAPPER, ...globals, 'create', '--bundle', b.bundleDir, '--pid-file', path.join(b.bundleDir, 'init.pid'), id], { env, reject: false });
    expect(create.exitCode, create.stderr + ourLog(traced)).toBe(0);
    const pid = Number(readFileSync(path.join(b.bundleDir, 'init.pid'), 'utf8'));
    expect(pid).toBeGreaterThan(1);
    // state passes through byte for byte
    const viaWrapper = await runCommand(WRAPPER, [...globals, 'state', id], { env });
    const viaRuntime = await runCommand(runtime, [...globals, 'state', id]);
    expect(viaWrapper.stdout).toBe(viaRuntime.stdout);
    expect(JSON.parse(viaWrapper.stdout).status).toBe('created');
    const list = await runCommand(WRAPPER, [...globals, 'list'], { env });
    expect(list.stdout).toBe((await runCommand(runtime, [...globals, 'list'])).stdout);

    await runCommand(WRAPPER, [...globals, 'start', id], { env });
    for (let i = 0; i < 100; i++) {
      const s = JSON.parse((await runCommand(runtime, [...globals, 'state', id])).stdout) as { status: string };
      if (s.status === 'stopped') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await runCommand(WRAPPER, [...globals, 'delete', id], { env });
    await runCommand(WRAPPER, [...globals, 'delete', '--force', id], { env, reject: false });
    expect(readFileSync(outFile, 'utf8')).toMatch(/^Linux .*\n.*\nbin\n/s);
    await expectTraceOfWorkload(id);
    expect(await leftovers({ stateDir: traced.stateDir })).toEqual({ instances: [], processes: [], stateFiles: [] });
  });
});

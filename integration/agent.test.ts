// The host agent's life and its failure paths, against the real runc and tracefs: nothing of ours
// is left 5 s after each (an output directory unwritable or full, a container whose poststop never
// runs, gc with no agent), the agent leaves its caller's session and cgroups, reloads its config,
// is one per state directory, takes a socket from systemd, and exits when idle.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runningAgent } from '../src/agent/main.js';
import { makeBusyboxBundle } from './lab/bundle.js';
import { ANALYZER, REPO_ROOT, RUNC, WRAPPER, uniqueId } from './lab/env.js';
import { agentProcesses, descriptorsUnder, isProcessAlive, leftovers, listTracefsInstances } from './lab/leaks.js';
import { runCommand } from './lab/run.js';
import { createAndStart, deleteContainer, waitStopped, type DetachedContainer } from './support/detached.js';
import { ourLog, readTraceResult, tracedSuite, type TracedEnv } from './support/traced.js';

const suite = tracedSuite('oci-ftrace-agent-');
const WORKLOAD = ['sh', '-c', 'uname -a; ls /'];

const nothingLeft = { instances: [], processes: [], stateFiles: [] };

function agentOf(traced: TracedEnv): { pid: number; socket: string } {
  const a = runningAgent(traced.stateDir);
  if (!a) throw new Error(`no agent serves ${traced.stateDir}; our log:\n${ourLog(traced)}`);
  return a;
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  for (const started = Date.now(); !cond(); ) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('failure paths: nothing of ours is left 5 s after each', () => {
  it('an output directory that is read-only: the container runs as bare, its instance and state go', async () => {
    const outputDir = path.join(suite.work(), 'ro-out');
    mkdirSync(outputDir, { recursive: true });
    await runCommand('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', outputDir]);
    try {
      const traced = suite.tracedEnv({ outputDir });
      const b = await makeBusyboxBundle(path.join(suite.work(), 'ro'), { args: WORKLOAD });
      const bare = await runCommand(RUNC, ['run', '--bundle', b.bundleDir, uniqueId('bare')]);
      const got = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId('ro')], { env: traced.env(RUNC), reject: false });
      expect({ exitCode: got.exitCode, stdout: got.stdout.split('\n').slice(1) }).toEqual({ exitCode: 0, stdout: bare.stdout.split('\n').slice(1) });
      expect(await leftovers({ stateDir: traced.stateDir, timeoutMs: 5000 })).toEqual(nothingLeft);
      expect(ourLog(traced)).toMatch(/cannot write the syscall log; the trace goes on without it/);
      expect(ourLog(traced)).toMatch(/the report could not be written/);
      expect(descriptorsUnder(outputDir)).toEqual([]);
    } finally {
      await runCommand('umount', [outputDir], { reject: false });
    }
  });

  it('an output directory that is full: the same, and the log says why', async () => {
    const outputDir = path.join(suite.work(), 'full-out');
    mkdirSync(outputDir, { recursive: true });
    await runCommand('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', outputDir]);
    try {
      writeFileSync(path.join(outputDir, 'filler'), Buffer.alloc(60 * 1024));
      const traced = suite.tracedEnv({ outputDir });
      const b = await makeBusyboxBundle(path.join(suite.work(), 'full'), { args: ['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo $i >/dev/null; i=$((i+1)); done; ls /'] });
      const got = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId('full')], { env: traced.env(RUNC), reject: false });
      expect(got.exitCode, got.stderr + ourLog(traced)).toBe(0);
      expect(got.stdout).toContain('bin');
      expect(await leftovers({ stateDir: traced.stateDir, timeoutMs: 5000 })).toEqual(nothingLeft);
      expect(ourLog(traced)).toMatch(/ENOSPC/);
      // Nor does any descriptor of ours pin the output directory (the spool of a log that failed).
      expect(descriptorsUnder(outputDir)).toEqual([]);
    } finally {
      await runCommand('umount', [outputDir], { reject: false });
    }
  });

  it('a bundle whose config.json cannot be replaced (an immutable directory): it runs as bare, untraced, and its instance goes', async () => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'immutable'), { args: WORKLOAD });
    const before = readFileSync(b.configPath);
    await runCommand('chattr', ['+i', b.bundleDir]);
    try {
      const bare = await runCommand(RUNC, ['run', '--bundle', b.bundleDir, uniqueId('bare')]);
      const got = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId('immutable')], { env: traced.env(RUNC), reject: false });
      expect({ exitCode: got.exitCode, stdout: got.stdout.split('\n').slice(1) }).toEqual({ exitCode: 0, stdout: bare.stdout.split('\n').slice(1) });
      // The kernel's part had begun (the spec said traced) before the write failed: it is undone.
      expect(await leftovers({ stateDir: traced.stateDir, timeoutMs: 5000 })).toEqual(nothingLeft);
      expect(ourLog(traced)).toMatch(/cannot prepare the bundle for tracing; the container runs untraced/);
      expect(readFileSync(b.configPath).equals(before)).toBe(true);
    } finally {
      await runCommand('chattr', ['-i', b.bundleDir], { reject: false });
    }
  });

  it('a container whose poststop never runs: the agent sees its init gone, writes the report, frees its instance', async () => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'no-delete'), { args: WORKLOAD });
    const c: DetachedContainer = { id: uniqueId('nodel'), globals: ['--root', path.join(suite.work(), 'root-nodel')], env: traced.env(RUNC), runtime: RUNC };
    await createAndStart(c, b.bundleDir, path.join(suite.work(), 'nodel.out'));
    await waitStopped(c, 30_000);
    // No delete: the engine never runs poststop.
    expect(await leftovers({ stateDir: traced.stateDir, timeoutMs: 5000 })).toEqual(nothingLeft);
    const { summary } = await readTraceResult(traced, c.id);
    expect(summary.syscalls.uname?.count).toBeGreaterThan(0);
    // A late delete finds the report done, and answers at once.
    const del = await runCommand(WRAPPER, [...c.globals, 'delete', c.id], { env: c.env });
    expect(del.durationMs).toBeLessThan(2000);
  });

  it('the agent killed and the container ended meanwhile: `oci-ftrace gc` (no agent) writes the report and frees everything', async () => {
    const traced = suite.tracedEnv({ writeLog: false });
    const b = await makeBusyboxBundle(path.join(suite.work(), 'gc'), { args: ['sh', '-c', 'sleep 1; uname -a'] });
    const c: DetachedContainer = { id: uniqueId('gc'), globals: ['--root', path.join(suite.work(), 'root-gc')], env: traced.env(RUNC), runtime: RUNC };
    await createAndStart(c, b.bundleDir, path.join(suite.work(), 'gc.out'));
    const { pid } = agentOf(traced);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isProcessAlive(pid), 5000, 'the agent still runs');
    await waitStopped(c, 30_000);
    expect(listTracefsInstances()).toContain(`oci-ftrace-${c.id}`);
    const gc = await runCommand(ANALYZER, ['gc'], { env: { OCI_FTRACE_CONFIG: traced.configPath } });
    expect(JSON.parse(gc.stdout)).toMatchObject({ finished: [c.id] });
    expect(await leftovers({ stateDir: traced.stateDir, timeoutMs: 5000 })).toEqual(nothingLeft);
    const { summary } = await readTraceResult(traced, c.id);
    expect(summary.syscalls.uname?.count).toBeGreaterThan(0);
    expect(agentProcesses(traced.stateDir)).toEqual([]);
    await runCommand(RUNC, [...c.globals, 'delete', '--force', c.id], { reject: false });
  });
});

describe('failure paths: an agent killed after a report, before the kernel removed the instance', () => {
  it('leaves its run state marked reported, and `oci-ftrace gc` frees the instance and the state', async () => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'reported'), { args: WORKLOAD });
    const id = uniqueId('reported');
    await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(RUNC) });
    await readTraceResult(traced, id);
    const { pid } = agentOf(traced);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isProcessAlive(pid), 5000, 'the agent still runs');
    // The kill mostly lands in the 40 to 120 ms the kernel takes to remove the instance, after the
    // report's answer. Where the removal was quicker, what the agent would have left is made here:
    // the instance, and its state saying so.
    const instance = `oci-ftrace-${id}`;
    const statePath = path.join(traced.stateDir, `${id}.json`);
    if (!existsSync(path.join('/sys/kernel/tracing/instances', instance))) {
      mkdirSync(path.join('/sys/kernel/tracing/instances', instance));
      const state = { version: 1, id, tracefsRoot: '/sys/kernel/tracing', instance, pid: 1, bundle: b.bundleDir, clock: 'mono', arch: process.arch === 'arm64' ? 'aarch64' : 'x86_64', recordedAt: new Date().toISOString(), reported: true };
      writeFileSync(statePath, JSON.stringify(state));
    }
    expect(JSON.parse(readFileSync(statePath, 'utf8'))).toMatchObject({ id, instance, reported: true });
    const gc = await runCommand(ANALYZER, ['gc'], { env: { OCI_FTRACE_CONFIG: traced.configPath } });
    expect(JSON.parse(gc.stdout)).toMatchObject({ removed: [id], finished: [], adopted: [] });
    expect(await leftovers({ stateDir: traced.stateDir, timeoutMs: 5000 })).toEqual(nothingLeft);
    // The report stands as it was written.
    expect((await readTraceResult(traced, id)).summary.syscalls.uname?.count).toBeGreaterThan(0);
  });
});

describe('the agent itself', () => {
  it('leaves the session and the cgroups of whoever started it: killing their cgroup does not kill it', async () => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'cgroup'), { args: WORKLOAD });
    // The caller in a cgroup of its own, as an engine's service is: systemd stops it by killing all of it.
    const cg = path.join('/sys/fs/cgroup/unified', `oci-ftrace-test-${process.pid}`);
    const unified = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';
    const cgroup = path.join(unified, path.basename(cg));
    mkdirSync(cgroup, { recursive: true });
    const caller = spawn('/bin/sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$0" run --bundle "$1" "$2"`, WRAPPER, b.bundleDir, uniqueId('cg')], { env: { ...process.env, ...traced.env(RUNC) }, stdio: 'ignore' });
    await new Promise((r) => caller.once('exit', r));
    const { pid } = agentOf(traced);
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toMatch(/^0::\/oci-ftrace$/m);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
    expect(Number(stat[3]), 'its own session').toBe(pid);
    // What systemd does to a unit's cgroup on stop.
    if (existsSync(path.join(cgroup, 'cgroup.kill'))) writeFileSync(path.join(cgroup, 'cgroup.kill'), '1');
    for (const p of readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) process.kill(Number(p), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    expect(isProcessAlive(pid)).toBe(true);
    execFileSync('rmdir', [cgroup]);
  });

  it('exits when idle, and takes its socket, facts and agent.json with it', async () => {
    const traced = suite.tracedEnv({ agentIdleExitSeconds: 1 });
    const b = await makeBusyboxBundle(path.join(suite.work(), 'idle'), { args: WORKLOAD });
    await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId('idle')], { env: traced.env(RUNC) });
    const { pid, socket } = agentOf(traced);
    expect(existsSync(socket)).toBe(true);
    await waitFor(() => !isProcessAlive(pid), 8000, 'the agent is still there');
    expect([existsSync(socket), existsSync(`${socket}.facts`), existsSync(path.join(traced.stateDir, 'agent.json'))]).toEqual([false, false, false]);
  });

  it('a front door whose connection it drops unanswered asks the next agent: the container is traced all the same', async () => {
    // What an agent idling out does to a connection not yet accepted (closing its listener resets
    // it), made certain: the agent frozen, a front door connected and waiting, the agent killed.
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'dropped'), { args: WORKLOAD });
    await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId('dropped-first')], { env: traced.env(RUNC) });
    const { pid } = agentOf(traced);
    process.kill(pid, 'SIGSTOP');
    const id = uniqueId('dropped');
    const late = runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(RUNC), reject: false });
    await new Promise((r) => setTimeout(r, 500));
    process.kill(pid, 'SIGKILL');
    const got = await late;
    expect({ exitCode: got.exitCode, stderr: got.stderr }).toEqual({ exitCode: 0, stderr: '' });
    const { summary } = await readTraceResult(traced, id);
    expect(summary.loss.lost).toBe(0);
    expect(summary.syscalls.uname?.count).toBeGreaterThan(0);
    expect(agentOf(traced).pid).not.toBe(pid);
  });

  it('keeps the config it read when the file goes away: still idles out on its own setting, not the default 30 s', async () => {
    const traced = suite.tracedEnv({ agentIdleExitSeconds: 1 });
    const b = await makeBusyboxBundle(path.join(suite.work(), 'gone'), { args: WORKLOAD });
    await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId('gone')], { env: traced.env(RUNC) });
    const { pid } = agentOf(traced);
    rmSync(traced.configPath);
    await waitFor(() => !isProcessAlive(pid), 8000, 'the agent is still there');
  });

  it("its log rotates with contrib/logrotate/oci-ftrace as shipped: the agent's next lines start the emptied file", async () => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'rotate'), { args: WORKLOAD });
    await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId('rotate')], { env: traced.env(RUNC) });
    const { pid } = agentOf(traced);
    const before = readFileSync(traced.logFile, 'utf8');
    expect(before).toContain('"trace finished"');
    // The shipped file, pointed at this test's log (the one line that names the path).
    const shipped = readFileSync(path.join(REPO_ROOT, 'contrib', 'logrotate', 'oci-ftrace'), 'utf8');
    expect(shipped).toContain('/var/log/oci-ftrace/oci-ftrace.log {');
    const conf = path.join(suite.work(), 'logrotate.conf');
    writeFileSync(conf, shipped.replace('/var/log/oci-ftrace/oci-ftrace.log {', `${traced.logFile} {`));
    await runCommand('logrotate', ['--force', '--state', path.join(suite.work(), 'logrotate.state'), conf]);
    expect(readFileSync(`${traced.logFile}.1`, 'utf8')).toBe(before);
    // The same agent, its descriptor open all along, logs the next container into the emptied file.
    const next = uniqueId('rotate');
    await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, next], { env: traced.env(RUNC) });
    await readTraceResult(traced, next);
    expect(agentOf(traced).pid).toBe(pid);
    const after = readFileSync(traced.logFile);
    // Written in append mode: no hole the size of the old file before the new lines.
    expect(after.length).toBeLessThan(before.length);
    expect(after[0]).toBe('{'.charCodeAt(0));
    expect(after.toString('utf8')).toContain(next);
  });

  it('reloads its config when the file changes: the next container follows it', async () => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'reload'), { args: WORKLOAD });
    const first = uniqueId('reload');
    await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, first], { env: traced.env(RUNC) });
    const { pid } = agentOf(traced);
    const cfg = JSON.parse(readFileSync(traced.configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(traced.configPath, JSON.stringify({ ...cfg, trace: 'never' }));
    const second = uniqueId('reload');
    await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, second], { env: traced.env(RUNC) });
    expect(agentOf(traced).pid).toBe(pid);
    expect(readdirSync(traced.outputDir)).toEqual([first]);
  });

  it('is one per config: two configs, two agents, two state directories', async () => {
    const a = suite.tracedEnv();
    const c = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'two'), { args: WORKLOAD });
    const ids = [uniqueId('two-a'), uniqueId('two-c')];
    await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, ids[0] as string], { env: a.env(RUNC) });
    await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, ids[1] as string], { env: c.env(RUNC) });
    expect(agentOf(a).socket).not.toBe(agentOf(c).socket);
    expect(agentOf(a).pid).not.toBe(agentOf(c).pid);
    expect([readdirSync(a.outputDir), readdirSync(c.outputDir)]).toEqual([[ids[0]], [ids[1]]]);
  });

  it("takes its listening socket from systemd (LISTEN_FDS) and serves the front door's requests on it", async () => {
    const traced = suite.tracedEnv({ agentIdleExitSeconds: 30 });
    // The socket the front door derives for this config: start one agent on demand to learn it.
    const b = await makeBusyboxBundle(path.join(suite.work(), 'activated'), { args: WORKLOAD });
    await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId('learn')], { env: traced.env(RUNC) });
    const { pid, socket } = agentOf(traced);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !isProcessAlive(pid), 5000, 'the agent did not stop on SIGTERM');
    // systemd binds the socket and hands it over as descriptor 3 of the service it starts: a
    // helper does the same here, and exits without unlinking it.
    const helper = [
      "const net = require('node:net'); const { spawn } = require('node:child_process');",
      'const [socket, node, main, config] = process.argv.slice(1);',
      'const server = net.createServer(); server.listen(socket, () => {',
      "  const child = spawn('/bin/sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$1\" agent --socket \"$2\" --config \"$3\"', node, main, socket, config], { stdio: ['ignore', 'ignore', 'ignore', server._handle.fd], detached: true });",
      '  process.stdout.write(String(child.pid)); child.unref(); process.exit(0);',
      '});',
    ].join('\n');
    const started = await runCommand(process.execPath, ['-e', helper, socket, process.execPath, path.join(REPO_ROOT, 'dist/bundle/agent/main.js'), traced.configPath]);
    const activated = Number(started.stdout);
    try {
      await waitFor(() => runningAgent(traced.stateDir)?.pid === activated, 5000, 'the activated agent did not take its state directory');
      const id = uniqueId('activated');
      const r = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(RUNC) });
      expect(r.stdout).toContain('bin');
      expect((await readTraceResult(traced, id)).summary.syscalls.uname?.count).toBeGreaterThan(0);
      expect(agentOf(traced).pid).toBe(activated);
    } finally {
      process.kill(activated, 'SIGTERM');
      await waitFor(() => !isProcessAlive(activated), 5000, 'the activated agent did not stop');
    }
  });

  it('a create with the agent unstartable fails open, and the front door says why in our log', async () => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'stuck'), { args: WORKLOAD });
    const id = uniqueId('stuck');
    // Its state directory cannot be made: the agent exits at once, every time.
    writeFileSync(path.join(suite.work(), 'not-a-dir'), '');
    const cfg = JSON.parse(readFileSync(traced.configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(traced.configPath, JSON.stringify({ ...cfg, stateDir: path.join(suite.work(), 'not-a-dir', 'state') }));
    const r = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(RUNC), reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('bin');
    expect(existsSync(path.join(traced.outputDir, id))).toBe(false);
    expect(listTracefsInstances()).toEqual([]);
  });
});

describe('containers started at once', () => {
  it('20 traced creates at the same time: 20 reports, each holding only its own container\'s pids, 0 lost', async () => {
    const traced = suite.tracedEnv();
    const n = 20;
    const bundles = await Promise.all(Array.from({ length: n }, (_, i) => makeBusyboxBundle(path.join(suite.work(), `many-${i}`), { args: ['sh', '-c', `echo ${i}; uname -a; ls /`] })));
    const ids = bundles.map((_, i) => uniqueId(`many${i}`));
    const results = await Promise.all(bundles.map((b, i) => runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, ids[i] as string], { env: traced.env(RUNC), reject: false })));
    results.forEach((r, i) => expect(r.stdout.split('\n')[0], r.stderr).toBe(String(i)));
    const reports = await Promise.all(ids.map((id) => readTraceResult(traced, id)));
    const pidsOf = reports.map((r) => new Set(Object.values(r.summary.processes).flatMap((p) => p.threads)));
    for (const [i, r] of reports.entries()) {
      expect(r.summary.loss.lost).toBe(0);
      expect(r.summary.syscalls.uname?.count).toBeGreaterThan(0);
      for (const [j, other] of pidsOf.entries()) if (j !== i) expect([...(pidsOf[i] as Set<number>)].filter((p) => other.has(p))).toEqual([]);
    }
    expect(await leftovers({ stateDir: traced.stateDir, timeoutMs: 5000 })).toEqual(nothingLeft);
  });
});

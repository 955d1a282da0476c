// Issue 13: rootless containers traced as an unprivileged user the test creates: no root, no file
// capabilities. The administrator's one step (oci-ftrace setup-rootless --group G) makes the pool
// of instances the group traces through; a member's agent runs as the member, its state, socket and
// reports under the member's own directories.
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SummarySchema, type Summary } from '../src/report/summary.js';
import { POOL_DIR, pooledName } from '../src/tracefs/instance-pool.js';
import { makeBusyboxRootfs } from './lab/bundle.js';
import { ANALYZER, CRUN, REPO_ROOT, RUNC, WRAPPER, requireLab, tracefsRoot, uniqueId } from './lab/env.js';
import { listTracefsInstances, processesMatching } from './lab/leaks.js';
import { runCommand, type CommandResult } from './lab/run.js';

requireLab();
const TAG = `${process.pid % 100000}`;
const GROUP = `oftrl${TAG}`;
const MEMBER = `oftrl${TAG}m`;
const OUTSIDER = `oftrl${TAG}o`;
const SUBID_FILES = ['/etc/subuid', '/etc/subgid'];
const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const WORKLOAD = 'uname -a; ls /; echo pid=$$';
const uids = new Map<string, number>();
/** The member's reports, by the runtime they were recorded under, and what the bundle printed. */
const reports = new Map<string, string>();
const outputs = new Map<string, string>();

function home(user: string): string {
  return `/home/${user}`;
}

/** A command as `user`, in a clean environment such as a login gives: HOME, PATH, XDG_RUNTIME_DIR, and `extra`. */
function asUser(user: string, file: string, args: readonly string[], extra: Record<string, string> = {}, opts: { reject?: boolean; cwd?: string } = {}): Promise<CommandResult> {
  const env = { HOME: home(user), PATH: PATH_ENV, XDG_RUNTIME_DIR: `/run/user/${uids.get(user)}`, ...extra };
  return runCommand('runuser', ['-u', user, '--', 'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), file, ...args], { reject: opts.reject ?? false, cwd: opts.cwd ?? home(user) });
}

/** A rootless bundle of the user's (runc spec --rootless, as its README says), running the workload. */
async function rootlessBundle(user: string, name: string, annotations: Record<string, string> = {}): Promise<string> {
  const dir = path.join(home(user), name);
  await makeBusyboxRootfs(path.join(dir, 'rootfs'));
  await runCommand('chown', ['-R', `${user}:${user}`, dir]);
  const spec = await asUser(user, RUNC, ['spec', '--rootless'], {}, { cwd: dir, reject: true });
  expect(spec.exitCode).toBe(0);
  const configPath = path.join(dir, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, any>;
  config.process.terminal = false;
  config.process.args = ['sh', '-c', WORKLOAD];
  config.annotations = annotations;
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return dir;
}

function summaryOf(user: string, id: string): Summary | undefined {
  const p = path.join(home(user), '.local', 'share', 'oci-ftrace', id, 'summary.json');
  return existsSync(p) ? SummarySchema.parse(JSON.parse(readFileSync(p, 'utf8'))) : undefined;
}

async function waitForSummary(user: string, id: string): Promise<Summary> {
  for (let i = 0; i < 300; i++) {
    const s = summaryOf(user, id);
    if (s && s.log !== 'pending') return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no report of ${id} for ${user}: ${ourLog(user)}`);
}

function ourLog(user: string): string {
  const p = path.join(home(user), '.local', 'share', 'oci-ftrace', 'oci-ftrace.log');
  return existsSync(p) ? readFileSync(p, 'utf8') : '(no log)';
}

beforeAll(async () => {
  await runCommand('groupadd', [GROUP]);
  await runCommand('useradd', ['-m', '-G', GROUP, MEMBER]);
  await runCommand('useradd', ['-m', OUTSIDER]);
  for (const user of [MEMBER, OUTSIDER]) {
    const uid = Number((await runCommand('id', ['-u', user])).stdout.trim());
    uids.set(user, uid);
    // What a login session makes: XDG_RUNTIME_DIR, the user's alone.
    mkdirSync(`/run/user/${uid}`, { recursive: true, mode: 0o700 });
    chownSync(`/run/user/${uid}`, uid, uid);
    // Its agent idles out a second after its last container.
    mkdirSync(path.join(home(user), '.config', 'oci-ftrace'), { recursive: true });
    writeFileSync(path.join(home(user), '.config', 'oci-ftrace', 'config.json'), JSON.stringify({ agentIdleExitSeconds: 1 }));
    await runCommand('chown', ['-R', `${user}:${user}`, path.join(home(user), '.config')]);
  }
  // Subordinate ids for the member's rootless podman, where useradd gave it none.
  const base = 400000 + (Number(TAG) % 1000) * 65536;
  for (const f of SUBID_FILES) {
    const now = existsSync(f) ? readFileSync(f, 'utf8') : '';
    if (!now.split('\n').some((l) => l.startsWith(`${MEMBER}:`))) writeFileSync(f, `${MEMBER}:${base}:65536\n`, { flag: 'a' });
  }
  const setup = await runCommand(ANALYZER, ['setup-rootless', '--group', GROUP, '--instances', '2']);
  expect(setup.stdout).toMatch(/can now.*trace any process on the host/s);
});

afterAll(async () => {
  for (const user of [MEMBER, OUTSIDER]) await runCommand('pkill', ['-KILL', '-u', user], { reject: false });
  await runCommand(ANALYZER, ['setup-rootless', '--remove'], { reject: false });
  for (const user of [MEMBER, OUTSIDER]) {
    await runCommand('userdel', ['-r', user], { reject: false });
    rmSync(`/run/user/${uids.get(user)}`, { recursive: true, force: true });
  }
  await runCommand('groupdel', [GROUP], { reject: false });
  for (const f of SUBID_FILES) {
    if (existsSync(f)) writeFileSync(f, readFileSync(f, 'utf8').split('\n').filter((l) => !l.startsWith(`${MEMBER}:`)).join('\n'));
  }
  expect(listTracefsInstances()).toEqual([]);
  expect(existsSync(POOL_DIR)).toBe(false);
});

describe.each([
  ['runc', RUNC],
  ['crun', CRUN],
])('a rootless user runs a bundle through the front door, under %s', (name, runtime) => {
  it('gets the report root would (uname, getdents64, execve; 0 lost), with host pids throughout', async () => {
    const bundle = await rootlessBundle(MEMBER, `b-${name}`, { 'oci-ftrace/record-seccomp': 'permissive' });
    const bare = await asUser(MEMBER, runtime, ['run', '--bundle', bundle, uniqueId(`bare-${name}`)]);
    expect(bare.exitCode, bare.stderr).toBe(0);
    const id = uniqueId(`rl-${name}`);
    const traced = await asUser(MEMBER, WRAPPER, ['run', '--bundle', bundle, id], { OCI_FTRACE_RUNTIME: runtime });
    expect({ code: traced.exitCode, stderr: traced.stderr }, ourLog(MEMBER)).toEqual({ code: 0, stderr: '' });
    expect(traced.stdout).toBe(bare.stdout);
    expect(traced.stdout).toMatch(/^pid=1$/m);
    const summary = await waitForSummary(MEMBER, id);
    expect(summary.loss.lost).toBe(0);
    for (const s of ['uname', 'getdents64', 'execve']) expect(summary.syscalls[s]?.count, s).toBeGreaterThan(0);
    // The log names each call's arguments as root's does, though the host's event formats are root's
    // alone: they are read from the pooled instance.
    const log = readFileSync(path.join(home(MEMBER), '.local', 'share', 'oci-ftrace', id, 'ftrace_syscalls_dump.log'), 'utf8');
    expect(log).toMatch(/ getdents64\(fd: 0x[0-9a-f]+, dirent: 0x[0-9a-f]+, count: 0x[0-9a-f]+\) = \d+/);
    // The agent ran as the member; it traced the pid the runtime's hook state gave, a host pid
    // (the container saw itself as pid 1), which is the init's in the report.
    const recording = ourLog(MEMBER).split('\n').find((l) => l.includes(`"id":"${id}"`) && l.includes('recording container'));
    const initPid = Number(/"initPid":(\d+)/.exec(recording ?? '')?.[1]);
    expect(initPid).toBeGreaterThan(1);
    expect(summary.processes[String(initPid)]?.execs).toContain('/bin/sh');
    expect(summary.profileStart.pid).toBe(initPid);
    expect(recording).toContain(pooledName(0).slice(0, -1));
    const logOwner = Number((await runCommand('stat', ['-c', '%u', path.join(home(MEMBER), '.local', 'share', 'oci-ftrace', id, 'summary.json')])).stdout.trim());
    expect(logOwner).toBe(uids.get(MEMBER));

    reports.set(name, path.join(home(MEMBER), '.local', 'share', 'oci-ftrace', id, 'summary.json'));
    outputs.set(name, bare.stdout);
  });
});

describe('podman rootless, with the front door as its --runtime', () => {
  it('traces the container as the member would expect: the report under its data directory, 0 lost, the same output', async () => {
    // Podman runs the runtime as uid 0 of the member's user namespace: the front door and the agent
    // take that for rootless (uid_map), so the member's agent traces through the pool.
    const dir = path.join(home(MEMBER), 'podman-image');
    await makeBusyboxRootfs(path.join(dir, 'rootfs'));
    await runCommand('tar', ['-C', path.join(dir, 'rootfs'), '-cf', path.join(dir, 'image.tar'), '.']);
    await runCommand('chown', ['-R', `${MEMBER}:${MEMBER}`, dir]);
    const imported = await asUser(MEMBER, 'podman', ['import', path.join(dir, 'image.tar'), 'busybox:rootless']);
    expect(imported.exitCode, imported.stderr).toBe(0);
    const cmd = ['sh', '-c', 'uname -s; ls /'];
    const bare = await asUser(MEMBER, 'podman', ['run', '--rm', '--network', 'none', 'busybox:rootless', ...cmd]);
    expect(bare.exitCode, bare.stderr).toBe(0);
    const cidfile = path.join(home(MEMBER), 'podman.cid');
    const traced = await asUser(MEMBER, 'podman', ['run', '--rm', '--network', 'none', '--runtime', WRAPPER, '--cidfile', cidfile, 'busybox:rootless', ...cmd]);
    expect({ code: traced.exitCode, stdout: traced.stdout }, traced.stderr + ourLog(MEMBER)).toEqual({ code: 0, stdout: bare.stdout });
    const id = readFileSync(cidfile, 'utf8').trim();
    const summary = await waitForSummary(MEMBER, id);
    expect(summary.loss.lost).toBe(0);
    for (const s of ['uname', 'getdents64', 'execve']) expect(summary.syscalls[s]?.count, s).toBeGreaterThan(0);
    const recording = ourLog(MEMBER).split('\n').find((l) => l.includes(`"id":"${id}"`) && l.includes('recording container'));
    expect(recording).toContain(pooledName(0).slice(0, -1));
    const owner = Number((await runCommand('stat', ['-c', '%u', path.join(home(MEMBER), '.local', 'share', 'oci-ftrace', id, 'summary.json')])).stdout.trim());
    expect(owner).toBe(uids.get(MEMBER));
  });
});

describe('a profile made by the member from both recordings', () => {
  it('reruns the bundle rootless, with the same output, under runc and crun', async () => {
    expect([...reports.keys()].sort()).toEqual(['crun', 'runc']);
    const rerun = await rootlessBundle(MEMBER, 'rerun');
    const enforce = await asUser(MEMBER, ANALYZER, ['enforce', '-b', rerun, ...reports.values()]);
    expect(enforce.exitCode, enforce.stderr).toBe(0);
    const profile = JSON.parse(readFileSync(path.join(rerun, 'config.json'), 'utf8')).linux.seccomp as { defaultAction: string };
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    for (const rt of [RUNC, CRUN]) {
      const r = await asUser(MEMBER, rt, ['run', '--bundle', rerun, uniqueId('rerun')]);
      expect({ code: r.exitCode, out: r.stdout }, `${rt}: ${r.stderr}`).toEqual({ code: 0, out: outputs.get('runc') });
    }
  });
});

describe('without the group', () => {
  it('the same run succeeds untraced, and the log names the file it could not open and what to run', async () => {
    const bundle = await rootlessBundle(OUTSIDER, 'b');
    const id = uniqueId('outsider');
    const r = await asUser(OUTSIDER, WRAPPER, ['run', '--bundle', bundle, id], { OCI_FTRACE_RUNTIME: RUNC });
    expect({ code: r.exitCode, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^pid=1$/m);
    expect(summaryOf(OUTSIDER, id)).toBeUndefined();
    const line = ourLog(OUTSIDER).split('\n').find((l) => l.includes('not traced (rootless)'));
    expect(line, ourLog(OUTSIDER)).toMatch(/cannot open \/sys\/kernel\/tracing\/instances\/oci-ftrace-pool-0\/set_event_pid for writing: EACCES/);
    expect(line).toMatch(new RegExp(`usermod -aG ${GROUP}`));
    // Its config.json is as it was: a container that is not traced is not touched.
    expect(JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')).hooks).toBeUndefined();
    const doctor = await asUser(OUTSIDER, ANALYZER, ['doctor', '--json']);
    const pool = (JSON.parse(doctor.stdout) as { check: string; ok: unknown; fix?: string }[]).find((f) => f.check === 'tracefs: rootless pool');
    expect(pool).toMatchObject({ ok: false });
    expect(pool?.fix).toContain(`usermod -aG ${GROUP}`);
  });
});

describe('what is left, and what is not', () => {
  it('no file capabilities on our files or on node', async () => {
    const caps = await runCommand('getcap', ['-r', path.join(REPO_ROOT, 'dist'), path.join(REPO_ROOT, 'bin'), realpathSync(process.execPath)], { reject: false });
    expect(caps.stdout.trim()).toBe('');
  });

  it("nothing of the member's is left after its containers: no claim, the pool idle, and its agent exits", async () => {
    const root = tracefsRoot() as string;
    for (let i = 0; i < 300 && processesMatching(/agent\/main\.js agent --socket \/run\/user\//).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(processesMatching(/agent\/main\.js agent --socket \/run\/user\//), ourLog(MEMBER).split('\n').slice(-8).join('\n')).toEqual([]);
    expect(readdirSync(POOL_DIR).filter((f) => f.endsWith('.claim'))).toEqual([]);
    for (const n of [0, 1]) {
      const inst = path.join(root, 'instances', pooledName(n));
      expect(readFileSync(path.join(inst, 'tracing_on'), 'utf8').trim()).toBe('0');
      expect(readFileSync(path.join(inst, 'set_event_pid'), 'utf8').trim()).toBe('');
    }
    const state = `/run/user/${uids.get(MEMBER)}/oci-ftrace`;
    // Only the front door's start lock stays (an empty file it flocks: the next start needs it).
    expect(existsSync(state) ? readdirSync(state).filter((f) => !f.endsWith('.sock.lock')) : []).toEqual([]);
    // Root's own instances stay out of the group's reach.
    expect(listTracefsInstances().filter((n) => !n.startsWith('oci-ftrace-pool-'))).toEqual([]);
  });
});

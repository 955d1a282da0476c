// Issue "Exact seccomp profiles", done-when: record a workload through oci-ftrace-runc under runc,
// make its profile, apply it to the same bundle and rerun it under runc and crun, and under docker
// with the Docker form: same output, exit 0. The profile is minimal: the runtime's setup before its
// filter load is not in it, and taking out a syscall the workload makes breaks the rerun.
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import tmp from 'tmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxBundle, makeBusyboxRootfs, type BusyboxBundle } from './lab/bundle.js';
import { startDockerd, type Dockerd } from './lab/dockerd.js';
import { ANALYZER, CRUN, REPO_ROOT, RUNC, WRAPPER, requireLab, uniqueId } from './lab/env.js';
import { dockerImport } from './lab/image.js';
import { listTracefsInstances } from './lab/leaks.js';
import { runCommand, type CommandResult } from './lab/run.js';
import { makeTracedEnv, ourLog, readTraceResult, type TracedEnv } from './support/traced.js';
import { syscallsSinceProfileStart, type Summary } from '../src/report/summary.js';

requireLab();

const work = tmp.dirSync({ prefix: 'oci-ftrace-seccomp-', unsafeCleanup: true });
const RARE_BINARY = '/bin/rare-syscalls';
let rareBinaryOnHost: string;
let traced: TracedEnv;

interface Workload {
  name: string;
  args: string[];
  /** Syscalls the workload itself makes and depends on: without any one of them its rerun must fail. */
  needs: string[];
}

const WORKLOADS: Workload[] = [
  { name: 'ls', args: ['ls', '/'], needs: ['getdents64', 'write'] },
  { name: 'sh', args: ['sh', '-c', 'uname -a; cat /etc/passwd; sleep 0.1'], needs: ['uname'] },
  { name: 'rare', args: [RARE_BINARY], needs: ['uname', 'getrandom', 'memfd_create', 'timerfd_create'] },
];

/** Done by the runtime before it loads the filter: never in a profile that starts at the load. */
const SETUP_ONLY = ['pivot_root', 'mount', 'umount2', 'sethostname', 'unshare', 'setns', 'keyctl'];

beforeAll(() => {
  traced = makeTracedEnv();
  rareBinaryOnHost = path.join(work.name, 'rare-syscalls');
  execFileSync('gcc', ['-static', '-O1', '-o', rareBinaryOnHost, path.join(REPO_ROOT, 'test/fixtures/profile-rare-syscalls.c')]);
});

afterAll(() => {
  traced.cleanup();
  work.removeCallback();
});

/** Recording a profile from scratch is the container's own explicit choice. */
const FROM_SCRATCH = { 'oci-ftrace/record-seccomp': 'permissive' };

async function bundleFor(w: Workload, tag: string, opts: { noNewPrivileges?: boolean; annotations?: Record<string, string> } = {}): Promise<BusyboxBundle & { pristine: string }> {
  const b = await makeBusyboxBundle(path.join(work.name, `${w.name}-${tag}`), { args: w.args, ...opts, annotations: opts.annotations ?? FROM_SCRATCH });
  copyFileSync(rareBinaryOnHost, path.join(b.rootfsDir, RARE_BINARY));
  return { ...b, pristine: readFileSync(b.configPath, 'utf8') };
}

function restore(b: { configPath: string; pristine: string }): void {
  writeFileSync(b.configPath, b.pristine);
}

async function bare(runtime: string, bundleDir: string): Promise<CommandResult> {
  return runCommand(runtime, ['run', '--bundle', bundleDir, uniqueId('bare')], { reject: false });
}

/** Runs the bundle through the wrapper and returns its report; the bundle opts in to recording from scratch. */
async function record(runtime: string, b: BusyboxBundle & { pristine: string }): Promise<{ id: string; summary: Summary; log: string; run: CommandResult }> {
  restore(b);
  const id = uniqueId('rec');
  const run = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { reject: false, env: traced.env(runtime) });
  expect(run.exitCode, run.stderr + ourLog(traced)).toBe(0);
  const { summary, log } = await readTraceResult(traced, id);
  expect(summary.profileStart.kind, 'the runtime loaded a filter while recording').toBe('seccomp-load');
  expect(summary.loss.lost).toBe(0);
  return { id, summary, log, run };
}

async function analyzer(args: string[]): Promise<CommandResult> {
  const r = await runCommand(ANALYZER, args, { reject: false, env: { OCI_FTRACE_CONFIG: traced.configPath } });
  expect(r.exitCode, `oci-ftrace ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

async function makeProfile(ids: string[], format: 'oci' | 'docker' | 'spo', file: string, extra: string[] = []): Promise<string> {
  await analyzer(['profile', ...ids.map((id) => path.join(traced.outputDir, id)), '-f', format, '-o', file, ...extra]);
  return file;
}

async function enforce(b: BusyboxBundle & { pristine: string }, profileFile: string): Promise<void> {
  restore(b);
  await analyzer(['enforce', '-b', b.bundleDir, profileFile]);
}

interface OciProfileJson {
  defaultAction: string;
  syscalls: { names: string[]; action: string; errnoRet?: number }[];
}

function allowedNames(profileFile: string): string[] {
  const p = JSON.parse(readFileSync(profileFile, 'utf8')) as OciProfileJson;
  return p.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names);
}

function withoutSyscall(profileFile: string, name: string, out: string): string {
  const p = JSON.parse(readFileSync(profileFile, 'utf8')) as OciProfileJson;
  p.syscalls = p.syscalls.map((r) => ({ ...r, names: r.names.filter((n) => n !== name) })).filter((r) => r.names.length > 0);
  writeFileSync(out, JSON.stringify(p, null, 2));
  return out;
}

function expectSameFailure(got: CommandResult, expected: CommandResult): void {
  expect({ exitCode: got.exitCode, stdout: got.stdout, stderr: got.stderr }).toEqual({ exitCode: expected.exitCode, stdout: expected.stdout, stderr: expected.stderr });
}

function expectSameRun(got: CommandResult, expected: CommandResult, what: string): void {
  expect(got.exitCode, `${what}: ${got.stderr}`).toBe(0);
  expect(got.stdout, what).toBe(expected.stdout);
  expect(got.stderr, what).toBe(expected.stderr);
}

/** Timestamp of the workload's exec: the first execve of the task that loaded the filter, after the load. */
function workloadExecTime(summary: Summary, log: string): number {
  const pid = summary.profileStart.pid;
  const start = summary.profileStart.timestamp!;
  const times = log
    .split('\n')
    .map((line) => /^(\d+\.\d+) .* (\d+) execve\(.*\) = 0$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) === pid && Number(m[1]) >= start)
    .map((m) => Number(m[1]));
  expect(times.length, 'the loading task exec\'d the workload').toBeGreaterThan(0);
  return Math.min(...times);
}

/** Syscalls made after the workload's exec, by any task: the workload's own. */
function workloadSyscalls(summary: Summary, log: string): Set<string> {
  const after = workloadExecTime(summary, log);
  const names = new Set<string>();
  for (const line of log.split('\n')) {
    const m = /^(\d+\.\d+) .* \d+ ([a-z0-9_]+)\(/.exec(line);
    if (m && Number(m[1]) > after) names.add(m[2]!);
  }
  return names;
}

// --- the docker engine, one per file ------------------------------------------------------------

let dockerd: Dockerd | undefined;
const imageTag = `busybox-rare:${uniqueId('seccomp')}`;

async function docker(): Promise<Dockerd> {
  if (!dockerd) {
    dockerd = await startDockerd(path.join(work.name, 'dockerd'), { 'oci-ftrace': WRAPPER }, { env: traced.env(RUNC) });
    const rootfs = path.join(work.name, 'image-rootfs');
    await makeBusyboxRootfs(rootfs, { hostname: 'image' });
    copyFileSync(rareBinaryOnHost, path.join(rootfs, RARE_BINARY));
    await dockerImport(rootfs, dockerd, imageTag);
  }
  return dockerd;
}

afterAll(async () => {
  await dockerd?.stop();
});

async function dockerRun(securityOpts: string[], args: string[], runtime?: string): Promise<CommandResult> {
  const d = await docker();
  // A fixed hostname: uname -a prints it, and docker's default is the container's own id.
  return d.docker(['run', '--rm', '--network', 'none', '--hostname', 'roundtrip', ...(runtime ? ['--runtime', runtime] : []), ...securityOpts.flatMap((o) => ['--security-opt', o]), imageTag, ...args], { reject: false });
}

// --- the round trips ------------------------------------------------------------------------------

describe.each([
  { nnp: true, label: 'NoNewPrivileges on', recordUnder: [['runc', RUNC]] as const },
  // With NoNewPrivileges off each runtime loads its filter before dropping privileges, and what
  // follows differs between them (crun: setresuid, setresgid, rt_sigaction, rt_sigprocmask; runc:
  // setuid, setgid, capget...): the profile for both is the union of a recording under each.
  { nnp: false, label: 'NoNewPrivileges off', recordUnder: [['runc', RUNC], ['crun', CRUN]] as const },
])('$label', ({ nnp, recordUnder }) => {
  describe.each(WORKLOADS)('$name', (w) => {
    it(`recorded under ${recordUnder.map(([n]) => n).join(' and ')}, rerun with its profile under runc, crun and docker: same output`, async () => {
      const b = await bundleFor(w, `nnp-${nnp}`, { noNewPrivileges: nnp });
      const expected = { runc: await bare(RUNC, b.bundleDir), crun: await bare(CRUN, b.bundleDir) };
      expect(expected.runc.exitCode, expected.runc.stderr).toBe(0);

      const ids: string[] = [];
      for (const [name, runtime] of recordUnder) {
        const rec = await record(runtime, b);
        expect(rec.run.stdout, `recorded run under ${name}`).toBe(expected[name].stdout);
        ids.push(rec.id);
      }
      const oci = await makeProfile(ids, 'oci', path.join(work.name, `${w.name}-nnp-${nnp}.oci.json`));
      const dockerForm = await makeProfile(ids, 'docker', path.join(work.name, `${w.name}-nnp-${nnp}.docker.json`));

      await enforce(b, oci);
      const spec = JSON.parse(readFileSync(b.configPath, 'utf8')) as { linux: { seccomp: unknown }; hooks?: unknown };
      expect(spec.linux.seccomp).toEqual(JSON.parse(readFileSync(oci, 'utf8')));
      expect(spec.hooks, 'the rerun is the bare runtime, untraced').toBeUndefined();
      expectSameRun(await bare(RUNC, b.bundleDir), expected.runc, `runc under the profile`);
      expectSameRun(await bare(CRUN, b.bundleDir), expected.crun, `crun under the profile`);

      const nnpOpt = nnp ? ['no-new-privileges'] : [];
      const dockerExpected = await dockerRun(['seccomp=unconfined', ...nnpOpt], w.args);
      expect(dockerExpected.exitCode, dockerExpected.stderr).toBe(0);
      expectSameRun(await dockerRun([`seccomp=${dockerForm}`, ...nnpOpt], w.args), dockerExpected, 'docker under the Docker form');
    });
  });
});

interface Recorded {
  b: BusyboxBundle & { pristine: string };
  expected: CommandResult;
  id: string;
  summary: Summary;
  log: string;
  profile: string;
}

const recordedOnce = new Map<string, Promise<Recorded>>();

/** Each workload recorded once under runc (NoNewPrivileges on), with its OCI profile. */
function recordedWorkload(w: Workload): Promise<Recorded> {
  let p = recordedOnce.get(w.name);
  if (!p) {
    p = (async () => {
      const b = await bundleFor(w, 'minimal');
      const expected = await bare(RUNC, b.bundleDir);
      const rec = await record(RUNC, b);
      const profile = await makeProfile([rec.id], 'oci', path.join(work.name, `${w.name}-minimal.oci.json`));
      return { b, expected, id: rec.id, summary: rec.summary, log: rec.log, profile };
    })();
    recordedOnce.set(w.name, p);
  }
  return p;
}

describe('minimal', () => {
  it("the profile of `ls /` has none of the runtime's setup-only syscalls, which the trace has before the load", async () => {
    const ls = await recordedWorkload(WORKLOADS[0]!);
    // The trace did see the runtime's setup: the profile leaves it out because it precedes the load.
    expect(Object.keys(ls.summary.syscalls)).toEqual(expect.arrayContaining(['pivot_root', 'mount']));
    const allowed = allowedNames(ls.profile);
    for (const name of SETUP_ONLY) expect(allowed, name).not.toContain(name);
    expect(allowed).toEqual(expect.arrayContaining(syscallsSinceProfileStart(ls.summary)));
  });

  it.each(WORKLOADS.flatMap((w) => w.needs.map((name) => [w.name, name] as const)))('%s without %s: the rerun fails', async (workloadName, name) => {
    const w = WORKLOADS.find((x) => x.name === workloadName)!;
    const r = await recordedWorkload(w);
    // The workload itself makes it (after its exec), so the profile has it for the workload's sake.
    expect([...workloadSyscalls(r.summary, r.log)], `${name} made by ${w.name}`).toContain(name);
    expect(allowedNames(r.profile)).toContain(name);

    await enforce(r.b, withoutSyscall(r.profile, name, path.join(work.name, `${w.name}-without-${name}.json`)));
    const got = await bare(RUNC, r.b.bundleDir);
    expect(got.exitCode !== 0 || got.stdout !== r.expected.stdout, `${w.name} ran the same without ${name}`).toBe(true);
    // With the full profile it runs as it does bare.
    await enforce(r.b, r.profile);
    expectSameRun(await bare(RUNC, r.b.bundleDir), r.expected, `${w.name} with the full profile`);
  });
});

/** Syscalls the loading task made from its load up to its exec of the workload: the runtime's, under the filter. */
function runtimeAfterLoad(summary: Summary, log: string): Set<string> {
  const execAt = workloadExecTime(summary, log);
  const names = new Set<string>();
  for (const line of log.split('\n')) {
    const m = /^(\d+\.\d+) .* (\d+) ([a-z0-9_]+)\(/.exec(line);
    if (m && Number(m[2]) === summary.profileStart.pid && Number(m[1]) >= summary.profileStart.timestamp! && Number(m[1]) < execAt) names.add(m[3]!);
  }
  return names;
}

describe('NoNewPrivileges off: the filter loads earlier, and what runc does after it is in the profile', () => {
  it('runc makes more syscalls between its load and its exec with NoNewPrivileges off, and the profile has them', async () => {
    const w = WORKLOADS[0]!;
    const on = await record(RUNC, await bundleFor(w, 'start-on', { noNewPrivileges: true }));
    const off = await record(RUNC, await bundleFor(w, 'start-off', { noNewPrivileges: false }));
    const onSet = runtimeAfterLoad(on.summary, on.log);
    const offSet = runtimeAfterLoad(off.summary, off.log);
    const onlyOff = [...offSet].filter((n) => !onSet.has(n));
    expect(onlyOff.length, `runc after its load, off: ${[...offSet]}; on: ${[...onSet]}`).toBeGreaterThan(0);
    expect(syscallsSinceProfileStart(off.summary)).toEqual(expect.arrayContaining([...offSet]));
  });
});

describe('the bundle already had a profile', () => {
  const ownProfile = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    // Everything but getrandom, which answers ENOSYS.
    syscalls: [{ names: ['getrandom'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }],
  };
  async function bundleWithOwnProfile(tag: string, annotations: Record<string, string>): Promise<BusyboxBundle & { pristine: string }> {
    const b = await bundleFor(WORKLOADS[2]!, tag, { annotations }); // rare-syscalls: it needs getrandom
    const spec = JSON.parse(b.pristine) as { linux: Record<string, unknown> };
    spec.linux.seccomp = ownProfile;
    b.pristine = JSON.stringify(spec, null, 2);
    restore(b);
    return b;
  }

  it('is enforced while traced by default: the run is the bare run, the report shows the call it stopped and the rule', async () => {
    const b = await bundleWithOwnProfile('kept-profile', {});
    const expected = await bare(RUNC, b.bundleDir);
    expect(expected.exitCode, 'under its own profile the workload fails at getrandom').toBe(1);
    expect(expected.stderr).toMatch(/^getrandom failed/);

    const id = uniqueId('kept');
    const run = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { reject: false, env: traced.env(RUNC) });
    expect({ exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr }).toEqual({ exitCode: expected.exitCode, stdout: expected.stdout, stderr: expected.stderr });
    const { summary, log } = await readTraceResult(traced, id);
    expect(summary.profileStart.kind, 'the runtime loaded the bundle\'s own profile').toBe('seccomp-load');
    expect(summary.seccomp).toMatchObject({ recordMode: 'keep', bundleProfile: true, enforced: true });
    // The workload's own getrandom and its libc's, both stopped, both answered ENOSYS.
    const getrandom = summary.syscalls.getrandom;
    expect(getrandom).toMatchObject({ count: 0, blocked: { killed: 0, rule: 'rule 0 (getrandom: SCMP_ACT_ERRNO ENOSYS)' } });
    expect(getrandom?.blocked?.count).toBeGreaterThan(0);
    expect(getrandom?.blocked?.errnos).toEqual({ ENOSYS: getrandom?.blocked?.count });
    expect(log).toMatch(/ getrandom\(\?\) = -38 ENOSYS \(Invalid system call number\) \(blocked by seccomp\)$/m);
    const saved = path.join(traced.outputDir, id, 'seccomp.original.json');
    expect(JSON.parse(readFileSync(saved, 'utf8'))).toEqual(ownProfile);

    // Its profile keeps getrandom stopped as the bundle stops it, and runs the same.
    const oci = await makeProfile([id], 'oci', path.join(work.name, 'kept-profile.oci.json'));
    expect(allowedNames(oci)).not.toContain('getrandom');
    expect((JSON.parse(readFileSync(oci, 'utf8')) as OciProfileJson).syscalls).toContainEqual({ names: ['getrandom'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
    await enforce(b, oci);
    expectSameFailure(await bare(RUNC, b.bundleDir), expected);
  });

  it('is replaced only by the container\'s own opt-in: saved beside the report, and what it blocks stays blocked', async () => {
    const b = await bundleWithOwnProfile('had-profile', FROM_SCRATCH);
    const expected = await bare(RUNC, b.bundleDir);
    expect(expected.exitCode).toBe(1);

    const rec = await record(RUNC, b);
    // Recorded without the bundle's profile: getrandom ran, so the whole workload did.
    expect(rec.run.stdout).toMatch(/timerfd: fired/);
    expect(syscallsSinceProfileStart(rec.summary)).toContain('getrandom');
    expect(rec.summary.seccomp).toMatchObject({ recordMode: 'permissive', bundleProfile: true, enforced: false });
    expect(ourLog(traced)).toMatch(/record-seccomp permissive \(the container's annotation\): it runs without its own seccomp profile/);
    const saved = path.join(traced.outputDir, rec.id, 'seccomp.original.json');
    expect(JSON.parse(readFileSync(saved, 'utf8'))).toEqual(ownProfile);
    const shown = await analyzer(['show', rec.id]);
    expect(shown.stdout.split('\n')[0]).toMatch(/RAN WITHOUT ITS SECCOMP PROFILE$/);

    const oci = await makeProfile([rec.id], 'oci', path.join(work.name, 'had-profile.oci.json'));
    const profile = JSON.parse(readFileSync(oci, 'utf8')) as OciProfileJson;
    expect(allowedNames(oci)).not.toContain('getrandom');
    expect(profile.syscalls).toContainEqual({ names: ['getrandom'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
    await enforce(b, oci);
    expectSameFailure(await bare(RUNC, b.bundleDir), expected);

    // Without the saved original the recorded getrandom is allowed, and the workload runs through.
    const unmerged = await makeProfile([rec.id], 'oci', path.join(work.name, 'had-profile-unmerged.oci.json'), ['--no-original']);
    expect(allowedNames(unmerged)).toContain('getrandom');
  });

  it("under docker: the engine's default profile is saved, merged, and the profile allows nothing it does not", async () => {
    const w = WORKLOADS[1]!;
    const bareRun = await dockerRun([], w.args);
    expect(bareRun.exitCode, bareRun.stderr).toBe(0);
    const before = reportIds();
    const got = await dockerRun([], w.args, 'oci-ftrace');
    expect(got.exitCode, got.stderr + ourLog(traced)).toBe(0);
    const id = await waitForNewReport(before);
    const saved = path.join(traced.outputDir, id, 'seccomp.original.json');
    expect(existsSync(saved), "docker's default profile saved").toBe(true);
    const original = JSON.parse(readFileSync(saved, 'utf8')) as OciProfileJson;
    expect(original.defaultAction).toBe('SCMP_ACT_ERRNO');

    const dockerForm = await makeProfile([id], 'docker', path.join(work.name, 'docker-default-merged.docker.json'));
    const oci = await makeProfile([id], 'oci', path.join(work.name, 'docker-default-merged.oci.json'));
    // Nothing the engine's profile denies: `diff` lists nothing only in ours.
    const d = await runCommand(ANALYZER, ['diff', '--json', oci, saved], { reject: false, env: { OCI_FTRACE_CONFIG: traced.configPath } });
    expect((JSON.parse(d.stdout) as { a: { only: string[] } }).a.only).toEqual([]);
    expect(allowedNames(oci).length).toBeLessThan(original.syscalls.flatMap((r) => r.names).length);
    expectSameRun(await dockerRun([`seccomp=${dockerForm}`], w.args), bareRun, 'docker under the merged Docker form');
  });
});

function reportIds(): Set<string> {
  return new Set(existsSync(traced.outputDir) ? readdirSync(traced.outputDir) : []);
}

/** Docker deletes the container (so poststop reports) after the client returns: wait for it. */
async function waitForNewReport(before: Set<string>): Promise<string> {
  for (let i = 0; i < 150; i++) {
    const ids = [...reportIds()].filter((d) => !before.has(d) && /^[0-9a-f]{64}$/.test(d));
    const done = ids.filter((id) => existsSync(path.join(traced.outputDir, id, 'summary.json')));
    if (ids.length === 1 && done.length === 1 && listTracefsInstances().length === 0) return done[0]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no docker report; our log:\n${ourLog(traced)}`);
}

describe('the SPO form', () => {
  it('is YAML that parses back to a SeccompProfile with the OCI form as its spec', async () => {
    const b = await bundleFor(WORKLOADS[0]!, 'spo');
    const rec = await record(RUNC, b);
    const oci = JSON.parse(readFileSync(await makeProfile([rec.id], 'oci', path.join(work.name, 'spo.oci.json')), 'utf8')) as Record<string, unknown>;
    const yamlFile = await makeProfile([rec.id], 'spo', path.join(work.name, 'spo.yaml'), ['--name', 'ls-root']);
    const parsed = JSON.parse(execFileSync('python3', ['-c', 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', yamlFile], { encoding: 'utf8' })) as {
      apiVersion: string;
      kind: string;
      metadata: { name: string };
      spec: Record<string, unknown>;
    };
    expect(parsed.apiVersion).toBe('security-profiles-operator.x-k8s.io/v1beta1');
    expect(parsed.kind).toBe('SeccompProfile');
    expect(parsed.metadata).toEqual({ name: 'ls-root' });
    // The CRD has no defaultErrnoRet: the runtimes' default errno for SCMP_ACT_ERRNO is EPERM, as ours.
    const { defaultErrnoRet, ...ociWithoutErrno } = oci;
    expect(defaultErrnoRet).toBe(1);
    expect(parsed.spec).toEqual(ociWithoutErrno);
  });
});

describe('per container: report --seccomp-profile and the annotation', () => {
  it('the annotation asks the poststop report for a profile in the chosen form, beside the summary', async () => {
    const b = await bundleFor(WORKLOADS[0]!, 'annotated');
    const spec = JSON.parse(b.pristine) as { annotations?: Record<string, string> };
    spec.annotations = { ...FROM_SCRATCH, 'oci-ftrace/seccomp-profile': 'true', 'oci-ftrace/seccomp-profile-format': 'docker' };
    b.pristine = JSON.stringify(spec, null, 2);
    const rec = await record(RUNC, b);
    const file = path.join(traced.outputDir, rec.id, 'seccomp.docker.json');
    expect(existsSync(file), ourLog(traced)).toBe(true);
    const fromHook = JSON.parse(readFileSync(file, 'utf8')) as { archMap: unknown[]; syscalls: { names: string[] }[] };
    expect(fromHook.archMap).toHaveLength(1);
    // The same profile `oci-ftrace profile` makes from that report.
    const fromCli = await makeProfile([rec.id], 'docker', path.join(work.name, 'annotated-cli.docker.json'));
    expect(fromHook).toEqual(JSON.parse(readFileSync(fromCli, 'utf8')));
  });

  it('report --livedump --seccomp-profile FILE writes the profile of a running container so far', async () => {
    const b = await bundleFor({ name: 'sleeper', args: ['sleep', '60'], needs: [] }, 'livedump');
    restore(b);
    const id = uniqueId('live');
    const root = path.join(work.name, 'live-root');
    const env = traced.env(RUNC);
    const create = await runCommand('/bin/sh', ['-c', 'exec "$0" "$@" >/dev/null 2>&1 </dev/null', WRAPPER, '--root', root, 'create', '--bundle', b.bundleDir, id], { env, reject: false });
    expect(create.exitCode, create.stderr + ourLog(traced)).toBe(0);
    try {
      await runCommand(WRAPPER, ['--root', root, 'start', id], { env });
      const file = path.join(work.name, 'live.oci.json');
      const dump = await analyzer(['livedump', id, '--seccomp-profile', file, '--profile-format', 'oci']);
      expect(dump.stdout).toContain(`seccomp profile: ${file}`);
      const allowed = allowedNames(file);
      expect(allowed).toContain('execve');
      for (const name of SETUP_ONLY) expect(allowed).not.toContain(name);
    } finally {
      await runCommand(WRAPPER, ['--root', root, 'kill', id, 'KILL'], { env, reject: false });
      await runCommand(WRAPPER, ['--root', root, 'delete', '--force', id], { env, reject: false });
    }
  });
});

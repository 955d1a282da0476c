// Issue "A drop-in changes nothing a container can do", done-when, under the real runc and crun:
// the bundle's own seccomp profile stays enforced (ERRNO and KILL behave as bare, and the report
// shows the blocked call), config.json is left byte for byte as found (after a traced run and after
// a run the runtime refused), our config's errors are logged one line each, and the process tree is
// exact whatever CPU the children ran on.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeBusyboxBundle, type BusyboxBundle } from './lab/bundle.js';
import { CRUN, REPO_ROOT, RUNC, WRAPPER, uniqueId } from './lab/env.js';
import { leftovers } from './lab/leaks.js';
import { runCommand, type CommandResult } from './lab/run.js';
import { ourLog, readTraceResult, tracedSuite, type TracedEnv } from './support/traced.js';

const suite = tracedSuite('oci-ftrace-dropin-');
const ARCHES = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
const profileStopping = (action: 'SCMP_ACT_ERRNO' | 'SCMP_ACT_KILL') => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ARCHES,
  syscalls: [{ names: ['mkdir', 'mkdirat'], action, ...(action === 'SCMP_ACT_ERRNO' ? { errnoRet: 1 } : {}) }],
});

/** What a run shows of itself: exit code, stdout, stderr. */
const outcome = (r: CommandResult) => ({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr });

interface Bytes {
  bytes: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

function configBytes(b: BusyboxBundle): Bytes {
  const st = statSync(b.configPath);
  return { bytes: readFileSync(b.configPath), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

async function expectNothingLeft(traced: TracedEnv): Promise<void> {
  expect(await leftovers({ stateDir: traced.stateDir })).toEqual({ instances: [], processes: [], stateFiles: [] });
}

describe.each([
  ['runc', RUNC],
  ['crun', CRUN],
])('under %s, with our default config', (name, runtime) => {
  it('a profile that stops mkdir with EPERM: the same run as bare, and the report shows mkdir blocked by that rule', async () => {
    const traced = suite.tracedEnv();
    const args = ['sh', '-c', 'mkdir /tmp/x; echo rc=$?; ls /'];
    const b = await makeBusyboxBundle(path.join(suite.work(), `errno-${name}`), { args, readonlyRootfs: false, seccomp: profileStopping('SCMP_ACT_ERRNO') });
    const bare = await runCommand(runtime, ['run', '--bundle', b.bundleDir, uniqueId('bare')], { reject: false });
    expect(bare.stdout).toMatch(/^rc=1$/m);
    const id = uniqueId(`errno-${name}`);
    const got = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(runtime), reject: false });
    expect(outcome(got), ourLog(traced)).toEqual(outcome(bare));
    const { summary, log } = await readTraceResult(traced, id);
    expect(summary.seccomp).toMatchObject({ recordMode: 'keep', bundleProfile: true, enforced: true });
    expect(summary.syscalls.mkdir).toMatchObject({ count: 0, blocked: { count: 1, errnos: { EPERM: 1 }, killed: 0, rule: 'rule 0 (mkdir mkdirat: SCMP_ACT_ERRNO EPERM)' } });
    expect(summary.trace.blockedTotal).toBe(1);
    expect(log).toMatch(/ mkdir\(\?\) = -1 EPERM \(Operation not permitted\) \(blocked by seccomp\)$/m);
    expect(summary.profileStart.kind).toBe('seccomp-load');
    await expectNothingLeft(traced);
  });

  it('a profile that kills on mkdir: the process is killed as bare (exit 159), and the report counts the killed call', async () => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), `kill-${name}`), { args: ['mkdir', '/tmp/y'], readonlyRootfs: false, seccomp: profileStopping('SCMP_ACT_KILL') });
    const bare = await runCommand(runtime, ['run', '--bundle', b.bundleDir, uniqueId('bare')], { reject: false });
    expect(bare.exitCode).toBe(159);
    const id = uniqueId(`kill-${name}`);
    const got = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(runtime), reject: false });
    expect(outcome(got), ourLog(traced)).toEqual(outcome(bare));
    const { summary, log } = await readTraceResult(traced, id);
    expect(summary.syscalls.mkdir).toMatchObject({ count: 0, blocked: { count: 1, errnos: {}, killed: 1, rule: 'rule 0 (mkdir mkdirat: SCMP_ACT_KILL)' } });
    expect(log).toMatch(/ mkdir\(\?\) = \? SIGSYS \(blocked by seccomp\)$/m);
    expect(log).not.toMatch(/ mkdir\(\?\) = 83/);
    await expectNothingLeft(traced);
  });

  it('after a traced run config.json is byte for byte as found, and a bare run of it is neither traced nor unconfined', async () => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), `as-found-${name}`), { args: ['sh', '-c', 'mkdir /tmp/x; echo rc=$?'], readonlyRootfs: false, seccomp: profileStopping('SCMP_ACT_ERRNO') });
    // Written as a person would: compact, group-readable, not as we would serialise it.
    writeFileSync(b.configPath, JSON.stringify(JSON.parse(readFileSync(b.configPath, 'utf8'))), { mode: 0o640 });
    const before = configBytes(b);
    const id = uniqueId(`traced-${name}`);
    const got = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(runtime), reject: false });
    expect(got.stdout, ourLog(traced)).toMatch(/^rc=1$/m);
    expect(configBytes(b)).toEqual(before);
    expect(readdirSync(b.bundleDir).sort()).toEqual(['config.json', 'rootfs']);
    const reports = readdirSync(traced.outputDir);
    const bare = await runCommand(runtime, ['run', '--bundle', b.bundleDir, uniqueId('bare')], { env: traced.env(runtime), reject: false });
    expect(bare.stdout, 'the bare run keeps the profile').toMatch(/^rc=1$/m);
    expect(readdirSync(traced.outputDir)).toEqual(reports);
    await expectNothingLeft(traced);
  });

  it.each([
    ['no rootfs', (b: BusyboxBundle) => execFileSync('mv', [b.rootfsDir, `${b.rootfsDir}.gone`])],
    ['a namespace that does not exist', (b: BusyboxBundle) => {
      const spec = JSON.parse(readFileSync(b.configPath, 'utf8')) as { linux: { namespaces: { type: string }[] } };
      spec.linux.namespaces.push({ type: 'bogus' });
      writeFileSync(b.configPath, `${JSON.stringify(spec, null, 2)}\n`);
    }],
  ])('a bundle the runtime refuses (%s): the same refusal as bare, config.json as found, nothing of ours left', async (what, spoil) => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), `refused-${name}-${what.replace(/\W+/g, '-')}`), { args: ['true'] });
    spoil(b);
    const before = configBytes(b);
    const bare = await runCommand(runtime, ['run', '--bundle', b.bundleDir, uniqueId('bare')], { reject: false });
    expect(bare.exitCode).not.toBe(0);
    const got = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId(`refused-${name}`)], { env: traced.env(runtime), reject: false });
    expect(got.exitCode).toBe(bare.exitCode);
    expect(got.stdout).toBe(bare.stdout);
    // Within 5 s: the agent sees the runtime gone without a record hook, puts the bundle back, frees the instance.
    expect(await leftovers({ stateDir: traced.stateDir, timeoutMs: 5000 })).toEqual({ instances: [], processes: [], stateFiles: [] });
    expect(configBytes(b)).toEqual(before);
    expect(readdirSync(b.bundleDir).sort()).toEqual(readdirSync(b.bundleDir).filter((f) => !f.startsWith('.')).sort());
    expect(existsSync(traced.outputDir) ? readdirSync(traced.outputDir) : []).toEqual([]);
  });
});

describe('recording from scratch is the container\'s explicit choice', () => {
  it('the annotation loads a filter that blocks nothing, says so in the container\'s state and in the report', async () => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'scratch'), {
      args: ['sh', '-c', 'mkdir /tmp/x; echo rc=$?'],
      readonlyRootfs: false,
      seccomp: profileStopping('SCMP_ACT_ERRNO'),
      annotations: { 'oci-ftrace/record-seccomp': 'permissive' },
    });
    const before = configBytes(b);
    const root = path.join(suite.work(), 'scratch-root');
    const id = uniqueId('scratch');
    const env = traced.env(RUNC);
    const create = await runCommand('/bin/sh', ['-c', 'exec "$0" "$@" >/dev/null 2>&1 </dev/null', WRAPPER, '--root', root, 'create', '--bundle', b.bundleDir, id], { env, reject: false });
    expect(create.exitCode, ourLog(traced)).toBe(0);
    try {
      const state = JSON.parse((await runCommand(RUNC, ['--root', root, 'state', id])).stdout) as { annotations: Record<string, string> };
      expect(state.annotations['oci-ftrace/seccomp']).toMatch(/not enforced while traced/);
      expect(configBytes(b)).toEqual(before);
      await runCommand(WRAPPER, ['--root', root, 'start', id], { env });
      for (let i = 0; i < 100; i++) {
        if (JSON.parse((await runCommand(RUNC, ['--root', root, 'state', id])).stdout).status === 'stopped') break;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      // Deleted whatever failed above: a container left created would fail every later leak check.
      await runCommand(WRAPPER, ['--root', root, 'delete', '--force', id], { env, reject: false });
    }
    const { summary } = await readTraceResult(traced, id);
    expect(summary.seccomp).toMatchObject({ recordMode: 'permissive', bundleProfile: true, enforced: false });
    expect(summary.syscalls.mkdir?.count, 'it ran without the profile').toBe(1);
    const shown = await runCommand(path.join(REPO_ROOT, 'bin', 'oci-ftrace'), ['show', id], { env: { OCI_FTRACE_CONFIG: traced.configPath } });
    expect(shown.stdout.split('\n')[0]).toMatch(/RAN WITHOUT ITS SECCOMP PROFILE$/);
    expect(shown.stdout).toContain("seccomp: RAN WITHOUT ITS SECCOMP PROFILE: recorded from scratch (oci-ftrace/record-seccomp: permissive)");
    await expectNothingLeft(traced);
  });

  it('our config cannot choose it: a config naming recordSeccomp is refused, and the container keeps its profile', async () => {
    const traced = suite.tracedEnv({ recordSeccomp: 'permissive' });
    const b = await makeBusyboxBundle(path.join(suite.work(), 'global'), { args: ['sh', '-c', 'mkdir /tmp/x; echo rc=$?'], readonlyRootfs: false, seccomp: profileStopping('SCMP_ACT_ERRNO') });
    const got = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId('global')], { env: traced.env(RUNC), reject: false });
    expect(got.stdout).toMatch(/^rc=1$/m);
    expect(ourLog(traced)).toMatch(/unknown key \\"recordSeccomp\\" \(recording without the container's own seccomp profile is a per-container choice now/);
  });
});

describe('our config, invalid: one line in our log naming the file and the key, every time; the container runs untraced', () => {
  // [what, the file's text, the error; whether the file can be read far enough to name our log]
  const CASES: Array<[string, string, RegExp, boolean]> = [
    ['not JSON', '{"trace": "always",', /config is not valid JSON/, false],
    ['not an object', '["always"]', /invalid config: expected a JSON object, got array/, false],
    ['an unknown key', '{"bufferSizeKB": 4096}', /invalid config: unknown key "bufferSizeKB"/, true],
    ["a wrong type", `{"bufferKbPerContainer": "big"}`, /invalid config: key "bufferKbPerContainer": expected number, got string/, true],
    ["a value out of range", `{"bufferKbPerContainer": 1}`, /invalid config: key "bufferKbPerContainer": .*256/, true],
    ['a policy that does not exist', '{"trace": "sometimes"}', /invalid config: key "trace": "sometimes" is not one of always, annotated, never/, true],
    ['a relative outputDir', '{"outputDir": "reports"}', /invalid config: key "outputDir": outputDir must be absolute/, true],
    ['a boolean as a string', '{"writeLog": "yes"}', /invalid config: key "writeLog": expected boolean, got string/, true],
    ['a removed key', '{"recordSeccomp": "keep"}', /invalid config: unknown key "recordSeccomp"/, true],
  ];

  it.each(CASES)('%s', async (what, text, expected, namesLog) => {
    const traced = suite.tracedEnv();
    writeFileSync(traced.configPath, namesLog ? `{"logFile": ${JSON.stringify(traced.logFile)}, ${text.slice(1)}` : text);
    const b = await makeBusyboxBundle(path.join(suite.work(), `bad-config-${what.replace(/\W+/g, '-')}`), { args: ['sh', '-c', 'echo hello'] });
    const before = configBytes(b);
    const bare = await runCommand(RUNC, ['run', '--bundle', b.bundleDir, uniqueId('bare')], { reject: false });
    const ids = [uniqueId('bad'), uniqueId('bad')];
    for (const id of ids) {
      const got = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(RUNC), reject: false });
      expect(outcome(got)).toEqual(outcome(bare));
    }
    expect(configBytes(b)).toEqual(before);
    // A file that cannot name our log is reported in the default one.
    const log = namesLog ? ourLog(traced) : readDefaultLogTail();
    // Each read of the config says it again, naming the container and the file.
    for (const id of ids) {
      const mine = log.split('\n').filter((l) => l.includes(`"id":"${id}"`));
      expect(mine.length, log).toBeGreaterThan(0);
      for (const line of mine) {
        const entry = JSON.parse(line) as { err: string; msg: string };
        expect(entry.err.startsWith(`${traced.configPath}: `)).toBe(true);
        expect(entry.err).toMatch(expected);
        expect(entry.msg).toMatch(/runs untraced/);
      }
    }
    expect(existsSync(traced.outputDir) ? readdirSync(traced.outputDir) : []).toEqual([]);
    await expectNothingLeft(traced);
  });

  it('strict mode in the same file still refuses the container, in one line on stderr', async () => {
    const traced = suite.tracedEnv();
    writeFileSync(traced.configPath, JSON.stringify({ logFile: traced.logFile, strict: true, bufferSizeKB: 4096 }));
    const b = await makeBusyboxBundle(path.join(suite.work(), 'bad-config-strict'), { args: ['sh', '-c', 'echo hello'] });
    const got = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, uniqueId('strict')], { env: traced.env(RUNC), reject: false });
    expect(got.exitCode).not.toBe(0);
    expect(got.stdout).toBe('');
    expect(got.stderr).toBe(`oci-ftrace-runc: ${traced.configPath}: invalid config: unknown key "bufferSizeKB"`);
    expect(ourLog(traced)).toMatch(/strict mode: the container is refused/);
  });
});

/** Our default log (where an unreadable config's errors go), last lines. */
function readDefaultLogTail(): string {
  const file = '/var/log/oci-ftrace/oci-ftrace.log';
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-400).join('\n') : '';
}

describe('the process tree', () => {
  it('20 runs of a shell forking children on both CPUs: every process but the init has its parent, none is nameless', async () => {
    const traced = suite.tracedEnv();
    const script = 'for i in 1 2 3 4 5 6; do taskset -c $((i % 2)) sh -c "echo child $i >/dev/null" & done; wait; echo done';
    const b = await makeBusyboxBundle(path.join(suite.work(), 'tree'), { args: ['sh', '-c', script] });
    for (let run = 0; run < 20; run++) {
      const id = uniqueId(`tree${run}`);
      const got = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(RUNC), reject: false });
      expect(got.stdout, ourLog(traced)).toBe('done');
      const { summary, log } = await readTraceResult(traced, id);
      const procs = Object.values(summary.processes);
      // The container's init (which exec'd the shell) alone has no parent in the trace.
      const orphans = procs.filter((p) => p.parentPid === null);
      expect(orphans.map((p) => p.execs[0]), `run ${run}`).toEqual(['/bin/sh']);
      expect(procs.filter((p) => p.comm === '<...>' || p.comm === ''), `run ${run}`).toEqual([]);
      expect(procs.length, `run ${run}: the shell and six children`).toBeGreaterThanOrEqual(7);
      // taskset moved the children to each CPU in turn.
      expect(log).toContain('sched_setaffinity');
    }
    await expectNothingLeft(traced);
  });
});

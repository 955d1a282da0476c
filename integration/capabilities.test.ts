// Issue 12: which capabilities a container really uses, traced with its syscalls (capability:
// cap_capable in the same instance, from the same start as its seccomp profile); the run options
// made from the report hold the container to them under runc, crun and docker, and verify proves it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunOptions } from '../src/profile/run-options.js';
import type { Summary } from '../src/report/summary.js';
import { makeBusyboxBundle, makeBusyboxRootfs, type BusyboxBundle } from './lab/bundle.js';
import { startDockerd, type Dockerd } from './lab/dockerd.js';
import { ANALYZER, CRUN, RUNC, WRAPPER, uniqueId } from './lab/env.js';
import { dockerImport } from './lab/image.js';
import { leftovers } from './lab/leaks.js';
import { runCommand } from './lab/run.js';
import { OWN_PROFILE, ourLog, readTraceResult, tracedSuite, type TracedEnv } from './support/traced.js';

const suite = tracedSuite('oci-ftrace-caps-');
/** runc spec's three, and the two the workloads use. */
const HELD = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_CHOWN'];
const PING = 'ping -c1 127.0.0.1 >/dev/null && echo pinged';
const CHOWN = 'touch /tmp/x && chown 1:1 /tmp/x && echo chowned';
const LS = 'ls / && echo listed';

interface Traced {
  id: string;
  bundle: BusyboxBundle;
  stdout: string;
  summary: Summary;
  summaryPath: string;
}

async function traceRun(traced: TracedEnv, runtime: string, label: string, script: string, caps = HELD): Promise<Traced> {
  const bundle = await makeBusyboxBundle(path.join(suite.work(), label), { args: ['sh', '-c', script], seccomp: OWN_PROFILE, capabilities: caps, readonlyRootfs: false });
  const id = uniqueId(label);
  const r = await runCommand(WRAPPER, ['run', '--bundle', bundle.bundleDir, id], { env: traced.env(runtime), reject: false });
  expect({ code: r.exitCode, stderr: r.stderr }, ourLog(traced)).toEqual({ code: 0, stderr: '' });
  const { summary } = await readTraceResult(traced, id);
  expect(summary.loss.lost).toBe(0);
  return { id, bundle, stdout: r.stdout, summary, summaryPath: path.join(traced.outputDir, id, 'summary.json') };
}

const granted = (s: Summary, cap: string): number => s.capabilities?.checks[cap]?.granted ?? 0;
const grantedIn = (s: Summary, cap: string): string[] => Object.entries(s.capabilities?.checks[cap]?.syscalls ?? {}).filter(([, c]) => c.granted > 0).map(([n]) => n);

/** `oci-ftrace options` of a report: its JSON, and the seccomp profile it wrote. */
async function optionsOf(t: Traced): Promise<RunOptions> {
  const file = path.join(suite.work(), `${t.id}.seccomp.json`);
  const r = await runCommand(ANALYZER, ['options', '--json', '--seccomp-file', file, t.summaryPath]);
  return JSON.parse(r.stdout) as RunOptions;
}

/** The same bundle afresh (the workload writes its rootfs), holding these capability sets and the profile file, run by the bare runtime. */
async function runUnder(runtime: string, t: Traced, caps: string[], seccompFile: string): Promise<{ exitCode: number; stdout: string }> {
  const spec = JSON.parse(readFileSync(t.bundle.configPath, 'utf8')) as Record<string, any>;
  const dir = (await makeBusyboxBundle(path.join(suite.work(), uniqueId('under')), { args: spec.process.args, capabilities: caps, readonlyRootfs: false })).bundleDir;
  const enforced = await runCommand(ANALYZER, ['enforce', seccompFile, '--bundle', dir], { reject: false });
  expect(enforced.exitCode, enforced.stderr).toBe(0);
  const r = await runCommand(runtime, ['run', '--bundle', dir, uniqueId('bare')], { reject: false });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout };
}

describe.each([
  ['runc', RUNC],
  ['crun', CRUN],
])('capabilities under %s', (name, runtime) => {
  let traced: TracedEnv;
  let ping: Traced;
  let chown: Traced;
  beforeAll(async () => {
    traced = suite.tracedEnv();
    ping = await traceRun(traced, runtime, `ping-${name}`, PING);
    chown = await traceRun(traced, runtime, `chown-${name}`, CHOWN);
  });
  afterAll(async () => {
    expect(await leftovers({ stateDir: traced.stateDir })).toEqual({ instances: [], processes: [], stateFiles: [] });
  });

  it('ping uses CAP_NET_RAW (in socket), chown CAP_CHOWN (in chown), ls neither; the runtime\'s setup is not counted', async () => {
    expect(ping.stdout).toBe('pinged');
    expect(granted(ping.summary, 'CAP_NET_RAW')).toBeGreaterThan(0);
    expect(grantedIn(ping.summary, 'CAP_NET_RAW')).toEqual(['socket']);
    expect(ping.summary.capabilities?.checks.CAP_NET_RAW?.firstComm).toMatch(/^(ping|exe)$/);
    expect(granted(ping.summary, 'CAP_CHOWN')).toBe(0);
    expect(chown.stdout).toBe('chowned');
    expect(grantedIn(chown.summary, 'CAP_CHOWN').some((s) => ['chown', 'fchownat', 'lchown'].includes(s))).toBe(true);
    expect(granted(chown.summary, 'CAP_NET_RAW')).toBe(0);
    const ls = await traceRun(traced, runtime, `ls-${name}`, LS);
    expect(ls.stdout).toContain('listed');
    expect(granted(ls.summary, 'CAP_NET_RAW') + granted(ls.summary, 'CAP_CHOWN')).toBe(0);
    // The runtime mounted, pivoted and dropped capabilities with CAP_SYS_ADMIN and CAP_SETPCAP: not the workload's.
    for (const s of [ping.summary, chown.summary, ls.summary]) {
      expect(s.capabilities?.runtimeChecks).toBeGreaterThan(10);
      expect(granted(s, 'CAP_SETPCAP') + granted(s, 'CAP_SYS_ADMIN')).toBe(0);
      expect(s.capabilities?.held).toEqual(expect.arrayContaining(HELD));
    }
    const show = await runCommand(ANALYZER, ['show', ping.summaryPath]);
    expect(show.stdout).toMatch(/^capabilities used .*\n {2}CAP_NET_RAW: \d+ granted in socket:\d+/m);
    expect(show.stdout).toMatch(/^capabilities held but never checked: .*CAP_CHOWN/m);
    expect(show.stdout).toContain('never less');
  });

  it('the options made from each report run it the same; with the used capability dropped it fails', async () => {
    for (const [t, cap] of [[ping, 'CAP_NET_RAW'], [chown, 'CAP_CHOWN']] as const) {
      const options = await optionsOf(t);
      expect(options.capabilities).toContain(cap);
      expect(options.docker).toEqual(expect.arrayContaining(['--cap-drop=ALL', `--cap-add=${cap.slice(4)}`]));
      expect(options.kubernetes.securityContext).toMatchObject({ capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'Localhost' } });
      const same = await runUnder(runtime, t, options.oci.capabilities.bounding, options.seccompFile);
      expect(same).toEqual({ exitCode: 0, stdout: t.stdout });
      const without = await runUnder(runtime, t, options.oci.capabilities.bounding.filter((c) => c !== cap), options.seccompFile);
      expect(without.exitCode, `${t.id} without ${cap}`).not.toBe(0);
    }
  });

  it('a bundle that drops CAP_CHOWN: chown shows it denied, in the chown call, which failed EPERM', async () => {
    const denied = await traceRun(traced, runtime, `denied-${name}`, 'touch /tmp/x; chown 1:1 /tmp/x 2>/dev/null; echo chown=$?', HELD.filter((c) => c !== 'CAP_CHOWN'));
    expect(denied.stdout).toBe('chown=1');
    const check = denied.summary.capabilities?.checks.CAP_CHOWN;
    expect(check?.granted).toBe(0);
    const calls = Object.entries(check?.syscalls ?? {}).filter(([, c]) => c.denied > 0);
    expect(calls.map(([n]) => n).some((n) => ['chown', 'fchownat', 'lchown'].includes(n))).toBe(true);
    expect(calls.every(([, c]) => c.deniedOutcomes?.EPERM === c.denied || (c.deniedOutcomes?.EPERM ?? 0) > 0)).toBe(true);
    const show = await runCommand(ANALYZER, ['show', denied.summaryPath]);
    expect(show.stdout).toMatch(/^ {2}CAP_CHOWN: (chown|fchownat) \d+x -> EPERM:\d+/m);
  });

  it('verify --minimize on the ping container keeps CAP_NET_RAW, and the run stays the same', async () => {
    const r = await runCommand(ANALYZER, ['verify', '--minimize', '--runtime-path', runtime, '--bundle', ping.bundle.bundleDir, ping.summaryPath], { reject: false });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^under the generated options .*: the same$/m);
    expect(r.stdout).toMatch(/^without CAP_NET_RAW: different .*: kept$/m);
    expect(r.stdout).toMatch(/^capabilities needed: CAP_NET_RAW /m);
    // The bundle is left as found.
    expect(JSON.parse(readFileSync(ping.bundle.configPath, 'utf8')).process.capabilities.bounding).toEqual(HELD);
  });
});

async function reportsOf(traced: TracedEnv): Promise<{ containerId: string; dir: string }[]> {
  const ls = await runCommand(ANALYZER, ['ls', '--json'], { env: { OCI_FTRACE_CONFIG: traced.configPath } });
  return JSON.parse(ls.stdout) as { containerId: string; dir: string }[];
}

async function reportIdsOf(traced: TracedEnv): Promise<Set<string>> {
  return new Set((await reportsOf(traced)).map((r) => r.containerId));
}

describe('capabilities under docker', () => {
  let dockerd: Dockerd | undefined;
  let traced: TracedEnv;
  const tag = `busybox:${uniqueId('caps')}`;
  beforeAll(async () => {
    traced = suite.tracedEnv();
    const rootfs = path.join(suite.work(), 'docker-rootfs');
    await makeBusyboxRootfs(rootfs);
    dockerd = await startDockerd(path.join(suite.work(), 'dockerd'), { 'oci-ftrace': WRAPPER, 'runc-bare': RUNC }, { env: traced.env(RUNC) });
    await dockerImport(rootfs, dockerd, tag);
  });
  afterAll(async () => {
    await dockerd?.stop();
  });

  it.each([
    ['ping', PING, 'CAP_NET_RAW', 'socket', 'pinged'],
    ['chown', CHOWN, 'CAP_CHOWN', 'chown', 'chowned'],
  ])('%s traced under docker: its options run it the same under docker; without the capability it fails', async (label, script, cap, syscall, out) => {
    const docker = dockerd!.docker;
    const before = await reportIdsOf(traced);
    const got = await docker(['run', '--rm', '--network', 'none', '--runtime', 'oci-ftrace', tag, 'sh', '-c', script], { reject: false });
    expect(got.exitCode, got.stderr + ourLog(traced)).toBe(0);
    expect(got.stdout).toBe(out);
    let report: { containerId: string; dir: string } | undefined;
    for (let i = 0; i < 100 && !report; i++) {
      report = (await reportsOf(traced)).find((r) => !before.has(r.containerId));
      if (!report) await new Promise((r) => setTimeout(r, 100));
    }
    const { summary } = await readTraceResult(traced, report!.containerId);
    expect(grantedIn(summary, cap)).toContain(syscall);
    const file = path.join(suite.work(), `docker-${label}.seccomp.json`);
    const opts = await runCommand(ANALYZER, ['options', '--json', '--seccomp-file', file, path.join(report!.dir, 'summary.json')]);
    const options = JSON.parse(opts.stdout) as RunOptions;
    expect(options.capabilities).toContain(cap);
    const same = await docker(['run', '--rm', '--network', 'none', '--runtime', 'runc-bare', ...options.docker, tag, 'sh', '-c', script], { reject: false });
    expect({ code: same.exitCode, out: same.stdout }, same.stderr).toEqual({ code: 0, out });
    const flags = options.docker.filter((f) => f !== `--cap-add=${cap.slice(4)}`);
    const without = await docker(['run', '--rm', '--network', 'none', '--runtime', 'runc-bare', ...flags, tag, 'sh', '-c', script], { reject: false });
    expect(without.exitCode).not.toBe(0);
    expect(without.stdout).toBe('');
  });
});

// Issue "A drop-in changes nothing a container can do", done-when: under docker, podman and
// containerd's CRI with RuntimeDefault, a traced container cannot call keyctl, add_key or
// unshare(CLONE_NEWUSER), exactly as untraced: the engine's own profile stays enforced, and the
// report shows those calls as blocked.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tmp from 'tmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from './lab/bundle.js';
import { startCri, type Cri } from './lab/cri.js';
import { startDockerd, type Dockerd } from './lab/dockerd.js';
import { REPO_ROOT, RUNC, WRAPPER, requireLab, uniqueId } from './lab/env.js';
import { buildOciImageTar, dockerImport, type OciImageTar } from './lab/image.js';
import { listTracefsInstances } from './lab/leaks.js';
import { PODMAN_RUN_ARGS, preparePodman, type Podman } from './lab/podman.js';
import { makeTracedEnv, ourLog, readTraceResult, type TracedEnv } from './support/traced.js';

requireLab();

const work = tmp.dirSync({ prefix: 'oci-ftrace-engine-profiles-', unsafeCleanup: true });
const PROBE = '/bin/seccomp-probe';
let rootfsDir: string;
let image: OciImageTar;
let traced: TracedEnv;

beforeAll(async () => {
  traced = makeTracedEnv();
  rootfsDir = path.join(work.name, 'rootfs');
  await makeBusyboxRootfs(rootfsDir, { hostname: 'image' });
  execFileSync('gcc', ['-static', '-O1', '-pthread', '-o', path.join(rootfsDir, PROBE), path.join(REPO_ROOT, 'test', 'fixtures', 'seccomp-probe.c')]);
  image = await buildOciImageTar(rootfsDir, path.join(work.name, 'probe-oci.tar'), `probe:${uniqueId('it')}`);
});

afterAll(() => {
  traced.cleanup();
  work.removeCallback();
});

/** What docker's and containerd's default profiles answer (a container without CAP_SYS_ADMIN). */
const REFUSED = ['keyctl: Operation not permitted', 'add_key: Operation not permitted', 'unshare(CLONE_NEWUSER): Operation not permitted', 'mkdir: ok'].join('\n');
const REFUSED_IN_REPORT = { keyctl: 'EPERM', add_key: 'EPERM', unshare: 'EPERM' };
/** podman 4.3's (containers-common) allows keyctl and unshare, and answers add_key with ENOSYS; unconfined, add_key works. */
const PODMAN_REFUSED = ['keyctl: ok', 'add_key: Function not implemented', 'unshare(CLONE_NEWUSER): ok', 'mkdir: ok'].join('\n');

function reportIds(): Set<string> {
  return new Set(existsSync(traced.outputDir) ? readdirSync(traced.outputDir) : []);
}

/** Engines delete the container (so poststop reports) after the client returns: wait for one new report. */
async function newReport(before: Set<string>): Promise<string> {
  for (let i = 0; i < 150; i++) {
    const ids = [...reportIds()].filter((d) => !before.has(d));
    const done = ids.filter((id) => existsSync(path.join(traced.outputDir, id, 'summary.json')));
    if (ids.length === 1 && done.length === 1 && listTracefsInstances().length === 0) return done[0]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no new report; our log:\n${ourLog(traced)}`);
}

/** The engine's profile was enforced while traced, and the report shows what it stopped, with which answer. */
async function expectBlockedInReport(id: string, blocked: Record<string, string>): Promise<void> {
  const { summary } = await readTraceResult(traced, id);
  expect(summary.seccomp).toMatchObject({ recordMode: 'keep', bundleProfile: true, enforced: true });
  for (const [name, errno] of Object.entries(blocked)) {
    expect(summary.syscalls[name]?.count, `${name} never ran`).toBe(0);
    expect(summary.syscalls[name]?.blocked?.errnos, name).toEqual({ [errno]: 1 });
    expect(summary.syscalls[name]?.blocked?.rule, name).toBeDefined();
  }
  expect(summary.loss.lost).toBe(0);
}

describe('docker: its default profile', () => {
  let dockerd: Dockerd | undefined;
  const tag = `probe:${uniqueId('local')}`;
  beforeAll(async () => {
    dockerd = await startDockerd(path.join(work.name, 'dockerd'), { 'oci-ftrace': WRAPPER, 'runc-bare': RUNC }, { env: traced.env(RUNC) });
    await dockerImport(rootfsDir, dockerd, tag);
  });
  afterAll(async () => {
    await dockerd?.stop();
  });

  it('refuses keyctl, add_key and unshare(CLONE_NEWUSER) to a traced container as to an untraced one', async () => {
    const run = (runtime: string) => dockerd!.docker(['run', '--rm', '--network', 'none', '--runtime', runtime, tag, PROBE], { reject: false });
    const bare = await run('runc-bare');
    expect(bare.stdout).toBe(REFUSED);
    const before = reportIds();
    const got = await run('oci-ftrace');
    expect({ exitCode: got.exitCode, stdout: got.stdout, stderr: got.stderr }, ourLog(traced)).toEqual({ exitCode: bare.exitCode, stdout: bare.stdout, stderr: bare.stderr });
    await expectBlockedInReport(await newReport(before), REFUSED_IN_REPORT);
  });
});

describe('podman: its default profile', () => {
  let podman: Podman | undefined;
  beforeAll(async () => {
    podman = await preparePodman(path.join(work.name, 'podman'));
    await podman.load(image.tarPath);
  });
  afterAll(async () => {
    await podman?.stop();
  });

  it('answers keyctl, add_key and unshare(CLONE_NEWUSER) to a traced container as to an untraced one', async () => {
    const bare = await podman!.podman(['run', '--rm', ...PODMAN_RUN_ARGS, '--runtime', RUNC, image.imageName, PROBE], { reject: false });
    expect(bare.stdout).toBe(PODMAN_REFUSED);
    // conmon starts the runtime with a clean environment: a one-line script carries our test config.
    const runtime = path.join(work.name, 'oci-ftrace-runc-for-podman');
    const env = Object.entries(traced.env(RUNC)).map(([k, v]) => `${k}=${v}`).join(' ');
    writeFileSync(runtime, `#!/bin/sh\nexec env ${env} ${WRAPPER} "$@"\n`, { mode: 0o755 });
    const before = reportIds();
    const got = await podman!.podman(['run', '--rm', ...PODMAN_RUN_ARGS, '--runtime', runtime, image.imageName, PROBE], { reject: false });
    expect({ exitCode: got.exitCode, stdout: got.stdout, stderr: got.stderr }, ourLog(traced)).toEqual({ exitCode: bare.exitCode, stdout: bare.stdout, stderr: bare.stderr });
    await expectBlockedInReport(await newReport(before), { add_key: 'ENOSYS' });
  });
});

describe("containerd's CRI: a pod of the oci-ftrace RuntimeClass with RuntimeDefault", () => {
  let cri: Cri | undefined;
  beforeAll(async () => {
    cri = await startCri(path.join(work.name, 'cri'), {
      handlers: { runc: { binaryName: RUNC }, 'oci-ftrace': { binaryName: WRAPPER, podAnnotations: ['oci-ftrace/*'] } },
      env: traced.env(RUNC),
    });
    await cri.importImage(image);
  });
  afterAll(async () => {
    await cri?.stop();
  });

  async function probeIn(handler: string): Promise<{ id: string; stdout: string; stderr: string; exitCode: number }> {
    const c = cri!;
    const pod = await c.runPod({ name: `probe-${handler}`, handler });
    const id = await c.createContainer(pod.id, pod.config, { name: 'probe', image: image.imageName, command: [PROBE], seccomp: 'RuntimeDefault' });
    await c.startContainer(id);
    const exitCode = await c.waitForExit(id, 30_000);
    const logs = await c.logs(id);
    await c.stopPod(pod.id);
    await c.removePod(pod.id);
    return { id, ...logs, exitCode };
  }

  it('refuses keyctl, add_key and unshare(CLONE_NEWUSER) to a traced container as the runc handler does', async () => {
    const bare = await probeIn('runc');
    expect(bare.stdout).toBe(`${REFUSED}\n`);
    const got = await probeIn('oci-ftrace');
    expect({ exitCode: got.exitCode, stdout: got.stdout, stderr: got.stderr }, ourLog(traced)).toEqual({ exitCode: bare.exitCode, stdout: bare.stdout, stderr: bare.stderr });
    await expectBlockedInReport(got.id, REFUSED_IN_REPORT);
  });
});

// Kubernetes on containerd's CRI plugin, driven as kubelet drives it (lab/cri.ts), with the
// runtime handler as shipped in contrib/containerd-config.toml (lab/contrib.ts reads it): pod
// annotations reach the bundle, the pause container is not traced, ExecSync (exec probes) is, the
// report is filed under NS/POD/CONTAINER, and a profile made from it runs the pod and its probe.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tmp from 'tmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listReports } from '../src/report/report-index.js';
import { SummarySchema } from '../src/report/summary.js';
import { makeBusyboxRootfs } from './lab/bundle.js';
import { contribContainerdHandler } from './lab/contrib.js';
import { startCri, type Cri, type Pod } from './lab/cri.js';
import { ANALYZER, RUNC, requireLab, uniqueId } from './lab/env.js';
import { buildOciImageTar, type OciImageTar } from './lab/image.js';
import { listTracefsInstances } from './lab/leaks.js';
import { runCommand } from './lab/run.js';
import { makeTracedEnv, ourLog, type TracedEnv } from './support/traced.js';

let work: tmp.DirResult;
let traced: TracedEnv;
let cri: Cri;
let image: OciImageTar;
const handler = contribContainerdHandler();

beforeAll(async () => {
  requireLab();
  work = tmp.dirSync({ prefix: 'oci-ftrace-k8s-', unsafeCleanup: true });
  // Opt-in only: an unannotated pod must not be touched.
  traced = makeTracedEnv({ trace: 'annotated' });
  const rootfs = path.join(work.name, 'rootfs');
  await makeBusyboxRootfs(rootfs, { hostname: 'image' });
  image = await buildOciImageTar(rootfs, path.join(work.name, 'image.tar'), `k8s-probe:${uniqueId('it')}`);
  cri = await startCri(path.join(work.name, 'cri'), { handlers: { runc: { binaryName: RUNC }, [handler.name]: handler.handler }, env: traced.env(RUNC) });
  await cri.importImage(image);
}, 180_000);

afterAll(async () => {
  await cri?.stop();
  traced?.cleanup();
  work?.removeCallback();
});

// Waits for the probe's signal, so that ExecSync runs while it lives; the probe (mkdir) makes
// the one call neither the workload nor the runtime makes once its filter is loaded.
const WAIT = ['sh', '-c', 'while [ ! -e /dev/shm/stop ]; do sleep 0.1; done; echo done'];

interface PodRun {
  pod: Pod;
  containerId: string;
  probe: { stdout: string; stderr: string; exitCode: number };
  stop: { exitCode: number };
  logs: string;
}

/** kubelet's calls for one pod with one container and an exec probe, then its teardown. */
async function runPod(opts: { name: string; handler: string; annotations?: Record<string, string>; seccomp?: 'RuntimeDefault' | { localhost: string } }): Promise<PodRun> {
  // The pause container keeps RuntimeDefault: a profile is the workload's.
  const pod = await cri.runPod({ name: opts.name, namespace: 'shop', handler: opts.handler, annotations: opts.annotations, seccomp: 'RuntimeDefault' });
  try {
    const containerId = await cri.createContainer(pod.id, pod.config, { name: 'app', image: image.imageName, command: WAIT, seccomp: opts.seccomp ?? 'RuntimeDefault' });
    await cri.startContainer(containerId);
    const probe = await cri.execSync(containerId, ['mkdir', '/dev/shm/probe']);
    const stop = await cri.execSync(containerId, ['touch', '/dev/shm/stop']);
    await cri.waitForExit(containerId, 30_000);
    const logs = (await cri.logs(containerId)).stdout;
    await cri.stopContainer(containerId);
    await cri.removeContainer(containerId);
    return { pod, containerId, probe, stop, logs };
  } finally {
    await cri.stopPod(pod.id);
    await cri.removePod(pod.id);
  }
}

async function waitForReport(dir: string): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(path.join(dir, 'summary.json')); i++) await new Promise((r) => setTimeout(r, 100));
}

describe("containerd's CRI with the contrib runtime handler", () => {
  let traced1: PodRun;

  it('files an annotated pod\'s workload under NS/POD/CONTAINER, with its identity, its ExecSync probe, and no report of the pause container', async () => {
    traced1 = await runPod({ name: 'web', handler: handler.name, annotations: { 'oci-ftrace/trace': 'true' } });
    expect(traced1.probe.exitCode, traced1.probe.stderr + ourLog(traced)).toBe(0);
    expect(traced1.probe.stdout).toBe('');
    expect(traced1.logs).toBe('done\n');
    const dir = path.join(traced.outputDir, 'shop', 'web', 'app');
    await waitForReport(dir);
    const summary = SummarySchema.parse(JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')));
    expect(summary.containerId).toBe(traced1.containerId);
    expect(summary.kubernetes).toMatchObject({ namespace: 'shop', pod: 'web', container: 'app', podUid: expect.any(String), image: expect.stringContaining('k8s-probe') });
    expect(summary.loss.lost).toBe(0);
    // The probe's mkdir, exec'd into the container, is in the report: the one mkdir(2) of the container.
    const mkdir = Object.values(summary.processes).find((p) => p.exec === true && p.execs.some((e) => e.endsWith('/mkdir')));
    expect(mkdir, JSON.stringify(summary.processes)).toBeDefined();
    expect(summary.syscalls.mkdir?.pids).toEqual([mkdir!.pid]);
    // One report: the workload's. The pause container was not traced.
    const reports = listReports(traced.outputDir);
    expect(reports.map((r) => r.containerId)).toEqual([traced1.containerId]);
    expect(existsSync(path.join(traced.outputDir, traced1.pod.id))).toBe(false);
    const ls2 = await runCommand(ANALYZER, ['ls', '--json'], { env: { OCI_FTRACE_CONFIG: traced.configPath } });
    expect(JSON.parse(ls2.stdout)).toEqual([expect.objectContaining({ path: 'shop/web/app', containerId: traced1.containerId })]);
  });

  it('files a restarted container of the same pod beside the first, and leaves an unannotated pod untraced', async () => {
    const again = await runPod({ name: 'web', handler: handler.name, annotations: { 'oci-ftrace/trace': 'true' } });
    const dir = path.join(traced.outputDir, 'shop', 'web', `app-${again.containerId.slice(0, 12)}`);
    await waitForReport(dir);
    expect(SummarySchema.parse(JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'))).containerId).toBe(again.containerId);
    const plain = await runPod({ name: 'plain', handler: handler.name });
    expect(plain.probe.exitCode).toBe(0);
    expect(existsSync(path.join(traced.outputDir, 'shop', 'plain'))).toBe(false);
    // Its bundle got no hooks: the agent read it and left it as it was.
    const lines = ourLog(traced).split('\n').filter((l) => l.includes(`"id":"${plain.containerId}"`));
    expect(lines.map((l) => (JSON.parse(l) as { msg: string; changed?: boolean }).msg)).toEqual(['not traced: bundle left as it is']);
    expect(listReports(traced.outputDir).map((r) => r.containerId).sort()).toEqual([traced1.containerId, again.containerId].sort());
    expect(listTracefsInstances()).toEqual([]);
  });

  it("makes a profile of the workload that runs it and its probe under the runc handler; without the probe's mkdir the probe fails", async () => {
    const made = await runCommand(ANALYZER, ['profile', '--container', 'shop/web/app'], { env: { OCI_FTRACE_CONFIG: traced.configPath } });
    const profile = JSON.parse(made.stdout) as { syscalls: { names: string[]; action: string }[] };
    // Every run of the workload (the first and the restart), and a glob of the pod's name finds the same.
    const runs = listReports(traced.outputDir).filter((r) => r.kubernetes?.pod === 'web').map((r) => r.containerId);
    expect(runs).toHaveLength(2);
    for (const id of runs) expect(made.stderr).toContain(id);
    const globbed = await runCommand(ANALYZER, ['profile', '--pod', 'shop/w*', '-f', 'spo'], { env: { OCI_FTRACE_CONFIG: traced.configPath } });
    for (const id of runs) expect(globbed.stderr).toContain(id);
    expect(globbed.stdout).toMatch(/name: shop-w\n/);
    const file = path.join(work.name, 'web-app.json');
    writeFileSync(file, JSON.stringify(profile));
    const bare = await runPod({ name: 'enforced', handler: 'runc', seccomp: { localhost: file } });
    expect({ probe: bare.probe.exitCode, stop: bare.stop.exitCode, logs: bare.logs }).toEqual({ probe: 0, stop: 0, logs: 'done\n' });
    expect(bare.probe.stdout).toBe(traced1.probe.stdout);
    expect(profile.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names)).toContain('mkdir');
    const without = path.join(work.name, 'web-app-no-mkdir.json');
    writeFileSync(without, JSON.stringify({ ...profile, syscalls: profile.syscalls.map((r) => ({ ...r, names: r.names.filter((n) => n !== 'mkdir') })) }));
    const broken = await runPod({ name: 'broken', handler: 'runc', seccomp: { localhost: without } });
    expect(broken.probe.exitCode).not.toBe(0);
    expect(broken.stop.exitCode).toBe(0);
  });
});

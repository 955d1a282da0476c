// Proves the lab harness against the bare runtimes and engines (no oci-ftrace involved): if these fail, the
// machine or the harness is broken, not the wrapper.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tmp from 'tmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxBundle, makeBusyboxRootfs } from './lab/bundle.js';
import { escapeRegExp, forceDeleteAllContainersIn } from './lab/cleanup.js';
import { CONTAINERD_RUNC_ROOT, startContainerd, type Containerd } from './lab/containerd.js';
import { startDockerd, type Dockerd } from './lab/dockerd.js';
import { CRUN, RUNC, requireLab, uniqueId } from './lab/env.js';
import { buildOciImageTar, dockerImport, type OciImageTar } from './lab/image.js';
import { isProcessAlive, mountsUnder, processesMatching } from './lab/leaks.js';
import { PODMAN_RUN_ARGS, preparePodman, type Podman } from './lab/podman.js';
import { runCommand } from './lab/run.js';

requireLab();

const work = tmp.dirSync({ prefix: 'oci-ftrace-lab-', unsafeCleanup: true });
const workDir = work.name;
const timings: Array<[string, number]> = [];

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    timings.push([label, Math.round(performance.now() - started)]);
  }
}

// `uname -a` inside a container: same kernel release as the host, whatever the hostname.
const unameLine = new RegExp(`^Linux \\S+ ${escapeRegExp(os.release())} `);

let rootfsDir: string;
let image: OciImageTar;
const daemonPids: number[] = [];
const containerdNamespaces: string[] = [];

beforeAll(async () => {
  rootfsDir = path.join(workDir, 'image-rootfs');
  image = await timed('build rootfs + OCI image tar', async () => {
    await makeBusyboxRootfs(rootfsDir, { hostname: 'image' });
    return buildOciImageTar(rootfsDir, path.join(workDir, 'busybox-oci.tar'), `busybox:${uniqueId('lab')}`);
  });
});

afterAll(() => {
  console.log(`lab timings (ms):\n${timings.map(([label, ms]) => `  ${label}: ${ms}`).join('\n')}`);
  work.removeCallback();
});

describe.each([
  ['runc', RUNC],
  ['crun', CRUN],
])('bare %s', (name, runtime) => {
  it(`runs a busybox bundle with \`${name} run\``, async () => {
    const id = uniqueId(name);
    const stateRoot = path.join(workDir, `${name}-state`);
    const hostname = `host-${name}`;
    const bundle = await makeBusyboxBundle(path.join(workDir, `bundle-${id}`), {
      args: ['sh', '-c', 'uname -a; cat /etc/hostname; ls /'],
      hostname,
    });
    let leftovers: string[] = [];
    try {
      const result = await timed(`${name} run`, () =>
        runCommand(runtime, ['--root', stateRoot, 'run', '--bundle', bundle.bundleDir, id], { reject: false }),
      );
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
      const [uname, shownHostname, ...entries] = result.stdout.split('\n');
      expect(uname).toMatch(new RegExp(`^Linux ${hostname} ${escapeRegExp(os.release())} `));
      expect(shownHostname).toBe(hostname);
      expect(entries).toEqual(expect.arrayContaining(['bin', 'dev', 'etc', 'proc', 'sys', 'tmp']));
    } finally {
      leftovers = await forceDeleteAllContainersIn(stateRoot);
    }
    expect(leftovers).toEqual([]); // `run` deletes the container when it exits
  });
});

describe('containerd', () => {
  let containerd: Containerd | undefined;

  beforeAll(async () => {
    containerd = await timed('containerd start', () => startContainerd(path.join(workDir, 'containerd')));
    daemonPids.push(containerd.pid);
    containerdNamespaces.push(containerd.namespace);
    await timed('ctr images import', () => containerd!.ctr(['images', 'import', image.tarPath]));
  });
  afterAll(async () => {
    if (containerd) await timed('containerd stop', () => containerd!.stop());
  });

  it('runs the imported image with `ctr run --runc-binary runc`', async () => {
    const ctd = containerd!;
    expect((await ctd.ctr(['images', 'ls', '-q'])).stdout.split('\n')).toContain(image.imageName);
    const result = await timed('ctr run --rm', () =>
      ctd.ctr(['run', '--rm', '--runc-binary', RUNC, image.imageName, uniqueId('ctr'), 'uname', '-a']),
    );
    expect(result.stdout).toMatch(unameLine);
    expect((await ctd.ctr(['containers', 'ls', '-q'])).stdout).toBe('');
  });
});

describe('dockerd', () => {
  let dockerd: Dockerd | undefined;
  const tag = `busybox:${uniqueId('local')}`;

  beforeAll(async () => {
    dockerd = await timed('dockerd start', () => startDockerd(path.join(workDir, 'dockerd'), { 'runc-bare': RUNC }));
    daemonPids.push(dockerd.pid, dockerd.containerd.pid);
    await timed('docker import', () => dockerImport(rootfsDir, dockerd!, tag));
  });
  afterAll(async () => {
    if (dockerd) await timed('dockerd stop', () => dockerd!.stop());
  });

  it('runs the imported image with `docker run --runtime runc-bare`', async () => {
    const dk = dockerd!;
    const result = await timed('docker run --rm', () =>
      dk.docker(['run', '--rm', '--network', 'none', '--runtime', 'runc-bare', tag, 'uname', '-a']),
    );
    expect(result.stdout).toMatch(unameLine);
    // The runtime entry is what dockerd used: an unknown name is refused rather than defaulted.
    const unknown = await dk.docker(['run', '--rm', '--network', 'none', '--runtime', 'no-such', tag, 'true'], {
      reject: false,
    });
    expect(unknown.exitCode).not.toBe(0);
  });
});

describe('podman', () => {
  let podman: Podman | undefined;

  beforeAll(async () => {
    podman = await preparePodman(path.join(workDir, 'podman'));
  });
  afterAll(async () => {
    if (podman) await timed('podman cleanup', () => podman!.stop());
  });

  it('loads the OCI tar and runs it with `podman run --runtime runc`', async () => {
    const pm = podman!;
    const blobCacheExisted = existsSync('/var/lib/containers/cache');
    const loaded = await timed('podman load', () => pm.load(image.tarPath));
    expect(loaded).toEqual([image.imageName]);
    const result = await timed('podman run --rm', () =>
      pm.podman(['run', '--rm', ...PODMAN_RUN_ARGS, '--runtime', RUNC, image.imageName, 'uname', '-a']),
    );
    expect(result.stdout).toMatch(unameLine);
    if (!blobCacheExisted) expect(existsSync('/var/lib/containers/cache')).toBe(false);
  });
});

describe('after the engines are stopped', () => {
  it('leaves no daemon, shim, conmon or mount of ours behind', () => {
    expect(daemonPids.length).toBeGreaterThan(0);
    expect(daemonPids.filter(isProcessAlive)).toEqual([]);
    expect(processesMatching(new RegExp(escapeRegExp(workDir)))).toEqual([]);
    expect(mountsUnder(workDir)).toEqual([]);
    expect(containerdNamespaces.filter((ns) => existsSync(path.join(CONTAINERD_RUNC_ROOT, ns)))).toEqual([]);
  });
});

// containerd's CRI plugin driven over gRPC as kubelet drives it (lab/cri.ts). Kept in one block at the end, with
// its import here, so this file's other blocks stay untouched.
import { readdirSync } from 'node:fs';
import { startCri, type ContainerOptions, type Cri } from './lab/cri.js';

describe('containerd CRI', () => {
  let cri: Cri | undefined;
  const criDir = path.join(workDir, 'cri');

  beforeAll(async () => {
    cri = await timed('cri start (containerd + pause image)', () =>
      startCri(criDir, { handlers: { runc: { binaryName: RUNC } } }),
    );
    await timed('cri image import', () => cri!.importImage(image));
  });
  afterAll(async () => {
    if (cri) await cri.stop();
  });

  /** A pod and one container in it, started; the pod is removed by the test (or by stop()). */
  async function runInPod(name: string, container: ContainerOptions) {
    const c = cri!;
    const pod = await timed(`cri runPod ${name}`, () => c.runPod({ name, handler: 'runc' }));
    const containerId = await c.createContainer(pod.id, pod.config, container);
    await c.startContainer(containerId);
    return { pod, containerId };
  }

  it('serves CRI runtime.v1 and runs a busybox container in a runc pod, its output in the CRI log', async () => {
    const c = cri!;
    const version = await c.version();
    expect(version.runtimeName).toBe('containerd');
    expect(version.runtimeApiVersion).toBe('v1');

    const { pod, containerId } = await runInPod('hello', {
      name: 'hello',
      image: image.imageName,
      command: ['sh', '-c', 'echo hello; uname -s'],
    });
    expect((await c.podStatus(pod.id)).state).toBe('SANDBOX_READY');
    expect(await c.waitForExit(containerId, 30_000)).toBe(0);
    expect(await c.logs(containerId)).toEqual({ stdout: 'hello\nLinux\n', stderr: '' });
    await timed('cri stop + remove pod', async () => {
      await c.stopPod(pod.id);
      await c.removePod(pod.id);
    });
    expect(await c.listContainers(pod.id)).toEqual([]);
  });

  it('ExecSync runs a command in a running container', async () => {
    const c = cri!;
    const sleeper = { name: 'sleeper', image: image.imageName, command: ['sleep', '30'] };
    const { pod, containerId } = await runInPod('exec', sleeper);
    const result = await timed('cri execSync', () => c.execSync(containerId, ['echo', 'from-exec'], 10));
    expect(result).toEqual({ stdout: 'from-exec\n', stderr: '', exitCode: 0 });
    await c.stopContainer(containerId, 0);
    expect(await c.waitForExit(containerId, 10_000)).toBe(137); // 128 + SIGKILL
    await c.removePod(pod.id);
  });

  it('RuntimeDefault seccomp refuses unshare(CLONE_NEWUSER), which Unconfined allows', async () => {
    const c = cri!;
    const results: Record<string, { exitCode: number; stderr: string }> = {};
    for (const seccomp of ['RuntimeDefault', 'Unconfined'] as const) {
      const { pod, containerId } = await runInPod(`seccomp-${seccomp.toLowerCase()}`, {
        name: 'unshare',
        image: image.imageName,
        command: ['unshare', '-U', 'true'],
        seccomp,
      });
      const exitCode = await c.waitForExit(containerId, 30_000);
      results[seccomp] = { exitCode, stderr: (await c.logs(containerId)).stderr };
      await c.removePod(pod.id);
    }
    // containerd's default profile allows unshare only with CAP_SYS_ADMIN, which a default container lacks.
    expect(results.RuntimeDefault?.exitCode).not.toBe(0);
    expect(results.RuntimeDefault?.stderr).toMatch(/Operation not permitted/);
    expect(results.Unconfined).toEqual({ exitCode: 0, stderr: '' });
  });

  it('stop() leaves no containerd, shim, mount, cgroup or runtime state behind', async () => {
    const c = cri!;
    const sleeper = { name: 'sleeper', image: image.imageName, command: ['sleep', '30'] };
    const { containerId } = await runInPod('left-running', sleeper);
    expect((await c.containerStatus(containerId)).state).toBe('CONTAINER_RUNNING');
    // Hybrid cgroups here: one hierarchy per directory of /sys/fs/cgroup (a v2-only host has the dirs at the top).
    const cgroupDirs = () =>
      ['', ...readdirSync('/sys/fs/cgroup')]
        .map((hierarchy) => path.join('/sys/fs/cgroup', hierarchy, c.cgroupParent))
        .filter(existsSync);
    // All of these exist while the pod runs, so their absence afterwards means something.
    expect(cgroupDirs()).not.toEqual([]);
    expect(mountsUnder(criDir)).not.toEqual([]);
    expect(existsSync(path.join(criDir, 'runtime-root', 'runc', 'k8s.io'))).toBe(true); // the handler's Root
    await timed('cri stop (with a running pod)', () => c.stop());
    expect(isProcessAlive(c.containerd.pid)).toBe(false);
    expect(processesMatching(new RegExp(`-address ${escapeRegExp(c.address)}( |$)`))).toEqual([]);
    expect(processesMatching(new RegExp(escapeRegExp(criDir)))).toEqual([]);
    expect(mountsUnder(criDir)).toEqual([]);
    expect(existsSync(path.join(criDir, 'runtime-root'))).toBe(false); // runc's --root, emptied and removed
    expect(cgroupDirs()).toEqual([]);
  });
});

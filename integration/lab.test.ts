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

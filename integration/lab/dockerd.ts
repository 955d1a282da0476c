// A private dockerd on its own data-root, exec-root and socket, over a private containerd (see startDockerd).
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { forceDeleteAllContainersIn, unmountUnder } from './cleanup.js';
import { startContainerd, type Containerd } from './containerd.js';
import { startDaemon, stopProcess, waitUntilReady, type DaemonProcess } from './daemon.js';
import { DOCKER, DOCKERD } from './env.js';
import { runnerFor, type EngineClient, type EngineRunner } from './run.js';

export interface Dockerd {
  baseDir: string;
  socket: string;
  pid: number;
  dataRoot: string;
  execRoot: string;
  logPath: string;
  /** The containerd this dockerd uses (namespace "moby"). */
  containerd: Containerd;
  /** `/usr/bin/docker -H unix://SOCKET` with a private DOCKER_CONFIG. */
  client: EngineClient;
  /** Runs `docker -H unix://SOCKET ...args`. */
  docker: EngineRunner;
  /** Removes all containers, stops dockerd then its containerd by pid, and cleans up leftover runtime state. */
  stop(): Promise<void>;
}

/**
 * runtimes maps a `--runtime` name to an absolute runtime path (e.g. { 'runc-bare': RUNC, 'oci-ftrace': WRAPPER }).
 *
 * dockerd is pointed at a containerd we start (--containerd) instead of supervising its own: the containerd that
 * dockerd 20.10 writes a config for creates /opt/containerd, and ours keeps everything under baseDir. Containers
 * still go through containerd-shim-runc-v2 with the runtime path from `runtimes`, as with a stock install.
 */
export async function startDockerd(baseDir: string, runtimes: Record<string, string>, opts: { env?: Record<string, string> } = {}): Promise<Dockerd> {
  const dir = path.resolve(baseDir);
  await mkdir(dir, { recursive: true });
  const socket = path.join(dir, 'docker.sock');
  const dataRoot = path.join(dir, 'data-root');
  const execRoot = path.join(dir, 'exec-root');
  const configPath = path.join(dir, 'daemon.json');
  const logPath = path.join(dir, 'dockerd.log');
  await writeFile(configPath, JSON.stringify(dockerdConfig(dir, runtimes), null, 2));

  const containerd = await startContainerd(path.join(dir, 'containerd'), {
    namespace: 'moby',
    configToml: 'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    env: opts.env,
  });

  let dockerdProcess: DaemonProcess;
  try {
    dockerdProcess = startDaemon(DOCKERD, [
      '--config-file', configPath,
      '--containerd', containerd.address,
      '--data-root', dataRoot,
      '--exec-root', execRoot,
      '--pidfile', path.join(dir, 'dockerd.pid'),
      '-H', `unix://${socket}`,
    ], logPath, opts.env);
  } catch (err) {
    await containerd.stop();
    throw err;
  }

  const client: EngineClient = {
    file: DOCKER,
    globalArgs: ['-H', `unix://${socket}`],
    // Keeps the client off /root/.docker.
    env: { DOCKER_CONFIG: path.join(dir, 'client-config') },
  };
  const docker = runnerFor(client);

  const stop = async (): Promise<void> => {
    try {
      if (!dockerdProcess.hasExited()) {
        // Without this dockerd waits out each container's stop timeout (10 s for a shell ignoring SIGTERM).
        const ids = (await docker(['ps', '-aq'], { reject: false, timeoutMs: 15_000 })).stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await docker(['rm', '-f', ...ids], { reject: false, timeoutMs: 30_000 });
      }
      await stopProcess(dockerdProcess.pid, 20_000);
    } finally {
      await containerd.stop();
      for (const stateRoot of runtimeStateRoots(execRoot)) await forceDeleteAllContainersIn(stateRoot);
      await unmountUnder(dir);
    }
  };

  try {
    await waitUntilReady('dockerd', dockerdProcess, async () => (await docker(['version'], { reject: false })).exitCode === 0, 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseDir: dir, socket, pid: dockerdProcess.pid, dataRoot, execRoot, logPath, containerd, client, docker, stop };
}

function dockerdConfig(dir: string, runtimes: Record<string, string>): Record<string, unknown> {
  return {
    runtimes: Object.fromEntries(Object.entries(runtimes).map(([name, runtimePath]) => [name, { path: runtimePath }])),
    // No host networking changes: no bridge, no iptables rules, no ip_forward sysctl.
    iptables: false,
    'ip-forward': false,
    'ip-masq': false,
    bridge: 'none',
    // dockerd 20.10 otherwise writes /etc/docker/key.json.
    'deprecated-key-path': path.join(dir, 'key.json'),
  };
}

/** dockerd keeps each runtime's container state in EXEC_ROOT/runtime-NAME/NAMESPACE. */
function runtimeStateRoots(execRoot: string): string[] {
  if (!existsSync(execRoot)) return [];
  return readdirSync(execRoot)
    .filter((entry) => entry.startsWith('runtime-'))
    .flatMap((entry) => readdirSync(path.join(execRoot, entry)).map((ns) => path.join(execRoot, entry, ns)));
}

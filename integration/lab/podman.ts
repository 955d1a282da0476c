// Podman on private storage under baseDir. Podman is daemonless: each call is a process, containers live under
// conmon, so "stopping" means removing our containers and unmounting what storage left mounted.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { escapeRegExp, killProcessesMatching, unmountUnder } from './cleanup.js';
import { PODMAN } from './env.js';
import { runCommand, runnerFor, type CommandResult, type EngineClient, type EngineRunner } from './run.js';

/**
 * Needed on every `podman run` here: no CNI network is configured (--network none), and podman raises the
 * container's nofile/nproc limits to its defaults unless told otherwise, which fails since rlimits cannot be
 * raised on this VM (no CAP_SYS_RESOURCE). Pinning them to 1024 avoids the raise.
 */
export const PODMAN_RUN_ARGS = ['--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'] as const;

export interface Podman {
  baseDir: string;
  /** podman plus global args plus CONTAINERS_CONF / CONTAINERS_STORAGE_CONF pointing under baseDir. */
  client: EngineClient;
  /** Runs `podman GLOBAL_ARGS ...args` with the private config. */
  podman: EngineRunner;
  /** `podman load -i tar`, without touching /var/lib/containers (see below); returns the loaded names. */
  load(tarPath: string): Promise<string[]>;
  /** Where podman keeps run state: baseDir/run, or a short dir under os.tmpdir() that stop() removes. */
  runrootDir: string;
  /** Removes every container of this storage, kills stray conmons, unmounts under baseDir. */
  stop(): Promise<void>;
}

/** podman refuses a runroot longer than this (conmon's socket paths must fit sockaddr_un). */
const MAX_RUNROOT_LENGTH = 50;

/**
 * Global flags that put podman's storage, run state and temp state under baseDir. runrootDir defaults to
 * baseDir/run, which must be at most 50 characters; preparePodman picks a short one when it is not.
 */
export function podmanArgs(baseDir: string, runrootDir = path.join(path.resolve(baseDir), 'run')): string[] {
  const dir = path.resolve(baseDir);
  return [
    '--root', path.join(dir, 'storage'),
    '--runroot', runrootDir,
    '--tmpdir', path.join(dir, 'libpod-tmp'),
    '--volumepath', path.join(dir, 'volumes'),
    '--cgroup-manager', 'cgroupfs',
    '--events-backend', 'file',
  ];
}

/** Writes the private config files and returns a runner; nothing is started. */
export async function preparePodman(baseDir: string): Promise<Podman> {
  const dir = path.resolve(baseDir);
  await mkdir(dir, { recursive: true });
  const containersConf = path.join(dir, 'containers.conf');
  const storageConf = path.join(dir, 'storage.conf');
  const defaultRunroot = path.join(dir, 'run');
  const runrootDir =
    defaultRunroot.length <= MAX_RUNROOT_LENGTH ? defaultRunroot : await mkdtemp(path.join(os.tmpdir(), 'lab-podman-'));
  await writeFile(containersConf, containersConfig(dir));
  await writeFile(storageConf, storageConfig(dir, runrootDir));

  const client: EngineClient = {
    file: PODMAN,
    globalArgs: podmanArgs(dir, runrootDir),
    env: { CONTAINERS_CONF: containersConf, CONTAINERS_STORAGE_CONF: storageConf },
  };
  const podman = runnerFor(client);

  const load = async (tarPath: string): Promise<string[]> => {
    // Image copies open the blob-info cache /var/lib/containers/cache, which podman 4.3 has no setting for.
    // A read-only /var/lib in a private mount namespace makes it fall back to an in-memory cache.
    const result: CommandResult = await runCommand(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind -o ro /var/lib /var/lib && exec "$@"', 'sh',
        client.file, ...client.globalArgs, 'load', '-i', path.resolve(tarPath)],
      { env: client.env },
    );
    return [...result.stdout.matchAll(/^Loaded image(?:\(s\))?: (.+)$/gm)].flatMap((m) => m[1]?.split(',') ?? []);
  };

  const stop = async (): Promise<void> => {
    await podman(['rm', '--all', '--force', '--time', '0'], { reject: false, timeoutMs: 60_000 });
    await killProcessesMatching(new RegExp(`conmon .*${escapeRegExp(dir)}/`));
    await unmountUnder(dir);
    if (runrootDir !== defaultRunroot) {
      await unmountUnder(runrootDir);
      await rm(runrootDir, { recursive: true, force: true });
    }
  };

  return { baseDir: dir, runrootDir, client, podman, load, stop };
}

function containersConfig(dir: string): string {
  return `[engine]
# File locks under tmp_dir: the default shm locks (/dev/shm/libpod_lock) are shared with every other podman
# storage on the machine, and a fresh tmp_dir makes podman free all of them.
lock_type = "file"
tmp_dir = ${JSON.stringify(path.join(dir, 'libpod-tmp'))}
static_dir = ${JSON.stringify(path.join(dir, 'storage', 'libpod'))}
volume_path = ${JSON.stringify(path.join(dir, 'volumes'))}
events_logger = "file"
events_logfile_path = ${JSON.stringify(path.join(dir, 'events.log'))}
cgroup_manager = "cgroupfs"

[network]
# netavark (the default) creates /run/containers/networks even for --network none; CNI does not.
network_backend = "cni"
network_config_dir = ${JSON.stringify(path.join(dir, 'networks'))}
`;
}

function storageConfig(dir: string, runrootDir: string): string {
  return `[storage]
driver = "overlay"
graphroot = ${JSON.stringify(path.join(dir, 'storage'))}
runroot = ${JSON.stringify(runrootDir)}
`;
}

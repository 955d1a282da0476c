// A private containerd: its own root, state, socket and config under baseDir, stopped by pid with its shims.
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { escapeRegExp, forceDeleteContainers, killProcessesMatching, removeCgroupDirs, unmountUnder } from './cleanup.js';
import { startDaemon, stopProcess, waitUntilReady } from './daemon.js';
import { CONTAINERD, CTR, uniqueId } from './env.js';
import { processesMatching } from './leaks.js';
import { runnerFor, type EngineClient, type EngineRunner } from './run.js';

/** containerd 1.6 defaults the runc state root of namespace NS to this (runtime option Root unset). */
export const CONTAINERD_RUNC_ROOT = '/run/containerd/runc';

export interface ContainerdOptions {
  /**
   * A version-2 config.toml body (e.g. CRI runtime handlers). root/state/address are always passed as flags and
   * win over it; `version = 2` is prepended and the opt plugin is pointed under baseDir unless it sets them.
   */
  configToml?: string;
  /** Namespace ctr() uses; default a fresh unique one, so runc state never collides with other instances. */
  namespace?: string;
  /** Extra environment for containerd, inherited by its shims and so by the runtime they call. */
  env?: Record<string, string>;
}

export interface Containerd {
  baseDir: string;
  address: string;
  namespace: string;
  pid: number;
  configPath: string;
  logPath: string;
  /** `ctr -a ADDRESS -n NAMESPACE` */
  client: EngineClient;
  /** Runs `ctr -a ADDRESS -n NAMESPACE ...args`. */
  ctr: EngineRunner;
  /** The same in another namespace (e.g. k8s.io for CRI, moby for dockerd). */
  ctrIn(namespace: string): EngineRunner;
  /** Deletes its tasks, stops containerd by pid, then kills its shims and force-deletes their containers. */
  stop(): Promise<void>;
}

export async function startContainerd(baseDir: string, opts: ContainerdOptions = {}): Promise<Containerd> {
  const dir = path.resolve(baseDir);
  await mkdir(dir, { recursive: true });
  const address = path.join(dir, 'containerd.sock');
  const configPath = path.join(dir, 'config.toml');
  const logPath = path.join(dir, 'containerd.log');
  const namespace = opts.namespace ?? uniqueId('lab');
  const namespaceIsOurs = opts.namespace === undefined;
  // Without --config containerd reads /etc/containerd/config.toml, whose opt plugin writes /var/lib/containerd.
  await writeFile(configPath, containerdConfig(dir, opts.configToml ?? ''));

  const daemon = startDaemon(CONTAINERD, [
    '--config', configPath,
    '--root', path.join(dir, 'root'),
    '--state', path.join(dir, 'state'),
    '--address', address,
  ], logPath, opts.env);

  const client: EngineClient = { file: CTR, globalArgs: ['-a', address, '-n', namespace], env: {} };
  const ctrIn = (ns: string): EngineRunner => runnerFor({ ...client, globalArgs: ['-a', address, '-n', ns] });
  const ctr = runnerFor(client);

  const stop = async (): Promise<void> => {
    const namespaces = new Set([namespace]);
    const ours: Array<{ namespace: string; id: string }> = [];
    if (!daemon.hasExited()) {
      const listed = await ctr(['namespaces', 'ls', '-q'], { reject: false, timeoutMs: 10_000 });
      for (const ns of listed.stdout.split('\n').filter(Boolean)) namespaces.add(ns);
      for (const ns of namespaces) ours.push(...(await deleteAllContainers(ctrIn(ns), ns)));
    }
    await stopProcess(daemon.pid, 10_000);

    // Shims outlive containerd by design; ours are the ones naming our socket.
    const shimPattern = new RegExp(`containerd-shim\\S* .*-address ${escapeRegExp(address)}( |$)`);
    for (const shim of processesMatching(shimPattern)) ours.push(...shimContainer(shim.cmdline));
    await killProcessesMatching(shimPattern);
    for (const ns of namespaces) {
      const ids = ours.filter((c) => c.namespace === ns).map((c) => c.id);
      await forceDeleteContainers(path.join(CONTAINERD_RUNC_ROOT, ns), ids);
    }
    if (namespaceIsOurs) {
      // Shared names (moby, k8s.io) may be in use by another instance; a generated one is ours alone.
      removeEmptyDir(path.join(CONTAINERD_RUNC_ROOT, namespace));
      removeCgroupDirs(namespace); // ctr's cgroupsPath is /NAMESPACE/ID; runtimes remove only the ID level
    }
    await unmountUnder(dir);
  };

  try {
    // ctr waits ~10 s for a socket that is not there yet; only ask once it exists.
    const ready = async () =>
      existsSync(address) && (await ctr(['--connect-timeout', '2s', 'version'], { reject: false })).exitCode === 0;
    await waitUntilReady('containerd', daemon, ready);
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseDir: dir, address, namespace, pid: daemon.pid, configPath, logPath, client, ctr, ctrIn, stop };
}

function containerdConfig(dir: string, body: string): string {
  const parts: string[] = [];
  if (!/^\s*version\s*=/m.test(body)) parts.push('version = 2');
  parts.push(body);
  if (!body.includes('io.containerd.internal.v1.opt')) {
    parts.push(`[plugins."io.containerd.internal.v1.opt"]\n  path = ${JSON.stringify(path.join(dir, 'opt'))}`);
  }
  return `${parts.join('\n')}\n`;
}

/** Best effort: kill and delete every task, then every container, of one namespace; returns what it found. */
async function deleteAllContainers(ctr: EngineRunner, namespace: string): Promise<Array<{ namespace: string; id: string }>> {
  const quick = { reject: false, timeoutMs: 15_000 };
  const ids = (await ctr(['containers', 'ls', '-q'], quick)).stdout.split('\n').filter(Boolean);
  for (const id of ids) {
    await ctr(['tasks', 'delete', '--force', id], quick);
    await ctr(['containers', 'delete', id], quick);
  }
  return ids.map((id) => ({ namespace, id }));
}

function shimContainer(cmdline: string): Array<{ namespace: string; id: string }> {
  const namespace = /-namespace (\S+)/.exec(cmdline)?.[1];
  const id = /-id (\S+)/.exec(cmdline)?.[1];
  return namespace !== undefined && id !== undefined ? [{ namespace, id }] : [];
}

function removeEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // absent, or still holds state we could not delete
  }
}

// Last-resort cleanup after an engine is stopped: stray shims, runtime state, and mounts left under a temp dir.
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { stopProcess } from './daemon.js';
import { CRUN, RUNC } from './env.js';
import { mountsUnder, processesMatching } from './leaks.js';
import { runCommand } from './run.js';

/** Kills every process whose command line matches pattern; returns their pids. */
export async function killProcessesMatching(pattern: RegExp, graceMs = 2_000): Promise<number[]> {
  const victims = processesMatching(pattern);
  await Promise.all(victims.map((p) => stopProcess(p.pid, graceMs)));
  return victims.map((p) => p.pid);
}

/**
 * `RUNTIME --root ROOT delete --force ID` for each id still present in the state root. The runtime is told apart
 * by its state file (a wrapper may have delegated to either): runc's delete would just remove a crun state dir
 * it cannot parse and leave the container running. Returns the ids that were present.
 */
export async function forceDeleteContainers(root: string, ids: readonly string[]): Promise<string[]> {
  const present = ids.filter((id) => existsSync(path.join(root, id)));
  for (const id of present) {
    const runtime = existsSync(path.join(root, id, 'state.json')) ? RUNC : CRUN;
    await runCommand(runtime, ['--root', root, 'delete', '--force', id], { reject: false, timeoutMs: 20_000 });
  }
  return present;
}

/** Like forceDeleteContainers for every container in a state root that only we use, then removes the root. */
export async function forceDeleteAllContainersIn(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const present = await forceDeleteContainers(root, readdirSync(root));
  try {
    rmdirSync(root);
  } catch {
    // something could not be deleted; leave it visible rather than hide it
  }
  return present;
}

/**
 * Removes the (empty) cgroup directory relPath, e.g. a containerd namespace's parent "/NS", from every mounted
 * cgroup hierarchy, children first. Directories still holding processes stay, and are returned.
 */
export function removeCgroupDirs(relPath: string): string[] {
  const stuck: string[] = [];
  for (const hierarchy of cgroupHierarchies()) {
    const top = path.join(hierarchy, relPath);
    if (!existsSync(top)) continue;
    for (const dir of subdirsDeepestFirst(top)) {
      try {
        rmdirSync(dir);
      } catch {
        stuck.push(dir);
      }
    }
  }
  return stuck;
}

function cgroupHierarchies(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => {
      const fsType = fields[fields.indexOf('-') + 1];
      return fsType === 'cgroup' || fsType === 'cgroup2';
    })
    .map((fields) => fields[4])
    .filter((mp): mp is string => mp !== undefined);
}

function subdirsDeepestFirst(dir: string): string[] {
  const children = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => subdirsDeepestFirst(path.join(dir, entry.name)));
  return [...children, dir];
}

/** Lazily unmounts every mount point at or below dir, deepest first, so the temp dir can be removed. */
export async function unmountUnder(dir: string): Promise<string[]> {
  const mountPoints = mountsUnder(dir);
  for (const mp of mountPoints) {
    await runCommand('umount', ['-l', mp], { reject: false });
  }
  return mountPoints;
}

/** Regex-escapes a literal (paths end up inside patterns matched against command lines). */
export function escapeRegExp(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

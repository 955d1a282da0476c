/**
 * The agent is started from inside an engine's process tree (a shim, containerd, dockerd, conmon),
 * but must not live or die with it: `systemctl restart containerd` kills the unit's cgroup, and an
 * engine's memory limit is not ours. So the agent moves itself into a cgroup of its own, `oci-ftrace`
 * at the root of every cgroup hierarchy it can write (cgroup v2, and each v1 controller), shared by
 * all agents and left in place for the next. Best effort: where it cannot, it says so in our log.
 *
 * That cgroup gets AGENT_CPU_WEIGHT: the scheduler shares CPU between sibling cgroups before it
 * looks at threads' nice values, so at the default weight a drain needing most of a CPU for one
 * syscall-bound container got a third of what two busy neighbours left it, and its buffer wrapped
 * (lost events). Its work is the traced containers' own doing, and it is idle when they are quiet.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const AGENT_CGROUP = 'oci-ftrace';
/** cgroup v2 `cpu.weight` (default 100, at most 10000); v1 `cpu.shares` is the same ratio of 1024. */
export const AGENT_CPU_WEIGHT = 1000;

interface CgroupMount {
  path: string;
  v2: boolean;
  /** v1: the controllers (or name=...) it holds. */
  options: string[];
}

/** cgroup and cgroup2 mounts from mountinfo (pure). */
export function cgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [fstype, , superOptions] = right.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const path = (fields[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    mounts.push({ path, v2: fstype === 'cgroup2', options: (superOptions ?? '').split(',') });
  }
  return mounts;
}

/** Move this process into AGENT_CGROUP of every hierarchy it is in; returns the hierarchies it could not. */
export function leaveCallersCgroups(pid = process.pid): string[] {
  const failed: string[] = [];
  let mounts: CgroupMount[];
  let own: string;
  try {
    mounts = cgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
    own = readFileSync('/proc/self/cgroup', 'utf8');
  } catch (err) {
    return [(err as Error).message];
  }
  for (const line of own.split('\n').filter(Boolean)) {
    const [, controllers = '', current = ''] = line.split(':');
    if (current === `/${AGENT_CGROUP}`) continue;
    const mount = controllers === '' ? mounts.find((m) => m.v2) : mounts.find((m) => !m.v2 && controllers.split(',').every((c) => m.options.includes(c)));
    if (!mount) continue;
    try {
      const dir = join(mount.path, AGENT_CGROUP);
      mkdirSync(dir, { recursive: true });
      // A v1 cpuset cgroup takes no task until it has CPUs and memory nodes: the root's.
      if (!mount.v2 && controllers.split(',').includes('cpuset')) {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) {
          if (readFileSync(join(dir, f), 'utf8').trim() === '') writeFileSync(join(dir, f), readFileSync(join(mount.path, f), 'utf8').trim());
        }
      }
      writeFileSync(join(dir, 'cgroup.procs'), String(pid));
      setCpuWeight(dir, mount.v2, controllers);
    } catch (err) {
      failed.push(`${controllers || 'cgroup2'}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return failed;
}

/** The agent cgroup's CPU weight, where this hierarchy has the cpu controller. */
function setCpuWeight(dir: string, v2: boolean, controllers: string): void {
  if (v2) {
    // Present only where the parent delegates the cpu controller.
    if (existsSync(join(dir, 'cpu.weight'))) writeFileSync(join(dir, 'cpu.weight'), String(AGENT_CPU_WEIGHT));
  } else if (controllers.split(',').includes('cpu')) {
    writeFileSync(join(dir, 'cpu.shares'), String(Math.round((AGENT_CPU_WEIGHT * 1024) / 100)));
  }
}

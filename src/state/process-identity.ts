import { readFileSync } from 'node:fs';

/*
 * A process named so that pid reuse cannot fool us: `PID:STARTTIME`, the start time being field 22
 * of /proc/PID/stat (clock ticks since boot), which exec does not change.
 */

/** `PID:STARTTIME` of a live process (starttime: field 22 of /proc/PID/stat), or undefined. */
export function processIdentity(pid: number): string | undefined {
  const start = startTimeOf(pid);
  return start === undefined ? undefined : `${pid}:${start}`;
}

/** Field 22 of /proc/PID/stat, or undefined when the process is gone. */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Is the process `PID:STARTTIME` still there (and not a zombie)? */
export function isSameProcessAlive(identity: string): boolean {
  const [pid, start] = identity.split(':');
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] === start && fields[0] !== 'Z' && fields[0] !== 'X';
  } catch {
    return false;
  }
}


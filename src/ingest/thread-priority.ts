/**
 * The drain thread's CPU priority. A drain that falls behind the container it drains loses events
 * for good once the kernel's buffer wraps, and the events it must keep up with are the container's
 * own doing: so draining runs above the containers (nice DRAIN_NICE), and the text log, which can
 * wait, renders at the containers' level. Linux gives each thread its own nice value
 * (setpriority(PRIO_PROCESS, tid)); /proc/thread-self names the calling thread.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Draining: ahead of the containers (nice 0), as far as a shell's `renice` would commonly go. */
export const DRAIN_NICE = -10;
/** Rendering the text log: the containers' own level. */
export const RENDER_NICE = 0;

/** The calling thread's kernel id, or undefined where /proc does not say. */
export function currentThreadId(): number | undefined {
  try {
    const m = /\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Set a thread's nice value; the kernel's refusal (no CAP_SYS_NICE: rootless) as an error message. */
export function setThreadNice(tid: number | undefined, nice: number): string | undefined {
  if (tid === undefined) return 'this thread has no id in /proc/thread-self';
  try {
    setPriority(tid, nice);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

import type { EventHeader, TraceEvent } from '../../src/trace/events.js';

/*
 * One line of ftrace text output, for example (record-tgid on):
 *            sleep-7681    (   7681) [000] .....   309.444450: sys_enter: NR 273 (7feca6b61a20, 18, 0, 0, 0, 0)
 * The task name may itself contain spaces or dashes (`runc:[2:INIT]`, `kworker/0:1-ev`), so the
 * header is anchored on the last `-<pid>` before the optional `(tgid)` and the `[cpu]` column.
 */
const HEADER = /^\s*(.*?)-(\d+)\s+(?:\(\s*(\d+|-+)\)\s+)?\[(\d+)\]\s+\S+\s+(\d+\.\d+):\s+([a-z_]+):\s?(.*)$/;
const ENTER = /^NR (-?\d+) \(([0-9a-f, ]*)\)$/;
const EXIT = /^NR (-?\d+) = (-?\d+)$/;
const EXEC = /^filename=(.*) pid=(\d+) old_pid=(\d+)$/;
const FORK = /^comm=(.*) pid=(\d+) child_comm=(.*) child_pid=(\d+)$/;
const NEWTASK = /^pid=(\d+) comm=(.*) clone_flags=([0-9a-f]+) oom_score_adj=(-?\d+)$/;
const RENAME = /^pid=(\d+) oldcomm=(.*) newcomm=(.*) oom_score_adj=(-?\d+)$/;
/** CLONE_THREAD in clone_flags. */
export const CLONE_THREAD = 0x10000n;
// `group_dead` was added in newer kernels (6.x); older ones end at prio.
const EXIT_PROC = /^comm=(.*) pid=(\d+) prio=(-?\d+)(?: group_dead=(?:true|false))?$/;

/** Parse one text line; undefined for comments, blank lines and events we did not enable. */
export function parseTraceLine(line: string): TraceEvent | undefined {
  if (line.length === 0 || line.charCodeAt(0) === 35 /* # */) return undefined;
  const m = HEADER.exec(line);
  if (!m) return undefined;
  const tgidText = m[3];
  const header: EventHeader = {
    comm: m[1] ?? '',
    pid: Number(m[2]),
    tgid: tgidText !== undefined && /^\d+$/.test(tgidText) ? Number(tgidText) : undefined,
    cpu: Number(m[4]),
    timestamp: Number(m[5]),
  };
  const event = m[6];
  const body = m[7] ?? '';
  switch (event) {
    case 'sys_enter': {
      const e = ENTER.exec(body);
      if (!e) return undefined;
      return { ...header, kind: 'sys_enter', nr: Number(e[1]), args: (e[2] ?? '').split(', ') };
    }
    case 'sys_exit': {
      const e = EXIT.exec(body);
      if (!e) return undefined;
      return { ...header, kind: 'sys_exit', nr: Number(e[1]), ret: BigInt(e[2] ?? '0') };
    }
    case 'sched_process_exec': {
      const e = EXEC.exec(body);
      if (!e) return undefined;
      return { ...header, kind: 'exec', filename: e[1] ?? '', execPid: Number(e[2]), oldPid: Number(e[3]) };
    }
    case 'sched_process_fork': {
      const e = FORK.exec(body);
      if (!e) return undefined;
      return { ...header, kind: 'fork', parentPid: Number(e[2]), childComm: e[3] ?? '', childPid: Number(e[4]) };
    }
    case 'task_newtask': {
      const e = NEWTASK.exec(body);
      if (!e) return undefined;
      const thread = (BigInt(`0x${e[3] ?? '0'}`) & CLONE_THREAD) !== 0n;
      return { ...header, kind: 'fork', parentPid: header.pid, childComm: e[2] ?? '', childPid: Number(e[1]), thread };
    }
    case 'task_rename': {
      const e = RENAME.exec(body);
      if (!e) return undefined;
      return { ...header, kind: 'rename', renamedPid: Number(e[1]), newComm: e[3] ?? '' };
    }
    case 'sched_process_exit': {
      const e = EXIT_PROC.exec(body);
      if (!e) return undefined;
      return { ...header, kind: 'exit', exitPid: Number(e[2]) };
    }
    default:
      return undefined;
  }
}

/**
 * The `entries-in-buffer/entries-written: A/B` header of a `trace` read: B - A events were
 * overwritten in the ring buffer before anyone read them.
 */
export function parseEntriesHeader(line: string): { inBuffer: number; written: number } | undefined {
  const m = /^# entries-in-buffer\/entries-written: (\d+)\/(\d+)/.exec(line);
  return m ? { inBuffer: Number(m[1]), written: Number(m[2]) } : undefined;
}

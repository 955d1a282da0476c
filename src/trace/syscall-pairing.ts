import type { SysEnterEvent, SysExitEvent, TraceEvent } from './events.js';

/** One system call as seen by ftrace: its entry, and its exit when there was one. */
export interface SyscallRecord {
  pid: number;
  tgid: number | undefined;
  comm: string;
  nr: number;
  /** Raw argument registers (hex, no 0x); empty when only the exit was seen. */
  args: string[];
  /** Entry time; the exit time when the entry happened before tracing started. */
  timestamp: number;
  /** Undefined when the call never returned (exit_group, a killed task, trace end). */
  ret: bigint | undefined;
  /** When the call returned, if it did. */
  exitTimestamp?: number | undefined;
  /** Seccomp stopped it: an exit with no entry (see BlockedStats in src/report/aggregate.ts). */
  blocked?: boolean;
}

/**
 * Pairs `sys_enter` with `sys_exit` per thread, in arrival order, and hands out one record per
 * call. A thread is inside at most one syscall at a time, so one pending entry per pid suffices;
 * memory is bounded by the number of live threads, not by the number of events.
 */
export class SyscallPairer {
  private readonly pending = new Map<number, SysEnterEvent>();
  /** Initial tasks not yet seen: the first event of one may be the exit of a call begun before tracing. */
  private readonly unseenInitial: Set<number>;

  /**
   * @param forkSyscalls numbers of clone/clone3/fork/vfork on the traced arch: a new task's first
   * event is the child half of its parent's call returning 0, which is not a call of its own.
   * @param initialTasks the tasks tracing began with (the runtime's init, waiting in a call).
   */
  constructor(
    private readonly emit: (record: SyscallRecord) => void,
    private readonly forkSyscalls: ReadonlySet<number> = new Set(),
    initialTasks: Iterable<number> = [],
    /** everyTask: any task's first event may end a call begun before (a trace adopted mid-way). */
    private everyTask = false,
  ) {
    this.unseenInitial = new Set(initialTasks);
  }

  /** A task traced from now on, in a call begun before (as an initial task is). */
  addInitialTask(pid: number): void {
    this.unseenInitial.add(pid);
  }

  /** From here on, as everyTask: a part of the trace before was dropped (the log's cap). */
  everyTaskMayBeMidCall(): void {
    this.everyTask = true;
    this.seen.clear();
  }

  /** Tasks seen at all (for everyTask). */
  private readonly seen = new Set<number>();

  push(event: TraceEvent): void {
    switch (event.kind) {
      case 'exec': {
        // A thread other than the leader that execs takes the leader's pid: its execve returns there.
        if (event.oldPid !== event.execPid) {
          const open = this.pending.get(event.oldPid);
          if (open) {
            this.pending.delete(event.oldPid);
            this.pending.set(event.execPid, { ...open, pid: event.execPid });
          }
        }
        break;
      }
      case 'sys_enter': {
        this.unseenInitial.delete(event.pid);
        if (this.everyTask) this.seen.add(event.pid);
        const previous = this.pending.get(event.pid);
        // A second entry without an exit: the first never returned (or its exit was lost).
        if (previous) this.emit(unfinished(previous));
        this.pending.set(event.pid, event);
        break;
      }
      case 'sys_exit':
        this.onExit(event);
        break;
      case 'exit': {
        // The task is gone: whatever it was inside (exit/exit_group) will never return.
        const previous = this.pending.get(event.exitPid);
        if (previous) {
          this.pending.delete(event.exitPid);
          this.emit(unfinished(previous));
        }
        break;
      }
      default:
        break;
    }
  }

  /** Emit every call still open (trace end). */
  flush(): void {
    for (const enter of this.pending.values()) this.emit(unfinished(enter));
    this.pending.clear();
  }

  private onExit(exit: SysExitEvent): void {
    let firstOfInitial = this.unseenInitial.delete(exit.pid);
    if (this.everyTask && !this.seen.has(exit.pid)) {
      this.seen.add(exit.pid);
      firstOfInitial = true;
    }
    const enter = this.pending.get(exit.pid);
    // rt_sigreturn (and restarted calls) exit with NR -1: the kernel's orig_ax was reset by the
    // restored frame. It still closes the call the thread entered.
    if (enter && (enter.nr === exit.nr || exit.nr < 0)) {
      this.pending.delete(exit.pid);
      this.emit(record(enter, enter.args, enter.timestamp, exit.ret, exit.timestamp));
      return;
    }
    if (enter) {
      // Mismatched numbers: the entry's exit was lost; report both honestly.
      this.pending.delete(exit.pid);
      this.emit(unfinished(enter));
    }
    // An exit with no number and no entry says nothing about which call it was.
    if (exit.nr < 0) return;
    if (exit.ret === 0n && this.forkSyscalls.has(exit.nr)) return;
    // An exit with no entry. The first event of a task tracing began with: its call began before
    // tracing did (the runtime's init blocked in its sync read), and is a call the container made.
    // Any other: seccomp stopped it before it ran.
    const r = record(exit, [], exit.timestamp, exit.ret, exit.timestamp);
    if (!firstOfInitial) r.blocked = true;
    this.emit(r);
  }
}

// Records are built as full literals: object spread costs ten times more on this hot path
// (millions of calls per second).
function record(e: SysEnterEvent | SysExitEvent, args: string[], timestamp: number, ret: bigint | undefined, exitTimestamp: number | undefined): SyscallRecord {
  return { pid: e.pid, tgid: e.tgid, comm: e.comm, nr: e.nr, args, timestamp, ret, exitTimestamp };
}

function unfinished(enter: SysEnterEvent): SyscallRecord {
  return record(enter, enter.args, enter.timestamp, undefined, undefined);
}

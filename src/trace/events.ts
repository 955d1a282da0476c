/**
 * The events we enable in a container's ftrace instance, as parsed from the text that tracefs
 * prints (`trace`, `trace_pipe`). Pure data; no I/O.
 */
export interface EventHeader {
  /** Task name as ftrace printed it (may be `<...>` when the kernel's comm cache missed). */
  comm: string;
  /** Thread id (the kernel's pid). */
  pid: number;
  /** Thread group id (process id) when `options/record-tgid` is on, else undefined. */
  tgid: number | undefined;
  cpu: number;
  /** Seconds, as ftrace prints them (trace_clock dependent). */
  timestamp: number;
}

export interface SysEnterEvent extends EventHeader {
  kind: 'sys_enter';
  nr: number;
  /** The six raw argument registers, hex as printed (no 0x). */
  args: string[];
}

export interface SysExitEvent extends EventHeader {
  kind: 'sys_exit';
  nr: number;
  /** Signed return value; bigint because pointers and -errno both need 64 bits. */
  ret: bigint;
}

export interface ProcessExecEvent extends EventHeader {
  kind: 'exec';
  filename: string;
  /** pid after exec (differs from old_pid when a non-leader thread execs). */
  execPid: number;
  oldPid: number;
}

/** A new task: task/task_newtask (which says whether it is a thread), or sched/sched_process_fork. */
export interface ProcessForkEvent extends EventHeader {
  kind: 'fork';
  parentPid: number;
  childComm: string;
  childPid: number;
  /** CLONE_THREAD: a thread of the parent's process. Undefined when the event does not say (sched_process_fork). */
  thread?: boolean;
}

export interface ProcessExitEvent extends EventHeader {
  kind: 'exit';
  exitPid: number;
}

/** A task's name changed (task/task_rename: prctl(PR_SET_NAME), as busybox does for its applets). */
export interface ProcessRenameEvent extends EventHeader {
  kind: 'rename';
  renamedPid: number;
  newComm: string;
}

/** A capability check (capability/cap_capable): the kernel asked whether the task holds `cap`. */
export interface CapableEvent extends EventHeader {
  kind: 'capable';
  cap: number;
  /** 0: granted; a negative errno (-EPERM): denied. */
  ret: number;
  /**
   * Granted in the namespace it was asked against (target_ns == capable_ns: the task's own user
   * namespace), or in an outer one (false: the target is a namespace the task made). Null when
   * denied: the kernel then gives no capable_ns.
   */
  sameNamespace: boolean | null;
}

export type TraceEvent = SysEnterEvent | SysExitEvent | ProcessExecEvent | ProcessForkEvent | ProcessExitEvent | ProcessRenameEvent | CapableEvent;

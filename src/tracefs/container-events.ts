/**
 * The events an instance records for a container: syscalls plus the process lifecycle. New tasks
 * come from task_newtask rather than sched_process_fork: its clone_flags say whether the child is a
 * thread, so the process tree never depends on /proc (a short-lived task is gone before its events
 * are read); task_rename keeps names exact (busybox names each applet's process after it).
 */
export const CONTAINER_EVENTS = [
  'raw_syscalls/sys_enter',
  'raw_syscalls/sys_exit',
  'sched/sched_process_exec',
  'task/task_newtask',
  'task/task_rename',
  'sched/sched_process_exit',
] as const;

/**
 * Capability checks (cap_capable: fields cred, target_ns, capable_ns, cap, ret), recorded in the
 * same instance and pid filter as the syscalls where the kernel has the event (Linux 6.14 and later).
 */
export const CAPABILITY_EVENT = 'capability/cap_capable';

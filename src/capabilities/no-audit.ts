/**
 * The capability checks a kernel makes "no-audit" (CAP_OPT_NOAUDIT: the caller does not need the
 * capability, it only asks whether the task has it) look to the cap_capable tracepoint like any
 * other. These are the ones common enough to mislead, by the syscall they happen in:
 *
 *  - CAP_SYS_ADMIN against the initial user namespace, for memory overcommit accounting
 *    (cap_vm_enough_memory): every accountable mapping, so mmap, brk, mremap, mprotect, and the
 *    copies of mappings in fork and exec; also stack growth on a page fault, outside any syscall.
 *  - CAP_SYS_PTRACE, for ptrace_may_access(PTRACE_MODE_NOAUDIT): reading another process's /proc
 *    entries (ps, top, a shell's job control).
 *
 * A check in one of these syscalls is only likely no-audit: the same syscall may make an audited
 * check of the same capability too. So a granted one is kept in the list (more than needed, never
 * less); `verify --minimize` proves whether it is needed. Pure.
 */
const MEMORY_ACCOUNTING = ['mmap', 'mmap2', 'brk', 'mremap', 'mprotect', 'pkey_mprotect', 'execve', 'execveat', 'clone', 'clone3', 'fork', 'vfork', 'shmget', 'shmat', 'io_uring_setup'];
const PROC_ACCESS = ['open', 'openat', 'openat2', 'read', 'pread64', 'readlink', 'readlinkat', 'stat', 'lstat', 'fstat', 'newfstatat', 'fstatat64', 'statx', 'access', 'faccessat', 'faccessat2', 'getdents', 'getdents64', 'chdir', 'kill', 'pidfd_open'];

const LIKELY: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['CAP_SYS_ADMIN', new Set(MEMORY_ACCOUNTING)],
  ['CAP_SYS_PTRACE', new Set(PROC_ACCESS)],
]);

/** Capabilities a no-audit check asks for outside any syscall (a page fault growing the stack). */
const OUTSIDE_SYSCALLS = new Set(['CAP_SYS_ADMIN']);

/** The name a check outside any syscall is filed under. */
export const NO_SYSCALL = '(none)';

/** Is a check of `capability` during `syscall` (or NO_SYSCALL) likely a no-audit one? */
export function isLikelyNoAudit(capability: string, syscall: string): boolean {
  if (syscall === NO_SYSCALL) return OUTSIDE_SYSCALLS.has(capability);
  return LIKELY.get(capability)?.has(syscall) === true;
}

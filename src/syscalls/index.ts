/**
 * Syscall and errno names for traces from ftrace's raw_syscalls events, on x86_64 and aarch64.
 * Pure lookups over tables generated from kernel headers (scripts/gen-syscall-tables.mjs).
 */
export { ARCHES, archFromNodeArch, hostArch, isArch, seccompArchitectures, type Arch } from './arch.js';
export { allSyscallNames, forkSyscallNumbers, syscallName, syscallNumber } from './syscall-names.js';
export { describeReturn, errnoDescription, errnoName, errnoNumber, type ErrnoEntry } from './errno-names.js';

/**
 * Syscall number <-> name for the numbers ftrace's raw_syscalls events print (`NR 257`).
 * Names are the kernel's __NR_ names (fstat, newfstatat), which libseccomp and OCI profiles use;
 * tracefs's per-syscall events sometimes differ (sys_enter_newfstat).
 */
import { isArch, type Arch } from './arch.js';
import { aarch64Syscalls } from './tables/aarch64.js';
import { x86_64Syscalls } from './tables/x86_64.js';

interface SyscallTable {
  readonly byName: ReadonlyMap<string, number>;
  readonly byNumber: ReadonlyMap<number, string>;
  /** Alphabetical. */
  readonly names: readonly string[];
}

function indexTable(table: Readonly<Record<string, number>>): SyscallTable {
  const entries = Object.entries(table);
  return {
    byName: new Map(entries),
    byNumber: new Map(entries.map(([name, nr]) => [nr, name])),
    names: Object.freeze(entries.map(([name]) => name).sort()),
  };
}

const TABLES: Readonly<Record<Arch, SyscallTable>> = {
  x86_64: indexTable(x86_64Syscalls),
  aarch64: indexTable(aarch64Syscalls),
};

function tableFor(arch: Arch): SyscallTable {
  // Arch is a type only; a value cast from untrusted input must not reach Object's prototype.
  if (!isArch(arch)) throw new Error(`unsupported architecture "${String(arch)}": oci-ftrace supports x86_64 and aarch64`);
  return TABLES[arch];
}

/** Name of syscall `nr` on `arch`; numbers the tables lack come back as `syscall_<nr>`. */
export function syscallName(nr: number, arch: Arch): string {
  return tableFor(arch).byNumber.get(nr) ?? `syscall_${nr}`;
}

/** Number of syscall `name` on `arch`, or undefined when `arch` has no such syscall. */
export function syscallNumber(name: string, arch: Arch): number | undefined {
  return tableFor(arch).byName.get(name);
}

/** Every syscall name `arch` defines, alphabetically. */
export function allSyscallNames(arch: Arch): readonly string[] {
  return tableFor(arch).names;
}

/** Syscalls that create a task, whose child returns 0 from a call it never entered (in its own trace). */
const FORK_SYSCALLS = ['clone', 'clone3', 'fork', 'vfork'] as const;

/** Numbers of clone, clone3, fork and vfork on `arch` (those it has: aarch64 has no fork/vfork). */
export function forkSyscallNumbers(arch: Arch): ReadonlySet<number> {
  const table = tableFor(arch);
  return new Set(FORK_SYSCALLS.flatMap((name) => table.byName.get(name) ?? []));
}

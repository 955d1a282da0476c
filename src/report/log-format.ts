import { capabilityName } from '../capabilities/index.js';
import type { CapableEvent } from '../trace/events.js';
import type { SyscallRecord } from '../trace/syscall-pairing.js';

export interface LogFormatContext {
  syscallName: (nr: number) => string;
  /** Names of the syscall's arguments (from the kernel's syscall event formats), if known. */
  argNames: (name: string) => readonly string[] | undefined;
  describeReturn: (ret: bigint) => string;
}

/**
 * One line of `ftrace_syscalls_dump.log`:
 *   <timestamp> <task> <pid> <syscall>(<arg>: 0x<hex>, ...) = <ret>[ <ERRNO> (<text>)]
 * Arguments are the raw registers (ftrace cannot read user memory here), named where the kernel
 * publishes the syscall's signature.
 */
export function formatSyscallLine(r: SyscallRecord, ctx: LogFormatContext): string {
  const name = ctx.syscallName(r.nr);
  const names = ctx.argNames(name);
  let args: string;
  if (r.args.length === 0) args = '?'; // entry happened before tracing began
  else if (names) args = names.map((n, i) => `${n}: 0x${r.args[i] ?? '?'}`).join(', ');
  else args = r.args.map((a) => `0x${a}`).join(', ');
  let ret = r.ret === undefined ? '?' : ctx.describeReturn(r.ret);
  // Stopped by seccomp before it ran: answered with an errno, or (the exit carries the syscall
  // number, rolled back for the core dump) with SIGSYS.
  if (r.blocked) ret = r.ret === BigInt(r.nr) ? '? SIGSYS (blocked by seccomp)' : `${ret} (blocked by seccomp)`;
  return `${r.timestamp.toFixed(6)} ${r.comm} ${r.pid} ${name}(${args}) = ${ret}`;
}

/**
 * A capability check, on the line before the call it happened in (calls are written as they return),
 * in a form no reader of the log takes for a syscall (no `name(`):
 *   <timestamp> <task> <pid> cap_capable: CAP_NET_RAW granted|denied[, from an outer user namespace]
 */
export function formatCapabilityLine(e: CapableEvent): string {
  return `${e.timestamp.toFixed(6)} ${e.comm} ${e.pid} cap_capable: ${capabilityName(e.cap)} ${e.ret === 0 ? 'granted' : 'denied'}${e.sameNamespace === false ? ', from an outer user namespace' : ''}`;
}

export function logHeaderLines(meta: { containerId: string; arch: string; clock: string }): string[] {
  return [
    `# oci-ftrace syscall log: container ${meta.containerId}, arch ${meta.arch}, clock ${meta.clock}`,
    '# timestamp task pid syscall(args) = return',
    "# timestamp task pid cap_capable: CAP_X granted|denied: a capability check, during the call on a later line of that pid",
  ];
}

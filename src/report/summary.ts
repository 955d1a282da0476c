import { z } from 'zod';
import type { TraceAggregate } from './aggregate.js';

/** Event loss, as the kernel counted it per CPU (per_cpu/cpuN/stats). */
export const LossSchema = z.object({
  /** Events lost in all: overwritten before being read, plus dropped. Exact, from the kernel. */
  lost: z.number().int().nonnegative(),
  overrun: z.number().int().nonnegative(),
  dropped: z.number().int().nonnegative(),
  perCpu: z.array(z.object({ cpu: z.number().int(), overrun: z.number().int(), dropped: z.number().int() })),
});
export type Loss = z.infer<typeof LossSchema>;

export const SyscallSummarySchema = z.object({
  nr: z.number().int(),
  count: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  /** errno name -> count. */
  errnos: z.record(z.string(), z.number().int().positive()),
  firstSeen: z.number(),
  lastSeen: z.number(),
  pids: z.array(z.number().int()),
});

export const ProcessSummarySchema = z.object({
  pid: z.number().int(),
  comm: z.string(),
  parentPid: z.number().int().nullable(),
  execs: z.array(z.string()),
  execsDropped: z.number().int().nonnegative(),
  threads: z.array(z.number().int()),
  syscalls: z.number().int().nonnegative(),
  firstSeen: z.number(),
  lastSeen: z.number(),
});

/** The JSON summary written at report time (and answered by livedump). Versioned: others parse it. */
export const SummarySchema = z.object({
  schemaVersion: z.literal(1),
  tool: z.literal('oci-ftrace'),
  containerId: z.string(),
  arch: z.enum(['x86_64', 'aarch64']),
  /** 'final' at poststop, 'live' for a livedump of a running container. */
  kind: z.enum(['final', 'live']),
  generatedAt: z.string(),
  trace: z.object({
    source: z.enum(['ring-buffer', 'collector']),
    clock: z.string(),
    firstTimestamp: z.number().nullable(),
    lastTimestamp: z.number().nullable(),
    syscallsTotal: z.number().int().nonnegative(),
  }),
  loss: LossSchema,
  /**
   * Where a seccomp profile starts: the runtime's own filter load (exact), else the first exec
   * (an approximation that misses what the runtime does after it), else nothing seen.
   */
  profileStart: z.object({
    kind: z.enum(['seccomp-load', 'first-exec', 'none']),
    timestamp: z.number().nullable(),
    pid: z.number().int().nullable(),
  }),
  /** syscall name -> stats, sorted by name. */
  syscalls: z.record(z.string(), SyscallSummarySchema),
  /** pid (process, i.e. thread group) -> stats. */
  processes: z.record(z.string(), ProcessSummarySchema),
});
export type Summary = z.infer<typeof SummarySchema>;

export interface SummaryContext {
  containerId: string;
  arch: Summary['arch'];
  kind: Summary['kind'];
  source: Summary['trace']['source'];
  clock: string;
  loss: Loss;
  now: Date;
  syscallName: (nr: number) => string;
  errnoName: (errno: number) => string | undefined;
}

/** Pure: aggregate + context -> summary object (validated by construction, checked in tests). */
export function buildSummary(agg: TraceAggregate, ctx: SummaryContext): Summary {
  const syscalls: Summary['syscalls'] = {};
  const named = [...agg.syscalls.values()].map((s) => [ctx.syscallName(s.nr), s] as const);
  named.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, s] of named) {
    const errnos: Record<string, number> = {};
    for (const [errno, count] of [...s.errnos.entries()].sort((a, b) => a[0] - b[0])) {
      errnos[ctx.errnoName(errno) ?? `E${errno}`] = count;
    }
    syscalls[name] = {
      nr: s.nr,
      count: s.count,
      errors: s.errors,
      errnos,
      firstSeen: s.firstSeen,
      lastSeen: s.lastSeen,
      pids: [...s.pids].sort((a, b) => a - b),
    };
  }
  const processes: Summary['processes'] = {};
  for (const p of [...agg.processes.values()].sort((a, b) => a.pid - b.pid)) {
    processes[String(p.pid)] = {
      pid: p.pid,
      comm: p.comm,
      parentPid: p.parentPid ?? null,
      execs: p.execs,
      execsDropped: p.execsDropped,
      threads: [...p.threads].sort((a, b) => a - b),
      syscalls: p.syscalls,
      firstSeen: p.firstSeen,
      lastSeen: p.lastSeen,
    };
  }
  return {
    schemaVersion: 1,
    tool: 'oci-ftrace',
    containerId: ctx.containerId,
    arch: ctx.arch,
    kind: ctx.kind,
    generatedAt: ctx.now.toISOString(),
    trace: {
      source: ctx.source,
      clock: ctx.clock,
      firstTimestamp: agg.firstTimestamp ?? null,
      lastTimestamp: agg.lastTimestamp ?? null,
      syscallsTotal: agg.totalSyscalls,
    },
    loss: ctx.loss,
    profileStart: agg.profileStart(),
    syscalls,
    processes,
  };
}

/** The first line of every report: loss is never silent. */
export function reportHeadline(summary: Summary): string {
  const n = Object.keys(summary.syscalls).length;
  const lost = summary.loss.lost === 0 ? '0 events lost' : `${summary.loss.lost} EVENTS LOST (trace incomplete)`;
  return `oci-ftrace: container ${summary.containerId}: ${summary.trace.syscallsTotal} syscalls, ${n} distinct, ${lost}`;
}

/**
 * The syscalls a profile must allow: those the container made at or after the profile's start
 * (lastSeen uses entry times, the start is the load's return, so the load itself is excluded).
 */
export function syscallsSinceProfileStart(summary: Summary): string[] {
  const start = summary.profileStart.timestamp;
  return Object.entries(summary.syscalls)
    .filter(([, s]) => start === null || s.lastSeen >= start)
    .map(([name]) => name)
    .sort();
}

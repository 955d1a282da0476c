import { KubernetesIdentitySchema } from '../kubernetes/identity.js';
import { z } from 'zod';
import { NO_SYSCALL, capabilityName, isLikelyNoAudit, sortCapabilities } from '../capabilities/index.js';
import type { TraceAggregate } from './aggregate.js';

/** Event loss, as the kernel counted it per CPU (per_cpu/cpuN/stats). */
export const LossSchema = z.object({
  /** Events lost in all: overwritten before being read, plus dropped. Exact, from the kernel. */
  lost: z.number().int().nonnegative(),
  overrun: z.number().int().nonnegative(),
  dropped: z.number().int().nonnegative(),
  perCpu: z.array(z.object({ cpu: z.number().int(), overrun: z.number().int(), dropped: z.number().int() })),
  /** Events the kernel says it handed to the agent (its `read events`), or still held at the end, that the agent never counted. */
  notIngested: z.number().int().positive().optional(),
});
export type Loss = z.infer<typeof LossSchema>;

/** Calls seccomp stopped before they ran (see BlockedStats in aggregate.ts). */
export const BlockedSummarySchema = z.object({
  count: z.number().int().positive(),
  /** errno name -> calls answered with it. */
  errnos: z.record(z.string(), z.number().int().positive()),
  /** Calls the kernel answered with SIGSYS (SCMP_ACT_KILL*, SCMP_ACT_TRAP). */
  killed: z.number().int().nonnegative(),
  firstSeen: z.number(),
  lastSeen: z.number(),
  /** The bundle profile's rule that stops it, as text, when the bundle's profile is known. */
  rule: z.string().optional(),
});

export const SyscallSummarySchema = z.object({
  nr: z.number().int(),
  /** Calls that ran. */
  count: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  /** errno name -> count. */
  errnos: z.record(z.string(), z.number().int().positive()),
  /** Entry times of the calls that ran; null when every call was blocked. */
  firstSeen: z.number().nullable(),
  lastSeen: z.number().nullable(),
  /** Processes that made it, run or blocked: the first 100 (MAX_PIDS_PER_SYSCALL). */
  pids: z.array(z.number().int()),
  /** More processes made it than `pids` lists. */
  pidsTruncated: z.literal(true).optional(),
  blocked: BlockedSummarySchema.optional(),
});

export const ProcessSummarySchema = z.object({
  pid: z.number().int(),
  comm: z.string(),
  parentPid: z.number().int().nullable(),
  execs: z.array(z.string()),
  execsDropped: z.number().int().nonnegative(),
  threads: z.array(z.number().int()),
  syscalls: z.number().int().nonnegative(),
  /** Of its calls, those seccomp stopped (not in syscalls). */
  blocked: z.number().int().nonnegative().default(0),
  firstSeen: z.number(),
  lastSeen: z.number(),
  /** Entered by the runtime's exec (kubectl exec, an exec probe), not started by the init. */
  exec: z.boolean().optional(),
  /** Of an exec'd process: calls before its seccomp load, the runtime's (not in syscalls). */
  runtimeCalls: z.number().int().nonnegative().optional(),
});

const count = z.number().int().nonnegative();

/** Checks of one capability during one syscall. */
export const CapabilityCallSummarySchema = z.object({
  granted: count,
  denied: count,
  /** Of the calls during which it was denied: how the call ended, errno name or "ok" -> calls. */
  deniedOutcomes: z.record(z.string(), z.number().int().positive()).optional(),
  /** This capability checked in this syscall is likely a no-audit check (src/capabilities/no-audit.ts). */
  noAuditLikely: z.literal(true).optional(),
});

export const CapabilitySummarySchema = z.object({
  cap: z.number().int().nonnegative(),
  granted: count,
  denied: count,
  firstSeen: z.number(),
  lastSeen: z.number(),
  /** The first process that asked for it, and its name then. */
  firstPid: z.number().int(),
  firstComm: z.string(),
  /** Checks against the task's own user namespace, and against another one (outer, or one it made). */
  namespace: z.object({ own: count, other: count }),
  /** The syscall in flight when it was checked ("(none)": outside any) -> checks. */
  syscalls: z.record(z.string(), CapabilityCallSummarySchema),
});
export type CapabilitySummary = z.infer<typeof CapabilitySummarySchema>;

/** Capability checks (capability:cap_capable) by the workload; absent when they were not traced. */
export const CapabilitiesSectionSchema = z.object({
  /** Where the checks count from (said in words: the same start as the profile's, per process). */
  start: z.string(),
  /** What the tracepoint cannot tell. */
  note: z.string(),
  /** Checks before the start: the runtime's setup (not in checks). */
  runtimeChecks: count,
  /** The bundle's process.capabilities (all sets together); null when not known. */
  held: z.array(z.string()).nullable(),
  /** Capability name -> its checks, by number. */
  checks: z.record(z.string(), CapabilitySummarySchema),
});
export type CapabilitiesSection = z.infer<typeof CapabilitiesSectionSchema>;

export const CAPABILITY_START =
  "each process's checks count from its exec at or after the profile's start (the init's exec of the workload; an exec'd process's, after its own seccomp load), and its children's from their birth: the runtime's setup before it is not counted";
export const CAPABILITY_NOTE =
  'the kernel traces no-audit checks (a kernel asking only whether the task has a capability, as for memory overcommit) like the others: the capabilities used may hold more than the workload needs, never less; those marked "no-audit likely" were checked only where such checks are common (verify --minimize proves them)';

/**
 * How the container's seccomp profile was treated while it was traced (src/wrapper/record-mode.ts):
 * kept (enforced, as under the bare runtime), or not loaded at all (permissive: recorded from
 * scratch, by the container's own choice).
 */
export const SeccompSummarySchema = z.object({
  recordMode: z.enum(['keep', 'permissive']),
  /** The bundle had a profile of its own (null: not known). */
  bundleProfile: z.boolean().nullable(),
  /** Whether that profile was enforced while traced. */
  enforced: z.boolean(),
  note: z.string(),
});

/** The JSON summary written at report time (and answered by livedump). Versioned: others parse it. */
export const SummarySchema = z.object({
  /** 2 added blocked calls and the seccomp section; a 1 reads as a 2 without them. */
  schemaVersion: z.union([z.literal(1), z.literal(2)]).transform((): 2 => 2),
  tool: z.literal('oci-ftrace'),
  containerId: z.string(),
  arch: z.enum(['x86_64', 'aarch64']),
  /** 'final' at poststop, 'live' for a livedump of a running container. */
  kind: z.enum(['final', 'live']),
  generatedAt: z.string(),
  trace: z.object({
    /** 'collector': drained live by the agent (the name predates the agent; kept for readers of schema 2). */
    source: z.enum(['ring-buffer', 'collector']),
    clock: z.string(),
    firstTimestamp: z.number().nullable(),
    lastTimestamp: z.number().nullable(),
    /** Calls that ran. */
    syscallsTotal: z.number().int().nonnegative(),
    /** Calls seccomp stopped before they ran. */
    blockedTotal: z.number().int().nonnegative().default(0),
  }),
  loss: LossSchema,
  seccomp: SeccompSummarySchema.optional(),
  /**
   * The per-syscall text log: rendered after the summary is written, off the container's stop
   * path ("pending" until then, when the summary is written again), not asked for ("off"), or
   * given up when the output directory could not take it ("failed": our log says why).
   */
  log: z.enum(['pending', 'written', 'off', 'failed']).optional(),
  /**
   * Where a seccomp profile starts: the runtime's own filter load (exact), else the first exec
   * (an approximation that misses what the runtime does after it), else nothing seen.
   */
  profileStart: z.object({
    kind: z.enum(['seccomp-load', 'first-exec', 'none']),
    timestamp: z.number().nullable(),
    pid: z.number().int().nullable(),
  }),
  /** Who the container was in Kubernetes (from the CRI runtime's annotations), when it was a pod's. */
  kubernetes: KubernetesIdentitySchema.optional(),
  /** Capability checks by the workload (absent: not traced, as on kernels without capability:cap_capable). */
  capabilities: CapabilitiesSectionSchema.optional(),
  /** syscall name -> stats, sorted by name. */
  syscalls: z.record(z.string(), SyscallSummarySchema),
  /**
   * pid (process, i.e. thread group) -> stats: the live ones and the first 1,000 that ended
   * (MAX_ENDED_PROCESSES_KEPT). A pid the kernel gave to a later process as well is keyed
   * "PID.2", "PID.3" for those.
   */
  processes: z.record(z.string(), ProcessSummarySchema),
  /** The processes that ended beyond those, in all: how many, their calls, and their names. */
  processesFolded: z
    .object({
      count: count,
      syscalls: count,
      blocked: count,
      byComm: z.record(z.string(), z.number().int().positive()),
    })
    .optional(),
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
  /** How the container's profile was treated, when known. */
  seccomp?: Summary['seccomp'];
  kubernetes?: Summary['kubernetes'];
  log?: Summary['log'];
  /** Capability checks were traced; held: the bundle's process.capabilities (null: not known). */
  capabilities?: { held: readonly string[] | null } | undefined;
  /** The bundle profile's rule that stops a syscall, as text, when the profile is known. */
  blockingRule?: (name: string, blocked: { errnos: ReadonlyMap<number, number>; killed: number }) => string | undefined;
}

/** The seccomp section for a container (pure). */
export function seccompSummary(recordMode: 'keep' | 'permissive', bundleProfile: boolean | null): NonNullable<Summary['seccomp']> {
  if (recordMode === 'permissive') {
    return {
      recordMode,
      bundleProfile,
      enforced: false,
      note: bundleProfile === false
        ? 'recorded from scratch (oci-ftrace/record-seccomp: permissive): the bundle had no profile; a filter that blocks nothing was loaded to mark the start'
        : "RAN WITHOUT ITS SECCOMP PROFILE: recorded from scratch (oci-ftrace/record-seccomp: permissive), the container's own profile was not loaded",
    };
  }
  return {
    recordMode,
    bundleProfile,
    enforced: bundleProfile !== false,
    note: bundleProfile === false
      ? "the bundle has no seccomp profile: nothing was blocked, and nothing marks a profile's start (record with oci-ftrace/record-seccomp: permissive to make one)"
      : "the container's own seccomp profile was enforced; calls it stopped are shown as blocked",
  };
}

/** Pure: aggregate + context -> summary object (validated by construction, checked in tests). */
export function buildSummary(agg: TraceAggregate, ctx: SummaryContext): Summary {
  const syscalls: Summary['syscalls'] = {};
  const named = [...agg.syscalls.values()].map((s) => [ctx.syscallName(s.nr), s] as const);
  named.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const errnoNames = (m: ReadonlyMap<number, number>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [errno, count] of [...m.entries()].sort((a, b) => a[0] - b[0])) out[ctx.errnoName(errno) ?? `E${errno}`] = count;
    return out;
  };
  for (const [name, s] of named) {
    const entry: Summary['syscalls'][string] = {
      nr: s.nr,
      count: s.count,
      errors: s.errors,
      errnos: errnoNames(s.errnos),
      firstSeen: s.count > 0 ? s.firstSeen : null,
      lastSeen: s.count > 0 ? s.lastSeen : null,
      pids: [...s.pids].sort((a, b) => a - b),
      ...(s.pidsTruncated ? { pidsTruncated: true as const } : {}),
    };
    if (s.blocked) {
      const rule = ctx.blockingRule?.(name, s.blocked);
      entry.blocked = { count: s.blocked.count, errnos: errnoNames(s.blocked.errnos), killed: s.blocked.killed, firstSeen: s.blocked.firstSeen, lastSeen: s.blocked.lastSeen, ...(rule ? { rule } : {}) };
    }
    syscalls[name] = entry;
  }
  const processes: Summary['processes'] = {};
  // Keyed in order of appearance, so that a reused pid's first process keeps the plain key.
  const uses = new Map<number, number>();
  const keyed = agg
    .allProcesses()
    .sort((a, b) => a.firstSeen - b.firstSeen)
    .map((p) => {
      const n = (uses.get(p.pid) ?? 0) + 1;
      uses.set(p.pid, n);
      return [n === 1 ? String(p.pid) : `${p.pid}.${n}`, p] as const;
    });
  for (const [key, p] of keyed.sort(([, a], [, b]) => a.pid - b.pid || a.firstSeen - b.firstSeen)) {
    processes[key] = {
      pid: p.pid,
      comm: p.comm,
      parentPid: p.parentPid ?? null,
      execs: p.execs,
      execsDropped: p.execsDropped,
      threads: [...p.threads].sort((a, b) => a - b),
      syscalls: p.syscalls,
      blocked: p.blocked,
      firstSeen: p.firstSeen,
      lastSeen: p.lastSeen,
      ...(p.exec ? { exec: true, runtimeCalls: p.runtimeCalls } : {}),
    };
  }
  const capabilities = ctx.capabilities ? capabilitiesSection(agg, ctx.capabilities.held, ctx.syscallName, errnoNames) : undefined;
  return {
    schemaVersion: 2,
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
      blockedTotal: agg.totalBlocked,
    },
    loss: ctx.loss,
    ...(ctx.seccomp ? { seccomp: ctx.seccomp } : {}),
    ...(ctx.log ? { log: ctx.log } : {}),
    ...(ctx.kubernetes ? { kubernetes: ctx.kubernetes } : {}),
    profileStart: agg.profileStart(),
    ...(capabilities ? { capabilities } : {}),
    syscalls,
    processes,
    ...(agg.folded.count > 0 ? { processesFolded: { count: agg.folded.count, syscalls: agg.folded.syscalls, blocked: agg.folded.blocked, byComm: Object.fromEntries([...agg.folded.byComm].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) } } : {}),
  };
}

function capabilitiesSection(agg: TraceAggregate, held: readonly string[] | null, syscallName: (nr: number) => string, errnoNames: (m: ReadonlyMap<number, number>) => Record<string, number>): CapabilitiesSection {
  const checks: CapabilitiesSection['checks'] = {};
  for (const c of [...agg.capabilities.values()].sort((a, b) => a.cap - b.cap)) {
    const name = capabilityName(c.cap);
    const calls: CapabilitySummary['syscalls'] = {};
    const named = [...c.bySyscall].map(([nr, s]) => [nr < 0 ? NO_SYSCALL : syscallName(nr), s] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [syscall, s] of named) {
      const outcomes = errnoNames(new Map([...s.deniedOutcomes].filter(([e]) => e !== 0)));
      const ok = s.deniedOutcomes.get(0);
      calls[syscall] = {
        granted: s.granted,
        denied: s.denied,
        ...(s.deniedOutcomes.size > 0 ? { deniedOutcomes: { ...(ok ? { ok } : {}), ...outcomes } } : {}),
        ...(isLikelyNoAudit(name, syscall) ? { noAuditLikely: true as const } : {}),
      };
    }
    checks[name] = { cap: c.cap, granted: c.granted, denied: c.denied, firstSeen: c.firstSeen, lastSeen: c.lastSeen, firstPid: c.firstPid, firstComm: c.firstComm, namespace: { own: c.ownNamespace, other: c.otherNamespace }, syscalls: calls };
  }
  return { start: CAPABILITY_START, note: CAPABILITY_NOTE, runtimeChecks: agg.runtimeCapabilityChecks, held: held === null ? null : sortCapabilities(held), checks };
}

/** The capabilities the workload was granted at least once: those its run options must keep. */
export function capabilitiesUsed(summary: Summary): string[] {
  return sortCapabilities(Object.entries(summary.capabilities?.checks ?? {}).filter(([, c]) => c.granted > 0).map(([name]) => name));
}

/** A used capability granted only in syscalls where no-audit checks are common: maybe not needed. */
export function isOnlyNoAuditLikely(c: CapabilitySummary): boolean {
  const granted = Object.values(c.syscalls).filter((s) => s.granted > 0);
  return granted.length > 0 && granted.every((s) => s.noAuditLikely === true);
}

/** The capabilities the workload asked for and was denied, with the syscalls and how they ended. */
export function capabilitiesDenied(summary: Summary): { name: string; check: CapabilitySummary }[] {
  return Object.entries(summary.capabilities?.checks ?? {})
    .filter(([, c]) => c.denied > 0)
    .map(([name, check]) => ({ name, check }));
}

/** The bundle's capabilities the workload never asked for (empty when the bundle's are not known). */
export function capabilitiesHeldUnchecked(summary: Summary): string[] {
  const section = summary.capabilities;
  if (!section?.held) return [];
  return section.held.filter((c) => !(c in section.checks));
}

/** The first line of every report: loss is never silent. */
export function reportHeadline(summary: Summary): string {
  const n = Object.values(summary.syscalls).filter((s) => s.count > 0).length;
  const lost = summary.loss.lost === 0 ? '0 events lost' : `${summary.loss.lost} EVENTS LOST (trace incomplete)`;
  const blocked = summary.trace.blockedTotal > 0 ? `, ${summary.trace.blockedTotal} blocked by seccomp` : '';
  const unconfined = summary.seccomp && !summary.seccomp.enforced && summary.seccomp.bundleProfile !== false ? ', RAN WITHOUT ITS SECCOMP PROFILE' : '';
  return `oci-ftrace: container ${summary.containerId}: ${summary.trace.syscallsTotal} syscalls, ${n} distinct${blocked}, ${lost}${unconfined}`;
}

/**
 * The syscalls a profile must allow: those the container made at or after the profile's start
 * (lastSeen uses entry times, the start is the load's return, so the load itself is excluded).
 */
export function syscallsSinceProfileStart(summary: Summary): string[] {
  const start = summary.profileStart.timestamp;
  return Object.entries(summary.syscalls)
    .filter(([, s]) => s.count > 0 && s.lastSeen !== null && (start === null || s.lastSeen >= start))
    .map(([name]) => name)
    .sort();
}

/** The syscalls seccomp stopped at or after the profile's start (a profile made from the report keeps them stopped). */
export function blockedSinceProfileStart(summary: Summary): string[] {
  const start = summary.profileStart.timestamp;
  return Object.entries(summary.syscalls)
    .filter(([, s]) => s.blocked !== undefined && (start === null || s.blocked.lastSeen >= start))
    .map(([name]) => name)
    .sort();
}

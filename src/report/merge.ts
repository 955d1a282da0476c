import { MAX_PIDS_PER_SYSCALL } from './aggregate.js';
import type { CapabilitiesSection, CapabilitySummary, Summary } from './summary.js';

type SyscallEntry = Summary['syscalls'][string];
const minNullable = (x: number | null, y: number | null): number | null => (x === null ? y : y === null ? x : Math.min(x, y));
const maxNullable = (x: number | null, y: number | null): number | null => (x === null ? y : y === null ? x : Math.max(x, y));
type ProcessEntry = Summary['processes'][string];

function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

type BlockedEntry = NonNullable<SyscallEntry['blocked']>;

function mergeBlocked(a: BlockedEntry | undefined, b: BlockedEntry | undefined): BlockedEntry | undefined {
  if (!a || !b) return a ?? b;
  return {
    count: a.count + b.count,
    errnos: addCounts(a.errnos, b.errnos),
    killed: a.killed + b.killed,
    firstSeen: Math.min(a.firstSeen, b.firstSeen),
    lastSeen: Math.max(a.lastSeen, b.lastSeen),
    ...(a.rule ?? b.rule ? { rule: (a.rule ?? b.rule) as string } : {}),
  };
}

function mergeSyscall(a: SyscallEntry, b: SyscallEntry): SyscallEntry {
  const blocked = mergeBlocked(a.blocked, b.blocked);
  return {
    nr: a.nr,
    count: a.count + b.count,
    errors: a.errors + b.errors,
    errnos: addCounts(a.errnos, b.errnos),
    firstSeen: minNullable(a.firstSeen, b.firstSeen),
    lastSeen: maxNullable(a.lastSeen, b.lastSeen),
    ...mergePids(a, b),
    ...(blocked ? { blocked } : {}),
  };
}

/** The first MAX_PIDS_PER_SYSCALL of both lists (the earlier part's first), and whether more made it. */
function mergePids(a: SyscallEntry, b: SyscallEntry): Pick<SyscallEntry, 'pids' | 'pidsTruncated'> {
  const all = [...new Set([...a.pids, ...b.pids])];
  const truncated = a.pidsTruncated === true || b.pidsTruncated === true || all.length > MAX_PIDS_PER_SYSCALL;
  return { pids: all.slice(0, MAX_PIDS_PER_SYSCALL).sort((x, y) => x - y), ...(truncated ? { pidsTruncated: true as const } : {}) };
}

type Folded = NonNullable<Summary['processesFolded']>;

function mergeFolded(a: Folded | undefined, b: Folded | undefined): Folded | undefined {
  if (!a || !b) return a ?? b;
  return { count: a.count + b.count, syscalls: a.syscalls + b.syscalls, blocked: a.blocked + b.blocked, byComm: addCounts(a.byComm, b.byComm) };
}

function mergeProcess(a: ProcessEntry, b: ProcessEntry): ProcessEntry {
  return {
    pid: a.pid,
    comm: b.comm !== '<...>' && b.comm !== '' ? b.comm : a.comm,
    parentPid: a.parentPid ?? b.parentPid,
    execs: [...a.execs, ...b.execs.filter((e) => !a.execs.includes(e))],
    execsDropped: a.execsDropped + b.execsDropped,
    threads: [...new Set([...a.threads, ...b.threads])].sort((x, y) => x - y),
    syscalls: a.syscalls + b.syscalls,
    blocked: a.blocked + b.blocked,
    firstSeen: Math.min(a.firstSeen, b.firstSeen),
    lastSeen: Math.max(a.lastSeen, b.lastSeen),
    ...(a.exec || b.exec ? { exec: true, runtimeCalls: (a.runtimeCalls ?? 0) + (b.runtimeCalls ?? 0) } : {}),
  };
}

type CapabilityCall = CapabilitySummary['syscalls'][string];

function mergeCapabilityCall(a: CapabilityCall, b: CapabilityCall): CapabilityCall {
  const outcomes = a.deniedOutcomes || b.deniedOutcomes ? addCounts(a.deniedOutcomes ?? {}, b.deniedOutcomes ?? {}) : undefined;
  return { granted: a.granted + b.granted, denied: a.denied + b.denied, ...(outcomes ? { deniedOutcomes: outcomes } : {}), ...(a.noAuditLikely ?? b.noAuditLikely ? { noAuditLikely: true as const } : {}) };
}

function mergeCapability(a: CapabilitySummary, b: CapabilitySummary): CapabilitySummary {
  const first = b.firstSeen < a.firstSeen ? b : a;
  return {
    cap: a.cap,
    granted: a.granted + b.granted,
    denied: a.denied + b.denied,
    firstSeen: first.firstSeen,
    lastSeen: Math.max(a.lastSeen, b.lastSeen),
    firstPid: first.firstPid,
    firstComm: first.firstComm,
    namespace: { own: a.namespace.own + b.namespace.own, other: a.namespace.other + b.namespace.other },
    syscalls: mergeRecords(a.syscalls, b.syscalls, mergeCapabilityCall),
  };
}

/** Capability sections of parts of one trace (or of several containers): the checks added up, by number. */
export function mergeCapabilitySections(a: CapabilitiesSection | undefined, b: CapabilitiesSection | undefined): CapabilitiesSection | undefined {
  if (!a || !b) return a ?? b;
  const checks = mergeRecords(a.checks, b.checks, mergeCapability);
  const held = a.held && b.held ? [...new Set([...a.held, ...b.held])] : (a.held ?? b.held);
  return {
    start: b.start,
    note: b.note,
    runtimeChecks: a.runtimeChecks + b.runtimeChecks,
    held,
    checks: Object.fromEntries(Object.entries(checks).sort(([, x], [, y]) => x.cap - y.cap)),
  };
}

function mergeRecords<T>(a: Record<string, T>, b: Record<string, T>, merge: (x: T, y: T) => T): Record<string, T> {
  const out: Record<string, T> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? merge(out[k] as T, v) : v;
  return Object.fromEntries(Object.entries(out).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}


/**
 * Two summaries of disjoint parts of one container's trace (what a dead agent checkpointed, and
 * what was still in the ring buffer) as one. Loss is the caller's to set: only it knows how the
 * parts relate to the kernel's counters.
 */
export function mergeSummaryParts(a: Summary, b: Summary, loss: Summary['loss']): Summary {
  const starts = [a.profileStart, b.profileStart].filter((s) => s.timestamp !== null);
  const loads = starts.filter((s) => s.kind === 'seccomp-load');
  const pick = (loads.length > 0 ? loads : starts).sort((x, y) => (x.timestamp as number) - (y.timestamp as number))[0];
  return {
    ...b,
    trace: {
      source: b.trace.source,
      clock: b.trace.clock,
      firstTimestamp: minNullable(a.trace.firstTimestamp, b.trace.firstTimestamp),
      lastTimestamp: maxNullable(a.trace.lastTimestamp, b.trace.lastTimestamp),
      syscallsTotal: a.trace.syscallsTotal + b.trace.syscallsTotal,
      blockedTotal: a.trace.blockedTotal + b.trace.blockedTotal,
    },
    loss,
    profileStart: pick ?? { kind: 'none', timestamp: null, pid: null },
    ...(a.capabilities || b.capabilities ? { capabilities: mergeCapabilitySections(a.capabilities, b.capabilities) } : {}),
    syscalls: mergeRecords(a.syscalls, b.syscalls, mergeSyscall),
    processes: mergeRecords(a.processes, b.processes, mergeProcess),
    ...(a.processesFolded || b.processesFolded ? { processesFolded: mergeFolded(a.processesFolded, b.processesFolded) } : {}),
  };
}

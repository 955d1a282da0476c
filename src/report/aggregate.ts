import type { TraceEvent } from '../trace/events.js';
import type { SyscallRecord } from '../trace/syscall-pairing.js';

/** Largest -errno the kernel returns; anything in [-4095, -1] is an error (see IS_ERR_VALUE). */
const MAX_ERRNO = 4095n;

export function errnoOf(ret: bigint | undefined): number | undefined {
  if (ret === undefined || ret >= 0n || ret < -MAX_ERRNO) return undefined;
  return Number(-ret);
}

export interface SyscallStats {
  nr: number;
  /** Calls that ran (their entry was traced). */
  count: number;
  errors: number;
  /** errno number -> how many calls failed with it. */
  errnos: Map<number, number>;
  /** Entry times of the calls that ran (Infinity / -Infinity while none ran). */
  firstSeen: number;
  lastSeen: number;
  /** Thread group ids (or pids where tgid is unknown) that made the call, run or blocked: the first MAX_PIDS_PER_SYSCALL. */
  pids: Set<number>;
  /** More processes made it than `pids` holds. */
  pidsTruncated: boolean;
  /** The process pids last added (the hot path skips the Set for repeats). */
  lastProc: ProcessStats | undefined;
  /** Calls the container's seccomp profile stopped before they ran (see BlockedStats). */
  blocked: BlockedStats | undefined;
}

/**
 * Calls seccomp stopped: the kernel never entered them (no sys_enter), but their exit fires, with
 * -errno (SCMP_ACT_ERRNO) or, when the kernel kills or traps the task (SCMP_ACT_KILL*, TRAP), with
 * the syscall number itself: it rolls the registers back for the SIGSYS core dump.
 */
export interface BlockedStats {
  count: number;
  /** errno number -> calls answered with it. */
  errnos: Map<number, number>;
  /** Calls the kernel answered with SIGSYS (killed or trapped). */
  killed: number;
  firstSeen: number;
  lastSeen: number;
}

/** How a blocked call ended, from its exit's return value (pure). */
export function blockedOutcome(nr: number, ret: bigint): { errno?: number; killed: boolean } {
  const errno = errnoOf(ret);
  if (errno !== undefined) return { errno, killed: false };
  return { killed: ret === BigInt(nr) };
}

/** Bound on the exec'd paths kept per process (a shell loop could exec forever). */
const MAX_EXECS_PER_PROCESS = 32;
/**
 * Processes that ended and are kept one by one (with the live ones): beyond, they are folded into
 * counts. A container left running for days with a shell loop forks hundreds of thousands: each
 * kept would cost the agent memory and the summary (written at every checkpoint) a kilobyte.
 */
export const MAX_ENDED_PROCESSES_KEPT = 1000;
/** Pids listed per syscall (the first that made it). */
export const MAX_PIDS_PER_SYSCALL = 100;
/** Names the folded processes are counted by; the rest count as FOLDED_OTHER_NAMES. */
const MAX_FOLDED_NAMES = 50;
export const FOLDED_OTHER_NAMES = '(other names)';

/** Processes that ended beyond MAX_ENDED_PROCESSES_KEPT: what they did, in all. */
export interface FoldedProcesses {
  count: number;
  syscalls: number;
  blocked: number;
  /** Their names (comm), with how many had each. */
  byComm: Map<string, number>;
}

export interface ProcessStats {
  pid: number;
  /** Latest task name seen for it. */
  comm: string;
  parentPid: number | undefined;
  /** Binaries exec'd by this process, in order (bounded). */
  execs: string[];
  execsDropped: number;
  threads: Set<number>;
  syscalls: number;
  /** Of its calls, those seccomp stopped. */
  blocked: number;
  firstSeen: number;
  lastSeen: number;
  exited: boolean;
  /** Of its threads, those whose exit was seen. */
  threadsEnded: number;
  /**
   * Entered the container by the runtime's exec (runc exec: kubectl exec, exec probes), not from
   * its init: the exec's own runtime process (the root) and everything it started.
   */
  exec: boolean;
  /**
   * An exec'd process whose calls are still the runtime's: it has not loaded (or inherited) the
   * container's seccomp filter. Its calls are counted in runtimeCalls, not in the syscalls, exactly
   * as the init's setup is cut at its load; the root never stops being the runtime's.
   */
  runtimeOnly: boolean;
  runtimeCalls: number;
  /**
   * Its capability checks are the workload's: it exec'd at or after the profile's start (the init
   * becoming the workload, an exec'd process after its own seccomp load), or descends from one
   * that did. Before that the runtime sets the container up, with the runtime's needs.
   */
  workload: boolean;
}

/** Checks of one capability during one syscall. */
export interface CapabilityCallStats {
  granted: number;
  denied: number;
  /** Calls during which it was denied, by how the call ended: errno (0: it succeeded all the same) -> calls. */
  deniedOutcomes: Map<number, number>;
}

/** One capability's checks by the workload (capability:cap_capable). */
export interface CapabilityStats {
  cap: number;
  granted: number;
  denied: number;
  firstSeen: number;
  lastSeen: number;
  /** The first process that asked for it, and its name then. */
  firstPid: number;
  firstComm: string;
  /** Checks against the task's own user namespace, and against another (an outer one, or one it created). */
  ownNamespace: number;
  otherNamespace: number;
  /** The syscall each check happened in (-1: outside any syscall, such as a page fault). */
  bySyscall: Map<number, CapabilityCallStats>;
}

/** How the aggregate is to find the profile's start. */
export interface AggregateOptions {
  /**
   * The runtime will load a seccomp filter (the bundle has a profile, or record mode loads one):
   * capability checks count from execs after it. Otherwise from any exec (the first-exec start).
   */
  filterLoadExpected?: boolean;
  /**
   * The workload had begun before this aggregate's first event (an agent adopting a trace another
   * left): a process whose start was not seen is the workload's, so none of its checks is missed.
   */
  workloadBegun?: boolean;
}

/** Syscall numbers the aggregate must recognise on the traced arch. */
export interface AggregateSyscalls {
  seccomp?: number | undefined;
  prctl?: number | undefined;
}

/** Where a seccomp profile of the container starts: what runs after it is the workload's. */
export interface ProfileStart {
  kind: 'seccomp-load' | 'first-exec' | 'none';
  timestamp: number | null;
  pid: number | null;
}

const SECCOMP_SET_MODE_FILTER = '1';
const PR_SET_SECCOMP = '16'; // 22, as ftrace prints it in hex
const SECCOMP_MODE_FILTER = '2';

/** Is this call (number and hex args) a seccomp filter load: seccomp(SET_MODE_FILTER) or prctl(PR_SET_SECCOMP, FILTER)? */
export function isFilterLoadCall(nr: number, args: readonly string[], known: AggregateSyscalls): boolean {
  if (nr === known.seccomp) return args[0] === SECCOMP_SET_MODE_FILTER;
  if (nr === known.prctl) return args[0] === PR_SET_SECCOMP && args[1] === SECCOMP_MODE_FILTER;
  return false;
}

/**
 * Streaming aggregate of a container's trace: memory grows with the number of distinct syscalls
 * and processes, never with the number of events.
 */
export class TraceAggregate {
  readonly syscalls = new Map<number, SyscallStats>();
  /** The same stats by syscall number, for the hot path (numbers are small). */
  private readonly byNr: (SyscallStats | undefined)[] = [];
  /** Live processes by pid (a pid the kernel hands out again after an exit is another process). */
  readonly processes = new Map<number, ProcessStats>();
  /** Processes that ended, kept one by one (at most MAX_ENDED_PROCESSES_KEPT). */
  private readonly ended: ProcessStats[] = [];
  /** Processes that ended beyond those. */
  readonly folded: FoldedProcesses = { count: 0, syscalls: 0, blocked: 0, byComm: new Map() };
  /** pid (thread) -> tgid, learned from events, so threads fold into their process. */
  private readonly threadGroup = new Map<number, number>();
  /** child pid -> its parent's entry, from fork events, until the child exits. */
  private readonly parentOf = new Map<number, ProcessStats>();
  totalSyscalls = 0;
  /**
   * [0]: the time (s) of the call countCall counts. The hot path sets it rather than pass it: a
   * double passed as an argument is boxed on the heap, one allocation per event.
   */
  readonly callTime = new Float64Array(1);
  /** Calls seccomp stopped (not in totalSyscalls). */
  totalBlocked = 0;
  /** Earliest and latest event (Infinity and -Infinity while none): numbers always, so that V8 keeps the fields unboxed on the hot path. */
  private first = Infinity;
  private last = -Infinity;
  /** Earliest successful seccomp filter load by the runtime (seccomp(2) or prctl), by return time. */
  seccompLoad: { timestamp: number; pid: number } | undefined;
  /** Earliest exec in the container (the runtime's init becoming the workload). */
  firstExec: { timestamp: number; pid: number } | undefined;
  /** Processes the runtime's exec started in (the front door's pid, before it execs the runtime). */
  private readonly execRoots = new Set<number>();

  /** Capability checks of the workload, by capability number. */
  readonly capabilities = new Map<number, CapabilityStats>();
  /** Capability checks before the profile's start (the runtime's setup): not in `capabilities`. */
  runtimeCapabilityChecks = 0;

  constructor(
    private readonly known: AggregateSyscalls = {},
    private readonly opts: AggregateOptions = {},
  ) {}

  /** The profile's start point: the seccomp load if one was seen, else the first exec. */
  profileStart(): ProfileStart {
    if (this.seccompLoad) return { kind: 'seccomp-load', ...this.seccompLoad };
    if (this.firstExec) return { kind: 'first-exec', ...this.firstExec };
    return { kind: 'none', timestamp: null, pid: null };
  }

  /**
   * A process about to run the runtime's exec into this container (before any of its events): it
   * and everything it starts are marked exec'd, and their calls count from their own seccomp load.
   */
  markExecRoot(pid: number): void {
    this.execRoots.add(pid);
    const proc = this.processes.get(pid);
    if (proc) {
      proc.exec = true;
      proc.runtimeOnly = true;
    }
  }

  /** Process-lifecycle events (fork, exec, exit); syscall events go through addSyscall. */
  addEvent(event: TraceEvent): void {
    this.touchTime(event.timestamp);
    switch (event.kind) {
      case 'fork': {
        const parent = this.processFor(event.pid, event.tgid, event.comm, event.timestamp);
        // The fork event fires for new threads too, and does not say which it is; the child's own
        // events carry its tgid, so the entry is made lazily when the child first shows up.
        this.parentOf.set(event.childPid, parent);
        // CPUs' pages arrive in any order: the child's first calls, drained from one CPU, may have
        // made its entry before this event, drained from another. It gets its parent and name now.
        const child = this.processes.get(event.childPid);
        if (child && child.pid !== parent.pid) {
          child.parentPid ??= parent.pid;
          if (parent.exec && !child.exec) this.inheritExec(child, parent);
          if (parent.workload) child.workload = true;
          if (child.execs.length === 0 && (child.comm === '<...>' || child.comm === '') && event.childComm !== '') child.comm = event.childComm;
        }
        break;
      }
      case 'exec': {
        const proc = this.processFor(event.execPid, event.tgid, event.comm, event.timestamp);
        if (!proc.exec && (!this.firstExec || event.timestamp < this.firstExec.timestamp)) this.firstExec = { timestamp: event.timestamp, pid: event.execPid };
        const base = event.filename.slice(event.filename.lastIndexOf('/') + 1);
        if (base.length > 0) proc.comm = base.slice(0, 15); // the kernel's comm is 15 chars
        // An exec'd process with no filter load to wait for (the bundle has no seccomp profile): its
        // calls count from its exec of the command, where the runtime would have loaded a filter; the
        // runtime's own execs (of itself, by the exec root or re-exec'd from /proc) are not that.
        if (proc.runtimeOnly && this.opts.filterLoadExpected !== true && !this.execRoots.has(proc.pid) && !isRuntimeReexec(event.filename)) proc.runtimeOnly = false;
        // The workload begins: this exec is at or after the profile's start (events come in time order).
        if (!proc.runtimeOnly && (this.seccompLoad !== undefined || this.opts.filterLoadExpected !== true)) proc.workload = true;
        if (proc.execs.length < MAX_EXECS_PER_PROCESS) proc.execs.push(event.filename);
        else proc.execsDropped += 1;
        break;
      }
      case 'rename': {
        // A process's name is its leader's; one that exec'd is named after what it runs, unless
        // that was a program re-running itself (/proc/self/exe: runc's init, busybox's applets),
        // which then names itself (busybox sh runs `cat` as /proc/self/exe, renamed "cat").
        const proc = this.processes.get(event.renamedPid);
        const last = proc?.execs.at(-1);
        if (proc && (last === undefined || isRuntimeReexec(last)) && event.newComm !== '') proc.comm = event.newComm;
        break;
      }
      case 'exit': {
        const tgid = this.threadGroup.get(event.exitPid) ?? event.exitPid;
        // The task is gone: its pid may come back as another task's.
        this.threadGroup.delete(event.exitPid);
        this.parentOf.delete(event.exitPid);
        const proc = this.processes.get(tgid);
        if (proc) {
          if (proc.threads.has(event.exitPid)) proc.threadsEnded += 1;
          if (tgid === event.exitPid) proc.exited = true;
          // Its leader and every thread seen have exited: no event of it follows (time order).
          if (proc.exited && proc.threadsEnded >= proc.threads.size) this.retire(proc);
        }
        break;
      }
      default:
        break;
    }
  }

  addSyscall(record: SyscallRecord): void {
    if (record.blocked) {
      this.addBlocked(record.nr, record.pid, record.tgid, record.comm, record.timestamp, record.ret ?? 0n);
      return;
    }
    const proc = this.processFor(record.pid, record.tgid, record.comm, record.timestamp);
    const runtimes = proc.runtimeOnly;
    this.callTime[0] = record.timestamp;
    this.countCall(proc, record.nr);
    if (record.ret === 0n && this.isFilterLoad(record)) this.noteFilterLoad(record.exitTimestamp ?? record.timestamp, record.pid);
    const errno = errnoOf(record.ret);
    if (errno !== undefined && !runtimes) this.addError(record.nr, errno, record.timestamp);
  }

  /**
   * The hot path's handle on a task: its process, resolved once (the task's thread group and name
   * are known by then: from its creation event, or the record step's for the init's threads).
   */
  processOf(pid: number, tgid: number | undefined, comm: string, ts: number): ProcessStats {
    return this.processFor(pid, tgid, comm, ts);
  }

  /**
   * One call that ran (its entry), by a task whose process the caller holds. With addError and
   * noteFilterLoad this is the order-independent core the drain's hot path feeds from raw pages.
   */
  countCall(proc: ProcessStats, nr: number): void {
    const ts = this.callTime[0] as number;
    if (proc.runtimeOnly) {
      proc.runtimeCalls += 1;
      if (ts > proc.lastSeen) proc.lastSeen = ts;
      return;
    }
    this.totalSyscalls += 1;
    if (ts < this.first) this.first = ts;
    if (ts > this.last) this.last = ts;
    const stats = (nr >= 0 && nr < 4096 ? this.byNr[nr] : undefined) ?? this.statsFor(nr, ts);
    stats.count += 1;
    if (ts < stats.firstSeen) stats.firstSeen = ts;
    if (ts > stats.lastSeen) stats.lastSeen = ts;
    if (stats.lastProc !== proc) {
      notePid(stats, proc.pid);
      stats.lastProc = proc;
    }
    proc.syscalls += 1;
    if (ts > proc.lastSeen) proc.lastSeen = ts;
  }

  /** One call seccomp stopped, from its exit's return value (see BlockedStats). */
  addBlocked(nr: number, pid: number, tgid: number | undefined, comm: string, ts: number, ret: bigint): void {
    this.totalBlocked += 1;
    this.touchTime(ts);
    const stats = this.statsFor(nr, ts);
    const b = (stats.blocked ??= { count: 0, errnos: new Map(), killed: 0, firstSeen: ts, lastSeen: ts });
    b.count += 1;
    if (ts < b.firstSeen) b.firstSeen = ts;
    if (ts > b.lastSeen) b.lastSeen = ts;
    const outcome = blockedOutcome(nr, ret);
    if (outcome.errno !== undefined) b.errnos.set(outcome.errno, (b.errnos.get(outcome.errno) ?? 0) + 1);
    if (outcome.killed) b.killed += 1;
    const proc = this.processFor(pid, tgid, comm, ts);
    notePid(stats, proc.pid);
    proc.blocked += 1;
  }

  /**
   * One capability check (cap_capable) by a task of `proc`, during syscall `nr` (-1: none). Counted
   * only once the process is the workload's (see ProcessStats.workload); returns whether it was.
   */
  addCapabilityCheck(proc: ProcessStats, cap: number, denied: boolean, ownNamespace: boolean, nr: number, ts: number): boolean {
    if (!proc.workload) {
      this.runtimeCapabilityChecks += 1;
      return false;
    }
    let c = this.capabilities.get(cap);
    if (!c) {
      c = { cap, granted: 0, denied: 0, firstSeen: ts, lastSeen: ts, firstPid: proc.pid, firstComm: proc.comm, ownNamespace: 0, otherNamespace: 0, bySyscall: new Map() };
      this.capabilities.set(cap, c);
    }
    if (ts < c.firstSeen) {
      c.firstSeen = ts;
      c.firstPid = proc.pid;
      c.firstComm = proc.comm;
    }
    if (ts > c.lastSeen) c.lastSeen = ts;
    let call = c.bySyscall.get(nr);
    if (!call) {
      call = { granted: 0, denied: 0, deniedOutcomes: new Map() };
      c.bySyscall.set(nr, call);
    }
    if (denied) {
      c.denied += 1;
      call.denied += 1;
    } else {
      c.granted += 1;
      call.granted += 1;
    }
    if (ownNamespace) c.ownNamespace += 1;
    else c.otherNamespace += 1;
    return true;
  }

  /** The call `nr`, during which these capabilities were denied, ended with errno (0: it succeeded). */
  noteDeniedOutcome(caps: readonly number[], nr: number, errno: number): void {
    for (const cap of new Set(caps)) {
      const outcomes = this.capabilities.get(cap)?.bySyscall.get(nr)?.deniedOutcomes;
      if (outcomes) outcomes.set(errno, (outcomes.get(errno) ?? 0) + 1);
    }
  }

  /** One call failed with errno (from its exit). */
  addError(nr: number, errno: number, ts: number): void {
    const stats = this.statsFor(nr, ts);
    stats.errors += 1;
    stats.errnos.set(errno, (stats.errnos.get(errno) ?? 0) + 1);
  }

  /** The runtime's seccomp filter load returned at `ts`: the profile's start point. */
  noteFilterLoad(ts: number, pid: number): void {
    const proc = this.processes.get(this.threadGroup.get(pid) ?? pid);
    if (proc?.exec) {
      // An exec'd process loading the container's filter: its calls (and its children's) are the
      // workload's from here. The container's profile start stays the init's load.
      if (!this.execRoots.has(proc.pid)) proc.runtimeOnly = false;
      return;
    }
    if (!this.seccompLoad || ts < this.seccompLoad.timestamp) this.seccompLoad = { timestamp: ts, pid };
  }

  /** A child of an exec'd process: exec'd too, and the runtime's until it or its parent loaded the filter. */
  private inheritExec(child: ProcessStats, parent: ProcessStats): void {
    child.exec = true;
    child.runtimeOnly = parent.runtimeOnly;
  }

  private statsFor(nr: number, ts: number): SyscallStats {
    let stats = this.syscalls.get(nr);
    if (!stats) {
      stats = { nr, count: 0, errors: 0, errnos: new Map(), firstSeen: Infinity, lastSeen: -Infinity, pids: new Set(), pidsTruncated: false, lastProc: undefined, blocked: undefined };
      this.syscalls.set(nr, stats);
      if (nr >= 0 && nr < 4096) this.byNr[nr] = stats;
    }
    return stats;
  }

  private isFilterLoad(r: SyscallRecord): boolean {
    return isFilterLoadCall(r.nr, r.args, this.known);
  }

  private touchTime(ts: number): void {
    if (ts < this.first) this.first = ts;
    if (ts > this.last) this.last = ts;
  }

  get firstTimestamp(): number | undefined {
    return this.first === Infinity ? undefined : this.first;
  }

  get lastTimestamp(): number | undefined {
    return this.last === -Infinity ? undefined : this.last;
  }

  /** Every process kept one by one: the live ones and those that ended (see folded for the rest). */
  allProcesses(): ProcessStats[] {
    return [...this.ended, ...this.processes.values()];
  }

  /** A process that ended: kept one by one while there is room, else folded into counts. */
  private retire(proc: ProcessStats): void {
    this.processes.delete(proc.pid);
    this.execRoots.delete(proc.pid);
    if (this.ended.length < MAX_ENDED_PROCESSES_KEPT) {
      this.ended.push(proc);
      return;
    }
    const f = this.folded;
    f.count += 1;
    f.syscalls += proc.syscalls;
    f.blocked += proc.blocked;
    const name = f.byComm.has(proc.comm) || f.byComm.size < MAX_FOLDED_NAMES ? proc.comm : FOLDED_OTHER_NAMES;
    f.byComm.set(name, (f.byComm.get(name) ?? 0) + 1);
  }

  private processFor(pid: number, tgid: number | undefined, comm: string, ts: number): ProcessStats {
    if (tgid !== undefined && tgid !== pid) this.threadGroup.set(pid, tgid);
    const key = tgid ?? this.threadGroup.get(pid) ?? pid;
    let proc = this.processes.get(key);
    if (!proc) {
      // The parent's own entry, even if it has ended since (a runtime's middle process exits before
      // its child's first call): the child inherits from it.
      const parent = this.parentOf.get(key);
      const parentPid = parent?.pid;
      proc = { pid: key, comm, parentPid, execs: [], execsDropped: 0, threads: new Set(), syscalls: 0, blocked: 0, firstSeen: ts, lastSeen: ts, exited: false, threadsEnded: 0, exec: false, runtimeOnly: false, runtimeCalls: 0, workload: false };
      if (this.execRoots.has(key)) {
        proc.exec = true;
        proc.runtimeOnly = true;
      } else {
        if (parent?.exec) this.inheritExec(proc, parent);
        if (parent?.workload || (parent === undefined && this.opts.workloadBegun === true)) proc.workload = true;
      }
      this.processes.set(key, proc);
    }
    proc.threads.add(pid);
    if (comm !== '<...>' && comm.length > 0 && proc.execs.length === 0) proc.comm = comm;
    if (ts > proc.lastSeen) proc.lastSeen = ts;
    if (ts < proc.firstSeen) proc.firstSeen = ts;
    return proc;
  }
}

/** A process that made the call, while the list has room. */
function notePid(stats: SyscallStats, pid: number): void {
  if (stats.pids.size < MAX_PIDS_PER_SYSCALL) stats.pids.add(pid);
  else if (!stats.pids.has(pid)) stats.pidsTruncated = true;
}

/**
 * An exec of the runtime by itself: runc starts its init as /proc/self/exe and may re-exec it from a
 * sealed copy (execveat of a descriptor, which the kernel names /dev/fd/N).
 */
function isRuntimeReexec(filename: string): boolean {
  return filename === '/proc/self/exe' || /^\/(?:dev|proc\/self)\/fd\/\d+$/.test(filename);
}

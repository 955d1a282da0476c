import { type AggregateSyscalls, type ProcessStats, type TraceAggregate } from '../report/aggregate.js';
import type { TraceEvent } from '../trace/events.js';
import type { EventFormat } from '../tracefs/event-format.js';
import type { RawEventDecoder } from './raw-decoder.js';
import { SCANNED_TIMESTAMP_NS, pageWords, scanRawPage, type RawPageLayout } from './raw-page.js';
import type { TaskTable } from './task-table.js';

/** The word index of a field that begins a 4-byte word (the hot path reads words, little-endian). */
function fieldWord(format: EventFormat, name: string, size: number): number {
  const f = format.fields.get(name);
  if (!f || f.size !== size) throw new Error(`event ${format.system}/${format.name}: no ${size}-byte field ${name}`);
  if (f.offset % 4 !== 0) throw new Error(`event ${format.system}/${format.name}: field ${name} at offset ${f.offset} does not begin a 4-byte word`);
  return f.offset / 4;
}

const ENTER = 0;
const EXIT = 1;
const OTHER = 2;
const CAPABLE = 3;
/** No call open on a task (a syscall number is never this). */
const NONE = -1_000_000;
const SECCOMP_SET_MODE_FILTER = 1;
const PR_SET_SECCOMP = 22;
const SECCOMP_MODE_FILTER = 2;

/**
 * One CPU's records not yet released, in the order the kernel wrote them (which is time order),
 * as parallel typed arrays: no object per event. Grows by doubling, reused across rounds.
 */
class CpuQueue {
  kind = new Uint8Array(4096);
  pid = new Int32Array(4096);
  nr = new Int32Array(4096);
  ts = new Float64Array(4096);
  /**
   * Exit: the return value's low and high words. Enter of seccomp/prctl: the first two arguments'
   * low words. Capability check (nr: the capability, plus DENIED): the low words of its target_ns
   * and capable_ns (NULL when denied): namespaces are a few kernel objects, told apart by them.
   */
  a = new Uint32Array(4096);
  b = new Uint32Array(4096);
  head = 0;
  tail = 0;
  /** [0]: the timestamp of the last record queued (released or not): the CPU is read up to here. */
  readonly lastNs = new Float64Array([-Infinity]);
  /** The decoded process events, by record index (OTHER records). */
  readonly others = new Map<number, TraceEvent>();

  /**
   * A new record's index, its kind, pid and nr set (small integers); the caller stores its ts, a
   * and b into the arrays itself: doubles and words above 2^31 passed as arguments are boxed on the
   * heap, one allocation per event (see RawEventVisitor).
   */
  add(kind: number, pid: number, nr: number): number {
    if (this.tail === this.kind.length) this.makeRoom();
    const i = this.tail++;
    this.kind[i] = kind;
    this.pid[i] = pid;
    this.nr[i] = nr;
    return i;
  }

  private makeRoom(): void {
    const live = this.tail - this.head;
    if (this.head > 0 && live <= this.kind.length / 2) {
      // Released records are dropped by moving the rest to the front.
      for (const arr of [this.kind, this.pid, this.nr, this.ts, this.a, this.b]) arr.copyWithin(0, this.head, this.tail);
      const moved = new Map<number, TraceEvent>();
      for (const [i, e] of this.others) moved.set(i - this.head, e);
      this.others.clear();
      for (const [i, e] of moved) this.others.set(i, e);
      this.head = 0;
      this.tail = live;
      return;
    }
    const grow = <T extends Uint8Array | Int32Array | Float64Array | Uint32Array>(arr: T): T => {
      const next = new (arr.constructor as new (n: number) => T)(arr.length * 2);
      next.set(arr);
      return next;
    };
    this.kind = grow(this.kind);
    this.pid = grow(this.pid);
    this.nr = grow(this.nr);
    this.ts = grow(this.ts);
    this.a = grow(this.a);
    this.b = grow(this.b);
  }
}

/** What one task is inside of, in time order. */
interface TaskCalls {
  pid: number;
  /** Its process in the aggregate, once it made a call. */
  proc: ProcessStats | undefined;
  /** The syscall it entered and that has not returned (NONE). */
  open: number;
  /** For an open seccomp/prctl call: its first two arguments (low words). */
  arg0: number;
  arg1: number;
  /** A task tracing began with, none of whose events was seen yet: its first may end a call begun before tracing. */
  fresh: boolean;
  /** Capabilities the workload was denied during the open call: its exit says what came of it. */
  deniedCaps: number[] | undefined;
  /** Its credentials' user namespace (the low word of capable_ns of a check granted to it), once seen. */
  credNs: number | undefined;
}

/** The bit of a queued capability check's number that says it was denied. */
const DENIED = 0x10000;

/**
 * The drain's hot path: raw pages into the aggregate, exactly, whatever order the CPUs' pages
 * are read in. Each CPU's records are queued as they are read (typed arrays, no object per event),
 * and released in global time order up to a watermark every CPU has been drained past: then each
 * task's events come in its own order, so
 *
 *   - an exit pairs with its task's open entry (errors, the seccomp load, with its arguments);
 *   - an exit with no entry is a call seccomp stopped (blocked: -errno, or the syscall number when
 *     the kernel kills the task), unless it is a new task's first return from clone (its birth) or
 *     the first event of a task tracing began with (a call begun before tracing: the runtime's
 *     init waiting in its sync read);
 *   - a task's parent and name come from its creation event, which precedes everything it does.
 *
 * Only the rare process events are decoded into objects.
 */
export class LiveIngest {
  private readonly enterId: number;
  private readonly exitId: number;
  private readonly typeWord: number;
  private readonly pidWord: number;
  private readonly enterNrWord: number;
  private readonly enterArgsWord: number;
  private readonly exitNrWord: number;
  private readonly exitRetWord: number;
  /** capability/cap_capable, when traced (-1: not): its id and the words of its fields. */
  private readonly capableId: number;
  private readonly capWord: number;
  private readonly capRetWord: number;
  private readonly capTargetNsWord: number;
  private readonly capOwnNsWord: number;
  private readonly queues = new Map<number, CpuQueue>();
  private readonly calls = new Map<number, TaskCalls>();
  private readonly seccompNr: number;
  private readonly prctlNr: number;
  private readonly initialTasks: Set<number>;
  unknownEvents = 0;
  /** Exits whose task was inside another call: an event was lost between them (the kernel's counts say how many; the drain logs this). */
  unpairedExits = 0;

  constructor(
    formats: { enter: EventFormat; exit: EventFormat; capable?: EventFormat | undefined },
    private readonly layout: RawPageLayout,
    private readonly agg: TraceAggregate,
    private readonly tasks: TaskTable,
    private readonly decoder: RawEventDecoder,
    known: AggregateSyscalls,
    private readonly forkSyscalls: ReadonlySet<number>,
    initialTasks: readonly number[] = [],
    /** everyTask: tracing (re)began with tasks we do not know (an agent adopting a trace it lost): any may be mid-call. */
    private readonly fresh: { everyTask?: boolean } = {},
  ) {
    this.initialTasks = new Set(initialTasks);
    this.enterId = formats.enter.id;
    this.exitId = formats.exit.id;
    // Every field read here begins a 4-byte word (common_type its low half): read as words.
    this.typeWord = fieldWord(formats.enter, 'common_type', 2);
    this.pidWord = fieldWord(formats.enter, 'common_pid', 4);
    this.enterNrWord = fieldWord(formats.enter, 'id', 8);
    this.enterArgsWord = fieldWord(formats.enter, 'args', 48);
    this.exitNrWord = fieldWord(formats.exit, 'id', 8);
    this.exitRetWord = fieldWord(formats.exit, 'ret', 8);
    if (fieldWord(formats.exit, 'common_type', 2) !== this.typeWord || fieldWord(formats.exit, 'common_pid', 4) !== this.pidWord) {
      throw new Error('raw_syscalls sys_enter and sys_exit disagree on where common_type and common_pid are');
    }
    const capable = formats.capable;
    this.capableId = capable ? capable.id : -1;
    this.capWord = capable ? fieldWord(capable, 'cap', 4) : 0;
    this.capRetWord = capable ? fieldWord(capable, 'ret', 4) : 0;
    this.capTargetNsWord = capable ? fieldWord(capable, 'target_ns', 8) : 0;
    this.capOwnNsWord = capable ? fieldWord(capable, 'capable_ns', 8) : 0;
    if (capable && (fieldWord(capable, 'common_type', 2) !== this.typeWord || fieldWord(capable, 'common_pid', 4) !== this.pidWord)) {
      throw new Error('capability/cap_capable and raw_syscalls disagree on where common_type and common_pid are');
    }
    this.seccompNr = known.seccomp ?? NONE;
    this.prctlNr = known.prctl ?? NONE;
  }

  /** Queue one page read from cpu; returns its record count and the kernel's missed count. */
  page(page: Buffer, cpu: number): { records: number; dataLength: number; missedEvents: number | 'unknown' } {
    let q = this.queues.get(cpu);
    if (!q) {
      q = new CpuQueue();
      this.queues.set(cpu, q);
    }
    const view = pageWords(page);
    this.cur = { page: view.page, words: view.words, base: view.base, queue: q, cpu, records: 0 };
    const r = scanRawPage(view.page, this.layout, this.visit);
    const records = this.cur.records;
    this.cur = undefined;
    return { records, dataLength: r.dataLength, missedEvents: r.missedEvents };
  }

  /** The page being scanned, for visit (one visitor made once: no closure per page). */
  private cur: { page: Buffer; words: Uint32Array; base: number; queue: CpuQueue; cpu: number; records: number } | undefined;

  /** One event of the page being scanned: a word-indexed read of its few fields, queued. */
  private readonly visit = (start: number, end: number): void => {
    const cur = this.cur as NonNullable<LiveIngest['cur']>;
    cur.records += 1;
    const words = cur.words;
    const q = cur.queue;
    const at = cur.base + (start >>> 2);
    const type = (words[at + this.typeWord] as number) & 0xffff;
    const pid = (words[at + this.pidWord] as number) | 0;
    let i: number;
    if (type === this.enterId) {
      const nr = (words[at + this.enterNrWord] as number) | 0;
      const args = at + this.enterArgsWord;
      i = q.add(ENTER, pid, nr);
      // Arguments only where they matter: the seccomp load (its mode words are small numbers).
      if (nr === this.seccompNr || nr === this.prctlNr) {
        q.a[i] = words[args + 1] === 0 ? (words[args] as number) : 0xffffffff;
        q.b[i] = words[args + 3] === 0 ? (words[args + 2] as number) : 0xffffffff;
      } else {
        q.a[i] = 0xffffffff;
        q.b[i] = 0xffffffff;
      }
    } else if (type === this.exitId) {
      const ret = at + this.exitRetWord;
      i = q.add(EXIT, pid, (words[at + this.exitNrWord] as number) | 0);
      q.a[i] = words[ret] as number;
      q.b[i] = words[ret + 1] as number;
    } else if (type === this.capableId) {
      const denied = words[at + this.capRetWord] !== 0 ? DENIED : 0;
      i = q.add(CAPABLE, pid, ((words[at + this.capWord] as number) & 0xffff) | denied);
      q.a[i] = words[at + this.capTargetNsWord] as number;
      q.b[i] = words[at + this.capOwnNsWord] as number;
    } else {
      const event = this.decoder.decode({ timestampNs: SCANNED_TIMESTAMP_NS[0] as number, data: cur.page.subarray(start, end) }, cur.cpu, NO_TASKS);
      if (!event) {
        this.unknownEvents += 1;
        return;
      }
      i = q.add(OTHER, pid, 0);
      q.a[i] = 0;
      q.b[i] = 0;
      q.others.set(i, event);
    }
    q.ts[i] = SCANNED_TIMESTAMP_NS[0] as number;
    q.lastNs[0] = SCANNED_TIMESTAMP_NS[0] as number;
  };

  /**
   * Feed everything queued at or before `watermarkNs` (monotonic ns, the instance's clock) into the
   * aggregate, in time order across CPUs; Infinity releases all. At most `limit` records (the
   * caller reads the kernel's buffers between batches). Returns the records released.
   */
  release(watermarkNs: number, limit = Infinity): number {
    const qs = [...this.queues.values()].filter((q) => q.head < q.tail);
    let released = 0;
    if (qs.length === 1) {
      const q = qs[0] as CpuQueue;
      while (released < limit && q.head < q.tail && q.ts[q.head]! <= watermarkNs) {
        this.handle(q, q.head);
        q.head += 1;
        released += 1;
      }
    } else {
      // Merge by runs: the queue with the earliest head goes on until its next record is later than
      // some other queue's head (a task mostly stays on one CPU for a while, so runs are long).
      while (released < limit) {
        let best: CpuQueue | undefined;
        let bestTs = Infinity;
        let nextTs = Infinity;
        for (const q of qs) {
          if (q.head >= q.tail) continue;
          const ts = q.ts[q.head] as number;
          if (ts < bestTs) {
            nextTs = bestTs;
            bestTs = ts;
            best = q;
          } else if (ts < nextTs) nextTs = ts;
        }
        if (!best || bestTs > watermarkNs) break;
        const until = Math.min(nextTs, watermarkNs);
        do {
          this.handle(best, best.head);
          best.head += 1;
          released += 1;
        } while (released < limit && best.head < best.tail && (best.ts[best.head] as number) <= until);
      }
    }
    for (const q of qs) {
      if (q.head === q.tail) {
        q.head = 0;
        q.tail = 0;
        q.others.clear();
      }
    }
    return released;
  }

  /** A task traced from now on, mid-call (as the initial tasks were): its first exit may end a call begun before. */
  addTracedTask(pid: number): void {
    this.initialTasks.add(pid);
    const t = this.calls.get(pid);
    if (t) t.fresh = true;
  }

  /** The timestamp of the last record read from cpu (-Infinity before any). */
  lastReadNs(cpu: number): number {
    return this.queues.get(cpu)?.lastNs[0] ?? -Infinity;
  }

  /** Records queued but not yet released. */
  get queued(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.tail - q.head;
    return n;
  }

  private lastPid = -1;
  private lastCalls: TaskCalls | undefined;

  private callsOf(pid: number): TaskCalls {
    // Consecutive records are mostly one task's.
    if (pid === this.lastPid && this.lastCalls) return this.lastCalls;
    let t = this.calls.get(pid);
    if (!t) {
      t = { pid, proc: undefined, open: NONE, arg0: 0, arg1: 0, fresh: this.fresh.everyTask === true || this.initialTasks.has(pid), deniedCaps: undefined, credNs: undefined };
      this.calls.set(pid, t);
    }
    this.lastPid = pid;
    this.lastCalls = t;
    return t;
  }

  private handle(q: CpuQueue, i: number): void {
    const kind = q.kind[i] as number;
    const pid = q.pid[i] as number;
    // The record's fields are read where they are used, not passed: see CpuQueue.add.
    if (kind === ENTER) {
      const nr = q.nr[i] as number;
      const t = this.callsOf(pid);
      t.fresh = false;
      t.open = nr;
      t.arg0 = q.a[i] as number;
      t.arg1 = q.b[i] as number;
      t.deniedCaps = undefined;
      this.agg.callTime[0] = (q.ts[i] as number) / 1e9;
      this.agg.countCall(t.proc ?? this.procOf(t, (q.ts[i] as number) / 1e9), nr);
      return;
    }
    if (kind === EXIT) {
      this.exit(q, i);
      return;
    }
    if (kind === CAPABLE) {
      this.capable(pid, q.nr[i] as number, q.a[i] as number, q.b[i] as number, (q.ts[i] as number) / 1e9);
      return;
    }
    const event = q.others.get(i);
    if (!event) return;
    q.others.delete(i);
    this.tasks.annotate(event);
    this.agg.addEvent(event);
    this.lastCalls = undefined;
    this.lastPid = -1;
    if (event.kind === 'exec' && event.oldPid !== event.execPid) {
      // A thread other than the leader exec'd and took the leader's pid: its execve returns there.
      const moved = this.calls.get(event.oldPid);
      this.calls.delete(event.oldPid);
      if (moved) this.calls.set(event.execPid, moved);
    } else if (event.kind === 'exit') {
      this.calls.delete(event.exitPid);
    }
  }

  /** The task's process, resolved once: by then its thread group and name are known. */
  private procOf(t: TaskCalls, ts: number): ProcessStats {
    t.proc = this.agg.processOf(t.pid, this.tasks.tgidOf(t.pid), this.tasks.commOf(t.pid), ts);
    return t.proc;
  }

  /** The user namespace of the last credentials seen granted a capability (a new task's, until its own is seen). */
  private lastCredNs: number | undefined;

  /**
   * A capability check, during the task's open call (the syscall in flight), if any. Granted, the
   * kernel names the credentials' namespace (capable_ns); denied, it does not, and the task's is
   * the one it was last granted in (its parent's, or the container's, until it has one).
   */
  private capable(pid: number, capAndDenied: number, targetNs: number, capableNs: number, ts: number): void {
    const t = this.callsOf(pid);
    const proc = t.proc ?? this.procOf(t, ts);
    const denied = (capAndDenied & DENIED) !== 0;
    const cap = capAndDenied & 0xffff;
    if (!denied) {
      t.credNs = capableNs;
      this.lastCredNs = capableNs;
    }
    const credNs = t.credNs ?? this.lastCredNs;
    const ownNamespace = credNs === undefined || targetNs === credNs;
    const counted = this.agg.addCapabilityCheck(proc, cap, denied, ownNamespace, t.open === NONE ? -1 : t.open, ts);
    if (counted && denied && t.open !== NONE) (t.deniedCaps ??= []).push(cap);
  }

  private exit(q: CpuQueue, i: number): void {
    const pid = q.pid[i] as number;
    const nr = q.nr[i] as number;
    const t = this.callsOf(pid);
    const fresh = t.fresh;
    t.fresh = false;
    const deniedCaps = t.deniedCaps;
    t.deniedCaps = undefined;
    // rt_sigreturn returns with no number (the restored frame reset it): it ends the open call.
    if (nr < 0) {
      t.open = NONE;
      return;
    }
    const lo = q.a[i] as number;
    const hi = q.b[i] as number;
    // -4095..-1 as a 64-bit two's complement value: high word all ones, low word >= 2^32-4095.
    const errno = hi === 0xffffffff && lo >= 0xfffff001 ? 0x100000000 - lo : 0;
    if (t.open === nr) {
      t.open = NONE;
      if (deniedCaps) this.agg.noteDeniedOutcome(deniedCaps, nr, errno);
      // An exec'd process's calls before its filter load are the runtime's: no error of its counts.
      if (errno !== 0 && t.proc?.runtimeOnly !== true) this.agg.addError(nr, errno, (q.ts[i] as number) / 1e9);
      else if (lo === 0 && hi === 0 && this.isFilterLoad(nr, t.arg0, t.arg1)) this.agg.noteFilterLoad((q.ts[i] as number) / 1e9, pid);
      return;
    }
    if (t.open !== NONE) {
      // Inside another call: the exit of that one, or the entry of this one, was lost.
      t.open = NONE;
      this.unpairedExits += 1;
      return;
    }
    // A new task's first event: its half of clone returning 0. Not a call of its own.
    if (lo === 0 && hi === 0 && this.forkSyscalls.has(nr)) return;
    const ts = (q.ts[i] as number) / 1e9;
    if (fresh) {
      // Begun before tracing did: a call the container made all the same.
      const proc = t.proc ?? this.procOf(t, ts);
      this.agg.callTime[0] = ts;
      this.agg.countCall(proc, nr);
      if (errno !== 0 && !proc.runtimeOnly) this.agg.addError(nr, errno, ts);
      return;
    }
    this.agg.addBlocked(nr, pid, this.tasks.tgidOf(pid), this.tasks.commOf(pid), ts, BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)));
  }

  private isFilterLoad(nr: number, arg0: number, arg1: number): boolean {
    if (nr === this.seccompNr) return arg0 === SECCOMP_SET_MODE_FILTER;
    if (nr === this.prctlNr) return arg0 === PR_SET_SECCOMP && arg1 === SECCOMP_MODE_FILTER;
    return false;
  }
}

const NO_TASKS = { commOf: () => '' };

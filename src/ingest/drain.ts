import { closeSync, constants, existsSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { seccompContext } from '../profile/bundle-profile.js';
import { TraceAggregate } from '../report/aggregate.js';
import { logHeaderLines } from '../report/log-format.js';
import { RotatingLog } from '../report/log-writer.js';
import { lossFromStats } from '../report/loss.js';
import { mergeSummaryParts } from '../report/merge.js';
import { writeJsonFileAtomic } from '../report/report-files.js';
import { buildSummary, type Summary } from '../report/summary.js';
import { LOG_FILE_NAME, SUMMARY_FILE_NAME, containerOutputDir } from '../state/paths.js';
import type { RunState } from '../state/run-state.js';
import { describeReturn, errnoName, forkSyscallNumbers, syscallName, syscallNumber } from '../syscalls/index.js';
import { readEventFormat, readEventHeaderFormat, readPageHeaderFormat, type EventFormat } from '../tracefs/event-format.js';
import { CAPABILITY_EVENT, CONTAINER_EVENTS, InstanceClock, TraceInstance, readSyscallArgNames, type CpuStats } from '../tracefs/tracefs.js';
import { excludeIdsFilter } from './distinct-filter.js';
import { LiveIngest } from './live-ingest.js';
import { LogConverter } from './log-converter.js';
import { createRawEventDecoder } from './raw-decoder.js';
import { watchReadable, type ReadableWatch } from './readable.js';
import { COMMIT_LENGTH_MASK, type RawPageLayout } from './raw-page.js';
import { listTraceCpus, tracePipeRawPath } from './raw-pipe-reader.js';
import { RawSpool, readSpoolSegment } from './spool.js';
import { PageQueue } from './page-queue.js';
import { TaskTable, type ProcReader } from './task-table.js';

/** Commits still in flight on another CPU when a round starts: released one round later. */
const WATERMARK_MARGIN_S = 0.005;
/**
 * Pages read ahead of ingestion, at most (128 MiB of 4 KiB pages, for a while, freed as they are
 * ingested): a burst that outpaces the worker's ingest waits here rather than in the kernel's few
 * MiB. At 32 MiB, a 1,000,000-syscall burst on a fresh agent filled it in 2 of 8 runs on a 2-vCPU
 * VM (its queue peaked at the bound, then the kernel's buffer wrapped); beyond it the kernel's
 * buffer holds the rest.
 */
const QUEUED_PAGES_MAX = 32768;
/** Longest a round ingests before the worker's other containers and messages get their turn. */
const INGEST_SLICE_MS = 10;
/**
 * Within a round the kernel's buffers are read again once this long has passed since the last read:
 * at a million syscalls a second a CPU's share of the default budget fills in about 45 ms, and a
 * bound in time holds however fast the worker's code is yet (reading every 64 pages and 8192
 * records left 54 to 76 ms between reads on a fresh agent here, and events were lost).
 */
const READ_EVERY_MS = 2;
/** A watch that ended is watched again after this long (see watchEnded). */
const REWATCH_AFTER_MS = 1;
/** Pages ingested between two looks at the clock. */
const PAGES_BETWEEN_CLOCKS = 8;
/** Records released between two looks at the clock. */
const RELEASE_BATCH = 1024;
/** Spool segments are rendered whole; this bounds the memory one rendering takes. */
const SPOOL_SEGMENT_BYTES = 16 * 1024 * 1024;
/** Called around each slice of the log's rendering (the worker renders at a lower priority). */
export interface RenderSlices {
  begin(): void;
  end(): void;
}
const NO_SLICE_HOOKS: RenderSlices = { begin: () => undefined, end: () => undefined };

/** Longest a render slice may keep the worker from draining its other containers. */
const RENDER_SLICE_MS = 5;

/** The monotonic clock the instance's `mono` trace clock reads, in seconds. */
export function monoSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** Now, in the instance's clock: ours for `mono`, else the kernel's word for it (InstanceClock). */
function traceClockNow(clock: string, instancePath: string, cpu: number): { now: () => number; close: () => void } {
  if (clock === 'mono') return { now: monoSeconds, close: () => undefined };
  const c = new InstanceClock(instancePath, cpu);
  return { now: () => c.nowSeconds(), close: () => c.close() };
}

const CLOSED_CLOCK = { now: monoSeconds, close: () => undefined };

/** Names and thread groups of tasks that were there before their creation event could be traced. */
export const procReader: ProcReader = {
  comm(pid) {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd();
    } catch {
      return undefined;
    }
  },
  tgid(pid) {
    try {
      const m = /^Tgid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  },
};

interface CpuPipe {
  cpu: number;
  /** The drain's own descriptor of the CPU's trace_pipe_raw, read in rounds. */
  fd: number;
  /** The wake-ups, on a descriptor of the watch's own (it closes it when it ends). */
  watch: ReadableWatch | undefined;
  /** The watch waits for a wake-up (it stops after each page it reads, and while the queue is full). */
  armed: boolean;
}

/** What an agent that died left of this container: its last checkpoint, and what it read since. */
export interface Adoption {
  checkpoint?: { consumed: number; summary: Summary } | undefined;
  /** Events the dead agent read (the kernel's per-CPU `read events`) beyond its checkpoint: lost. */
  lostWithAgent: number;
  /** The kernel's count of events handed to readers when the trace was adopted (the dead agent's reads). */
  readEvents: number;
}

export const CheckpointFile = (stateDir: string, id: string): string => join(stateDir, `${id}.checkpoint.json`);

/**
 * One traced container's ring buffer, drained as the kernel fills it: each CPU's trace_pipe_raw is
 * watched by the event loop (epoll, woken at the instance's buffer_percent), and every wake-up
 * reads all of the container's CPUs into a queue of pages (PageQueue), ingests them in slices, and
 * releases, in time order, what every CPU has been ingested past (LiveIngest). Nothing runs while
 * the container is quiet. Raw pages are spooled to disk for the
 * text log, which is rendered after the summary is written, off the container's stop path.
 */
export class Drain {
  readonly instance: TraceInstance;
  private readonly aggregate: TraceAggregate;
  private readonly ingest: LiveIngest;
  private readonly tasks: TaskTable;
  private readonly layout: RawPageLayout;
  private readonly pipes: CpuPipe[];
  private readonly queue: PageQueue;
  /** CPUs whose last read did not find the kernel's buffer empty. */
  private readonly behind = new Set<number>();
  /** The event loop's reads stopped: the queue is full. */
  private watchesPaused = false;
  /** The last read left pages in the kernel's buffer for want of room in the queue. */
  private leftForRoom = false;
  private logFile: RotatingLog | undefined;
  private spool: RawSpool | undefined;
  private converter: LogConverter | undefined;
  private readonly outDir: string;
  private readonly seccomp: ReturnType<typeof seccompContext>;
  /** Capability checks are recorded with the syscalls. */
  private readonly capabilities: boolean;
  private distinctSize = 0;
  /** Watches that ended (a read returned 0) and were watched again: the finished line says it. */
  private watchesEnded = 0;
  private roundQueued = false;
  private finished = false;
  /** Records read since the last checkpoint was written. */
  private sinceCheckpoint = 0;
  /** Records read from the kernel. */
  consumed = 0;
  /** When the kernel's buffers were last read. */
  private lastReadAt = 0;
  /**
   * The most pages one read found waiting in one CPU's buffer, and the most queued at once: the log
   * says them, since loss follows the first nearing the buffer's size.
   */
  private peakReadPages = 0;
  private queuePeak = 0;
  missedInPages = 0;
  missedUnknownPages = 0;
  /**
   * The kernel's count of events handed to readers when this drain began: an earlier agent's reads,
   * or none (a new instance has read nothing; a pooled one is reset when it is claimed).
   */
  private readonly readAtStart: number;
  /** Now, in the instance's clock (the watermark's bound for CPUs read to the end); opened with the pipes. */
  private clock: { now: () => number; close: () => void } = { now: monoSeconds, close: () => undefined };

  constructor(
    private readonly state: RunState,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly adoption?: Adoption,
  ) {
    this.instance = new TraceInstance(state.tracefsRoot, state.instance);
    this.readAtStart = adoption?.readEvents ?? 0;
    this.seccomp = seccompContext(state, state.arch, errnoName);
    // The tasks tracing began with are the init's threads (the record step listed them): one
    // process with one name, known now even if they are gone before their events are read.
    const initial = state.initialTasks ?? [state.pid];
    this.tasks = new TaskTable(procReader, new Map(state.initComm ? initial.map((t) => [t, state.initComm as string]) : []), new Map(initial.map((t) => [t, state.pid])));
    this.outDir = state.reportDir ?? containerOutputDir(config.outputDir, state.id);
    const arch = state.arch;
    const forkSyscalls = forkSyscallNumbers(arch);
    const known = { seccomp: syscallNumber('seccomp', arch), prctl: syscallNumber('prctl', arch) };
    // Adopted: the workload began under the agent that died, unless its checkpoint says it had not.
    const workloadBegun = adoption !== undefined && adoption.checkpoint?.summary.profileStart.kind !== 'none';
    this.aggregate = new TraceAggregate(known, { filterLoadExpected: filterLoadExpected(state), workloadBegun });
    this.layout = { page: readPageHeaderFormat(this.instance.path), event: readEventHeaderFormat(this.instance.path) };
    // What the instance records, as the kernel says (an adopted instance was set up by another agent).
    this.capabilities = isEnabled(this.instance, CAPABILITY_EVENT);
    const formats = [...CONTAINER_EVENTS, ...(this.capabilities ? [CAPABILITY_EVENT] : [])].map((ev) => {
      const [system, event] = ev.split('/') as [string, string];
      return readEventFormat(this.instance.path, system, event);
    });
    const byName = (name: string): EventFormat => formats.find((f) => f.name === name) as EventFormat;
    // Adopted from a dead agent: any task may be inside a call whose entry that agent read.
    const fresh = adoption ? { everyTask: true } : {};
    this.ingest = new LiveIngest({ enter: byName('sys_enter'), exit: byName('sys_exit'), capable: this.capabilities ? byName('cap_capable') : undefined }, this.layout, this.aggregate, this.tasks, createRawEventDecoder(formats), known, forkSyscalls, initial, fresh);
    if (config.writeLog) this.openLog(formats, forkSyscalls, initial, fresh);
    this.queue = new PageQueue(this.layout.page.subBufferSize, QUEUED_PAGES_MAX);
    // The instance's files last: a start that fails here leaves none of them open (rmdir would refuse).
    this.pipes = [];
    try {
      const cpus = listTraceCpus(this.instance.path);
      this.clock = traceClockNow(state.clock, this.instance.path, cpus[0] ?? 0);
      for (const cpu of cpus) this.pipes.push({ cpu, fd: openSync(tracePipeRawPath(this.instance.path, cpu), constants.O_RDONLY | constants.O_NONBLOCK), watch: undefined, armed: false });
    } catch (err) {
      this.abandon();
      throw err;
    }
    for (const pipe of this.pipes) this.watchCpu(pipe);
    // What is in the buffers already (an adopted container's, a fast start's).
    this.scheduleRound();
  }

  /**
   * The text log: its file, and the spool of raw pages it is rendered from. An output directory that
   * cannot take them (read-only, full) costs the log, not the trace: the summary is still made.
   */
  private openLog(formats: EventFormat[], forkSyscalls: ReadonlySet<number>, initial: readonly number[], fresh: { everyTask?: boolean }): void {
    const state = this.state;
    const arch = state.arch;
    try {
      const argNames = new Map<string, readonly string[] | undefined>();
      const format = {
        syscallName: (nr: number) => syscallName(nr, arch),
        argNames: (name: string) => {
          // The host's formats outlive the instance (the log is rendered after it is freed); a rootless
          // agent cannot read them, but its pooled instance stays.
          if (!argNames.has(name)) argNames.set(name, readSyscallArgNames(state.tracefsRoot, name) ?? readSyscallArgNames(this.instance.path, name));
          return argNames.get(name);
        },
        describeReturn,
      };
      this.logFile = new RotatingLog(join(this.outDir, LOG_FILE_NAME), {
        maxBytes: this.config.logMaxBytes,
        keep: this.config.logKeep,
        header: logHeaderLines({ containerId: state.id, arch, clock: state.clock }),
        append: this.adoption !== undefined,
      });
      // The log keeps its last logMaxBytes x (logKeep + 1): the spool keeps no more than that of raw pages.
      const capBytes = this.config.logMaxBytes > 0 ? this.config.logMaxBytes * (this.config.logKeep + 1) : 0;
      this.spool = new RawSpool(join(this.outDir, '.spool'), this.layout.page, SPOOL_SEGMENT_BYTES, capBytes);
      this.converter = new LogConverter(this.layout, createRawEventDecoder(formats), this.logFile, format, forkSyscalls, this.tasks.asReader(), this.adoption ? [] : initial, fresh);
    } catch (err) {
      this.dropLog(err);
    }
  }

  /** The log cannot be written (its directory is full, or read-only): go on without it, and say so once. */
  private dropLog(err: unknown): void {
    this.log.error({ err: (err as Error).message.split('\n')[0] }, 'cannot write the syscall log; the trace goes on without it');
    try {
      this.logFile?.close();
    } catch {
      /* the same disk */
    }
    try {
      this.spool?.remove();
    } catch {
      /* the same disk */
    }
    this.logFile = undefined;
    this.spool = undefined;
    this.converter = undefined;
  }

  private spoolPage(cpu: number, page: Buffer, dataLength: number): void {
    if (!this.spool) return;
    try {
      this.spool.appendPage(cpu, page, dataLength);
    } catch (err) {
      this.dropLog(err);
    }
  }

  private endSpoolRound(watermark: number): void {
    try {
      this.spool?.endRound(watermark);
    } catch (err) {
      this.dropLog(err);
    }
  }

  get id(): string {
    return this.state.id;
  }

  /** What the record step learnt of the bundle (record mode, its own profile). */
  facts(): Pick<RunState, 'recordSeccomp' | 'bundleSeccomp'> {
    return { recordSeccomp: this.state.recordSeccomp, bundleSeccomp: this.state.bundleSeccomp };
  }

  /**
   * A process about to exec the runtime's `exec` into this container, not yet traced: its events
   * (and its children's) follow once the agent adds it to the instance's pids. It is in a call
   * when they begin, and its tree's calls count from its own seccomp load (TraceAggregate).
   */
  enterExec(pid: number): void {
    this.aggregate.markExecRoot(pid);
    this.ingest.addTracedTask(pid);
    this.converter?.addTracedTask(pid);
  }

  /**
   * Wait for the CPU's wake-ups, on a descriptor of the watch's own: a watch that ends (see
   * readable.ts) closes its own, never the one rounds read. Without a watch this CPU is still read in
   * every round another CPU's wake-up starts.
   */
  private watchCpu(pipe: CpuPipe): void {
    let fd: number | undefined;
    try {
      fd = openSync(tracePipeRawPath(this.instance.path, pipe.cpu), constants.O_RDONLY | constants.O_NONBLOCK);
      const watchFd = fd;
      const watch = watchReadable(watchFd, this.layout.page.subBufferSize, {
        page: (page) => this.onPage(pipe, page),
        ended: () => this.watchEnded(pipe, watch),
        error: (err) => this.log.warn({ cpu: pipe.cpu, err: err.message }, "a CPU's ring-buffer watch failed; it is read at the next wake-up of another"),
      });
      pipe.watch = watch;
      pipe.armed = !this.watchesPaused;
      if (this.watchesPaused) watch.pause();
    } catch (err) {
      if (fd !== undefined && pipe.watch === undefined) closeSync(fd);
      this.log.warn({ cpu: pipe.cpu, err: (err as Error).message }, "cannot watch a CPU's ring buffer; it is read at the next wake-up of another");
    }
  }

  /** A watch ended: watched again shortly (not at once: a wake-up level under a page would spin). */
  private watchEnded(pipe: CpuPipe, watch: ReadableWatch): void {
    if (pipe.watch !== watch) return;
    pipe.watch = undefined;
    pipe.armed = false;
    this.watchesEnded += 1;
    if (this.finished) return;
    setTimeout(() => {
      if (!this.finished && pipe.watch === undefined && this.pipes.includes(pipe)) this.watchCpu(pipe);
    }, REWATCH_AFTER_MS).unref();
    this.scheduleRound();
  }

  /** A page the event loop read when the CPU's buffer reached its wake-up level; the rest follows in a round. */
  private onPage(pipe: CpuPipe, page: Buffer): void {
    pipe.armed = false;
    if (this.finished) return;
    // The event loop read it: queued even past the bound, which then stops the watches.
    this.queue.pushCopy(pipe.cpu, page);
    this.behind.add(pipe.cpu);
    if (this.queue.full && !this.watchesPaused) {
      this.watchesPaused = true;
      for (const p of this.pipes) {
        p.watch?.pause();
        p.armed = false;
      }
    }
    this.scheduleRound();
  }

  /** After a round: every watch waits for its CPU's next wake-up again, unless the queue is too full. */
  private armWatches(): void {
    if (this.watchesPaused || this.finished) return;
    for (const pipe of this.pipes) {
      if (pipe.watch && !pipe.armed) {
        pipe.watch.resume();
        pipe.armed = true;
      }
    }
  }

  /** One drain round soon (coalesced): a CPU's buffer reached its wake-up level, or pages wait. */
  private scheduleRound(): void {
    if (this.roundQueued || this.finished) return;
    this.roundQueued = true;
    setImmediate(() => {
      this.roundQueued = false;
      try {
        if (!this.finished) this.round();
      } catch (err) {
        // One container's trouble must not stop the worker's others; the next wake-up tries again.
        this.log.error({ err: (err as Error).message }, 'a drain round failed');
      }
    });
  }

  /**
   * Read every CPU into the queue, ingest for a slice of time (reading again every few pages), then
   * release what every CPU has been ingested past: the clock when the round began (less a margin
   * for commits in flight), or, for a CPU with pages still queued or left in the kernel's buffer,
   * its last record ingested (each CPU's buffer is in time order). Pages left queued get another
   * round after the worker's other work. `toEnd`: everything, now (livedump).
   */
  round(toEnd = false): number {
    const startedAt = this.clock.now() - WATERMARK_MARGIN_S;
    this.read(toEnd);
    const records = this.ingestQueued(toEnd ? Infinity : performance.now() + INGEST_SLICE_MS, toEnd);
    const watermark = Math.min(startedAt, this.ingestedPastNs() / 1e9);
    if (records > 0) this.endSpoolRound(watermark);
    // Releasing costs more per record than reading a page: read between batches, so a long round
    // leaves the kernel's buffers no fuller than a short one.
    while (this.ingest.queued > 0 && this.ingest.release(watermark * 1e9, RELEASE_BATCH) === RELEASE_BATCH) {
      if (performance.now() - this.lastReadAt >= READ_EVERY_MS) this.read(toEnd);
    }
    if (this.config.distinctOnly && this.aggregate.syscalls.size !== this.distinctSize) this.updateDistinctFilter();
    if (this.watchesPaused && this.queue.size < this.queue.maxPages / 2) this.watchesPaused = false;
    this.armWatches();
    // Pages wait (here, or in the kernel for room here): on after the worker's other work. A CPU left
    // at a part page waits for its next wake-up instead: rounds would spin on a busy writer.
    if (this.queue.size > 0 || this.leftForRoom) this.scheduleRound();
    return records;
  }

  /**
   * Read each CPU into the queue: to the end (the kernel says it is empty) when `toEnd`, else until
   * a read returns less than half a page, or the queue is full. A part page is what a read gets once
   * it has caught up with the writer (the kernel copies out the page being written); reading on
   * would spin on a few events per read while a busy task writes, costing the kernel a copy each
   * time and the task its CPU. What stays is read at the next round or wake-up.
   */
  private read(toEnd: boolean): number {
    this.lastReadAt = performance.now();
    this.queuePeak = Math.max(this.queuePeak, this.queue.size);
    let pages = 0;
    this.leftForRoom = false;
    const enough = this.queue.pageSize / 2;
    const commitOffset = this.layout.page.commit.offset;
    for (const pipe of this.pipes) {
      let fromThisCpu = 0;
      for (;;) {
        if (!toEnd && this.queue.full) {
          this.behind.add(pipe.cpu);
          this.leftForRoom = true;
          break;
        }
        const buffer = this.queue.buffer();
        let n: number;
        try {
          n = readSync(pipe.fd, buffer, 0, buffer.length, null);
        } catch (err) {
          this.queue.giveBack(buffer);
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
            this.behind.delete(pipe.cpu);
            break;
          }
          throw err;
        }
        if (n <= 0) {
          this.queue.giveBack(buffer);
          this.behind.delete(pipe.cpu);
          break;
        }
        this.queue.push(pipe.cpu, buffer);
        pages += 1;
        if (++fromThisCpu > this.peakReadPages) this.peakReadPages = fromThisCpu;
        if (!toEnd && (buffer.readUInt32LE(commitOffset) & COMMIT_LENGTH_MASK) < enough) {
          this.behind.add(pipe.cpu);
          break;
        }
      }
    }
    return pages;
  }

  /** Ingest queued pages, oldest first, until none are left or the deadline passes. */
  private ingestQueued(deadline: number, toEnd: boolean): number {
    let records = 0;
    let sinceRead = 0;
    while (this.queue.size > 0) {
      const cpu = this.queue.headCpu();
      const page = this.queue.shift();
      const r = this.ingest.page(page, cpu);
      this.spoolPage(cpu, page, r.dataLength);
      this.queue.giveBack(page);
      if (r.missedEvents === 'unknown') this.missedUnknownPages += 1;
      else this.missedInPages += r.missedEvents;
      records += r.records;
      if (++sinceRead === PAGES_BETWEEN_CLOCKS) {
        sinceRead = 0;
        const now = performance.now();
        // A long round: keep the kernel's buffers from filling meanwhile.
        if (now - this.lastReadAt >= READ_EVERY_MS) this.read(toEnd);
        if (now > deadline) break;
      }
    }
    this.consumed += records;
    this.sinceCheckpoint += records;
    return records;
  }

  /** The time every CPU has been ingested past, as far as the queue and the last reads tell. */
  private ingestedPastNs(): number {
    let past = Infinity;
    for (const pipe of this.pipes) {
      // Records of the same nanosecond may follow on this CPU: release strictly before it.
      if (this.behind.has(pipe.cpu) || this.queue.waiting(pipe.cpu) > 0) past = Math.min(past, this.ingest.lastReadNs(pipe.cpu) - 1);
    }
    return past;
  }

  private updateDistinctFilter(): void {
    const seen = [...this.aggregate.syscalls.keys()];
    this.distinctSize = seen.length;
    const filter = excludeIdsFilter(seen);
    try {
      this.instance.write('events/raw_syscalls/sys_enter/filter', filter);
      this.instance.write('events/raw_syscalls/sys_exit/filter', filter);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, seen: seen.length }, 'cannot update the distinct-syscalls filter; counting all events');
    }
  }

  private summary(kind: Summary['kind'], stats: readonly CpuStats[], log: Summary['log'], notIngested = 0): Summary {
    const lost = this.adoption?.lostWithAgent ?? 0;
    const own = buildSummary(this.aggregate, {
      containerId: this.state.id,
      arch: this.state.arch,
      kind,
      source: 'collector',
      clock: this.state.clock,
      loss: lossFromStats(stats, lost, notIngested),
      now: new Date(),
      syscallName: (nr) => syscallName(nr, this.state.arch),
      errnoName,
      log,
      ...(this.capabilities ? { capabilities: { held: this.state.heldCapabilities ?? null } } : {}),
      ...(this.state.kubernetes ? { kubernetes: this.state.kubernetes } : {}),
      ...this.seccomp,
    });
    const part = this.adoption?.checkpoint?.summary;
    return part ? mergeSummaryParts(part, own, own.loss) : own;
  }

  private logState(): Summary['log'] {
    return this.converter ? 'pending' : this.config.writeLog ? 'failed' : 'off';
  }

  private cpuStats(): CpuStats[] {
    return existsSync(this.instance.path) ? this.instance.cpuStats() : [];
  }

  /** The checkpoint (what a restarted agent adopts), when something was read since the last one. */
  checkpoint(): void {
    if (this.finished || this.sinceCheckpoint === 0) return;
    this.round();
    this.sinceCheckpoint = 0;
    writeJsonFileAtomic(CheckpointFile(this.config.stateDir, this.state.id), { consumed: this.consumed + (this.adoption?.checkpoint?.consumed ?? 0), summary: this.summary('live', this.cpuStats(), this.logState()) });
  }

  /** summary.live.json of the container so far, leaving it traced. */
  liveDump(): string {
    this.round(true);
    const path = join(this.outDir, SUMMARY_FILE_NAME.replace(/\.json$/, '.live.json'));
    writeJsonFileAtomic(path, this.summary('live', this.cpuStats(), this.logState()));
    return path;
  }

  /**
   * The container stopped and its instance records nothing more (the caller turned tracing off):
   * drain what is left, write the final summary, close the ring buffer's files. The log is
   * rendered afterwards (renderLog); the summary says it is pending until then.
   */
  finish(): { summary: Summary; summaryPath: string } {
    const began = performance.now();
    this.finished = true;
    for (const pipe of this.pipes) pipe.watch?.pause();
    let quiet = 0;
    while (quiet < 2) {
      this.read(true);
      quiet = this.ingestQueued(Infinity, true) === 0 ? quiet + 1 : 0;
    }
    this.endSpoolRound(Infinity);
    this.ingest.release(Infinity);
    const stats = this.cpuStats();
    this.closePipes();
    const drained = performance.now();
    // Every event the kernel handed over was counted, or the summary says how many were not: a
    // fault of ours, never expected, and never hidden behind the kernel's own zero loss.
    const readEvents = stats.reduce((n, s) => n + s.readEvents, 0);
    // Events still in the kernel's buffer after the drain read it to the end were never counted either.
    const leftUnread = stats.reduce((n, s) => n + s.entries, 0);
    const notIngested = stats.length > 0 ? Math.max(0, readEvents - this.readAtStart - this.consumed) + leftUnread : 0;
    if (notIngested > 0) this.log.error({ notIngested, readEvents, readAtStart: this.readAtStart, consumed: this.consumed, leftUnread }, 'the kernel handed over, or still holds, events that were never counted');
    const summary = this.summary('final', stats, this.logState(), notIngested);
    const summaryPath = join(this.outDir, SUMMARY_FILE_NAME);
    const made = performance.now();
    writeJsonFileAtomic(summaryPath, summary);
    const written = performance.now();
    rmSync(CheckpointFile(this.config.stateDir, this.state.id), { force: true });
    this.log.info({ consumed: this.consumed, syscalls: summary.trace.syscallsTotal, blocked: summary.trace.blockedTotal, lost: summary.loss.lost, unknownEvents: this.ingest.unknownEvents, unpairedExits: this.ingest.unpairedExits, missedInPages: this.missedInPages, peakReadPages: this.peakReadPages, queuePeak: this.queuePeak, watchesEnded: this.watchesEnded, drainMs: Math.round(drained - began), summaryMs: Math.round(made - drained), writeMs: Math.round(written - made) }, 'trace finished');
    return { summary, summaryPath };
  }

  /**
   * Render the spooled pages into the text log in slices of a few milliseconds (the worker drains
   * other containers in between), then say in the summary that the log is written.
   */
  async renderLog(summary: Summary, summaryPath: string, slices: RenderSlices = NO_SLICE_HOOKS): Promise<void> {
    if (!this.spool || !this.converter || !this.logFile) return;
    const spool = this.spool;
    const converter = this.converter;
    const logFile = this.logFile;
    spool.closeSegment();
    const dropped = spool.droppedSegments();
    if (dropped > 0) converter.noteGap(dropped, spool.droppedBytes);
    // An adopted trace: the dead agent's segments come first, then the gap its death left.
    let agentGap = this.adoption !== undefined;
    for (const segment of spool.closedSegments()) {
      if (agentGap && !spool.isInherited(segment)) {
        converter.noteAgentDied();
        agentGap = false;
      }
      converter.begin(readSpoolSegment(segment));
      for (;;) {
        slices.begin();
        let done: boolean;
        try {
          done = converter.step(Date.now() + RENDER_SLICE_MS);
        } finally {
          slices.end();
        }
        if (done) break;
        await new Promise((r) => setImmediate(r));
      }
      rmSync(segment, { force: true });
      await new Promise((r) => setImmediate(r));
    }
    converter.finish();
    spool.remove();
    // Closed once: a second close of the number could close a descriptor opened since.
    this.logFile = undefined;
    logFile.close();
    writeJsonFileAtomic(summaryPath, { ...summary, log: 'written' });
  }

  private closePipes(): void {
    const clock = this.clock;
    // Closed once (an abandon after a finish comes here again).
    this.clock = CLOSED_CLOCK;
    try {
      clock.close();
    } catch {
      /* closed already */
    }
    for (const pipe of this.pipes) {
      try {
        pipe.watch?.close();
      } catch {
        /* closed already */
      }
      pipe.watch = undefined;
      try {
        closeSync(pipe.fd);
      } catch {
        /* closed already */
      }
    }
    this.pipes.length = 0;
  }

  /** An error path: close what is open, leave nothing in the output but what was written. */
  abandon(): void {
    this.finished = true;
    this.closePipes();
    const logFile = this.logFile;
    this.logFile = undefined;
    try {
      logFile?.close();
      this.spool?.remove();
    } catch {
      /* an unwritable output directory: nothing more to remove */
    }
  }
}

/** Will the runtime load a seccomp filter (the bundle's own, or record mode's permissive one)? Unknown counts as no. */
function filterLoadExpected(state: RunState): boolean {
  return state.recordSeccomp === 'permissive' || (state.bundleSeccomp !== undefined && state.bundleSeccomp !== 'null');
}

function isEnabled(instance: TraceInstance, event: string): boolean {
  try {
    return instance.read(`events/${event}/enable`).trim() === '1';
  } catch {
    return false;
  }
}

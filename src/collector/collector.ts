import { closeSync, constants, existsSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { lossFromStats } from '../report/loss.js';
import { TraceAggregate } from '../report/aggregate.js';
import { logHeaderLines } from '../report/log-format.js';
import { LogConverter } from './log-converter.js';
import { RawSpool, readSpoolSegment } from './spool.js';
import { RotatingLog } from '../report/log-writer.js';
import { writeJsonFileAtomic } from '../report/report-files.js';
import { buildSummary, type Summary } from '../report/summary.js';
import { LOG_FILE_NAME, SUMMARY_FILE_NAME, containerOutputDir } from '../state/paths.js';
import type { RunState } from '../state/run-state.js';
import { describeReturn, errnoName, forkSyscallNumbers, syscallName, syscallNumber } from '../syscalls/index.js';
import { readEventFormat, readEventHeaderFormat, readPageHeaderFormat, type EventFormat } from '../tracefs/event-format.js';
import { CONTAINER_EVENTS, TraceInstance, readSyscallArgNames } from '../tracefs/tracefs.js';
import { excludeIdsFilter } from './distinct-filter.js';
import { seccompContext } from '../profile/bundle-profile.js';
import { collectorFiles } from './files.js';
import { createRawEventDecoder } from './raw-decoder.js';
import { LiveIngest } from './live-ingest.js';
import type { RawPageLayout } from './raw-page.js';
import { listTraceCpus, tracePipeRawPath } from './raw-pipe-reader.js';
import { TaskTable, type ProcReader } from './task-table.js';

/** Commits still in flight on another CPU when a round starts: released one round later. */
const WATERMARK_MARGIN_S = 0.005;
/** Spool segments are rendered whole; this bounds the memory one rendering takes. */
const SPOOL_SEGMENT_BYTES = 16 * 1024 * 1024;
/** Longest a render slice may keep the loop from draining. */
const RENDER_SLICE_MS = 5;
const QUIET_BEFORE_RENDER_MS = 250;
const CHECKPOINT_EVERY_MS = 1000;

/** The monotonic clock the instance's `mono` trace clock reads, in seconds. */
export function monoSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

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
  fd: number;
}

/**
 * Drains one container's ftrace instance continuously (per-CPU binary pages from trace_pipe_raw),
 * so the ring buffer never overwrites; keeps the aggregate (always) and streams the per-syscall log
 * (when asked). Runs detached from the hook that started it; stops when report asks (SIGTERM),
 * after draining what is left.
 */
export class Collector {
  private readonly instance: TraceInstance;
  private readonly aggregate: TraceAggregate;
  private readonly ingest: LiveIngest;
  private readonly tasks: TaskTable;
  private readonly layout: RawPageLayout;
  private readonly pipes: CpuPipe[];
  private readonly page: Buffer;
  private readonly logFile: RotatingLog | undefined;
  private readonly spool: RawSpool | undefined;
  private readonly converter: LogConverter | undefined;
  private readonly files: ReturnType<typeof collectorFiles>;
  private readonly outDir: string;
  private stopRequested = false;
  /** Ends the current idle wait early: a stop or live-dump request is answered at once. */
  private wake: (() => void) | undefined;
  private liveRequested = false;
  private distinctSize = 0;
  /** Records read from the kernel, and events the kernel reported missing between pages. */
  consumed = 0;
  missedInPages = 0;
  missedUnknownPages = 0;
  private liveSeq = 0;
  /** The spool segment being rendered, if one is under way. */
  private rendering: string | undefined;
  /** What the summary says of the container's seccomp profile. */
  private readonly seccomp: ReturnType<typeof seccompContext>;

  constructor(
    private readonly state: RunState,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.instance = new TraceInstance(state.tracefsRoot, state.instance);
    this.seccomp = seccompContext(state, state.arch, errnoName);
    // The tasks tracing began with are the init's threads (the record hook listed them): one
    // process with one name, known now even if they are gone before their events are read.
    const initial = state.initialTasks ?? [state.pid];
    this.tasks = new TaskTable(
      procReader,
      new Map(state.initComm ? initial.map((t) => [t, state.initComm as string]) : []),
      new Map(initial.map((t) => [t, state.pid])),
    );
    this.files = collectorFiles(config.stateDir, state.id);
    this.outDir = containerOutputDir(config.outputDir, state.id);
    const arch = state.arch;
    const argNames = new Map<string, readonly string[] | undefined>();
    const format = {
      syscallName: (nr: number) => syscallName(nr, arch),
      argNames: (name: string) => {
        if (!argNames.has(name)) argNames.set(name, readSyscallArgNames(state.tracefsRoot, name));
        return argNames.get(name);
      },
      describeReturn,
    };
    const forkSyscalls = forkSyscallNumbers(arch);
    const known = { seccomp: syscallNumber('seccomp', arch), prctl: syscallNumber('prctl', arch) };
    this.aggregate = new TraceAggregate(known);
    this.layout = { page: readPageHeaderFormat(this.instance.path), event: readEventHeaderFormat(this.instance.path) };
    const formats = CONTAINER_EVENTS.map((ev) => {
      const [system, event] = ev.split('/') as [string, string];
      return readEventFormat(this.instance.path, system, event);
    });
    const byName = (name: string): EventFormat => formats.find((f) => f.name === name) as EventFormat;
    this.ingest = new LiveIngest(
      { enter: byName('sys_enter'), exit: byName('sys_exit') },
      this.layout,
      this.aggregate,
      this.tasks,
      createRawEventDecoder(formats),
      known,
      forkSyscalls,
      state.initialTasks ?? [state.pid],
    );
    if (config.writeLog) {
      this.logFile = new RotatingLog(join(this.outDir, LOG_FILE_NAME), {
        maxBytes: config.logMaxBytes,
        keep: config.logKeep,
        header: logHeaderLines({ containerId: state.id, arch, clock: state.clock }),
      });
      this.spool = new RawSpool(join(this.outDir, '.spool'), this.layout.page, SPOOL_SEGMENT_BYTES);
      this.converter = new LogConverter(this.layout, createRawEventDecoder(formats), this.logFile, format, forkSyscalls, this.tasks.asReader(), initial);
    }
    this.page = Buffer.alloc(this.layout.page.subBufferSize);
    this.pipes = listTraceCpus(this.instance.path).map((cpu) => ({
      cpu,
      fd: openSync(tracePipeRawPath(this.instance.path, cpu), constants.O_RDONLY | constants.O_NONBLOCK),
    }));
  }

  requestStop(): void {
    this.stopRequested = true;
    this.wake?.();
  }

  requestLiveDump(): void {
    this.liveRequested = true;
    this.wake?.();
  }

  /**
   * The main loop: drain, order, analyse; sleep only when the buffer is empty. Ends when asked
   * (requestStop) or when the container's init is gone, with everything drained and written.
   */
  async run(): Promise<CollectorResult> {
    let lastCheckpoint = Date.now();
    let idleWait = 0;
    let lastDataAt = Date.now();
    while (!this.stopRequested) {
      const watermark = monoSeconds() - WATERMARK_MARGIN_S;
      const read = this.drainAll();
      if (read > 0) this.spool?.endRound(watermark);
      if (this.ingest.queued > 0) this.ingest.release(watermark * 1e9);
      this.afterRound();
      if (read > 0) lastDataAt = Date.now();
      // Rendering allocates, and a long GC pause mid-burst would let the ring buffer overwrite:
      // render only once the container has been quiet for a while (or at the end).
      else if (Date.now() - lastDataAt > QUIET_BEFORE_RENDER_MS) this.renderSpool(false);
      if (this.liveRequested) this.writeLive();
      if (Date.now() - lastCheckpoint >= CHECKPOINT_EVERY_MS) {
        this.checkpoint();
        lastCheckpoint = Date.now();
        if (!existsSync(this.instance.path)) break; // removed under us: nothing left to read
      }
      // The container's init is gone, and with it (pid namespace) every task we follow: finish now
      // rather than at report time. `crun run` waits for every child it adopted as subreaper before
      // it runs poststop, and an engine may never call delete; either way the trace is complete.
      if (read === 0 && !isAlive(this.state.pid)) break;
      // Always yield to the event loop so signals are seen. Idle waits start at 1 ms and double up
      // to collectorPollMs: a burst that pauses for an instant must not find us asleep for long.
      idleWait = read > 0 ? 0 : Math.min(this.config.collectorPollMs, Math.max(1, idleWait * 2));
      await new Promise<void>((r) => {
        if (idleWait === 0) {
          setImmediate(r);
          return;
        }
        const timer = setTimeout(done, idleWait);
        function done(): void {
          clearTimeout(timer);
          r();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
    return this.finish();
  }

  /** Read every CPU's pages until the kernel has nothing more; returns the records read. */
  private drainAll(): number {
    let records = 0;
    for (const pipe of this.pipes) {
      for (;;) {
        let n: number;
        try {
          n = readSync(pipe.fd, this.page, 0, this.page.length, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw err;
        }
        if (n <= 0) break;
        const page = this.ingest.page(this.page, pipe.cpu);
        this.spool?.appendPage(pipe.cpu, this.page, page.dataLength);
        if (page.missedEvents === 'unknown') this.missedUnknownPages += 1;
        else this.missedInPages += page.missedEvents;
        records += page.records;
      }
    }
    this.consumed += records;
    return records;
  }

  /**
   * Render spooled pages into the text log: in slices of a few milliseconds on idle rounds (so
   * draining never waits long), or everything at the end. Past the size cap the oldest unrendered
   * segments are dropped, and the log says so.
   */
  private renderSpool(all: boolean): void {
    if (!this.spool || !this.converter) return;
    if (all) this.spool.closeSegment();
    const deadline = all ? Infinity : Date.now() + RENDER_SLICE_MS;
    for (;;) {
      if (this.rendering === undefined) {
        const segments = this.spool.closedSegments();
        while (this.config.logMaxBytes > 0 && segments.length > 1 && this.spool.totalBytes() > this.config.logMaxBytes * (this.config.logKeep + 1)) {
          const dropped = segments.shift() as string;
          this.converter.noteGap(statSync(dropped).size);
          rmSync(dropped, { force: true });
        }
        const next = segments[0];
        if (next === undefined) return;
        this.rendering = next;
        this.converter.begin(readSpoolSegment(next));
      }
      if (!this.converter.step(deadline)) return;
      rmSync(this.rendering, { force: true });
      this.rendering = undefined;
      if (Date.now() > deadline) return;
    }
  }

  private afterRound(): void {
    if (this.config.distinctOnly && this.aggregate.syscalls.size !== this.distinctSize) this.updateDistinctFilter();
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

  private summary(kind: Summary['kind']): Summary {
    const stats = existsSync(this.instance.path) ? this.instance.cpuStats() : [];
    return buildSummary(this.aggregate, {
      containerId: this.state.id,
      arch: this.state.arch,
      kind,
      source: 'collector',
      clock: this.state.clock,
      loss: lossFromStats(stats),
      now: new Date(),
      syscallName: (nr) => syscallName(nr, this.state.arch),
      errnoName,
      ...this.seccomp,
    });
  }

  private checkpoint(): void {
    writeJsonFileAtomic(this.files.checkpoint, { consumed: this.consumed, summary: this.summary('live') });
  }

  private writeLive(): void {
    this.liveRequested = false;
    this.logFile?.flush();
    writeJsonFileAtomic(join(this.outDir, SUMMARY_FILE_NAME.replace(/\.json$/, '.live.json')), this.summary('live'));
    this.liveSeq += 1;
    writeFileSync(this.files.liveAck, String(this.liveSeq));
  }

  /** Drain what is left, close the log, write the final summary; what the done marker records. */
  private finish(): CollectorResult {
    // Nothing more is recorded: what is in the buffer is all there is to drain (a task that reused
    // a traced pid must not keep this loop going).
    try {
      this.instance.stop();
    } catch {
      /* removed under us: nothing more can come */
    }
    let quiet = 0;
    while (quiet < 2) quiet = this.drainAll() === 0 ? quiet + 1 : 0;
    this.spool?.endRound(Infinity);
    this.ingest.release(Infinity);
    for (const p of this.pipes) closeSync(p.fd);
    this.renderSpool(true);
    this.converter?.finish();
    this.spool?.remove();
    this.logFile?.close();
    const summary = this.summary('final');
    const summaryPath = join(this.outDir, SUMMARY_FILE_NAME);
    writeJsonFileAtomic(summaryPath, summary);
    this.log.info(
      { id: this.state.id, consumed: this.consumed, syscalls: summary.trace.syscallsTotal, lost: summary.loss.lost, unknownEvents: this.ingest.unknownEvents },
      'collector finished',
    );
    return {
      summary,
      done: {
        summaryPath,
        consumed: this.consumed,
        missedInPages: this.missedInPages,
        missedUnknownPages: this.missedUnknownPages,
        logRotations: this.logFile?.rotations ?? 0,
      },
    };
  }
}

/** What a finished collector leaves: the summary, and the facts its done marker records. */
export interface CollectorResult {
  summary: Summary;
  done: DoneMarker;
}

/** The done marker (files.done): the collector wrote the final summary (and, when set, the seccomp files). */
export interface DoneMarker {
  summaryPath: string;
  consumed: number;
  missedInPages: number;
  missedUnknownPages: number;
  logRotations: number;
  /** The seccomp files the config and annotations ask for are written too (the report need not). */
  seccompWritten?: boolean;
}

export function writeDoneMarker(path: string, done: DoneMarker): void {
  writeJsonFileAtomic(path, done);
}

/** True while pid exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Binary records carry no comm; the task table fills it in later, in time order. */
const NO_TASKS = { commOf: () => '' };

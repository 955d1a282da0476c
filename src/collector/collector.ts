import { closeSync, constants, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { lossFromStats } from '../report/loss.js';
import { TraceAnalyzer } from '../report/analyzer.js';
import { logHeaderLines, formatSyscallLine } from '../report/log-format.js';
import { RotatingLog } from '../report/log-writer.js';
import { writeJsonFileAtomic } from '../report/report-files.js';
import { buildSummary, type Summary } from '../report/summary.js';
import { LOG_FILE_NAME, SUMMARY_FILE_NAME, containerOutputDir } from '../state/paths.js';
import type { RunState } from '../state/run-state.js';
import { describeReturn, errnoName, forkSyscallNumbers, syscallName, syscallNumber } from '../syscalls/index.js';
import type { TraceEvent } from '../trace/events.js';
import { readEventFormat, readEventHeaderFormat, readPageHeaderFormat } from '../tracefs/event-format.js';
import { CONTAINER_EVENTS, TraceInstance, readSyscallArgNames } from '../tracefs/tracefs.js';
import { excludeIdsFilter } from './distinct-filter.js';
import { collectorFiles } from './files.js';
import { createRawEventDecoder, type RawEventDecoder } from './raw-decoder.js';
import { decodeRawPage, type RawPageLayout } from './raw-page.js';
import { listTraceCpus, tracePipeRawPath } from './raw-pipe-reader.js';
import { TaskTable, type ProcReader } from './task-table.js';
import { TimeOrderBuffer } from './time-order.js';

/** Commits still in flight on another CPU when a round starts: released one round later. */
const WATERMARK_MARGIN_S = 0.005;
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
  private readonly analyzer: TraceAnalyzer;
  private readonly tasks: TaskTable;
  private readonly order = new TimeOrderBuffer();
  private readonly layout: RawPageLayout;
  private readonly decoder: RawEventDecoder;
  private readonly pipes: CpuPipe[];
  private readonly page: Buffer;
  private readonly logFile: RotatingLog | undefined;
  private readonly files: ReturnType<typeof collectorFiles>;
  private readonly outDir: string;
  private stopRequested = false;
  private liveRequested = false;
  private distinctSize = 0;
  /** Records read from the kernel, and events the kernel reported missing between pages. */
  consumed = 0;
  missedInPages = 0;
  missedUnknownPages = 0;
  unknownEvents = 0;
  private liveSeq = 0;

  constructor(
    private readonly state: RunState,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.instance = new TraceInstance(state.tracefsRoot, state.instance);
    this.tasks = new TaskTable(procReader, state.initComm ? new Map([[state.pid, state.initComm]]) : new Map());
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
    this.logFile = config.writeLog
      ? new RotatingLog(join(this.outDir, LOG_FILE_NAME), {
          maxBytes: config.logMaxBytes,
          keep: config.logKeep,
          header: logHeaderLines({ containerId: state.id, arch, clock: state.clock }),
        })
      : undefined;
    const logFile = this.logFile;
    this.analyzer = new TraceAnalyzer({
      forkSyscalls: forkSyscallNumbers(arch),
      known: { seccomp: syscallNumber('seccomp', arch), prctl: syscallNumber('prctl', arch) },
      onRecord: logFile ? (r) => logFile.write(formatSyscallLine(r, format)) : undefined,
    });
    this.layout = { page: readPageHeaderFormat(this.instance.path), event: readEventHeaderFormat(this.instance.path) };
    this.decoder = createRawEventDecoder(
      CONTAINER_EVENTS.map((ev) => {
        const [system, event] = ev.split('/') as [string, string];
        return readEventFormat(this.instance.path, system, event);
      }),
    );
    this.page = Buffer.alloc(this.layout.page.subBufferSize);
    this.pipes = listTraceCpus(this.instance.path).map((cpu) => ({
      cpu,
      fd: openSync(tracePipeRawPath(this.instance.path, cpu), constants.O_RDONLY | constants.O_NONBLOCK),
    }));
  }

  requestStop(): void {
    this.stopRequested = true;
  }

  requestLiveDump(): void {
    this.liveRequested = true;
  }

  /** The main loop: drain, order, analyse; sleep only when the buffer is empty. */
  async run(): Promise<void> {
    let lastCheckpoint = Date.now();
    while (!this.stopRequested) {
      const watermark = monoSeconds() - WATERMARK_MARGIN_S;
      const read = this.drainAll();
      this.process(watermark);
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
      // Always yield to the event loop so signals are seen; wait only when idle.
      await new Promise((r) => (read === 0 ? setTimeout(r, this.config.collectorPollMs) : setImmediate(r)));
    }
    this.finish();
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
        const decoded = decodeRawPage(this.page, this.layout);
        if (decoded.missedEvents === 'unknown') this.missedUnknownPages += 1;
        else this.missedInPages += decoded.missedEvents;
        const { events, unknownEvents } = this.decoder.decodeRecords(decoded.records, pipe.cpu, NO_TASKS);
        this.unknownEvents += unknownEvents;
        this.order.add(events);
        records += decoded.records.length;
      }
    }
    this.consumed += records;
    return records;
  }

  private process(watermark: number): void {
    const events: TraceEvent[] = this.order.release(watermark);
    for (const e of events) {
      this.tasks.annotate(e);
      this.analyzer.feedEvent(e);
    }
    if (this.config.distinctOnly && this.analyzer.aggregate.syscalls.size !== this.distinctSize) this.updateDistinctFilter();
  }

  private updateDistinctFilter(): void {
    const seen = [...this.analyzer.aggregate.syscalls.keys()];
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
    return buildSummary(this.analyzer.aggregate, {
      containerId: this.state.id,
      arch: this.state.arch,
      kind,
      source: 'collector',
      clock: this.state.clock,
      loss: lossFromStats(stats),
      now: new Date(),
      syscallName: (nr) => syscallName(nr, this.state.arch),
      errnoName,
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

  /** Drain what is left, close the log, write the final summary. */
  private finish(): void {
    let quiet = 0;
    while (quiet < 2) quiet = this.drainAll() === 0 ? quiet + 1 : 0;
    this.process(Infinity);
    this.analyzer.finish();
    for (const p of this.pipes) closeSync(p.fd);
    this.logFile?.close();
    const summary = this.summary('final');
    const summaryPath = join(this.outDir, SUMMARY_FILE_NAME);
    writeJsonFileAtomic(summaryPath, summary);
    writeJsonFileAtomic(this.files.done, {
      summaryPath,
      consumed: this.consumed,
      missedInPages: this.missedInPages,
      missedUnknownPages: this.missedUnknownPages,
      logRotations: this.logFile?.rotations ?? 0,
    });
    this.log.info(
      { id: this.state.id, consumed: this.consumed, syscalls: summary.trace.syscallsTotal, lost: summary.loss.lost, unknownEvents: this.unknownEvents },
      'collector finished',
    );
  }
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

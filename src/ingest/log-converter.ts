import { formatCapabilityLine, formatSyscallLine, type LogFormatContext } from '../report/log-format.js';
import type { TraceEvent } from '../trace/events.js';
import type { RotatingLog } from '../report/log-writer.js';
import { SyscallPairer } from '../trace/syscall-pairing.js';
import type { RawEventDecoder } from './raw-decoder.js';
import { decodeRawPage, type RawPageLayout } from './raw-page.js';
import { SpoolTruncatedError, spoolFrames, type SpoolFrame } from './spool.js';
import { TaskTable, type ProcReader } from './task-table.js';
import { TimeOrderBuffer } from './time-order.js';

/**
 * Renders spooled raw pages into the per-syscall text log: the same decode, time order, task
 * naming and pairing as the live pipeline, but with every argument, at a pace that does not
 * compete with draining. State (open calls, task names) carries over between segments.
 */
export class LogConverter {
  private readonly order = new TimeOrderBuffer();
  private readonly tasks: TaskTable;
  private readonly pairer: SyscallPairer;
  eventsConverted = 0;

  constructor(
    private readonly layout: RawPageLayout,
    private readonly decoder: RawEventDecoder,
    private readonly log: RotatingLog,
    format: LogFormatContext,
    forkSyscalls: ReadonlySet<number>,
    names: ProcReader,
    initialTasks: readonly number[],
    fresh: { everyTask?: boolean } = {},
  ) {
    this.tasks = new TaskTable(names);
    this.pairer = new SyscallPairer((r) => this.log.write(formatSyscallLine(r, format)), forkSyscalls, initialTasks, fresh.everyTask === true);
  }

  private frames: Generator<SpoolFrame> | undefined;

  /** One event in time order: a syscall half to pair, or a capability check, written as it comes. */
  private readonly emit = (e: TraceEvent): void => {
    this.tasks.annotate(e);
    if (e.kind === 'capable') this.log.write(formatCapabilityLine(e));
    else this.pairer.push(e);
  };

  /** Start rendering a segment (call `step` until it returns true). */
  begin(segment: Buffer): void {
    this.frames = spoolFrames(segment);
  }

  /** Render frames of the current segment until the deadline (ms since epoch); true when done. */
  step(deadline: number): boolean {
    if (!this.frames) return true;
    let n = 0;
    for (;;) {
      let next: IteratorResult<SpoolFrame>;
      try {
        next = this.frames.next();
      } catch (err) {
        // A segment an agent was writing when it died may end mid-frame: what it holds before is
        // rendered, and the log says where it stops.
        if (!(err instanceof SpoolTruncatedError)) throw err;
        this.log.write(`# log gap: ${err.message} (its writer stopped); the rest of it is not in the log`);
        next = { done: true, value: undefined };
      }
      if (next.done) {
        this.frames = undefined;
        this.log.flush();
        return true;
      }
      const frame = next.value;
      if (frame.kind === 'page') {
        const { records } = decodeRawPage(frame.page, this.layout);
        this.order.add(frame.cpu, this.decoder.decodeRecords(records, frame.cpu, NO_TASKS).events);
      } else {
        this.eventsConverted += this.order.release(frame.watermark, this.emit);
      }
      if ((++n & 63) === 0 && Date.now() > deadline) return false;
    }
  }

  /** A task traced from now on, mid-call (see LiveIngest.addTracedTask). */
  addTracedTask(pid: number): void {
    this.pairer.addInitialTask(pid);
  }

  /**
   * The oldest segments of the spool were dropped (its cap): say so in the log itself, where they
   * would have been. Any task's first call after may have begun in them, as in a trace adopted
   * mid-way. `bytes`: what this agent dropped (0 when an agent before it did: not known).
   */
  noteGap(segments: number, bytes: number): void {
    const size = bytes > 0 ? `, ${bytes} bytes` : '';
    this.log.write(`# log gap: the oldest ${segments} segment(s) of the spooled trace${size}, dropped unrendered to keep the log within logMaxBytes x (logKeep + 1); summary counts are unaffected`);
    this.pairer.everyTaskMayBeMidCall();
  }

  /**
   * Here the agent that spooled the part before died, and this one adopted the trace: what that
   * agent had read but not yet written to the spool is missing (the summary counts it as lost).
   */
  noteAgentDied(): void {
    this.log.write('# log gap: the agent that wrote the part above died; events it had read but not yet spooled are missing here (the summary counts them as lost)');
    this.pairer.everyTaskMayBeMidCall();
  }

  finish(): void {
    this.eventsConverted += this.order.release(Infinity, this.emit);
    this.pairer.flush();
    this.log.flush();
  }
}

const NO_TASKS = { commOf: () => '' };

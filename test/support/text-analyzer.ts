import type { TraceEvent } from '../../src/trace/events.js';
import { parseEntriesHeader, parseTraceLine } from './line-parser.js';
import { SyscallPairer, type SyscallRecord } from '../../src/trace/syscall-pairing.js';
import { TraceAggregate, type AggregateSyscalls } from '../../src/report/aggregate.js';

/**
 * The tests' oracle: the kernel's own text rendering of a buffer (`trace`), parsed and paired in
 * time order, against which the binary ingest (src/ingest/) is held. Not the product's: it has one
 * ingest, the binary one.
 *
 * Text lines of a trace in, aggregate (and optionally one record per syscall) out. Pure and
 * streaming: the caller decides where lines come from (a `trace` read, a pipe, a
 * recorded file in a test) and where records go.
 */
export class TraceAnalyzer {
  readonly aggregate: TraceAggregate;
  /** From the `entries-in-buffer/entries-written` header of a `trace` read, if one was seen. */
  entries: { inBuffer: number; written: number } | undefined;
  linesSeen = 0;
  linesUnparsed = 0;
  private readonly pairer: SyscallPairer;

  constructor(opts: { forkSyscalls: ReadonlySet<number>; known?: AggregateSyscalls; onRecord?: (record: SyscallRecord) => void; initialTasks?: readonly number[] }) {
    this.aggregate = new TraceAggregate(opts.known);
    this.pairer = new SyscallPairer((record) => {
      this.aggregate.addSyscall(record);
      opts.onRecord?.(record);
    }, opts.forkSyscalls, opts.initialTasks);
  }

  feedLine(line: string): void {
    this.linesSeen += 1;
    if (line.startsWith('#')) {
      this.entries ??= parseEntriesHeader(line);
      return;
    }
    const event = parseTraceLine(line);
    if (!event) {
      if (line.trim().length > 0) this.linesUnparsed += 1;
      return;
    }
    this.feedEvent(event);
  }

  /** One event, in time order (the binary drain hands them over already decoded). */
  feedEvent(event: TraceEvent): void {
    // Process events also close a dying task's open syscall (exit_group never returns).
    this.pairer.push(event);
    if (event.kind !== 'sys_enter' && event.kind !== 'sys_exit') this.aggregate.addEvent(event);
  }

  /** Close the calls still open (they never returned before the trace ended). */
  finish(): TraceAggregate {
    this.pairer.flush();
    return this.aggregate;
  }
}

import { once } from 'node:events';
import { createReadStream, createWriteStream, fsyncSync, mkdirSync, openSync, closeSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SyscallRecord } from '../trace/syscall-pairing.js';
import type { AggregateSyscalls } from './aggregate.js';
import { TraceAnalyzer } from './analyzer.js';
import { formatSyscallLine, logHeaderLines, type LogFormatContext } from './log-format.js';

export interface AnalyzeOptions {
  /** Write one line per syscall here (the dump log); omit for aggregate only. */
  logPath?: string | undefined;
  /** Append to an existing log (what a collector wrote before it died) instead of replacing it. */
  append?: boolean;
  logHeader?: { containerId: string; arch: string; clock: string };
  format: LogFormatContext;
  forkSyscalls: ReadonlySet<number>;
  known?: AggregateSyscalls;
  /** The tasks tracing began with: the first event of one may end a call begun before tracing. */
  initialTasks?: readonly number[];
}

/**
 * Stream a trace text file (an instance's `trace`, or a saved copy) through the analyzer, writing
 * the per-syscall log as it goes, with backpressure so memory stays flat on huge traces.
 */
export async function analyzeTraceFile(tracePath: string, opts: AnalyzeOptions): Promise<TraceAnalyzer> {
  let out: ReturnType<typeof createWriteStream> | undefined;
  let blocked = false;
  const onRecord = opts.logPath
    ? (r: SyscallRecord): void => {
        if (!out!.write(formatSyscallLine(r, opts.format) + '\n')) blocked = true;
      }
    : undefined;
  // Replacing: write a temp file and rename, so a reader never sees half a log. Appending: in place.
  const tmpLog = opts.logPath && !opts.append ? `${opts.logPath}.tmp-${process.pid}` : undefined;
  if (opts.logPath) {
    mkdirSync(dirname(opts.logPath), { recursive: true });
    out = opts.append ? createWriteStream(opts.logPath, { flags: 'a', mode: 0o640 }) : createWriteStream(tmpLog as string, { mode: 0o640 });
    if (opts.logHeader && !opts.append) out.write(logHeaderLines(opts.logHeader).join('\n') + '\n');
  }
  const analyzer = new TraceAnalyzer({ forkSyscalls: opts.forkSyscalls, known: opts.known, onRecord, initialTasks: opts.initialTasks ?? [] });
  try {
    const input = createReadStream(tracePath, { encoding: 'utf8', highWaterMark: 1 << 20 });
    const lines = createInterface({ input, crlfDelay: Infinity });
    for await (const line of lines) {
      analyzer.feedLine(line);
      if (blocked && out) {
        blocked = false;
        await once(out, 'drain');
      }
    }
    analyzer.finish();
    if (out && opts.logPath) {
      out.end();
      await once(out, 'finish');
      if (tmpLog) renameSync(tmpLog, opts.logPath);
    }
    return analyzer;
  } catch (err) {
    out?.destroy();
    if (tmpLog) rmSync(tmpLog, { force: true });
    throw err;
  }
}

/** Write a JSON document atomically (temp file in the same directory, fsync, rename). */
export function writeJsonFileAtomic(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'wx', 0o640);
  try {
    writeSync(fd, JSON.stringify(value, null, 2) + '\n');
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

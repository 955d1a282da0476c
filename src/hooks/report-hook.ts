import { join } from 'node:path';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { buildSummary, reportHeadline, type Loss, type Summary } from '../report/summary.js';
import { analyzeTraceFile, writeJsonFileAtomic } from '../report/report-files.js';
import { LOG_FILE_NAME, SUMMARY_FILE_NAME, containerOutputDir, instanceNameFor } from '../state/paths.js';
import { readRunState, removeRunState } from '../state/run-state.js';
import { validateContainerId } from '../state/oci-state.js';
import { describeReturn, errnoName, forkSyscallNumbers, hostArch, syscallName, syscallNumber, type Arch } from '../syscalls/index.js';
import { TraceInstance, locateTracefs, readSyscallArgNames, type CpuStats } from '../tracefs/tracefs.js';
import { TRACE_CLOCK } from './record-hook.js';

export interface ReportResult {
  summary: Summary;
  summaryPath: string;
  logPath: string | undefined;
  headline: string;
}

export function lossFromStats(stats: CpuStats[]): Loss {
  const overrun = stats.reduce((n, s) => n + s.overrun, 0);
  const dropped = stats.reduce((n, s) => n + s.dropped, 0);
  return { lost: overrun + dropped, overrun, dropped, perCpu: stats.map((s) => ({ cpu: s.cpu, overrun: s.overrun, dropped: s.dropped })) };
}

/**
 * The report step. Final (poststop): stop the instance, turn its buffer into the syscall log and
 * the JSON summary, remove the instance. Live (livedump): the same from what is buffered so far,
 * written beside the final files, leaving the instance recording.
 */
export async function reportContainer(id: string, config: Config, log: Logger, opts: { live: boolean }): Promise<ReportResult> {
  validateContainerId(id);
  const runState = readRunState(config.stateDir, id);
  const tracefsRoot = runState?.tracefsRoot ?? (await locateTracefs(config.tracefsPath));
  const instance = new TraceInstance(tracefsRoot, runState?.instance ?? instanceNameFor(id));
  if (!instance.exists()) throw new Error(`no trace for container ${id}: ftrace instance ${instance.path} does not exist`);
  const arch: Arch = runState?.arch ?? hostArch();
  const clock = runState?.clock ?? TRACE_CLOCK;
  const outDir = containerOutputDir(config.outputDir, id);
  const suffix = opts.live ? '.live' : '';
  const logPath = config.writeLog ? join(outDir, LOG_FILE_NAME.replace(/\.log$/, `${suffix}.log`)) : undefined;
  const summaryPath = join(outDir, SUMMARY_FILE_NAME.replace(/\.json$/, `${suffix}.json`));

  if (!opts.live) instance.stop();
  const argNameCache = new Map<string, readonly string[] | undefined>();
  const analyzer = await analyzeTraceFile(instance.file('trace'), {
    logPath,
    forkSyscalls: forkSyscallNumbers(arch),
    known: { seccomp: syscallNumber('seccomp', arch), prctl: syscallNumber('prctl', arch) },
    logHeader: { containerId: id, arch, clock },
    format: {
      syscallName: (nr) => syscallName(nr, arch),
      argNames: (name) => {
        if (!argNameCache.has(name)) argNameCache.set(name, readSyscallArgNames(tracefsRoot, name));
        return argNameCache.get(name);
      },
      describeReturn,
    },
  });
  // Stats after the read: overruns that happened while we read are counted too.
  const loss = lossFromStats(instance.cpuStats());
  const summary = buildSummary(analyzer.aggregate, {
    containerId: id,
    arch,
    kind: opts.live ? 'live' : 'final',
    source: 'ring-buffer',
    clock,
    loss,
    now: new Date(),
    syscallName: (nr) => syscallName(nr, arch),
    errnoName,
  });
  writeJsonFileAtomic(summaryPath, summary);
  const headline = reportHeadline(summary);
  if (!opts.live) {
    instance.remove();
    removeRunState(config.stateDir, id);
  }
  log.info({ id, live: opts.live, summaryPath, logPath, syscalls: summary.trace.syscallsTotal, lost: loss.lost, unparsed: analyzer.linesUnparsed }, headline);
  return { summary, summaryPath, logPath, headline };
}

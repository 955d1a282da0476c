import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import { collectorFiles } from '../collector/files.js';
import { requestLiveDump, stopCollector } from '../collector/control.js';
import type { Logger } from '../log/logger.js';
import { lossFromStats } from '../report/loss.js';
import { mergeSummaryParts } from '../report/merge.js';
import { analyzeTraceFile, writeJsonFileAtomic } from '../report/report-files.js';
import { SummarySchema, buildSummary, reportHeadline, type Summary } from '../report/summary.js';
import { validateContainerId } from '../state/oci-state.js';
import { LOG_FILE_NAME, SUMMARY_FILE_NAME, containerOutputDir, instanceNameFor } from '../state/paths.js';
import { readRunState, removeRunState, type RunState } from '../state/run-state.js';
import { describeReturn, errnoName, forkSyscallNumbers, hostArch, syscallName, syscallNumber, type Arch } from '../syscalls/index.js';
import { TraceInstance, locateTracefs, readSyscallArgNames } from '../tracefs/tracefs.js';
import { TRACE_CLOCK } from './record-hook.js';
import { seccompContext } from '../profile/bundle-profile.js';

export interface ReportResult {
  summary: Summary;
  summaryPath: string;
  logPath: string | undefined;
  headline: string;
  /** The collector wrote the seccomp files the config and annotations ask for (its done marker says). */
  seccompWritten?: boolean;
  /** The bundle's own linux.seccomp as found, from the run state. */
  bundleSeccomp?: string | undefined;
}

export { lossFromStats } from '../report/loss.js';

const CheckpointSchema = z.object({ consumed: z.number().int().nonnegative(), summary: SummarySchema });
/** The collector's done marker (src/collector/collector.ts, DoneMarker): only what report reads. */
const DoneMarkerSchema = z.object({ summaryPath: z.string(), seccompWritten: z.boolean().optional() }).passthrough();

interface Target {
  id: string;
  runState: RunState | undefined;
  instance: TraceInstance;
  arch: Arch;
  clock: string;
  outDir: string;
}

async function locate(id: string, config: Config): Promise<Target> {
  validateContainerId(id);
  const runState = readRunState(config.stateDir, id);
  const tracefsRoot = runState?.tracefsRoot ?? (await locateTracefs(config.tracefsPath));
  const instance = new TraceInstance(tracefsRoot, runState?.instance ?? instanceNameFor(id));
  return {
    id,
    runState,
    instance,
    arch: runState?.arch ?? hostArch(),
    clock: runState?.clock ?? TRACE_CLOCK,
    outDir: containerOutputDir(config.outputDir, id),
  };
}

/**
 * The report step. Final (poststop): stop the instance, have the collector drain the rest and
 * write the log and summary (or, without a working collector, read what the ring buffer still
 * holds and say exactly what was lost), then remove the instance and our state. Live (livedump):
 * the same so far, leaving the container traced.
 */
export async function reportContainer(id: string, config: Config, log: Logger, opts: { live: boolean }): Promise<ReportResult> {
  const t = await locate(id, config);
  const files = collectorFiles(config.stateDir, id);
  // A collector that finished on its own (the container's init exited) has removed the instance.
  if (!t.instance.exists() && (opts.live || !existsSync(files.done))) throw new Error(`no trace for container ${id}: ftrace instance ${t.instance.path} does not exist`);
  const collectorPid = t.runState?.collectorPid;

  if (opts.live) {
    if (collectorPid !== undefined && (await requestLiveDump(collectorPid, id, files, 10_000))) {
      return { ...finishResult(readSummary(join(t.outDir, 'summary.live.json')), join(t.outDir, 'summary.live.json'), config.writeLog ? join(t.outDir, LOG_FILE_NAME) : undefined, log, id), bundleSeccomp: t.runState?.bundleSeccomp };
    }
    return { ...(await ringBufferReport(t, config, log, { live: true, checkpoint: undefined })), bundleSeccomp: t.runState?.bundleSeccomp };
  }

  t.instance.stop();
  let result: ReportResult | undefined;
  if (collectorPid !== undefined) {
    // 'absent' with a done marker: it finished on its own when the container's init exited.
    const outcome = await stopCollector(collectorPid, id, files.ready, config.collectorStopTimeoutSeconds * 1000);
    const done = outcome !== 'killed' ? readDoneMarker(files.done) : undefined;
    if (done) {
      result = resultFromCollector(t, done, config, log);
    } else {
      log.warn({ id, collectorPid, outcome }, 'collector did not finish; reporting from the ring buffer and its last checkpoint');
    }
  }
  if (!result && !t.instance.exists()) {
    // No collector known, and no instance: only a done marker can say what was recorded.
    const done = readDoneMarker(files.done);
    if (!done) throw new Error(`no trace for container ${id}: the collector left no summary and the ftrace instance is gone`);
    result = resultFromCollector(t, done, config, log);
  }
  if (!result) result = await ringBufferReport(t, config, log, { live: false, checkpoint: readCheckpoint(files.checkpoint), appendLog: collectorPid !== undefined });
  t.instance.remove();
  removeRunState(config.stateDir, id);
  for (const f of Object.values(files)) rmSync(f, { force: true });
  return { ...result, bundleSeccomp: t.runState?.bundleSeccomp };
}

/** The report a collector finished: its summary, as its done marker records. */
function resultFromCollector(t: Target, done: z.infer<typeof DoneMarkerSchema>, config: Config, log: Logger): ReportResult {
  const summaryPath = join(t.outDir, SUMMARY_FILE_NAME);
  const logPath = config.writeLog ? join(t.outDir, LOG_FILE_NAME) : undefined;
  return { ...finishResult(readSummary(summaryPath), summaryPath, logPath, log, t.id), seccompWritten: done.seccompWritten === true };
}

function readSummary(path: string): Summary {
  return SummarySchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

function readDoneMarker(path: string): z.infer<typeof DoneMarkerSchema> | undefined {
  try {
    return DoneMarkerSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return undefined;
  }
}

function readCheckpoint(path: string): z.infer<typeof CheckpointSchema> | undefined {
  try {
    return CheckpointSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return undefined;
  }
}

function finishResult(summary: Summary, summaryPath: string, logPath: string | undefined, log: Logger, id: string): ReportResult {
  const headline = reportHeadline(summary);
  log.info({ id, kind: summary.kind, source: summary.trace.source, summaryPath, syscalls: summary.trace.syscallsTotal, lost: summary.loss.lost }, headline);
  return { summary, summaryPath, logPath, headline };
}

/**
 * Read the instance's `trace` (what is still buffered; non-consuming). With a checkpoint from a
 * collector that died, the two parts are merged, and every event the collector consumed after its
 * last checkpoint is counted as lost: the kernel's per-CPU `read events` says how many it took.
 */
async function ringBufferReport(
  t: Target,
  config: Config,
  log: Logger,
  opts: { live: boolean; checkpoint: z.infer<typeof CheckpointSchema> | undefined; appendLog?: boolean },
): Promise<ReportResult> {
  const suffix = opts.live ? '.live' : '';
  const logPath = config.writeLog ? join(t.outDir, LOG_FILE_NAME.replace(/\.log$/, `${suffix}.log`)) : undefined;
  const summaryPath = join(t.outDir, SUMMARY_FILE_NAME.replace(/\.json$/, `${suffix}.json`));
  const argNameCache = new Map<string, readonly string[] | undefined>();
  const analyzer = await analyzeTraceFile(t.instance.file('trace'), {
    logPath,
    append: Boolean(opts.appendLog) && logPath !== undefined && existsSync(logPath),
    logHeader: { containerId: t.id, arch: t.arch, clock: t.clock },
    forkSyscalls: forkSyscallNumbers(t.arch),
    initialTasks: t.runState?.initialTasks ?? (t.runState ? [t.runState.pid] : []),
    known: { seccomp: syscallNumber('seccomp', t.arch), prctl: syscallNumber('prctl', t.arch) },
    format: {
      syscallName: (nr) => syscallName(nr, t.arch),
      argNames: (name) => {
        if (!argNameCache.has(name)) argNameCache.set(name, readSyscallArgNames(t.instance.tracefsRoot, name));
        return argNameCache.get(name);
      },
      describeReturn,
    },
  });
  // Stats after the read: overruns that happened while we read are counted too.
  const stats = t.instance.cpuStats();
  const consumedByKernel = stats.reduce((n, s) => n + s.readEvents, 0);
  const unsaved = opts.checkpoint ? Math.max(0, consumedByKernel - opts.checkpoint.consumed) : consumedByKernel;
  const loss = lossFromStats(stats, unsaved);
  let summary = buildSummary(analyzer.aggregate, {
    containerId: t.id,
    arch: t.arch,
    kind: opts.live ? 'live' : 'final',
    source: 'ring-buffer',
    clock: t.clock,
    loss,
    now: new Date(),
    syscallName: (nr) => syscallName(nr, t.arch),
    errnoName,
    ...(t.runState ? seccompContext(t.runState, t.arch, errnoName) : {}),
  });
  if (opts.checkpoint) summary = mergeSummaryParts(opts.checkpoint.summary, summary, loss);
  writeJsonFileAtomic(summaryPath, summary);
  log.info({ id: t.id, unparsed: analyzer.linesUnparsed, unsavedByCollector: unsaved }, 'report read from the ring buffer');
  return finishResult(summary, summaryPath, logPath, log, t.id);
}

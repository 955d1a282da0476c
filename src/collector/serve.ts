/*
 * The collector started ahead of the container (by the launcher beside the prepare step, or by the
 * prepare step): it serves the container's two hooks (bin/oci-ftrace-hook) from a process that is
 * already running, so that neither hook waits for a Node start or for the kernel's slow instance
 * work.
 *
 *   before the record hook   make the hook FIFOs, create the instance with its buffer, clock and
 *                            options (most of the kernel's work), and listen;
 *   record (createRuntime)   name the init's threads, turn the events on, answer: tracing is on
 *                            before the runtime goes on, as with the Node hook;
 *   until the end            drain the ring buffer (Collector);
 *   report (poststop)        drain the rest, write log, summary and seccomp files, remove our
 *                            state, answer, and only then remove the instance (the kernel takes
 *                            40 to 120 ms), so the runtime's delete does not wait for it.
 *
 * When the container's init exits first, the collector finishes on its own and waits a few
 * seconds for the report hook, to answer it at once. Anything it cannot do, it answers with
 * "fallback" (or not at all, if it died), and the hook runs the Node hook, which does the work
 * as it always did.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Config } from '../config/config.js';
import { beginTracing, instanceSettings } from '../hooks/record-hook.js';
import { writeReportSeccompFiles } from '../hooks/seccomp-files.js';
import type { Logger } from '../log/logger.js';
import { instanceNameFor } from '../state/paths.js';
import { readRunState, removeRunState, writeRunState, type RunState } from '../state/run-state.js';
import { bundleFacts, putBundleBack } from '../hooks/bundle-facts.js';
import { TraceInstance, locateTracefs } from '../tracefs/tracefs.js';
import { Collector, writeDoneMarker, type CollectorResult } from './collector.js';
import { collectorFiles, type CollectorFiles } from './files.js';
import { isSameProcessAlive } from '../state/process-identity.js';
import { HookChannel, isBadRequest, type HookRequest } from './hook-channel.js';
import { createHookFifos } from './hook-fifos.js';

/** How long a collector started ahead waits for its container's record hook. */
const AWAIT_RECORD_MS = 60_000;
/** How long a collector that finished on its own waits for the report hook (engines delete at once). */
const LINGER_MS = 5_000;
/** How often a collector started ahead looks for the prepare step's word that it is not needed. */
const CANCEL_POLL_MS = 20;
/** How long an instance an earlier container of this id is still removing may take to go. */
const STALE_INSTANCE_WAIT_MS = 3_000;

export interface ServeOptions {
  /**
   * The runtime that will run this container's hooks (`PID:STARTTIME`): the launcher, which becomes
   * the runtime by exec. Should it exit before the record hook comes, it refused the bundle, and
   * the bundle is put back as found (src/wrapper/bundle-original.ts).
   */
  runtime?: string;
  /**
   * Started by the launcher beside the prepare step (bin/oci-ftrace-runc, --ahead), not by it:
   * the launcher read only the trace policy of the config, and made no FIFOs. Either way the
   * prepare step may yet find the container untraced and say so (files.cancel).
   */
  ahead?: boolean;
}

export async function serveContainer(id: string, config: Config, log: Logger, opts: ServeOptions = {}): Promise<number> {
  const files = collectorFiles(config.stateDir, id);
  const startedAtMs = Date.now() - process.uptime() * 1000;
  if (opts.ahead && (!config.collector || config.trace === 'never')) {
    releasePidFile(files.pid);
    return 0;
  }
  // Started by the launcher, we make the FIFOs (the launcher cannot cheaply); started by the
  // prepare step, it made them before it started us, so that they exist when it exits.
  if (opts.ahead) {
    try {
      // An earlier container's done marker would tell a Node report that we finished.
      rmSync(files.done, { force: true });
      // New FIFOs (new inodes): a collector of an earlier container with this id never hears ours.
      createHookFifos(files);
    } catch (err) {
      log.warn({ id, err: (err as Error).message }, 'cannot make the hook FIFOs; the hooks will run in Node');
      releasePidFile(files.pid);
      return 1;
    }
  }
  let channel: HookChannel;
  try {
    channel = HookChannel.open(files);
  } catch (err) {
    log.warn({ id, err: (err as Error).message }, 'cannot serve the hooks; the record hook will trace without us');
    releasePidFile(files.pid);
    return 1;
  }
  let stopping = false;
  let collector: Collector | undefined;
  const stop = (): void => {
    stopping = true;
    channel.cancel();
    collector?.requestStop();
    wakeWaiters();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGUSR1', () => collector?.requestLiveDump());
  process.on('SIGHUP', () => undefined); // a closing terminal is not a reason to lose the trace
  // The prepare step may yet find the container untraced (an annotation opts out, its write fails).
  // A word older than us is an earlier container's, left by one that failed: it goes.
  if (!isCancelled(files.cancel, startedAtMs)) rmSync(files.cancel, { force: true });
  let runtimeGone = false;
  const cancelWatch = setInterval(() => {
    if (isCancelled(files.cancel, startedAtMs)) stop();
    else if (opts.runtime !== undefined && !isSameProcessAlive(opts.runtime)) {
      runtimeGone = true;
      stop();
    }
  }, CANCEL_POLL_MS);

  let instance: TraceInstance | undefined;
  let instanceIno: number | undefined;
  let setupError: string | undefined;
  try {
    instance = new TraceInstance(await locateTracefs(config.tracefsPath), instanceNameFor(id));
    // The kernel's part (about 35 ms) while the prepare step and the runtime do theirs.
    if (!stopping) {
      if (!(await instance.waitGone(STALE_INSTANCE_WAIT_MS))) log.warn({ id, instance: instance.path }, 'replacing a stale ftrace instance');
      if (!stopping) instance.configure(instanceSettings(config));
    }
    instanceIno = instance.inode();
  } catch (err) {
    setupError = (err as Error).message;
  }

  // For the log: how long our start took, and how long the record hook waited for it.
  const readyAt = process.uptime();
  const record = stopping ? undefined : await channel.next(AWAIT_RECORD_MS);
  const recordAt = process.uptime();
  clearInterval(cancelWatch);
  const giveUp = async (reason: string | undefined): Promise<number> => {
    if (record && reason) channel.reply(record.nonce, { fallback: reason });
    channel.close();
    releasePidFile(files.pid);
    rmSync(files.cancel, { force: true });
    // Only one we made: the name may still be an earlier container's.
    if (instanceIno !== undefined) await instance?.removeAsync(instanceIno).catch(() => undefined);
    return reason ? 1 : 0;
  };
  if (!record) {
    if (runtimeGone) {
      // It read config.json (or refused to), and will not read it again: put it back as found.
      const outcome = await putBundleBack(config, id, opts.runtime as string, log);
      log.info({ id, runtime: opts.runtime, bundle: outcome }, 'the runtime exited without running the record hook (it refused the container); collector exits');
    } else log.info({ id }, stopping ? 'stopped before the container was created' : 'container was never created; collector exits');
    return giveUp(undefined);
  }
  if (record.kind !== 'record' || record.state.id !== id) return giveUp(`expected record of ${id}, got ${record.kind} of ${record.state.id}`);
  if (setupError || !instance) return giveUp(setupError ?? 'no instance');

  let runState: RunState;
  try {
    runState = beginTracing(instance, record.state, config, { collectorPid: process.pid });
  } catch (err) {
    return giveUp((err as Error).message);
  }
  // Signal handlers are in place: a report that does not use the FIFOs may SIGTERM us from now on.
  writeFileSync(files.ready, String(process.pid));
  channel.reply(record.nonce, { ok: true });
  // The runtime has read config.json: it goes back as found, and the report keeps the bundle's
  // own profile from the saved copy.
  runState = { ...runState, ...(await bundleFacts(config, id, record.state.annotations, log)) };
  writeRunState(config.stateDir, runState);
  log.info(
    {
      id,
      pid: runState.pid,
      instance: instance.path,
      bufferSizeKb: config.bufferSizeKb,
      startedBy: opts.ahead ? 'launcher' : 'prepare step',
      readyAfterMs: Math.round(readyAt * 1000),
      recordRequestAfterMs: Math.round(recordAt * 1000),
      answeredAfterMs: Math.round(process.uptime() * 1000),
    },
    'recording container (the collector serves the hooks)',
  );

  let report: HookRequest | undefined;
  let result: CollectorResult;
  try {
    collector = new Collector(runState, config, log);
    channel.onRequest((r) => {
      if (isBadRequest(r)) {
        if (r.nonce) channel.reply(r.nonce, { fallback: r.error });
      } else if (r.kind === 'report' && r.state.id === id && !report) {
        report = r;
        collector?.requestStop();
        wakeWaiters();
      } else {
        channel.reply(r.nonce, { fallback: `unexpected ${r.kind} of ${r.state.id}` });
      }
    });
    if (stopping) collector.requestStop();
    result = await collector.run();
  } catch (err) {
    // The trace stays on: the Node report reads what the ring buffer holds.
    log.error({ id, err: (err as Error).message }, 'collector failed; report will fall back to the ring buffer');
    if (report) channel.reply(report.nonce, { fallback: 'collector failed' });
    channel.close();
    return 1;
  }
  const seccompWritten = await writeReportSeccompFiles(result.summary, result.done.summaryPath, {
    config,
    annotations: (report as HookRequest | undefined)?.state.annotations ?? record.state.annotations,
    bundleSeccomp: runState.bundleSeccomp,
    log,
  });
  writeDoneMarker(files.done, { ...result.done, seccompWritten });

  // Finished on its own (the init exited): the instance holds nothing more, so remove it now, and
  // wait a little for the report hook, to answer it at once.
  let removal: Promise<void> | undefined;
  if (!report && !stopping) {
    removal = instance.removeAsync(instanceIno).catch((err: Error) => log.warn({ id, err: err.message }, 'cannot remove the ftrace instance'));
    await waitFor(() => report !== undefined || stopping, LINGER_MS);
  }
  const answered = report as HookRequest | undefined;
  if (answered) {
    // Our state goes before the answer: once the runtime's delete returns, the id is free.
    removeState(config, files, runState);
    channel.reply(answered.nonce, { ok: true });
  }
  // Else the Node report (SIGTERM) or a later one finds the done marker and the run state.
  channel.close();
  await (removal ?? instance.removeAsync(instanceIno).catch((err: Error) => log.warn({ id, err: err.message }, 'cannot remove the ftrace instance')));
  return 0;
}

/**
 * Has the prepare step said the container is not traced? Only a word written since we started
 * counts: one an earlier container of this id left would stop this one's collector.
 */
function isCancelled(path: string, startedAtMs: number): boolean {
  try {
    return statSync(path).mtimeMs >= startedAtMs - 1000;
  } catch {
    return false;
  }
}

/** Everything of ours beside the run state, once the report is answered. */
function removeState(config: Config, files: CollectorFiles, runState: RunState): void {
  removeRunStateIfOurs(config, runState);
  for (const f of [files.ready, files.checkpoint, files.liveAck, files.done]) rmSync(f, { force: true });
  releasePidFile(files.pid);
}

/** The run state, unless a container created since with this id wrote its own. */
function removeRunStateIfOurs(config: Config, runState: RunState): void {
  try {
    const now = readRunState(config.stateDir, runState.id);
    if (now?.recordedAt === runState.recordedAt && now.collectorPid === process.pid) removeRunState(config.stateDir, runState.id);
  } catch {
    /* unreadable: not ours to judge */
  }
}

/** The pid file, if it still names us (a later container with this id may have its own). */
function releasePidFile(path: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
  } catch {
    /* gone already */
  }
}

let waiters: (() => void)[] = [];
function wakeWaiters(): void {
  const all = waiters;
  waiters = [];
  for (const w of all) w();
}

/** Resolves when cond() holds (checked whenever something wakes the waiters) or after timeoutMs. */
function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (cond()) return resolve();
    const timer = setTimeout(finish, timeoutMs);
    function check(): void {
      if (cond()) finish();
      else waiters.push(check);
    }
    function finish(): void {
      clearTimeout(timer);
      waiters = waiters.filter((w) => w !== check);
      resolve();
    }
    waiters.push(check);
  });
}


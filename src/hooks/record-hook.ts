import { readFileSync, readdirSync, rmSync } from 'node:fs';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { OciState } from '../state/oci-state.js';
import { instanceNameFor } from '../state/paths.js';
import { writeRunState, type RunState } from '../state/run-state.js';
import { isServingCollector, runningCollector, startCollector } from '../collector/control.js';
import { collectorFiles } from '../collector/files.js';
import { hostArch } from '../syscalls/index.js';
import { bundleFacts } from './bundle-facts.js';
import { CONTAINER_EVENTS, TraceInstance, locateTracefs } from '../tracefs/tracefs.js';

/** Monotonic clock: consistent across CPUs (enter/exit of a migrating task stay in order). */
export const TRACE_CLOCK = 'mono';

/**
 * All threads of the init process. The runtime's init (runc's is Go) already runs several threads
 * when the hook is called; event-fork only follows tasks created later, so each must be named.
 */
export function threadsOf(pid: number): number[] {
  try {
    const tids = readdirSync(`/proc/${pid}/task`).filter((t) => /^\d+$/.test(t)).map(Number);
    return tids.includes(pid) ? tids : [pid, ...tids];
  } catch {
    return [pid];
  }
}

function readComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd();
  } catch {
    return undefined;
  }
}

/** The instance's settings from the config, but for the pids (named when tracing begins). */
export function instanceSettings(config: Config): { bufferSizeKb: number; clock: string; events: readonly string[] } {
  return { bufferSizeKb: config.bufferSizeKb, clock: TRACE_CLOCK, events: CONTAINER_EVENTS };
}

/**
 * Begin tracing the container on a configured instance: its init's threads into set_event_pid,
 * the events on, and the run state written for report and livedump. Shared by the record hook and
 * by the collector that serves it (bin/oci-ftrace-hook).
 */
export function beginTracing(instance: TraceInstance, state: OciState, config: Config, extra: Pick<RunState, 'collectorPid'> = {}): RunState {
  if (!state.pid) throw new Error(`record: the runtime gave no pid for container ${state.id} (status ${state.status})`);
  const runState: RunState = {
    version: 1,
    id: state.id,
    tracefsRoot: instance.tracefsRoot,
    instance: instance.name,
    pid: state.pid,
    bundle: state.bundle,
    clock: TRACE_CLOCK,
    arch: hostArch(),
    recordedAt: new Date().toISOString(),
    initComm: readComm(state.pid),
    ...extra,
  };
  instance.start(threadsOf(state.pid), CONTAINER_EVENTS);
  // A thread started between listing and writing would be missed: list again until stable.
  for (let pass = 0; pass < 3; pass++) {
    const known = new Set(instance.eventPids());
    const missing = threadsOf(state.pid).filter((t) => !known.has(t));
    if (missing.length === 0) break;
    instance.addPids(missing);
  }
  runState.initialTasks = instance.eventPids().slice(0, 4096);
  writeRunState(config.stateDir, runState);
  return runState;
}

/**
 * The record step, run by the runtime at createRuntime when no collector serves the hook (see
 * bin/oci-ftrace-hook): the container's init process exists and waits; nothing of the workload
 * has run. One ftrace instance per container follows that pid and every task it forks; a detached
 * collector drains it from now on. Returns fast.
 */
export async function recordContainer(state: OciState, config: Config, log: Logger): Promise<void> {
  // The runtime has read config.json: it goes back as found first, whatever happens to tracing.
  const facts = await bundleFacts(config, state.id, state.annotations, log);
  if (!state.pid) throw new Error(`record: the runtime gave no pid for container ${state.id} (status ${state.status})`);
  const tracefsRoot = await locateTracefs(config.tracefsPath);
  const instance = new TraceInstance(tracefsRoot, instanceNameFor(state.id));
  instance.configure(instanceSettings(config));
  let runState: RunState;
  try {
    runState = beginTracing(instance, state, config);
  } catch (err) {
    instance.removeQuietly();
    throw err;
  }
  runState = { ...runState, ...facts };
  writeRunState(config.stateDir, runState);
  let collectorPid: number | undefined;
  if (config.collector) {
    // Without a collector the trace is still read at stop, from whatever the buffer kept.
    try {
      // One the Node record hook started earlier for this id is used; one started to serve the
      // hooks (which did not serve this one) is replaced.
      const files = collectorFiles(config.stateDir, state.id);
      collectorPid = adoptableCollector(files.pid, state.id);
      if (collectorPid === undefined) {
        // A collector that served the hooks is gone or stopped: its FIFOs would only make the
        // report hook wait for nobody.
        for (const f of [files.request, files.reply]) rmSync(f, { force: true });
        collectorPid = startCollector(state.id, process.env);
      }
      writeRunState(config.stateDir, { ...runState, collectorPid });
    } catch (err) {
      log.warn({ id: state.id, err: (err as Error).message }, 'cannot start the collector; the trace will be read at stop');
    }
  }
  log.info({ id: state.id, pid: state.pid, instance: instance.path, bufferSizeKb: config.bufferSizeKb, collectorPid }, 'recording container');
}

/**
 * A collector already draining for this container, to use rather than start a second one. One
 * started to serve the hooks (src/collector/serve.ts) drains only after it served the record
 * hook itself; we run because it did not (it gave up, or the hook stopped waiting), so it is
 * stopped and a new one started.
 */
function adoptableCollector(pidFile: string, id: string): number | undefined {
  const pid = runningCollector(pidFile, id);
  if (pid === undefined || !isServingCollector(pid)) return pid;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
  return undefined;
}

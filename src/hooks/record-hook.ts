import { readFileSync, readdirSync } from 'node:fs';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { OciState } from '../state/oci-state.js';
import { instanceNameFor } from '../state/paths.js';
import { writeRunState, type RunState } from '../state/run-state.js';
import { runningCollector, startCollector } from '../collector/control.js';
import { collectorFiles } from '../collector/files.js';
import { hostArch } from '../syscalls/index.js';
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

/**
 * The record step, run by the runtime at createRuntime: the container's init process exists and
 * waits; nothing of the workload has run. One ftrace instance per container follows that pid and
 * every task it forks; a detached collector drains it from now on. Returns fast.
 */
export async function recordContainer(state: OciState, config: Config, log: Logger): Promise<void> {
  if (!state.pid) throw new Error(`record: the runtime gave no pid for container ${state.id} (status ${state.status})`);
  const tracefsRoot = await locateTracefs(config.tracefsPath);
  const instance = new TraceInstance(tracefsRoot, instanceNameFor(state.id));
  const runState: RunState = {
    version: 1,
    id: state.id,
    tracefsRoot,
    instance: instance.name,
    pid: state.pid,
    bundle: state.bundle,
    clock: TRACE_CLOCK,
    arch: hostArch(),
    recordedAt: new Date().toISOString(),
    initComm: readComm(state.pid),
  };
  instance.create({ bufferSizeKb: config.bufferSizeKb, clock: TRACE_CLOCK, pids: threadsOf(state.pid), events: CONTAINER_EVENTS });
  try {
    // A thread started between listing and writing would be missed: list again until stable.
    for (let pass = 0; pass < 3; pass++) {
      const known = new Set(instance.eventPids());
      const missing = threadsOf(state.pid).filter((t) => !known.has(t));
      if (missing.length === 0) break;
      instance.addPids(missing);
    }
    runState.initialTasks = instance.eventPids().slice(0, 4096);
    writeRunState(config.stateDir, runState);
  } catch (err) {
    instance.removeQuietly();
    throw err;
  }
  let collectorPid: number | undefined;
  if (config.collector) {
    // Without a collector the trace is still read at stop, from whatever the buffer kept.
    try {
      // Normally the wrapper's prepare step started one ahead of the container; else start it now.
      collectorPid = runningCollector(collectorFiles(config.stateDir, state.id).pid, state.id) ?? startCollector(state.id, process.env);
      writeRunState(config.stateDir, { ...runState, collectorPid });
    } catch (err) {
      log.warn({ id: state.id, err: (err as Error).message }, 'cannot start the collector; the trace will be read at stop');
    }
  }
  log.info({ id: state.id, pid: state.pid, instance: instance.path, bufferSizeKb: config.bufferSizeKb, collectorPid }, 'recording container');
}

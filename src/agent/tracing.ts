/**
 * The record step's work on the kernel: the container's init exists and waits at createRuntime,
 * nothing of the workload has run, and its instance is configured (ahead, at prepare). Naming the
 * init's threads and turning the events on makes everything the container does from here on traced.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import type { OciState } from '../state/oci-state.js';
import type { RunState } from '../state/run-state.js';
import { hostArch } from '../syscalls/index.js';
import { chooseTraceClock, hostClockFacts } from '../tracefs/trace-clock.js';
import { CAPABILITY_EVENT, CONTAINER_EVENTS, type InstanceSettings, type TraceInstance } from '../tracefs/tracefs.js';

/**
 * A CPU's buffer wakes the agent once it is this full (buffer_percent): a tenth leaves nine tenths
 * of slack (about 90 ms of a syscall-bound burst in a 4 MiB share) for a drain thread the host
 * deschedules, at the cost of a wake-up per 400 KiB; a quiet container never wakes it at all.
 */
export const WAKE_PERCENT = 10;

/** The events a container's instance records: the syscalls and processes, and capability checks where asked for and the kernel has them. */
export function traceEvents(config: Config, tracefsRoot: string): readonly string[] {
  return config.traceCapabilities && existsSync(join(tracefsRoot, 'events', CAPABILITY_EVENT)) ? [...CONTAINER_EVENTS, CAPABILITY_EVENT] : CONTAINER_EVENTS;
}

export function instanceSettings(config: Config, tracefsRoot: string): InstanceSettings {
  return { bufferKbTotal: config.bufferKbPerContainer, clock: chooseTraceClock(config.traceClock, hostClockFacts()).clock, wakePercent: WAKE_PERCENT, events: traceEvents(config, tracefsRoot) };
}

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

/** Begin tracing the container on its configured instance; returns its run state (not yet written). */
export async function beginTracing(instance: TraceInstance, state: OciState, events: readonly string[]): Promise<RunState> {
  if (!state.pid) throw new Error(`record: the runtime gave no pid for container ${state.id} (status ${state.status})`);
  const runState: RunState = {
    version: 1,
    id: state.id,
    tracefsRoot: instance.tracefsRoot,
    instance: instance.name,
    pid: state.pid,
    bundle: state.bundle,
    clock: instance.clock(),
    arch: hostArch(),
    recordedAt: new Date().toISOString(),
    initComm: readComm(state.pid),
  };
  instance.start(threadsOf(state.pid), events);
  // A thread started between listing and writing would be missed: list again until stable.
  for (let pass = 0; pass < 3; pass++) {
    const known = new Set(instance.eventPids());
    const missing = threadsOf(state.pid).filter((t) => !known.has(t));
    if (missing.length === 0) break;
    instance.addPids(missing);
  }
  runState.initialTasks = instance.eventPids().slice(0, 4096);
  return runState;
}

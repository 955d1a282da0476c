/**
 * Entry point of the detached collector: `node dist/collector/main.js <container-id> [--await]`.
 * Started in its own session with stdio on /dev/null and every inherited descriptor closed, so it
 * holds none of the runtime's or the hook's pipes, and is no descendant of the container (not
 * traced). With --await it was started ahead of the container by the wrapper's prepare step (so it
 * is up before the workload runs) and waits for the record hook's run state.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig } from '../config/config.js';
import { createFileLogger } from '../log/logger.js';
import { validateContainerId } from '../state/oci-state.js';
import { readRunState, type RunState } from '../state/run-state.js';
import { Collector } from './collector.js';
import { collectorFiles } from './files.js';

/** How long a collector started ahead waits for its container to be created. */
const AWAIT_TIMEOUT_MS = 60_000;

async function awaitRunState(stateDir: string, id: string, notBefore: number): Promise<RunState | undefined> {
  for (const started = Date.now(); Date.now() - started < AWAIT_TIMEOUT_MS; ) {
    const state = readRunState(stateDir, id);
    // Only a run state written for this container: a stale one of an earlier container with the
    // same id (never reported) must not be attached to.
    if (state && Date.parse(state.recordedAt) >= notBefore) return state;
    await new Promise((r) => setTimeout(r, 5));
  }
  return undefined;
}

async function main(): Promise<number> {
  const startedAt = Date.now() - 1000; // clock granularity and skew between processes
  const config = loadConfig();
  const log = createFileLogger({ file: config.logFile, level: config.logLevel, component: 'collector' });
  const id = validateContainerId(process.argv[2] ?? '');
  const files = collectorFiles(config.stateDir, id);
  const awaiting = process.argv.includes('--await');
  try {
    mkdirSync(dirname(files.pid), { recursive: true, mode: 0o700 });
    writeFileSync(files.pid, String(process.pid));
    const state = awaiting ? await awaitRunState(config.stateDir, id, startedAt) : readRunState(config.stateDir, id);
    if (!state) {
      if (awaiting) {
        log.info({ id }, 'container was never created; collector exits');
        rmSync(files.pid, { force: true });
        return 0;
      }
      throw new Error(`no run state for container ${id}`);
    }
    const collector = new Collector(state, config, log.child({ id }));
    process.on('SIGTERM', () => collector.requestStop());
    process.on('SIGINT', () => collector.requestStop());
    process.on('SIGUSR1', () => collector.requestLiveDump());
    process.on('SIGHUP', () => undefined); // a closing terminal is not a reason to lose the trace
    // Until this file exists a SIGTERM would kill us with the default action: report waits for it.
    writeFileSync(files.ready, String(process.pid));
    await collector.run();
    return 0;
  } catch (err) {
    log.error({ id, err: (err as Error).message }, 'collector failed; report will fall back to the ring buffer');
    return 1;
  }
}

process.exitCode = await main();

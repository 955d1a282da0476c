/**
 * Entry point of the detached collector: `node dist/collector/main.js <container-id>`.
 * Started by the record hook with stdio on /dev/null and in its own session, so it holds none of
 * the hook's pipes (runc waits for those) and is no descendant of the container (not traced).
 */
import { loadConfig } from '../config/config.js';
import { createFileLogger } from '../log/logger.js';
import { validateContainerId } from '../state/oci-state.js';
import { readRunState } from '../state/run-state.js';
import { writeFileSync } from 'node:fs';
import { Collector } from './collector.js';
import { collectorFiles } from './files.js';

async function main(): Promise<number> {
  const config = loadConfig();
  const log = createFileLogger({ file: config.logFile, level: config.logLevel, component: 'collector' });
  const id = validateContainerId(process.argv[2] ?? '');
  try {
    const state = readRunState(config.stateDir, id);
    if (!state) throw new Error(`no run state for container ${id}`);
    const collector = new Collector(state, config, log.child({ id }));
    process.on('SIGTERM', () => collector.requestStop());
    process.on('SIGINT', () => collector.requestStop());
    process.on('SIGUSR1', () => collector.requestLiveDump());
    process.on('SIGHUP', () => undefined); // a closing terminal is not a reason to lose the trace
    // Until this file exists a SIGTERM would kill us with the default action: report waits for it.
    writeFileSync(collectorFiles(config.stateDir, id).ready, String(process.pid));
    await collector.run();
    return 0;
  } catch (err) {
    log.error({ id, err: (err as Error).message }, 'collector failed; report will fall back to the ring buffer');
    return 1;
  }
}

process.exitCode = await main();

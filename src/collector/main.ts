/**
 * Entry point of the detached collector: `node dist/collector/main.js <container-id> [--serve]`.
 * Started in its own session with stdio on /dev/null and every inherited descriptor closed, so it
 * holds none of the runtime's or the hook's pipes, and is no descendant of the container (not
 * traced).
 *
 *   --serve   started ahead of the container, by the wrapper's prepare step (through
 *             bin/oci-ftrace-collector) or, with --ahead, by the launcher beside the prepare step:
 *             it sets up the trace itself and serves the container's hooks (src/collector/serve.ts).
 *   (none)    started by the Node record hook, which set up the trace and wrote the run state.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { logConfigError } from '../config/config-error-log.js';
import { createSyncFileLogger } from '../log/sync-logger.js';
import { validateContainerId } from '../state/oci-state.js';
import { readRunState } from '../state/run-state.js';
import { Collector, writeDoneMarker } from './collector.js';
import { collectorFiles } from './files.js';
import { serveContainer } from './serve.js';

async function main(): Promise<number> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) logConfigError(err, 'collector', { id: process.argv[2] }, 'collector cannot read our config; the container runs untraced');
    return 1;
  }
  const id = validateContainerId(process.argv[2] ?? '');
  const log = createSyncFileLogger({ file: config.logFile, level: config.logLevel, component: 'collector' }).child({ id });
  const files = collectorFiles(config.stateDir, id);
  try {
    mkdirSync(dirname(files.pid), { recursive: true, mode: 0o700 });
    writeFileSync(files.pid, String(process.pid));
    if (process.argv.includes('--serve')) {
      const at = process.argv.indexOf('--runtime-pid');
      const runtime = at > 0 && /^[1-9][0-9]*:[0-9]+$/.test(process.argv[at + 1] ?? '') ? (process.argv[at + 1] as string) : undefined;
      return await serveContainer(id, config, log, { ahead: process.argv.includes('--ahead'), ...(runtime ? { runtime } : {}) });
    }
    const state = readRunState(config.stateDir, id);
    if (!state) throw new Error(`no run state for container ${id}`);
    const collector = new Collector(state, config, log.child({ id }));
    process.on('SIGTERM', () => collector.requestStop());
    process.on('SIGINT', () => collector.requestStop());
    process.on('SIGUSR1', () => collector.requestLiveDump());
    process.on('SIGHUP', () => undefined); // a closing terminal is not a reason to lose the trace
    // Until this file exists a SIGTERM would kill us with the default action: report waits for it.
    writeFileSync(files.ready, String(process.pid));
    const result = await collector.run();
    writeDoneMarker(files.done, result.done);
    return 0;
  } catch (err) {
    log.error({ id, err: (err as Error).message }, 'collector failed; report will fall back to the ring buffer');
    return 1;
  }
}

// No top-level await: the bundle is CommonJS, run from V8's code cache (scripts/bundle.mjs).
void main().then((code) => {
  process.exitCode = code;
});

/**
 * `oci-ftrace record`, the createRuntime hook, with nothing else loaded: no commander, no pino
 * (a small synchronous logger writes the same lines), none of the report and profile code. It runs
 * in every traced container's start path; src/cli/record-main.ts runs it.
 */
import { loadConfig } from '../config/config.js';
import { recordContainer } from '../hooks/record-hook.js';
import { createSyncFileLogger } from '../log/sync-logger.js';
import { parseOciState, readStdin } from '../state/oci-state.js';
import { runHookFailOpen } from './hook-runner.js';

/** The hook's exit status. A config that cannot be loaded throws, as in the CLI. */
export async function recordCommand(): Promise<number> {
  const config = loadConfig();
  const log = createSyncFileLogger({ file: config.logFile, level: config.logLevel, component: 'record' });
  return runHookFailOpen('record', config, log, async () => {
    await recordContainer(parseOciState(await readStdin()), config, log);
  });
}

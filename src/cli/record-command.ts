/**
 * `oci-ftrace record`, the createRuntime hook, with nothing else loaded: no commander, no pino
 * (a small synchronous logger writes the same lines), none of the report and profile code. It runs
 * in every traced container's start path; src/cli/record-main.ts runs it.
 */
import { recordContainer } from '../hooks/record-hook.js';
import { parseOciState, readStdin } from '../state/oci-state.js';
import { runHook } from './hook-runner.js';

/** The hook's exit status. */
export async function recordCommand(): Promise<number> {
  return runHook('record', await readStdin(), async (text, config, log) => {
    await recordContainer(parseOciState(text), config, log);
  });
}

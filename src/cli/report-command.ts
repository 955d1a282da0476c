/**
 * `oci-ftrace report` as the poststop hook runs it (state on stdin, no options), with nothing else
 * loaded: no commander, no pino (a small synchronous logger writes the same lines). The same steps
 * the CLI's report action runs for hook use (src/cli/oci-ftrace.ts calls this too): the report, then the seccomp
 * files the config or the container's annotations ask for. src/cli/report-main.ts runs it.
 */
import { dirname } from 'node:path';
import { loadConfig } from '../config/config.js';
import { reportContainer } from '../hooks/report-hook.js';
import { createSyncFileLogger } from '../log/sync-logger.js';
import { writeContainerSeccompFiles, type CliProfileRequest } from '../profile/index.js';
import { parseOciState, readStdin } from '../state/oci-state.js';
import { runHookFailOpen } from './hook-runner.js';

/** The hook's exit status. A config that cannot be loaded throws, as in the CLI. */
export async function reportCommand(cli?: CliProfileRequest): Promise<number> {
  const config = loadConfig();
  const log = createSyncFileLogger({ file: config.logFile, level: config.logLevel, component: 'report' });
  return runHookFailOpen('report', config, log, async () => {
    const state = parseOciState(await readStdin());
    const r = await reportContainer(state.id, config, log, { live: false });
    // A profile that cannot be made is logged; the report itself is done.
    await writeContainerSeccompFiles(r.summary, { outDir: dirname(r.summaryPath), config, annotations: state.annotations, cli }).then(
      (seccomp) => (seccomp.originalPath || seccomp.profilePath ? log.info({ id: state.id, originalPath: seccomp.originalPath, profilePath: seccomp.profilePath }, 'seccomp files written') : undefined),
      (err: unknown) => log.error({ id: state.id, err: err instanceof Error ? err.message : String(err) }, 'seccomp profile not written'),
    );
  });
}

/**
 * `oci-ftrace report` as the poststop hook runs it (state on stdin, no options), with nothing else
 * loaded: no commander, no pino (a small synchronous logger writes the same lines). The same steps
 * the CLI's report action runs for hook use (src/cli/oci-ftrace.ts calls this too): the report, then the seccomp
 * files the config or the container's annotations ask for. src/cli/report-main.ts runs it.
 */
import { reportContainer } from '../hooks/report-hook.js';
import { writeReportSeccompFiles } from '../hooks/seccomp-files.js';
import type { CliProfileRequest } from '../profile/index.js';
import { parseOciState, readStdin } from '../state/oci-state.js';
import { runHook } from './hook-runner.js';

/** The hook's exit status. */
export async function reportCommand(cli?: CliProfileRequest): Promise<number> {
  return runHook('report', await readStdin(), async (text, config, log) => {
    const state = parseOciState(text);
    const r = await reportContainer(state.id, config, log, { live: false });
    // The collector writes them when it finishes on its own; an explicit CLI request still does.
    if (r.seccompWritten && !cli) return;
    await writeReportSeccompFiles(r.summary, r.summaryPath, { config, annotations: state.annotations, bundleSeccomp: r.bundleSeccomp, log, cli });
  });
}

/**
 * The prepare step of `oci-ftrace-runc` (run by bin/oci-ftrace-runc before it execs the real
 * runtime, for create/run/restore only). Contract with the launcher:
 *   exit 0   proceed: hooks added, or tracing skipped after logging why (fail open);
 *   exit 100 abort: strict mode and tracing could not be set up (already reported to the
 *            runtime's --log in runc's format and as one line on stderr).
 * stdin and stdout are /dev/null here; stderr is the runtime's, used only for that one line.
 */
import { appendFileSync } from 'node:fs';
import { loadConfig, type Config } from '../config/config.js';
import { createFileLogger, type Logger } from '../log/logger.js';
import { formatRuntimeLogLine, parseRuncArgv, resolveBundleDir, runtimeLogTarget, type RuncInvocation } from '../runc-args/index.js';
import { validateContainerId } from '../state/oci-state.js';
import { prepareBundle } from '../wrapper/prepare-bundle.js';
import { startCollector } from '../collector/control.js';
import { collectorFiles } from '../collector/files.js';

export const EXIT_ABORT = 100;

function reportToRuntimeLog(inv: RuncInvocation | undefined, message: string): void {
  const target = inv ? runtimeLogTarget(inv.globals) : undefined;
  if (!target) return;
  try {
    appendFileSync(target.path, formatRuntimeLogLine('error', message, target.format, new Date()) + '\n');
  } catch {
    /* the log is best effort; stderr still carries the message */
  }
}

async function main(argv: string[]): Promise<number> {
  let inv: RuncInvocation | undefined;
  let config: Config | undefined;
  let log: Logger | undefined;
  try {
    inv = parseRuncArgv(argv);
    // A command line runc itself refuses: let it say so, exactly as it would.
    if (!inv.createsContainer || inv.usageError !== undefined) return 0;
    config = loadConfig();
    if (config.trace === 'never') return 0;
    log = createFileLogger({ file: config.logFile, level: config.logLevel, component: 'oci-ftrace-runc' });
    if (inv.containerId === undefined) throw new Error(`${inv.command}: no container id given`);
    validateContainerId(inv.containerId);
    const bundle = resolveBundleDir(inv, process.cwd());
    const { traced } = await prepareBundle(bundle, config, log.child({ id: inv.containerId }));
    // Start the collector now, ahead of the container, so it is draining before the workload runs
    // (the record hook must return fast and does not wait for it).
    if (traced && config.collector) startCollector(inv.containerId, process.env, { await: true, pidFile: collectorFiles(config.stateDir, inv.containerId).pid });
    return 0;
  } catch (err) {
    const message = `oci-ftrace-runc: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`;
    log?.error({ argv, err: message }, 'cannot prepare bundle for tracing');
    // Without a config we cannot know the user wanted strict mode: fail open then too.
    if (!config?.strict) return 0;
    reportToRuntimeLog(inv, message);
    process.stderr.write(message + '\n');
    return EXIT_ABORT;
  }
}

// No top-level await: the bundle (scripts/bundle.mjs) is CommonJS, which Node starts faster.
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

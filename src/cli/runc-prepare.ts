/**
 * The prepare step of `oci-ftrace-runc` (run by bin/oci-ftrace-runc before it execs the real
 * runtime, for create/run/restore only). Contract with the launcher:
 *   exit 0   proceed: hooks added, or tracing skipped after logging why (fail open);
 *   exit 100 abort: strict mode and tracing could not be set up (already reported to the
 *            runtime's --log in runc's format and as one line on stderr).
 * stdin and stdout are /dev/null here; stderr is the runtime's, used only for that one line.
 */
import { appendFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { logConfigError } from '../config/config-error-log.js';
import type { Logger } from '../log/logger.js';
import { createSyncFileLogger } from '../log/sync-logger.js';
import { formatRuntimeLogLine, parseRuncArgv, resolveBundleDir, runtimeLogTarget, type RuncInvocation } from '../runc-args/index.js';
import { validateContainerId } from '../state/oci-state.js';
import { prepareBundle } from '../wrapper/prepare-bundle.js';
import { startCollector } from '../collector/control.js';
import { collectorFiles, type CollectorFiles } from '../collector/files.js';
import { createHookFifos } from '../collector/hook-fifos.js';
import { processIdentity } from '../state/process-identity.js';

export const EXIT_ABORT = 100;
const DEFAULT_LOG = '/var/log/oci-ftrace/oci-ftrace.log';

function reportToRuntimeLog(inv: RuncInvocation | undefined, message: string): void {
  const target = inv ? runtimeLogTarget(inv.globals) : undefined;
  if (!target) return;
  try {
    appendFileSync(target.path, formatRuntimeLogLine('error', message, target.format, new Date()) + '\n');
  } catch {
    /* the log is best effort; stderr still carries the message */
  }
}

/**
 * Start the container's collector now, ahead of the container, when the launcher did not start one
 * beside us (bin/oci-ftrace-collector NODE ENTRY ID --serve): it sets up the trace while the runtime
 * creates the container, and serves both hooks (src/collector/serve.ts). If this fails the hooks do
 * the work in Node, as they did before: logged, never fatal. Returns the FIFOs to wait for.
 */
function startServingCollector(id: string, config: Config, log: Logger): CollectorFiles | undefined {
  const files = collectorFiles(config.stateDir, id);
  try {
    mkdirSync(dirname(files.pid), { recursive: true, mode: 0o700 });
    rmSync(files.done, { force: true });
    // New FIFOs (new inodes), before the collector: they must exist when we exit and the runtime
    // runs the hooks, and a collector of an earlier container with this id must not hear ours.
    createHookFifos(files);
    // Our parent is the launcher, which becomes the runtime (exec): the collector watches it.
    startCollector(id, process.env, { serve: true, pidFile: files.pid, runtimePid: process.ppid });
    return files;
  } catch (err) {
    log.warn({ id, err: (err as Error).message }, 'cannot start the collector ahead of the container; the hooks will start one');
    return undefined;
  }
}

/**
 * The hooks need the FIFOs when the runtime runs them: wait (briefly) until the collector the
 * launcher started has made them. Only new ones count: an earlier container's, never removed, would lead the hooks to a
 * FIFO nobody reads.
 */
async function waitForFifos(files: CollectorFiles, log: Logger): Promise<void> {
  const notBefore = Date.now() - process.uptime() * 1000 - 1000;
  const fresh = (path: string): boolean => {
    try {
      const s = statSync(path);
      return s.isFIFO() && s.ctimeMs >= notBefore;
    } catch {
      return false;
    }
  };
  for (const started = Date.now(); !(fresh(files.request) && fresh(files.reply)); ) {
    if (Date.now() - started > FIFO_WAIT_MS) {
      log.warn({ request: files.request }, 'the collector made no hook FIFOs in time; the hooks may run in Node');
      return;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}

const FIFO_WAIT_MS = 1000;

async function main(argv: string[]): Promise<number> {
  let inv: RuncInvocation | undefined;
  let config: Config | undefined;
  let log: Logger | undefined;
  // The launcher started the container's collector beside us (bin/oci-ftrace-runc): it serves
  // the hooks if the container is traced, and must be told if it is not.
  const ahead = process.env.OCI_FTRACE_COLLECTOR_AHEAD === '1';
  // Whether a collector (the launcher's, or one we start) will serve a traced container's hooks;
  // one that will not is told so.
  let collectorStarted = ahead;
  let collectorServes = false;
  try {
    inv = parseRuncArgv(argv);
    // A command line runc itself refuses: let it say so, exactly as it would.
    if (!inv.createsContainer || inv.usageError !== undefined) return 0;
    config = loadConfig();
    if (config.trace === 'never') return 0;
    log = createSyncFileLogger({ file: config.logFile, level: config.logLevel, component: 'oci-ftrace-runc' });
    if (inv.containerId === undefined) throw new Error(`${inv.command}: no container id given`);
    validateContainerId(inv.containerId);
    log = log.child({ id: inv.containerId });
    const bundle = resolveBundleDir(inv, process.cwd());
    const id = inv.containerId;
    const cfg = config;
    const logger = log;
    // Without one started by the launcher, the collector starts as soon as the container is
    // certain to be traced, before the spec is written: its start (Node's, and the kernel's
    // instance setup) overlaps the rest of ours.
    collectorStarted = ahead && cfg.collector;
    let files: CollectorFiles | undefined;
    // Our parent, the launcher, becomes the runtime by exec.
    const runtime = processIdentity(process.ppid);
    const { traced } = await prepareBundle(bundle, id, cfg, logger, {
      runtime,
      onTraced: () => {
        if (!cfg.collector) return;
        files = ahead ? collectorFiles(cfg.stateDir, id) : startServingCollector(id, cfg, logger);
        collectorStarted = files !== undefined;
      },
    });
    if (traced && files) {
      collectorServes = true;
      if (ahead) await waitForFifos(files, logger);
    }
    return 0;
  } catch (err) {
    const message = `oci-ftrace-runc: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`;
    const strict = err instanceof ConfigError ? err.fallback.strict : config?.strict === true;
    const outcome = strict ? 'strict mode: the container is refused' : 'the container runs untraced';
    const about = { id: inv?.containerId, argv };
    if (err instanceof ConfigError) logConfigError(err, 'oci-ftrace-runc', about, `cannot read our config; ${outcome}`);
    else (log ?? createSyncFileLogger({ file: config?.logFile ?? DEFAULT_LOG, level: 'info', component: 'oci-ftrace-runc' })).error({ ...about, err: message }, `cannot prepare the bundle for tracing; ${outcome}`);
    if (!strict) return 0;
    reportToRuntimeLog(inv, message);
    process.stderr.write(message + '\n');
    return EXIT_ABORT;
  } finally {
    if (collectorStarted && !collectorServes) cancelCollector(inv?.containerId, config);
  }
}

/**
 * Tell the collector started ahead of the container that it is not traced after all (opted out, a
 * command line runc refuses, an error): it removes what it set up and exits. Best effort: one that
 * cannot be told gives up by itself after a minute without a record hook.
 */
function cancelCollector(id: string | undefined, config: Config | undefined): void {
  try {
    if (id === undefined) return;
    const cfg = config ?? loadConfig();
    if (!cfg.collector) return; // the launcher's has exited by itself
    const files = collectorFiles(cfg.stateDir, validateContainerId(id));
    mkdirSync(dirname(files.cancel), { recursive: true, mode: 0o700 });
    writeFileSync(files.cancel, `${process.pid}\n`);
  } catch {
    /* a config or id the collector refuses as well: it has exited already */
  }
}

// No top-level await: the bundle (scripts/bundle.mjs) is CommonJS, which Node starts faster.
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { logConfigError } from '../config/config-error-log.js';
import type { Logger } from '../log/logger.js';
import { createSyncFileLogger } from '../log/sync-logger.js';

/** The container's id from the runtime's state, for log lines written before the state is validated. */
function idIn(stateText: string): string | undefined {
  const m = /"id"\s*:\s*"([A-Za-z0-9_.+-]{1,200})"/.exec(stateText);
  return m?.[1];
}

/**
 * Hooks fail open: a tracing failure (our config unreadable included) is logged and the container
 * runs anyway, unless the user chose strict mode, where the hook fails and the runtime refuses the
 * container. Either way the hook writes nothing to stdout, and to stderr only the one line the
 * runtime shows on failure. Every line it logs names the container.
 */
export async function runHook(step: string, stateText: string, fn: (stateText: string, config: Config, log: Logger) => Promise<void>): Promise<number> {
  const id = idIn(stateText);
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    logConfigError(err, step, { id }, `${step} hook cannot read our config; ${err.fallback.strict ? 'strict mode: the container is refused' : 'the container runs untraced'}`);
    if (!err.fallback.strict) return 0;
    process.stderr.write(`oci-ftrace ${step}: ${err.message}\n`);
    return 1;
  }
  const log = createSyncFileLogger({ file: config.logFile, level: config.logLevel, component: step }).child({ id });
  try {
    await fn(stateText, config, log);
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error({ step, err: message, strict: config.strict }, `${step} failed${config.strict ? '' : ' (fail open: container continues untraced)'}`);
    if (!config.strict) return 0;
    process.stderr.write(`oci-ftrace ${step}: ${message.split('\n')[0]}\n`);
    return 1;
  }
}

import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';

/**
 * Hooks fail open: a tracing failure is logged and the container runs anyway, unless the user
 * chose strict mode, where the hook fails and the runtime refuses the container. Either way the
 * hook writes nothing to stdout, and to stderr only the one line the runtime shows on failure.
 */
export async function runHookFailOpen(step: string, config: Config, log: Logger, fn: () => Promise<void>): Promise<number> {
  try {
    await fn();
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error({ step, err: message, strict: config.strict }, `${step} failed${config.strict ? '' : ' (fail open: container continues untraced)'}`);
    if (!config.strict) return 0;
    process.stderr.write(`oci-ftrace ${step}: ${message.split('\n')[0]}\n`);
    return 1;
  }
}

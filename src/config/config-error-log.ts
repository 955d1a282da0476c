import { createFileLogger } from '../log/logger.js';
import type { ConfigError } from './config.js';

/**
 * Write an unusable config's error to our log, so that it is never silent: the log the file names
 * if it names one we can read, else the default. The agent calls it each time it reads the file and
 * finds it unusable, with what that means for the container at hand.
 */
export function logConfigError(err: ConfigError, component: string, fields: Record<string, unknown>, msg: string): void {
  createFileLogger({ file: err.fallback.logFile, level: 'info', component }).error({ ...fields, err: err.message }, msg);
}

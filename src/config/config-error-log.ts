import { createSyncFileLogger } from '../log/sync-logger.js';
import type { ConfigError } from './config.js';

/**
 * Write an unusable config's error to our log, so that it is never silent: the log the file names
 * if it names one we can read, else the default. Called by every reader of the config (each time it
 * reads it), with what it was about to do (`id` of the container, what happens instead).
 */
export function logConfigError(err: ConfigError, component: string, fields: Record<string, unknown>, msg: string): void {
  createSyncFileLogger({ file: err.fallback.logFile, level: 'info', component }).error({ ...fields, err: err.message }, msg);
}

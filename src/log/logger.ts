import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Our log: JSON lines in a file, written synchronously (hooks are short-lived processes and must
 * not lose their last line), never stdout/stderr, which engines parse.
 */
export function createFileLogger(opts: { file: string; level: string; component: string }): Logger {
  try {
    mkdirSync(dirname(opts.file), { recursive: true });
    const dest = pino.destination({ dest: opts.file, sync: true, append: true });
    return pino({ level: opts.level, base: { pid: process.pid, component: opts.component } }, dest);
  } catch {
    // An unwritable log must not stop a container: log nowhere rather than fail.
    return pino({ level: 'silent' });
  }
}

/** A logger that drops everything (for pure code paths in tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

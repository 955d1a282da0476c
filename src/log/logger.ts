import { closeSync, mkdirSync } from 'node:fs';
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

/**
 * Close a file logger's descriptor now, synchronously (a worker thread's exit: Node does not close
 * what a worker opened when it is told not to track its descriptors).
 */
export function closeFileLogger(log: Logger): void {
  const dest = (log as unknown as Record<symbol, { fd?: number; flushSync?(): void } | undefined>)[pino.symbols.streamSym];
  if (typeof dest?.fd !== 'number' || dest.fd < 0) return;
  try {
    dest.flushSync?.();
    closeSync(dest.fd);
  } catch {
    /* closed already, or nothing to flush */
  }
  // This logger writes nothing more through the closed number. Its children keep their own level
  // (pino copies it at child()): the caller closes it after everything that logs through them.
  log.level = 'silent';
}

/** A logger that drops everything (for pure code paths in tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
